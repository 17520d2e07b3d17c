"""Loss-curve plots for a run folder: linear scale, log scale and a rolling mean of per-step losses."""
from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Any

import numpy as np

from utils import io


def rolling_mean(values: list[float], window: int) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if len(x) == 0 or window <= 1:
        return x
    window = min(window, len(x))
    c = np.cumsum(np.insert(x, 0, 0.0))
    head = c[1:window] / np.arange(1, window)  # shorter windows until one is full
    return np.concatenate([head, (c[window:] - c[:-window]) / window])


def plot_losses(history: dict[str, Any], out_dir: Path) -> list[Path]:
    """One PNG per loss name (e.g. `loss` covers train/loss and val/loss). Returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = history.get("epochs", [])
    keys = sorted({k for row in epochs for k in row if k.endswith("loss")})
    names = sorted({k.split("/", 1)[-1] for k in keys})
    written = []
    for name in names:
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for key in (k for k in keys if k.split("/", 1)[-1] == name):
            xs = [r["epoch"] for r in epochs if key in r]
            ys = [r[key] for r in epochs if key in r]
            for ax in axes[:2]:
                ax.plot(xs, ys, marker="o", ms=3, label=key)
        axes[0].set_title(f"{name} (linear)")
        axes[1].set_title(f"{name} (log)")
        if all(r.get(k, 1.0) > 0 for r in epochs for k in keys):
            axes[1].set_yscale("log")
        steps = history.get("steps", {}).get(f"train/{name}", [])
        if steps:
            window = max(1, len(steps) // 20)
            axes[2].plot(steps, alpha=0.3, lw=0.8, label="per step")
            axes[2].plot(rolling_mean(steps, window), lw=1.5, label=f"rolling mean ({window})")
        axes[2].set_title(f"train/{name} per optimizer step")
        for ax, xlabel in zip(axes, ("epoch", "epoch", "step")):
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3)
            if ax.has_data():
                ax.legend(fontsize=8)
        fig.tight_layout()
        buf = _io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        path = out_dir / f"{name.replace('/', '_')}.png"
        with io.atomic_open(path, "wb") as fh:
            fh.write(buf.getvalue())
        written.append(path)
    return written
