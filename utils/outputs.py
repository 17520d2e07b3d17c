"""Output paths checked before the work: a command that would fail to write its result fails first.

    check_file(args.out, "--out", (".csv", ".json"))   # known suffix, a folder that can be created and written
    check_dir(out_dir, "--out")                          # a folder that can be created and written
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from utils.errors import ZooRankError


def _writable_folder(folder: Path, what: str) -> None:
    """`folder`, or its nearest existing parent (the command creates the rest), is a folder we may write."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ZooRankError(f"{what} {folder}: {probe} is a file, not a folder; name another place")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ZooRankError(f"{what} {folder}: cannot write in {probe} (permission denied); name another place")


def check_dir(folder: Path | None, what: str) -> None:
    """An output folder (created by the command) can be written."""
    if folder is None:
        return
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ZooRankError(f"{what} {folder} is a file, not a folder; name a folder")
    _writable_folder(folder, what)


def check_file(path: Path | None, what: str, suffixes: Sequence[str]) -> None:
    """An output file has one of `suffixes` and its folder can be written."""
    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ZooRankError(f"{what} {path}: name a {' or a '.join(suffixes)} file")
    if path.is_dir():
        raise ZooRankError(f"{what} {path} is a folder; name a {' or a '.join(suffixes)} file")
    if path.exists() and not os.access(path, os.W_OK):
        raise ZooRankError(f"{what} {path}: the file cannot be overwritten (permission denied); name another file")
    _writable_folder(path.parent, what)
