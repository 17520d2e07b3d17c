"""Which training runs finished: the `complete.json` marker a run folder gets at the very end of a successful fit.

A run that failed, diverged, was preempted or killed has no marker, so whatever picks "the newest run" (the
recommender's ranker, the pipeline's summary) picks the newest complete one and can name a newer unfinished
one with the command that resumes it. Below train/ because serving code reads it without importing training code.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from utils import io, log

COMPLETE = "complete.json"
logger = log.get_logger(__name__)


def mark_complete(run_dir: Path, info: dict[str, Any]) -> None:
    io.write_json(Path(run_dir) / COMPLETE, info)


def unmark(run_dir: Path) -> None:
    """A finished run trained further (resumed with more epochs) is unfinished again until it ends."""
    (Path(run_dir) / COMPLETE).unlink(missing_ok=True)


def is_complete(run_dir: Path) -> bool:
    return (Path(run_dir) / COMPLETE).is_file()


def _last_written(run_dir: Path) -> int:
    """When a run last wrote something that says how far it got (marker, checkpoints, history)."""
    files = [run_dir / COMPLETE, run_dir / "history.json", *(run_dir / "checkpoints").glob("*.pt")]
    return max((f.stat().st_mtime_ns for f in files if f.is_file()), default=0)


def runs(runs_dir: Path, exclude: Sequence[Path] = ()) -> list[Path]:
    """Run folders under `runs_dir`, oldest first (by when each last wrote a checkpoint or its marker), less those
    `exclude` names (another model's runs kept in the same folder, e.g. a ranker's far companion)."""
    skip = {Path(p).resolve() for p in exclude}
    found = [r for r in Path(runs_dir).iterdir() if r.is_dir()] if Path(runs_dir).is_dir() else []
    found = [r for r in found if r.resolve() not in skip]
    return sorted(found, key=lambda r: (_last_written(r), r.name))


def newest_complete(runs_dir: Path) -> Path | None:
    done = [r for r in runs(runs_dir) if is_complete(r)]
    return done[-1] if done else None


def newest_unfinished(runs_dir: Path, exclude: Sequence[Path] = ()) -> Path | None:
    """The newest run that has a checkpoint to resume from but never finished."""
    left = [r for r in runs(runs_dir, exclude) if not is_complete(r) and (r / "checkpoints" / "last.pt").is_file()]
    return left[-1] if left else None


def resume_command(trainer: str, run_dir: Path) -> str:
    return f"python train.py {trainer} --resume {run_dir}"


def warn_unfinished(runs_dir: Path, chosen: Path | None, trainer: str) -> Path | None:
    """One warning line when a run newer than `chosen` did not finish (failed, diverged, preempted or killed)."""
    left = newest_unfinished(runs_dir)
    if left is None or (chosen is not None and _last_written(left) <= _last_written(chosen)):
        return None
    logger.warning("run %s did not finish (failed, stopped or still running); not used. Resume it: %s",
                   left, resume_command(trainer, left))
    return left
