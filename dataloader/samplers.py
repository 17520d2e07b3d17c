"""Class-balanced batches."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Batches of `classes_per_batch` classes x `samples_per_class` items each.

    Within a batch every chosen class has the same count; a class that runs out starts a new
    shuffled pass, so small classes repeat rather than shrink the batch. An epoch has about N / batch_size batches. Call
    `set_epoch` for a new deterministic order (as with DistributedSampler).
    """

    def __init__(self, labels: np.ndarray, samples_per_class: int, classes_per_batch: int | None = None,
                 seed: int = 0) -> None:
        self.labels = np.asarray(labels)
        self.classes = np.unique(self.labels)
        self.per_class = samples_per_class
        self.k = min(classes_per_batch or len(self.classes), len(self.classes))
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, len(self.labels) // (self.k * self.per_class))

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        pools = {c: np.flatnonzero(self.labels == c) for c in self.classes}
        queues = {c: list(rng.permutation(p)) for c, p in pools.items()}
        for _ in range(len(self)):
            # a fresh random subset of classes per batch when not all of them fit
            chosen = self.classes[rng.permutation(len(self.classes))[: self.k]] if self.k < len(self.classes) \
                else self.classes
            batch = []
            for c in chosen:
                while len(queues[c]) < self.per_class:
                    queues[c].extend(rng.permutation(pools[c]))
                batch += [int(i) for i in queues[c][: self.per_class]]
                queues[c] = queues[c][self.per_class:]
            yield batch
