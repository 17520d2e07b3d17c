"""Listing and config errors answer without importing the heavy libraries (datasets, scipy, ...).

No timing assertions (shared machines are noisy): the modules a command imported are the measure.
benchmarks/bench_startup.py prints the times.
"""
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("datasets", "scipy", "open_clip", "transformers", "sklearn", "pandas", "timm")
PROBE = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    if sys.argv[0] == "-m":
        sys.argv = sys.argv[1:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as stop:
    code = stop.code
else:
    code = 0
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
sys.exit(code)
"""


def imported_heavy(*argv: str, heavy: tuple[str, ...] = HEAVY) -> tuple[int, list[str], str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=heavy), *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    line = [x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")][-1]
    return proc.returncode, [m for m in line[len("HEAVY="):].split(",") if m], proc.stdout + proc.stderr


@pytest.mark.parametrize("argv, rc", [
    (("train.py", "--list"), 0),
    (("train.py", "transformer", "--set", "transformer.lr=fast"), 2),
    (("recommend.py", "--help"), 0),
    (("recommend.py", "--set", "recommend.top_k=many"), 2),
    (("extract_model_vectors.py", "--list"), 0),
    (("-m", "zoo", "--help"), 0),
    (("-m", "zoo", "build", "--set", "world.workers=many"), 2),
])
def test_listing_and_config_errors_import_no_heavy_library(argv, rc):
    code, heavy, out = imported_heavy(*argv)
    assert code == rc, out
    assert heavy == [], f"{' '.join(argv)} imported {heavy}: import them inside the functions that need them"


@pytest.mark.parametrize("argv", [
    ("train.py", "transformer", "--set", "transformer.lr=fast"),
    ("train.py", "modelautoencoder", "--set", "run.no_such_key=1"),
    ("recommend.py", "--set", "recommend.top_k=many"),
    ("-m", "zoo", "build", "--set", "world.workers=many"),
])
def test_config_errors_answer_before_torch_is_imported(argv):
    """A typo in the config is judged by the typed sections alone: no torch (about a second to import)."""
    code, heavy, out = imported_heavy(*argv, heavy=("torch",))
    assert code == 2 and heavy == [], out
