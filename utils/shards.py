"""Deterministic shards of a work list, one per SLURM array task (or `--shard INDEX/COUNT`)."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TypeVar

from utils.errors import ZooRankError

T = TypeVar("T")


def parse_shard(text: str | None, env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(index, count) from "i/n", else SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (less _MIN), else (0, 1)."""
    env = os.environ if env is None else env
    if text is None:
        if "SLURM_ARRAY_TASK_ID" not in env or "SLURM_ARRAY_TASK_COUNT" not in env:
            return 0, 1
        try:
            index = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            count = int(env["SLURM_ARRAY_TASK_COUNT"])
        except ValueError:
            raise ZooRankError("SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are not integers") from None
        where = "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN"
    else:
        head, _, tail = text.partition("/")
        try:
            index, count = int(head), int(tail)
        except ValueError:
            raise ZooRankError(f"--shard {text!r}: expected INDEX/COUNT integers, e.g. --shard 0/4") from None
        where = f"--shard {text}"
    if not 0 <= index < count:
        raise ZooRankError(f"{where}: need 0 <= index < count, got index {index}, count {count}")
    return index, count


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Every count-th item starting at `index`, in list order: disjoint slices covering the list."""
    return list(items[index::count])
