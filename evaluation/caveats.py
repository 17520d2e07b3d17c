"""Scores an estimator computed but does not vouch for (H-Score with N <= D): one warning per
benchmark run and a paragraph of the report, instead of a warning per (model, dataset) pair."""
from __future__ import annotations

from typing import Any

from estimators import ESTIMATOR_REGISTRY

Records = dict[tuple[str, str], dict[str, Any]]


def collect_caveats(records: Records, estimators: tuple[str, ...]) -> dict[str, dict[str, dict[str, str]]]:
    """{estimator: {dataset: {model: why}}} for every scored pair whose estimator flags its inputs
    (Estimator.caveat from the pair's N images and D feature dimensions)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for name in estimators:
        est = ESTIMATOR_REGISTRY.get(name)()
        for (model, dataset), rec in sorted(records.items()):
            if rec["scores"].get(name) is None:
                continue
            why = est.caveat(rec["n_images"], rec["feature_dim"])
            if why:
                out.setdefault(name, {}).setdefault(dataset, {})[model] = why
    return out


def _pairs(by_dataset: dict[str, dict[str, str]]) -> int:
    return sum(len(models) for models in by_dataset.values())


def caveat_warning(caveats: dict[str, dict[str, dict[str, str]]], num_pairs: int) -> str | None:
    """One line for the console, None when nothing was flagged."""
    if not caveats:
        return None
    parts = []
    for name, by_dataset in caveats.items():
        example = next(iter(next(iter(by_dataset.values())).values()))
        parts.append(f"{name} on {_pairs(by_dataset)} of {num_pairs} model-dataset pairs (e.g. {example})")
    return "unreliable scores, kept but flagged in the report: " + "; ".join(parts)


def caveat_lines(caveats: dict[str, dict[str, dict[str, str]]], num_models: int) -> list[str]:
    """The report's paragraph: per estimator, the datasets and models it flagged and why."""
    if not caveats:
        return []
    lines = ["", "Unreliable scores (in the tables above, but not to be trusted; reasons per pair in report.json "
             "`caveats`):", ""]
    for name, by_dataset in caveats.items():
        dataset, models = next(iter(by_dataset.items()))
        model, why = next(iter(models.items()))
        lines.append(f"- **{name}** on {_pairs(by_dataset)} model-dataset pairs (e.g. {model} on {dataset}: {why}):")
        for dataset, models in by_dataset.items():
            which = ("every model" if len(models) == num_models else ", ".join(models) if len(models) <= 8
                     else f"{len(models)} of {num_models} models")
            lines.append(f"  - {dataset}: {which}")
    return lines
