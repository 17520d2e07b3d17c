"""One reader per artifact kind (NPZ, JSON, torch checkpoint, safetensors header, INI text).

Whatever the damage (truncated, random or zero bytes, missing keys, object arrays, wrong shapes or dtypes,
NaN/Inf, bad encoding), the reader raises one ZooRankError naming the file, what is wrong and the command
that rebuilds it, so every caller's CLI prints one line and exits 2 instead of a traceback.
"""
from __future__ import annotations

import json
import pickle
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union

import numpy as np

from utils.errors import ZooRankError

# dtype kinds numpy reports: f float, i/u integer, b bool, U str. "json": a 0-d str array holding JSON.
Spec = Union[str, tuple[str, Union[int, None]]]
_KIND_NAMES = {"f": "float", "i": "integer", "u": "integer", "b": "bool", "U": "string", "c": "complex"}
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError,
                zipfile.BadZipFile, zlib.error, pickle.UnpicklingError, struct.error, UnicodeDecodeError)


class DamagedFileError(ZooRankError):
    """An artifact that exists but cannot be used as it is."""


def _remedy(rebuild: str | None, verb: str) -> str:
    """`rebuild`: the command that (re)builds the file ("python ...": printed after "<verb> it:"), or the
    whole remedy in words."""
    if not rebuild:
        return f"delete it and {verb} it"
    return f"{verb} it: {rebuild}" if rebuild.startswith("python ") else rebuild


def damaged(path: str | Path, what: str, problem: str, rebuild: str | None) -> DamagedFileError:
    """The one-line error for a damaged artifact: `<what> <path> is corrupt or unreadable (<problem>);
    rebuild it: <command>`."""
    return DamagedFileError(f"{what} {path} is corrupt or unreadable ({_first_line(problem)}); "
                            f"{_remedy(rebuild, 'rebuild')}")


def missing(path: str | Path, what: str, rebuild: str | None) -> ZooRankError:
    return ZooRankError(f"{what} {path} not found; {_remedy(rebuild, 'build') if rebuild else 'build it first'}")


def _first_line(text: str) -> str:
    text = str(text).strip()
    return (text.splitlines()[0] if text else "unreadable")[:160]


def _describe(err: BaseException) -> str:
    msg = _first_line(str(err)) if str(err).strip() else ""
    return f"{type(err).__name__}: {msg}" if msg else type(err).__name__


def _check(path: Path, name: str, arr: np.ndarray, spec: Spec, finite: bool, what: str, rebuild: str | None) -> Any:
    kinds, ndim = (spec, None) if isinstance(spec, str) else spec
    if kinds == "json":
        if arr.dtype.kind != "U" or arr.ndim != 0:
            raise damaged(path, what, f"'{name}' is not a JSON string", rebuild)
        try:
            return json.loads(str(arr))
        except ValueError as err:
            raise damaged(path, what, f"'{name}' is not valid JSON: {err}", rebuild) from None
    if arr.dtype.kind not in kinds:
        want = " or ".join(dict.fromkeys(_KIND_NAMES.get(k, k) for k in kinds))
        raise damaged(path, what, f"'{name}' holds {arr.dtype} values, expected {want}", rebuild)
    if ndim is not None and arr.ndim != ndim:
        raise damaged(path, what, f"'{name}' has shape {arr.shape}, expected {ndim} dimension(s)", rebuild)
    if finite and arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise damaged(path, what, f"'{name}' holds {bad} NaN or infinite value(s)", rebuild)
    return arr


def read_npz(path: str | Path, keys: Mapping[str, Spec], *, what: str, rebuild: str | None,
             optional: Mapping[str, Spec] | None = None, finite: bool = True,
             same_rows: Iterable[str] = ()) -> dict[str, Any]:
    """The arrays `keys` (plus those of `optional` that are present) of an NPZ, checked and in memory.

    `keys`: name -> dtype kinds ("f", "iu", "U") or (kinds, ndim) or "json" (a 0-d string holding JSON,
    returned parsed). `finite`: float arrays must hold no NaN/Inf. `same_rows`: keys whose first
    dimension must agree (e.g. ids and embeddings). Object arrays are refused (allow_pickle=False).
    """
    path = Path(path)
    if not path.is_file():
        raise missing(path, what, rebuild)
    wanted = {**(optional or {}), **keys}
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise damaged(path, what, "a bare array, not an NPZ archive", rebuild)
            absent = [k for k in keys if k not in data.files]
            if absent:
                raise damaged(path, what, f"missing {', '.join(repr(k) for k in absent)}", rebuild)
            raw = {k: data[k] for k in wanted if k in data.files}
    except ZooRankError:
        raise
    except _READ_ERRORS as err:
        problem = "holds object arrays (pickled data)" if "allow_pickle" in str(err) else _describe(err)
        raise damaged(path, what, problem, rebuild) from None
    out = {k: _check(path, k, arr, wanted[k], finite, what, rebuild) for k, arr in raw.items()}
    rows = {k: np.shape(out[k])[0] for k in same_rows if k in out and np.ndim(out[k]) > 0}
    if len(set(rows.values())) > 1:
        sizes = ", ".join(f"{k} {n}" for k, n in rows.items())
        raise damaged(path, what, f"row counts disagree ({sizes})", rebuild)
    return out


def read_text(path: str | Path, *, what: str, rebuild: str | None) -> str:
    """A UTF-8 text file; bytes that are not UTF-8 are a one-line error naming the byte offset."""
    path = Path(path)
    if not path.is_file():
        raise missing(path, what, rebuild)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise damaged(path, what, f"not UTF-8 text (byte {err.start})", rebuild) from None
    except OSError as err:
        raise damaged(path, what, _describe(err), rebuild) from None


def read_json(path: str | Path, *, what: str, rebuild: str | None, expect: type | None = dict) -> Any:
    """A JSON file (UTF-8). `expect`: the type of the top-level value (dict, list, or None for any)."""
    path = Path(path)
    text = read_text(path, what=what, rebuild=rebuild)
    try:
        data = json.loads(text)
    except ValueError as err:
        where = f" at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
        msg = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
        raise damaged(path, what, f"not valid JSON: {msg}{where}", rebuild) from None
    if expect is not None and not isinstance(data, expect):
        raise damaged(path, what, f"a JSON {type(data).__name__}, expected a JSON "
                                  f"{'object' if expect is dict else expect.__name__}", rebuild)
    return data


def read_checkpoint(path: str | Path, *, what: str, rebuild: str | None, keys: Iterable[str] = ()) -> dict[str, Any]:
    """A torch file loaded with `weights_only=True` on the CPU; it must be a dict holding `keys`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise missing(path, what, rebuild)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own text is a page about the weights_only default
        raise damaged(path, what, "not a torch file of tensors (weights_only=True refuses it)", rebuild) from None
    except _READ_ERRORS as err:
        raise damaged(path, what, _describe(err), rebuild) from None
    if not isinstance(state, dict):
        raise damaged(path, what, f"holds a {type(state).__name__}, not a dict of tensors", rebuild)
    absent = [k for k in keys if k not in state]
    if absent:
        raise damaged(path, what, f"missing {', '.join(repr(k) for k in absent)}", rebuild)
    return state


def read_safetensors_header(path: str | Path, *, what: str, rebuild: str | None) -> dict[str, Any]:
    """The JSON header of a .safetensors file (name -> {dtype, shape, data_offsets}), checked against the
    file size so a truncated file is found before any tensor is read."""
    path = Path(path)
    if not path.is_file():
        raise missing(path, what, rebuild)
    try:
        size_on_disk = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise damaged(path, what, f"{size_on_disk} bytes, too short for a safetensors header", rebuild)
            (size,) = struct.unpack("<Q", head)
            if size == 0 or 8 + size > size_on_disk:
                raise damaged(path, what, "bad header length (truncated or not safetensors)", rebuild)
            header = json.loads(fh.read(size).decode("utf-8"))
    except ZooRankError:
        raise
    except _READ_ERRORS as err:
        raise damaged(path, what, f"unreadable header ({_describe(err)})", rebuild) from None
    if not isinstance(header, dict):
        raise damaged(path, what, "the header is not a JSON object", rebuild)
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (KeyError, IndexError, TypeError, ValueError):
        raise damaged(path, what, "a tensor entry of the header has no valid data_offsets", rebuild) from None
    if 8 + size + end > size_on_disk:
        raise damaged(path, what, f"truncated: the tensors need {8 + size + end} bytes, the file has "
                                  f"{size_on_disk}", rebuild)
    return header
