"""Wall time to rank every candidate model for one new dataset.

Everything a method needs for a dataset it has never seen counts: for the learned ranker, the
dataset's CLIP tokens (preprocessing and CLIP forward passes over its class-balanced sample) plus one
forward pass of the ranker over all candidates; for an estimator, each candidate model's
preprocessing and forward pass over the images plus the score (see estimator_scores.py). Loading
weights (the CLIP, each zoo model) and decoding images are left out for every method. All timings
run on one CPU thread, the estimators' forward passes in worker processes of one thread each.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from extractors.dataset import build_tokens
from extractors.dataset.tokens import sample_indices


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


def decoded(ds: Any, cfg: Any) -> Any:
    """`ds` (an ImageClassificationDataset) with the images of its token sample decoded into memory."""
    images = {int(i): ds.get_image(int(i)).convert("RGB") for i in sample_indices(ds, cfg)}
    return type(ds)(ds.name, images.__getitem__, ds.labels, ds.class_names, ds.transform)


def time_tokens(ds: Any, extractor: Any, cfg: Any) -> tuple[torch.Tensor, float]:
    """A dataset's tokens [T, D] from scratch (as for a new dataset), and the seconds they took. Its images are
    decoded before the clock starts, as the estimators' are (features/images.py load_split)."""
    ds = decoded(ds, cfg)
    with one_thread():
        start = time.perf_counter()
        tokens = build_tokens(ds, extractor, cfg)["tokens"]
        seconds = time.perf_counter() - start
    return torch.from_numpy(np.asarray(tokens, dtype=np.float32)), seconds


@torch.inference_mode()
def time_ranker(model: torch.nn.Module, dataset_tokens: torch.Tensor, model_tokens: torch.Tensor,
                repeats: int = 3) -> tuple[np.ndarray, float]:
    """Scores [M] of the candidates (model tokens [M, Dm]) for one dataset (tokens [T, Dd]), and the
    median seconds of the forward pass."""
    model.eval()
    d, m = dataset_tokens[None], model_tokens[None]
    dmask = torch.ones(d.shape[:2], dtype=torch.bool)
    mmask = torch.ones(m.shape[:2], dtype=torch.bool)
    times = []
    with one_thread():
        scores = model(d, dmask, m, mmask)  # warm-up: first calls allocate
        for _ in range(repeats):
            start = time.perf_counter()
            scores = model(d, dmask, m, mmask)
            times.append(time.perf_counter() - start)
    return scores[0].float().numpy(), statistics.median(times)


def zoo_sizes(num_models: int, sizes: tuple[int, ...] = ()) -> list[int]:
    """The candidate counts of the time-vs-zoo-size curve: given, else 1/8, 1/4, 1/2 and all."""
    chosen = sizes or tuple(max(2, num_models // k) for k in (8, 4, 2, 1))
    return sorted({min(max(2, s), num_models) for s in chosen})


def estimator_time(records: dict[tuple[str, str], dict[str, Any]], models: list[str], dataset: str,
                   estimator: str) -> float:
    """Seconds an estimator needs to rank `models` for `dataset` (preprocessing is paid once per
    distinct image processor, as a user with one processor for all models would; its cost is the median over
    every model's record of that processor on the dataset, so that one slow first call does not decide it and a
    subset of the models never costs more than all of them)."""
    recs = [records[(m, dataset)] for m in models]
    every: dict[str, list[float]] = {}
    for (_, d), r in records.items():
        if d == dataset:
            every.setdefault(r["processor"], []).append(r["preprocess_seconds"])
    prep = {r["processor"]: statistics.median(every[r["processor"]]) for r in recs}
    return sum(prep.values()) + sum(r["forward_seconds"] + r["seconds"][estimator] for r in recs)
