"""Content hashes that name cached results: the same content gives the same short hex digest."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of `obj` as canonical JSON (keys sorted, non-JSON values as str), first `length` hex digits."""
    return text_hash(json.dumps(obj, sort_keys=True, default=str), length=length)


def text_hash(text: str, length: int = 16, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, text.encode()).hexdigest()[:length]


def files_hash(paths: Iterable[str | Path], length: int = 16, algorithm: str = "sha256") -> str:
    """Digest of the bytes of `paths`, read in order (as if they were one file)."""
    digest = hashlib.new(algorithm)
    for path in paths:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:length]
