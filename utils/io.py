"""Atomic file writes: write to a temp file in the same folder, fsync, then rename over the target.

A reader (or a process killed half-way) sees either the old file or the new one, never a torn one.
A killed writer leaves its temp file behind; temp names carry the writer's host and pid, so that the
next writer of the folder removes them (`remove_stale_temps`) without touching a live writer's.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)
_HOST = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"
# .<target name>.<random>.<host>.<pid>.tmp: the owner is read from the end (names may hold dots)
_TEMP_RE = re.compile(r"^\..+\.([A-Za-z0-9_-]+)\.(\d+)\.tmp$")
# a temp of another host (shared file system) cannot be checked for a live writer: removed once this old
STALE_AFTER_S = 24 * 3600


def _temp_affixes(path: Path) -> dict[str, str]:
    return {"prefix": f".{path.name}.", "suffix": f".{_HOST}.{os.getpid()}.tmp", "dir": str(path.parent)}


def temp_path(target: str | os.PathLike, pid: int, tag: str = "tmp") -> Path:
    """The name a writer with `pid` on this host gives a temp of `target` (`tag` stands for the random part)."""
    target = Path(target)
    return target.with_name(f".{target.name}.{tag}.{_HOST}.{pid}.tmp")


def temp_dir(target: str | os.PathLike) -> Path:
    """A new temp folder beside `target` (for writers that build a folder, then rename it over `target`)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(**_temp_affixes(target)))
    os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; the folder becomes `target`
    return tmp


def _is_stale(path: Path, now: float) -> bool:
    match = _TEMP_RE.match(path.name)
    if match is None:
        return False
    host, pid = match.group(1), int(match.group(2))
    try:
        if now - path.lstat().st_mtime > STALE_AFTER_S:
            return True
    except FileNotFoundError:
        return False
    if host != _HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


def remove_stale_temps(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Remove the temp files and folders that killed writers left in `folder` (and below); returns them.

    Only names of this module's temp scheme count, and only those whose writer is gone (same host,
    pid not alive) or that are older than STALE_AFTER_S; a live writer's temp is never touched.
    """
    folder, now, removed = Path(folder), time.time(), []
    if not folder.is_dir():
        return removed
    for root, dirs, files in os.walk(folder):
        for name in [*files, *dirs]:
            path = Path(root) / name
            if not _is_stale(path, now):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                dirs.remove(name)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            removed.append(path)
        if not recursive:
            break
    return removed


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a temp file beside `path`; on clean exit it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(**_temp_affixes(path))
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the permissions open() would
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(path)  # a failed write() names no file: the one being written
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
    try:
        fd, tmp = tempfile.mkstemp(**_temp_affixes(dst))
        os.close(fd)
        os.unlink(tmp)  # only the unique name is wanted: os.link does not overwrite
        os.link(src, tmp)
    except OSError:
        with open(src, "rb") as s, atomic_open(dst, "wb") as d:
            while chunk := s.read(1 << 20):
                d.write(chunk)
        return
    os.replace(tmp, dst)
