"""Training checkpoint files: atomic writes, safe loading, discovery for `--resume auto`, keep-last-N cleanup.

Below train/ because the benchmark and the recommender read checkpoints without importing training code."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from utils import io, runs
from utils.artifacts import read_checkpoint
from utils.errors import ZooRankError

LAST, BEST = "last.pt", "best.pt"


def save(state: dict[str, Any], path: Path) -> None:
    io.torch_save(state, path)


def load(path: Path) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True`; a damaged file is a one-line user error."""
    path = Path(path)
    if not path.is_file():
        raise ZooRankError(f"checkpoint {path} not found; pass an existing .pt file, a run folder or 'auto'")
    state = read_checkpoint(path, what="checkpoint", rebuild="delete it or pick another")
    if "model" not in state:
        raise ZooRankError(f"checkpoint {path} is not a ZooRank training checkpoint (no 'model' entry)")
    return state


def find_resume(spec: str, runs_dir: Path, exclude: Sequence[Path] = ()) -> Path | None:
    """'auto' -> the newest unfinished run's last.pt (else the newest run's, which has nothing left to train)
    or None, leaving out the run folders `exclude` names (another model's runs in the same folder); else a .pt
    file or a run folder."""
    if spec == "auto":
        skip = {Path(p).resolve() for p in exclude}
        found = [r for r in runs.runs(runs_dir) if r.resolve() not in skip and (r / "checkpoints" / LAST).is_file()]
        found = [r for r in found if not runs.is_complete(r)] or found
        return found[-1] / "checkpoints" / LAST if found else None
    path = Path(spec)
    if path.is_dir():
        path = path / "checkpoints" / LAST if (path / "checkpoints").is_dir() else path / LAST
    if not path.is_file():
        raise ZooRankError(f"--resume {spec}: no checkpoint at {path}; pass a .pt file, a run folder or 'auto'")
    return path


def keep_last(folder: Path, pattern: str, n: int) -> None:
    """Delete all but the `n` most recently written files matching `pattern`."""
    files = sorted(folder.glob(pattern), key=lambda p: (p.stat().st_mtime_ns, p.name))
    for old in files[: max(0, len(files) - n)]:
        old.unlink(missing_ok=True)
