"""The benchmark's report: `report.json` (per method, per dataset), `report.md` (the table a paper
would print) and plots (weighted tau per method, predicted vs true scores, time vs zoo size)."""
from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.caveats import caveat_lines
from evaluation.dependence import task_dependence
from evaluation.variants import VARIANT_REGISTRY
from metrics import WEIGHTED_TAU_CONVENTIONS
from utils.io import atomic_open, write_json, write_text

METRICS = ("weighted_tau_rank_none", "weighted_tau_rank_true", "kendall_tau", "top1_regret", "top3_recall")
HEADERS = ("wτ rank=None", "wτ rank=True", "Kendall τ", "top-1 regret (pts)", "top-3 recall")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}"


def summarize(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per method: mean and std over test datasets of every metric, seconds per dataset, families."""
    out = {}
    logme = {d: r["seconds"] for d, r in results["methods"].get("logme", {}).get("datasets", {}).items()
             if r["seconds"] is not None}
    for name, entry in results["methods"].items():
        rows = list(entry["datasets"].values())
        summary = {k: {"mean": float(np.mean([r["metrics"][k] for r in rows])),
                       "std": float(np.std([r["metrics"][k] for r in rows]))} for k in METRICS}
        secs = [r["seconds"] for r in rows if r["seconds"] is not None]
        per_family: dict[str, list[float]] = {}
        for r in rows:
            per_family.setdefault(r["fold"], []).append(r["metrics"]["weighted_tau_rank_none"])
        out[name] = {"kind": entry["kind"], "datasets": len(rows), **summary,
                     "seconds_per_dataset": float(np.mean(secs)) if secs else None,
                     "timed_datasets": len(secs),
                     "missing_models": int(sum(r["missing_models"] for r in rows)),
                     "weighted_tau_rank_none_per_family": {f: float(np.mean(v)) for f, v in sorted(per_family.items())},
                     "speedup_vs_logme": _speedup(logme, entry["datasets"])}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["weighted_tau_rank_none"]["mean"]))


def _speedup(logme: dict[str, float], rows: dict[str, dict[str, Any]]) -> float | None:
    """LogME's mean seconds over the datasets a method was timed on, over the method's: the same datasets on both
    sides (a method timed on fewer, larger datasets is not compared with LogME's mean over all of them)."""
    both = [d for d, r in rows.items() if r["seconds"] is not None and d in logme]
    mine = float(np.mean([rows[d]["seconds"] for d in both])) if both else 0.0
    return float(np.mean([logme[d] for d in both])) / mine if mine > 0 else None


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = [f"# ZooRank benchmark: preset `{meta['preset']}`", "",
             f"{meta['date']} on {meta['machine']}. {meta['num_models']} candidate models, "
             f"{meta['num_datasets']} target datasets in {len(meta['families'])} families, leave-one-family-out "
             "(every dataset is a test dataset once; the rankers never see its family).", "",
             "| method | kind | " + " | ".join(HEADERS) + " | s / dataset | × faster than LogME |",
             "|---|---|" + "---:|" * (len(HEADERS) + 2)]
    for name, s in report["summary"].items():
        cells = []
        for k in METRICS:
            scale = 100.0 if k == "top1_regret" else 1.0
            cells.append(f"{s[k]['mean'] * scale:.3f} ± {s[k]['std'] * scale:.3f}")
        t = s["seconds_per_dataset"]
        sp = s["speedup_vs_logme"]
        lines.append(f"| {name} | {s['kind']} | " + " | ".join(cells)
                     + f" | {'—' if t is None else f'{t:.3f}'} | {'—' if sp is None else f'{sp:.1f}'} |")
    lines += ["", "Mean ± standard deviation over the test datasets. Weighted Kendall tau conventions:"]
    lines += [f"- **{k}**: {v}" for k, v in WEIGHTED_TAU_CONVENTIONS.items()]
    lines += ["- top-1 regret: best true accuracy minus the true accuracy of the model ranked first, in accuracy "
              "points (lower is better); top-3 recall: share of the true top 3 among the predicted top 3.",
              "- s / dataset: wall time to rank every candidate for one new dataset on one CPU thread "
              "(ranker: CLIP tokens + forward pass; estimator: every model's preprocessing and forward pass over "
              f"the {meta['estimator_images']} + the score; weights loading and image decoding excluded). "
              "× faster than LogME: LogME's mean seconds over the method's, on the datasets both were timed on.", ""]
    missing = {n: s["missing_models"] for n, s in report["summary"].items() if s["missing_models"]}
    if missing:
        lines.append("Not computed where a model has no source classifier head: "
                     + ", ".join(f"{n} ({k} model-dataset pairs)" for n, k in missing.items()) + ".")
    lines += caveat_lines(report["caveats"], meta["num_models"])
    fams = sorted({f for s in report["summary"].values() for f in s["weighted_tau_rank_none_per_family"]})
    lines += ["", "Weighted tau (rank=None) per held-out family:", "",
              "| method | " + " | ".join(fams) + " |", "|---|" + "---:|" * len(fams)]
    for name, s in report["summary"].items():
        per = s["weighted_tau_rank_none_per_family"]
        lines.append(f"| {name} | " + " | ".join(f"{per[f]:.3f}" if f in per else "—" for f in fams) + " |")
    lines += ablation_lines(report) + dependence_lines(report)
    lines += ["", "Plots: `plots/weighted_tau.png`, `plots/predicted_vs_true.png`, `plots/time_vs_models.png`."]
    return "\n".join(lines) + "\n"


BASELINE_LABELS = {"probe_similarity": "training-free probe ranker (no learning)",
                   "probe_similarity_strict": "training-free probe ranker, strict novelty",
                   "mean_train_score": "mean training score (the global prior)", "logme": "LogME (every model)"}


def _label(name: str) -> str:
    if name.startswith("ranker:") and name[7:] in VARIANT_REGISTRY:
        return VARIANT_REGISTRY.get(name[7:]).label
    if name.startswith("budget:K=") and name.endswith("+far"):
        return (f"budgeted by novelty: ranker top {name[9:-4]} re-scored, fused; a target far from the probes "
                "(metrics/novelty.py): the estimator on every model")
    if name.startswith("budget:K="):
        return f"budgeted: ranker top {name[9:]} re-scored by the estimator, fused"
    return BASELINE_LABELS.get(name, name)


def _budget_order(name: str) -> tuple[bool, float]:
    """budget:K=<K> rows by K, then the +far rows by K."""
    k = name[9:].removesuffix("+far")
    return name.endswith("+far"), float("inf") if k == "all" else int(k)


def ablation_lines(report: dict[str, Any]) -> list[str]:
    """The ablation table (issue 13): weights only / probe only / both, sampled tasks on / off, strict
    novelty, the budgets K, against the training-free probe ranker, the prior and LogME; and the headline K."""
    s = report["summary"]
    order = ([n for n in s if n.startswith("ranker:")] + [n for n in BASELINE_LABELS if n in s and n != "logme"]
             + sorted((n for n in s if n.startswith("budget:K=")), key=_budget_order)
             + (["logme"] if "logme" in s else []))
    if not any(n.startswith(("budget:", "ranker:probe", "probe_similarity")) for n in order):
        return []
    lines = ["", "Ablation (mean over the held-out datasets; wτ: weighted Kendall tau, rank=None: Model Spider's "
             "convention, rank=True: scipy's default):", "",
             "| variant | method | wτ rank=None | wτ rank=True | top-1 regret (pts) | s / new dataset |",
             "|---|---|---:|---:|---:|---:|"]
    for n in order:
        t = s[n]["seconds_per_dataset"]
        lines.append(f"| {_label(n)} | {n} | {s[n]['weighted_tau_rank_none']['mean']:.3f} | "
                     f"{s[n]['weighted_tau_rank_true']['mean']:.3f} | {100 * s[n]['top1_regret']['mean']:.2f} | "
                     f"{'—' if t is None else f'{t:.3f}'} |")
    budget = report.get("budget")
    if budget:
        val = ", ".join(f"K={k}: {v:.3f}" for k, v in budget["val_weighted_tau_rank_none"].items())
        alpha = ", ".join(f"K={k}: {v:.2f}" for k, v in budget["alpha_mean"].items())
        lines += ["", f"**Headline K = {budget['chosen_k']}** (ranker {budget['ranker']}, estimator "
                  f"{budget['estimator']}), chosen on validation families only. Rule: {budget['rule']}. "
                  f"Validation weighted tau (rank=None): {val}. Mean fusion weight a of the ranker: {alpha} "
                  "(per fold in fusion.json). Time: the ranker's tokens and forward pass plus the estimator "
                  "on the K shortlisted models."]
    if budget and budget.get("far"):
        far = budget["far"]
        n_far = sum(len(f["far"]) for f in far.values())
        n_all = sum(len(f["nearest"]) for f in far.values())
        where = "; ".join(f"{fam}: {f['threshold']:.3f} ({len(f['far'])} of {len(f['nearest'])} far)"
                          for fam, f in far.items())
        lines += ["", f"**+far rows**: {n_far} of {n_all} test datasets were far from every probe by their fold's "
                  "training datasets (nearest-probe cosine below the threshold, metrics/novelty.py) and got "
                  f"the estimator on every model. Threshold per fold: {where}."]
    return lines


def dependence_lines(report: dict[str, Any]) -> list[str]:
    """Per fold: Spearman between each method's ranking and the mean-training-score ranking (task dependence)."""
    dep = report.get("task_dependence") or {}
    if not dep:
        return []
    fams = sorted({f for v in dep.values() for f in v if f != "all"})
    lines = ["", "Task dependence: Spearman between a method's ranking and the mean-training-score ranking of the "
             "same models, mean over each held-out family's datasets (1: it ranks every dataset like the prior):", "",
             "| method | " + " | ".join(fams) + " | all |", "|---|" + "---:|" * (len(fams) + 1)]
    for name in report["summary"]:
        if name in dep:
            lines.append(f"| {name} | " + " | ".join(f"{dep[name][f]:.2f}" if f in dep[name] else "—" for f in fams)
                         + f" | {dep[name]['all']:.2f} |")
    return lines


def plots(report: dict[str, Any], results: dict[str, Any], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    names = list(report["summary"])
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(names) + 2), 4))
    x = np.arange(len(names))
    for off, key, label in ((-0.2, "weighted_tau_rank_none", "rank=None"), (0.2, "weighted_tau_rank_true", "rank=True")):
        ax.bar(x + off, [report["summary"][n][key]["mean"] for n in names], 0.4, label=f"weighted τ ({label})",
               yerr=[report["summary"][n][key]["std"] for n in names], capsize=2)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("weighted Kendall τ (mean ± std over test datasets)")
    ax.legend()
    paths.append(_save(fig, folder / "weighted_tau.png"))

    rankers = [n for n in names if report["summary"][n]["kind"] == "ranker"]
    if rankers:
        best = rankers[0]
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        fams = sorted(set(results["families"].values()))
        for fam in fams:
            rows = [r for d, r in results["methods"][best]["datasets"].items() if results["families"][d] == fam]
            pred = np.concatenate([(np.array(r["predicted"]) - np.mean(r["predicted"])) / (np.std(r["predicted"]) + 1e-9)
                                   for r in rows]) if rows else []
            true = np.concatenate([r["true"] for r in rows]) if rows else []
            ax.scatter(pred, true, s=6, alpha=0.6, label=fam)
        ax.set_title(best, fontsize=9)
        ax.set_xlabel("predicted score (standardized per dataset)")
        ax.set_ylabel("true linear-probe accuracy")
        ax.legend(fontsize=7, markerscale=2)
        paths.append(_save(fig, folder / "predicted_vs_true.png"))

    curve = results["timing"].get("time_vs_models", {})
    if curve:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for method, by in sorted(curve.items()):
            sizes = sorted(int(s) for s in by)
            ax.plot(sizes, [by[str(s)] for s in sizes], marker="o" if method.startswith("ranker") else ".",
                    lw=2 if method.startswith("ranker") else 1, label=method)
        ax.set_xlabel("candidate models")
        ax.set_ylabel("seconds to rank them for one new dataset")
        ax.set_yscale("log")
        ax.legend(fontsize=6, ncol=2)
        paths.append(_save(fig, folder / "time_vs_models.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return path


def _per_class(n: int) -> str:
    return "all images, " if n == 0 else f"{n} per class, "


def write_report(results: dict[str, Any], folder: Path) -> dict[str, Any]:
    """report.json, report.md and plots/ in `folder`; returns the report."""
    images = sorted(set(results["settings"]["estimator_images"].values()))
    split = results["settings"]["estimator_split"]
    report = {"meta": {"preset": results["preset"], "seed": results["seed"],
                       "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                       "num_models": len(results["models"]), "num_datasets": len(results["families"]),
                       "families": sorted(set(results["families"].values())), "folds": results["folds"],
                       "weighted_tau_conventions": WEIGHTED_TAU_CONVENTIONS,
                       "estimator_images": f"{split} split ({_per_class(results['settings']['images_per_class'])}"
                                           f"{'-'.join(map(str, [images[0], images[-1]]))} images per dataset"
                                           + ("; the same images the ranker's dataset tokens come from)"
                                              if results["settings"]["same_images_as_tokens"] else ")"),
                       "benchmark_seconds": results["seconds"]},
              "summary": summarize(results), "methods": results["methods"], "budget": results.get("budget"),
              "task_dependence": task_dependence(results["methods"]),
              "caveats": results.get("caveats", {}), "timing": results["timing"]}
    write_json(folder / "report.json", report)
    write_text(folder / "report.md", markdown(report))
    plots(report, results, folder / "plots")
    return report
