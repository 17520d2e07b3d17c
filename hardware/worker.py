"""Measure one model in a fresh Python process: `python -m hardware.worker REQUEST.json RESULT.json`.

A fresh process per model gives honest CPU peak-memory numbers (nothing freed by an earlier model is
reused) and keeps a crash or an out-of-memory kill from taking the whole profiling run down.
`run_isolated(request)` is the parent's side; the request is `measure_model`'s keyword arguments plus
"num_threads" (0: torch's default).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from utils.errors import ZooRankError
from utils.io import write_json

ROOT = Path(__file__).resolve().parent.parent


class MeasureError(ZooRankError):
    """A model could not be loaded or run."""


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def run_isolated(request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run `measure_model(**request)` in a child process; return its entry or raise MeasureError."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="zoorank-profile-") as tmp:
        req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
        write_json(req, request)
        try:
            proc = subprocess.run([sys.executable, "-m", "hardware.worker", str(req), str(res)], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MeasureError(f"{request['source']}: measuring took longer than {timeout:.0f} s") from None
        result = json.loads(res.read_text()) if res.is_file() else {}
    if result.get("ok"):
        return result["entry"]
    why = result.get("error") or f"worker exited with code {proc.returncode}: {_one_line(proc.stderr)}"
    raise MeasureError(why)


def main(argv: list[str]) -> int:
    req_path, res_path = argv
    request = json.loads(Path(req_path).read_text())
    threads = int(request.pop("num_threads", 0) or 0)
    try:
        import torch

        from hardware.measure import measure_model

        if threads > 0:
            torch.set_num_threads(threads)
        entry = measure_model(**request, track_memory=True)
    except Exception as err:  # noqa: BLE001  (reported to the parent as one line)
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if not isinstance(err, ZooRankError):
            message = f"{request.get('source')}: {type(err).__name__}: {message}"
        write_json(res_path, {"ok": False, "error": message})
        return 1
    write_json(res_path, {"ok": True, "entry": entry})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
