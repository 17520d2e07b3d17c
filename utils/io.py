"""Atomic file writes: write to a temp file in the same folder, fsync, then rename over the target.

A reader (or a process killed half-way) sees either the old file or the new one, never a torn one.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a temp file beside `path`; on clean exit it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the permissions open() would
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def torch_save(obj: Any, path: str | os.PathLike) -> None:
    import torch

    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Atomically make `dst` the same content as `src` (hard link when possible, else a copy)."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        with open(src, "rb") as s, atomic_open(tmp, "wb") as d:
            while chunk := s.read(1 << 20):
                d.write(chunk)
    os.replace(tmp, dst)
