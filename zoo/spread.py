"""How much the ground truth varies: is there something to learn about which model fits which dataset?

A benchmark where one model wins everywhere (inter-dataset Kendall tau near 1) needs no recommender;
one where scores are noise (tau near 0, accuracies at chance) cannot be learned. The figures:
distinct winners (best model per dataset), mean pairwise Kendall tau between the datasets' model
rankings, and each dataset's accuracy range.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from metrics import kendall_tau


def matrix_spread(performance: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Spread figures of {dataset: {model: score}} over the models every dataset has."""
    datasets = list(performance)
    models = [m for m in (next(iter(performance.values()), {}))
              if all(m in performance[d] for d in datasets)]
    scores = np.array([[performance[d][m] for m in models] for d in datasets], dtype=np.float64)
    out: dict[str, Any] = {"num_models": len(models), "num_datasets": len(datasets)}
    if not datasets or not models:
        return out
    winners = {d: models[int(np.argmax(row))] for d, row in zip(datasets, scores)}
    taus = [kendall_tau(scores[i], scores[j]) for i, j in itertools.combinations(range(len(datasets)), 2)] \
        if len(models) > 1 else []
    ranges = scores.max(1) - scores.min(1)
    out.update({
        "distinct_winners": len(set(winners.values())),
        "mean_kendall_tau": float(np.mean(taus)) if taus else None,
        "median_kendall_tau": float(np.median(taus)) if taus else None,
        "min_kendall_tau": float(np.min(taus)) if taus else None,
        "max_kendall_tau": float(np.max(taus)) if taus else None,
        "mean_accuracy_range": float(ranges.mean()),
        "accuracy_min": float(scores.min()), "accuracy_max": float(scores.max()),
        "per_dataset": {d: {"winner": winners[d], "best": float(row.max()), "worst": float(row.min()),
                            "range": float(row.max() - row.min()), "mean": float(row.mean())}
                        for d, row in zip(datasets, scores)},
    })
    return out


def format_spread(spread: dict[str, Any]) -> str:
    """A table for the terminal: one line per dataset, then the summary figures."""
    if "per_dataset" not in spread:
        return f"empty matrix ({spread['num_datasets']} datasets, {spread['num_models']} models)"
    width = max(len(d) for d in spread["per_dataset"])
    lines = [f"{'dataset':{width}s}  worst   mean   best  range  winner"]
    for d, s in spread["per_dataset"].items():
        lines.append(f"{d:{width}s}  {s['worst']:.3f}  {s['mean']:.3f}  {s['best']:.3f}  {s['range']:.3f}  {s['winner']}")
    tau = spread["mean_kendall_tau"]
    lines.append(f"{spread['num_datasets']} datasets x {spread['num_models']} models: "
                 f"{spread['distinct_winners']} distinct winners, mean pairwise Kendall tau "
                 f"{'n/a' if tau is None else f'{tau:.3f}'}, mean accuracy range {spread['mean_accuracy_range']:.3f}, "
                 f"accuracy {spread['accuracy_min']:.3f}-{spread['accuracy_max']:.3f}")
    return "\n".join(lines)
