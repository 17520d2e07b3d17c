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


def weights_of(run: Path) -> Path | None:
    """A run folder's checkpoint to use: checkpoints/best.pt, else last.pt (a run without validation); none."""
    return next((run / "checkpoints" / n for n in (BEST, LAST) if (run / "checkpoints" / n).is_file()), None)


def find_resume(spec: str, runs_dir: Path, exclude: Sequence[Path] = ()) -> Path | None:
    """'auto' -> the newest unfinished run's last.pt (else the newest run's, which has nothing left to train)
    or None, leaving out the run folders `exclude` names (another model's runs in the same folder); else a .pt
    file or a run folder."""
    if spec == "auto":
        found = runs.newest_unfinished(runs_dir, exclude)
        if found is None:
            found = next((r for r in reversed(runs.runs(runs_dir, exclude)) if (r / "checkpoints" / LAST).is_file()),
                         None)
        return found / "checkpoints" / LAST if found is not None else None
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
