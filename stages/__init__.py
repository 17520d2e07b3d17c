"""The main job's stages, in order. Each is its own script (so a SLURM job can run one); the pipeline
runs them as subprocesses with the same --config / --set, caching each by its inputs and config.

A stage's key hashes the config sections it reads and the keys of the stages it depends on, so a
change anywhere redoes that stage and everything downstream of it, and nothing else.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.layout import Layout
from utils import runs


def stage_overrides(layout: Layout) -> list[str]:
    """--set values that point every stage at this preset's world and folders."""
    world = layout.world
    return [f"world.preset={layout.preset}", f"world.root={world.root}", f"run.artifacts_dir={layout.artifacts_dir}",
            f"dataset_tokens.clip_pretrained={world.clip}",
            f"ranking_data.dataset_index={world.datasets_index}",
            f"ranking_data.performance_file={world.matrix}",
            f"benchmark.output_dir={layout.benchmark}"]


def preset_layout(artifacts_dir: Path, preset: str) -> Layout:
    """The layout of one preset's stages (Layout.for_preset)."""
    return Layout(artifacts_dir).for_preset(preset)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _world_summary(p: Layout) -> str:
    s = _read(p.world.spread) or {}
    return (f"{s.get('num_models', '?')} models x {s.get('num_datasets', '?')} datasets, "
            f"{s.get('distinct_winners', '?')} distinct winners, mean inter-dataset Kendall tau "
            f"{s.get('mean_kendall_tau', float('nan')):.3f}")


def _count(path: Path, what: str) -> str:
    idx = _read(path) or {}
    return f"{idx.get('count', len(idx.get('entries', idx.get('models', []))))} {what}"


def _count_labels(path: Path) -> str:
    try:
        import numpy as np

        with np.load(path) as data:
            return f"{len(data['ids'])} models, {int((data['named'] > 0).sum())} with named classes"
    except (OSError, ValueError, KeyError):
        return "done"


def _count_profiles(path: Path) -> str:
    try:
        import numpy as np

        with np.load(path) as data:
            n, p, s = data["profiles"].shape
        return f"{n} models x {p} probes x {s} statistics"
    except (OSError, ValueError, KeyError):
        return "done"


def _ae_summary(p: Layout) -> str:
    latest = _read(p.autoencoder_latest) or {}
    hist = _read(Path(latest.get("run_dir", "")) / "history.json") or {}
    vals = [e["val/loss"] for e in hist.get("epochs", []) if "val/loss" in e]
    return f"{len(hist.get('epochs', []))} epochs, best val/loss {min(vals):.4g}" if vals else "trained"


def _ranker_summary(p: Layout) -> str:
    run = runs.newest_complete(p.transformer_runs)
    preds = _read(run / "predictions.json") if run is not None else None
    if not preds or "test" not in preds:
        return "trained"
    s = preds["test"]["summary"]
    return (f"run {run.name}: held-out {','.join(sorted(set(preds['split']['families'][d] for d in preds['split']['test'])))}: "
            f"weighted tau rank=None {s['weighted_tau_rank_none']:.3f}, rank=True {s['weighted_tau_rank_true']:.3f}, "
            f"top-1 regret {100 * s['top1_regret']:.2f} pts")


@dataclass(frozen=True)
class Stage:
    name: str
    sections: tuple[str, ...]  # config sections whose values change its output
    after: tuple[str, ...]  # stages whose outputs it reads
    argv: Callable[[Layout], list[str]]  # the script and its arguments (config args are added)
    summary: Callable[[Layout], str]
    force_flag: str | None = None  # the script's flag to redo work it would otherwise skip
    seeded: bool = True  # [run] seed / deterministic change its output
    inputs: str | None = None  # a world file's part it reads (stages/world.py): its fingerprints join the key


PY = sys.executable
STAGES: tuple[Stage, ...] = (
    Stage("world", ("world", "zoo", "ground_truth", "clip_pretrain", "dataset_loader"), (),
          lambda p: [PY, "-m", "zoo", "build", "--preset", p.preset], _world_summary),
    Stage("vectors", ("extractor", "vectorizer"), ("world",),
          lambda p: [PY, "extract_model_vectors.py", "--models", str(p.world.models_index)],
          lambda p: _count(p.model_vectors / "index.json", "model vectors"), "--force", False),
    Stage("tokens", ("dataset_tokens", "dataset_loader"), ("world",),
          lambda p: [PY, "extract_dataset_tokens.py", "--datasets", str(p.world.datasets_index)],
          lambda p: _count(p.dataset_tokens / "index.json", "token sets"), "--force"),
    Stage("probes", ("probes", "dataset_loader"), ("world",),
          lambda p: [PY, "extract_probe_profiles.py", "--models", str(p.world.models_index)],
          lambda p: _count_profiles(p.probe_profiles / "profiles.npz"), seeded=False),
    Stage("labels", ("dataset_tokens",), ("world",),
          lambda p: [PY, "extract_model_labels.py", "--models", str(p.world.models_index)],
          lambda p: _count_labels(p.model_labels / "labels.npz"), seeded=False),
    Stage("tasks", ("tasks", "ground_truth"), ("world",),
          lambda p: [PY, "make_tasks.py"], lambda p: f"{len((_read(p.tasks / 'tasks.json') or {}).get('tasks', []))} sampled tasks"),
    Stage("autoencoder", ("model_autoencoder",), ("vectors",),
          lambda p: [PY, "train.py", "modelautoencoder"], _ae_summary),
    Stage("transformer", ("transformer", "ranking_data"), ("autoencoder", "tokens", "probes", "labels", "tasks"),
          lambda p: [PY, "train.py", "transformer"], _ranker_summary),
    Stage("benchmark", ("benchmark", "transformer", "ranking_data", "dataset_tokens", "dataset_loader"),
          ("autoencoder", "tokens", "probes", "labels", "tasks"),
          lambda p: [PY, "benchmark.py", "run", "--preset", p.preset],
          lambda p: f"{p.benchmark / 'results.json'}"),
    Stage("report", (), ("benchmark",),
          lambda p: [PY, "benchmark.py", "report", "--preset", p.preset],
          lambda p: f"{p.benchmark / 'report.md'}"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)
