"""The benchmark's budgeted rows (`budget:K=<K>`): per fold, the budget ranker's validation predictions and the
estimator's records of the validation datasets fit the fusion weight a for each K (evaluation/budget.py); on
the test datasets the ranker shortlists, the estimator's scores of the shortlist (already in the records)
are fused. Time per dataset: the ranker's (tokens + forward) plus the estimator's on the K shortlisted models.
After every fold, the headline K is chosen on the validation numbers alone; fusion.json keeps the a's.

The uncertainty-driven rows `budget:K=<K>+far` spend the estimator where the ranker is out of its depth: a test
target far from every probe dataset by the fold's training datasets (metrics/novelty.py, with the ranker's
[transformer] far_quantile) is ranked by the estimator alone over every model; the others as `budget:K=<K>`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.budget import RULE, TOLERANCE, Item, choose_k, fit_alpha, k_label
from evaluation.timing import estimator_time
from metrics import weighted_tau
from metrics.fusion import fused_scores, shortlist
from metrics.novelty import far_threshold
from utils.io import write_json


@dataclass
class BudgetState:
    budgets: list[int | None]
    ranker: str
    estimator: str
    alpha: dict[str, dict[str, float]] = field(default_factory=dict)  # K -> fold -> a
    val_taus: dict[str, list[float]] = field(default_factory=dict)  # K -> per validation dataset (every fold)
    far_budgets: list[int | None] = field(default_factory=list)
    nearest: Callable[[str], float] | None = None  # dataset -> its nearest probe cosine; None: no +far rows
    hidden: Callable[[str], float | None] | None = None  # dataset -> that cosine with its own family's probes hidden
    far_quantile: float = 0.0  # metrics/novelty.py far_threshold
    far: dict[str, dict[str, Any]] = field(default_factory=dict)  # fold -> threshold, far test datasets


def _items(inp: Any, preds: list[dict[str, Any]], records: dict, estimator: str) -> list[tuple[str, Item]]:
    """(dataset, (true, ranker, estimator)) over the benchmark's models, in its order."""
    out = []
    for p in preds:
        d, at = p["dataset"], {m: i for i, m in enumerate(p["models"])}
        if d not in inp.perf or any(m not in at for m in inp.models):
            continue
        est = [records[(m, d)]["scores"].get(estimator) if (m, d) in records else None for m in inp.models]
        out.append((d, (np.array([inp.perf[d][m] for m in inp.models]),
                        np.array([p["predicted"][at[m]] for m in inp.models], dtype=np.float64),
                        np.array([np.nan if s is None else s for s in est], dtype=np.float64))))
    return out


def rank_budgets(inp: Any, fold: Any, val_preds: list[dict[str, Any]], test_preds: list[dict[str, Any]],
                 records: dict, state: BudgetState, results: Any) -> None:
    """Fit a per K on the fold's validation datasets, then the budget rows on its test datasets."""
    val = [it for _, it in _items(inp, val_preds, records, state.estimator)]
    test = _items(inp, test_preds, records, state.estimator)
    ranker_rows = results.methods[f"ranker:{state.ranker}"]["datasets"]
    for k in state.budgets:
        label = k_label(k)
        a, _ = fit_alpha(val, k)
        state.alpha.setdefault(label, {})[fold.family] = a
        state.val_taus.setdefault(label, []).extend(weighted_tau(t, fused_scores(r, e, k, a)) for t, r, e in val)
        for d, (true, rank, est) in test:
            pred = fused_scores(rank, est, k, a)
            seconds, _ = _seconds(inp, records, state.estimator, d, rank, k, ranker_rows[d]["seconds"])
            results.add(f"budget:K={label}", "budget", d, fold.family, true, pred, inp.models, seconds)
            results.methods[f"budget:K={label}"]["datasets"][d]["fusion_a"] = a
    if state.nearest is not None and state.far_budgets:
        rank_far_budgets(inp, fold, val, test, records, state, results)


def rank_far_budgets(inp: Any, fold: Any, val: list[Item], test: list[tuple[str, Item]], records: dict,
                     state: BudgetState, results: Any) -> None:
    """The +far rows on the fold's test datasets: the threshold from its training datasets."""
    hidden = [state.hidden(d) for d in fold.train] if state.hidden is not None else []
    threshold = far_threshold([state.nearest(d) for d in fold.train], hidden, state.far_quantile)
    near = {d: state.nearest(d) for d, _ in test}
    far = sorted(d for d, v in near.items() if v < threshold)
    state.far[fold.family] = {"threshold": threshold, "far": far, "nearest": near}
    ranker_rows = results.methods[f"ranker:{state.ranker}"]["datasets"]
    for k in state.far_budgets:
        a, _ = fit_alpha(val, k)
        method = f"budget:K={k_label(k)}+far"
        for d, (true, rank, est) in test:
            spend, a_d = (None, 0.0) if d in far else (k, a)
            seconds, picked = _seconds(inp, records, state.estimator, d, rank, spend, ranker_rows[d]["seconds"])
            results.add(method, "budget", d, fold.family, true, fused_scores(rank, est, spend, a_d), inp.models,
                        seconds)
            results.methods[method]["datasets"][d].update(fusion_a=a_d, far=d in far, nearest_cosine=near[d],
                                                          estimated=picked)


def _seconds(inp: Any, records: dict, estimator: str, dataset: str, rank: Any, k: int | None,
             ranker_seconds: float | None) -> tuple[float | None, int]:
    """(time to rank `dataset`: the ranker's plus the estimator's on its top k; how many models it scored)."""
    picked = [inp.models[i] for i in shortlist(rank, k)] if k != 0 else []
    if ranker_seconds is None:
        return None, len(picked)
    return ranker_seconds + (estimator_time(records, picked, dataset, estimator) if picked else 0.0), len(picked)


def finish_budgets(state: BudgetState, out: Path) -> dict[str, Any]:
    """The headline K from the validation numbers, the a's per fold and their means; fusion.json in `out`."""
    val = {label: float(np.mean(v)) for label, v in state.val_taus.items() if v}
    chosen = k_label(choose_k({(None if lb == "all" else int(lb)): v for lb, v in val.items()}, TOLERANCE)) \
        if val else None
    summary = {"ranker": state.ranker, "estimator": state.estimator, "budgets": [k_label(k) for k in state.budgets],
               "rule": RULE.format(tol=TOLERANCE), "tolerance": TOLERANCE, "val_weighted_tau_rank_none": val,
               "chosen_k": chosen, "alpha": state.alpha,
               "alpha_mean": {lb: float(np.mean(list(v.values()))) for lb, v in state.alpha.items()},
               "far_budgets": [k_label(k) for k in state.far_budgets] if state.nearest is not None else [],
               "far": state.far}
    write_json(out / "fusion.json", summary)
    return summary
