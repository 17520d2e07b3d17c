"""Score / latency trade-off: the Pareto front (higher score, lower latency) and its plot."""
from __future__ import annotations

import io as _io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from utils.io import atomic_open

Point = tuple[str, float, float]  # (model id, score, latency)


def _points(points: Iterable[Sequence] | Mapping[str, Sequence]) -> list[Point]:
    items = ((k, *v) for k, v in points.items()) if isinstance(points, Mapping) else points
    out = []
    for model_id, score, latency in items:
        if score is None or latency is None or math.isnan(score) or math.isnan(latency):
            continue  # unscored or unprofiled: not on the plot, not on the front
        out.append((str(model_id), float(score), float(latency)))
    return out


def pareto_front(points: Iterable[Sequence] | Mapping[str, Sequence]) -> list[Point]:
    """The points no other point beats on both axes (score >= and latency <=, one strictly), sorted by
    latency. `points`: (id, score, latency) triples or {id: (score, latency)}; None/NaN ones are left out.
    Identical (score, latency) points are all on the front."""
    pts = sorted(_points(points), key=lambda p: (p[2], -p[1], p[0]))
    front: list[Point] = []
    best = -math.inf
    for p in pts:
        if p[1] > best:
            front.append(p)
            best = p[1]
        elif front and p[1] == front[-1][1] and p[2] == front[-1][2]:
            front.append(p)  # a tie with the last front point: neither dominates the other
    return front


def plot_pareto(points: Iterable[Sequence] | Mapping[str, Sequence], path: str | Path, title: str = "",
                xlabel: str = "latency (ms)", ylabel: str = "score", log_x: bool = True,
                annotate: int = 12) -> Path:
    """Scatter of all points with the front highlighted (its first `annotate` points labelled); written
    atomically as PNG. Returns `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = _points(points)
    front = pareto_front(pts)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if pts:
        ax.scatter([p[2] for p in pts], [p[1] for p in pts], s=14, c="0.6", label="models")
        ax.step([p[2] for p in front], [p[1] for p in front], where="post", c="C3", lw=1.2)
        ax.scatter([p[2] for p in front], [p[1] for p in front], s=28, c="C3", label="Pareto front", zorder=3)
        for model_id, score, latency in front[:annotate]:
            ax.annotate(model_id, (latency, score), fontsize=7, xytext=(3, 3), textcoords="offset points")
        if log_x and min(p[2] for p in pts) > 0:
            ax.set_xscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no profiled models", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path
