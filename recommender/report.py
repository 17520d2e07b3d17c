"""A recommendation as a text table (stdout), JSON, or a CSV / JSON file (written atomically)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from utils import outputs
from utils.io import atomic_open, write_json

CSV_COLUMNS = ("rank", "id", "score", "ranker_score", "estimator_score", "params", "added", "latency_ms", "throughput", "batch_size", "peak_memory_mb",
               "gflops", "rank_all", "status", "reason")
# (key, title, format) of the hardware columns, shown when a device profile is given
HW_COLUMNS = (("latency_ms", "latency ms", ".4g"), ("throughput", "img/s", ".5g"), ("batch_size", "batch", "d"),
              ("peak_memory_mb", "mem MiB", ".4g"))


def check_out(path: Path | None) -> None:
    outputs.check_file(path, "--out", (".csv", ".json"))


def _cell(value: Any, spec: str, width: int) -> str:
    return f"{'-':>{width}s}" if value is None else f"{value:>{width}{spec}}"


def _header(result: dict[str, Any]) -> list[str]:
    d = result["dataset"]
    classes = f"{d['num_classes']} classes" if d["labelled"] else "unlabelled"
    lines = [f"# dataset {d['name']} ({d['size']} images, {classes}); tokens: {d['num_tokens']} from "
             f"{d['num_images']} images ({d['sampling']})",
             f"# ranker {result['ranker']['checkpoint']}; {result['num_candidates']} candidate models"
             + (f" ({len(result['added_models'])} added)" if result["added_models"] else "")]
    prof = result["device_profile"]
    if prof is not None:
        lines.append(f"# device {prof['device']} (profile {prof['name']}, {prof['kind']}, {prof['source']})")
    far = result.get("novelty")
    if far and far["far"]:
        lines.append(f"# far: the nearest probe dataset's cosine is {far['nearest_cosine']:.3f}, below every dataset the "
                     f"ranker learned from (>= {far['threshold']:.3f}): "
                     + far["ranked_by"])
    budget = result.get("budget")
    if budget:
        lines.append(f"# budget: the ranker's top {budget['k']} re-scored by {budget['estimator']} on the dataset's "
                     f"sample, fused a * z(ranker) + (1 - a) * z({budget['estimator']}) with a = {budget['a']:.2f} "
                     f"from {budget['a_from']}; the rest in the ranker's order")
    if result["constraints"]:
        lines.append("# constraints: " + ", ".join(f"{k} {v:g}" for k, v in result["constraints"].items()))
    return lines


def text_table(result: dict[str, Any]) -> str:
    rows, profiled = result["models"], result["device_profile"] is not None
    width = max([len(r["id"]) + 2 for r in rows] + [8])
    cols = HW_COLUMNS if profiled else ()
    budget = result.get("budget")
    scores = f"{'ranker':>8s} {budget['estimator'][:8]:>8s} {'fused':>8s}" if budget else f"{'score':>8s}"
    head = f"{'rank':>4s}  {'model':{width}s} {scores} {'params':>13s}" + "".join(f" {t:>10s}" for _, t, _ in cols)
    lines = [*_header(result), head + ("  note" if profiled else "")]
    for r in rows:
        name = r["id"] + (" *" if r["added"] else "")
        cells = (f"{r['ranker_score']:>8.4f} {_cell(r['estimator_score'], '.4f', 8)} "
                 f"{_cell(r['score'] if r['shortlisted'] else None, '.4f', 8)}") if budget else f"{r['score']:>8.4f}"
        line = f"{r['rank']:>4d}  {name:{width}s} {cells} {r['params']:>13,d}"
        line += "".join(" " + _cell(r[k], spec, 10) for k, _, spec in cols)
        lines.append(line + (f"  {r['note']}" if r["note"] else ""))
    shown = len(rows)
    if shown < result["num_kept"]:
        lines.append(f"... {result['num_kept'] - shown} more (--top-k 0 shows all)")
    if result["added_models"]:
        lines.append("* added with recommend.py add-model")
    if result["dropped"]:
        lines.append(f"\ndropped ({len(result['dropped'])}, violate the constraints):")
        lines += [f"  {r['id']} (score {r['score']:.4f}, would be #{r['rank_all']}): {r['reason']}"
                  for r in result["dropped"]]
    if result["unprofiled"]:
        prof = result["device_profile"]
        lines.append(f"\nno profile on {prof['device']} for {len(result['unprofiled'])} of "
                     f"{result['num_candidates']} models (hardware columns empty, device limits unchecked):")
        lines += [f"  {r['id']}: {r['note']}" for r in result["unprofiled"]]
    pareto = result["pareto"]
    if pareto is not None:
        lines.append(f"\nPareto front, predicted score vs {pareto['axis']} ({len(pareto['front'])} models):")
        lines += [f"  {p['id']:{width}s} {p['score']:>8.4f} {p[pareto['metric']]:>10.4g}" for p in pareto["front"]]
        if pareto["not_on_plot"]:
            lines.append(f"  ({len(pareto['not_on_plot'])} models without that number are not on it)")
        lines.append(f"  plot: {pareto['plot']}")
    lines += [f"note: {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2) + "\n"


def write_out(path: Path, result: dict[str, Any]) -> None:
    """JSON: the whole result; CSV: one row per model, kept and dropped (`status`, `reason`)."""
    if path.suffix.lower() == ".json":
        write_json(path, result)
        return
    with atomic_open(path, "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in result["models"]:
            writer.writerow({**r, "status": "kept", "reason": r["note"]})
        for r in result["dropped"]:
            writer.writerow({**r, "rank": "", "status": "dropped"})
