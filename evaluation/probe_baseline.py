"""The training-free probe ranker as a baseline row (metrics/probe_similarity.py): each model's linear-probe
accuracy on the probe datasets (the probe profiles' `accuracy` statistic), weighted by how much the target's
mean CLIP token looks like each probe's (the dataset tokens the ranker reads). Nothing is fitted, on any
dataset; the temperature is the issue's 0.05 ([benchmark] probe_temperature), not tuned on test data.

`probe_similarity_strict` leaves out the probe datasets of the held-out family (strict novelty).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from dataloader.dataset_tokens import DatasetTokenDataset
from dataloader.families import read_families
from dataloader.probe_profiles import read_profiles
from metrics.novelty import hidden_nearest_cosine, nearest_probe_cosine
from metrics.probe_similarity import probe_similarity_scores
from utils.errors import ZooRankError


class ProbeBaseline:
    """The probes' accuracies [M, P] of the benchmark's models, the probes' mean tokens [P, D], their families."""

    def __init__(self, profiles: Path, tokens_dir: Path, index: Path, split: str, models: list[str]) -> None:
        data = read_profiles(profiles)
        ids = {str(m): i for i, m in enumerate(data["ids"])}
        missing = [m for m in models if m not in ids]
        if missing:
            raise ZooRankError(f"{profiles}: no probe profile for {', '.join(missing[:3])}; rerun "
                               "extract_probe_profiles.py (the pipeline's probes stage)")
        stats = [str(s) for s in data["stats"]]
        if "accuracy" not in stats:
            raise ZooRankError(f"{profiles} has no 'accuracy' statistic ({', '.join(stats)}); rebuild it "
                               "(python extract_probe_profiles.py)")
        self.probes = [str(p) for p in data["probes"]]
        self.accuracy = data["profiles"][[ids[m] for m in models]][:, :, stats.index("accuracy")].astype(np.float64)
        self.tokens = DatasetTokenDataset(tokens_dir, split)
        missing = [p for p in self.probes if p not in self.tokens.names]
        if missing:
            raise ZooRankError(f"{tokens_dir}: no '{split}' tokens of the probe datasets {', '.join(missing[:3])}; "
                               "extract them (extract_dataset_tokens.py over the world's datasets index)")
        self.means = np.stack([self.tokens.by_name(p)["tokens"].numpy().mean(0) for p in self.probes])
        families = read_families(index, [])
        self.families = {p: families.get(p, p) for p in self.probes}
        self._nearest: dict[str, float] = {}  # every fold asks for its training datasets' again
        self._hidden: dict[str, float | None] = {}  # the same, with the dataset's own family's probes hidden

    def excluded(self, family: str) -> list[str]:
        """The probe datasets of `family` (what strict novelty leaves out for that held-out family)."""
        return [p for p in self.probes if self.families[p] == family]

    def scores(self, target_tokens: np.ndarray, temperature: float, exclude: list[str] = ()) -> np.ndarray:
        keep = [j for j, p in enumerate(self.probes) if p not in set(exclude)]
        if not keep:
            raise ZooRankError("probe_similarity_strict: every probe dataset is of the held-out family")
        return probe_similarity_scores(target_tokens, self.means[keep], self.accuracy[:, keep], temperature)

    def target(self, dataset: str) -> np.ndarray:
        return self.tokens.by_name(dataset)["tokens"].numpy()

    def nearest(self, dataset: str) -> float:
        """The cosine of the probe nearest to `dataset` (every probe: as the budget ranker sees them)."""
        if dataset not in self._nearest:
            self._nearest[dataset] = nearest_probe_cosine(self.target(dataset), self.means)
        return self._nearest[dataset]

    def hidden_nearest(self, dataset: str, family: str) -> float | None:
        """The cosine of the probe nearest to `dataset` among those of another family than `family` (its own)."""
        if dataset not in self._hidden:
            self._hidden[dataset] = hidden_nearest_cosine(self.target(dataset), self.means,
                                                          [self.families[p] for p in self.probes], family)
        return self._hidden[dataset]


def rank_probe_baseline(inp: Any, fold: Any, base: ProbeBaseline, results: Any) -> None:
    """Both rows on the fold's test datasets; time per dataset where its tokens were timed (tokens + scores)."""
    tok_seconds = results.timing["tokens_seconds"]
    for d in fold.test:
        true = np.array([inp.perf[d][m] for m in inp.models])
        target = base.target(d)
        for method, exclude in (("probe_similarity", []), ("probe_similarity_strict", base.excluded(fold.family))):
            start = time.perf_counter()
            pred = base.scores(target, inp.bcfg.probe_temperature, exclude)
            seconds = tok_seconds[d] + time.perf_counter() - start if d in tok_seconds else None
            results.add(method, "baseline", d, fold.family, true, pred, inp.models, seconds)
