"""How long the commands take to list their registries or reject a bad config value.

    python benchmarks/bench_startup.py [--repeat 3]

Each command runs --repeat times as its own process; the fastest wall time counts (the machine may be
shared). torch's own import (about a second) is the floor: everything above it is what a command
imports without needing it (tests/test_startup.py checks which heavy libraries those are).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ["-c", "import torch"],
    ["train.py", "--list"],
    ["train.py", "transformer", "--set", "transformer.lr=fast"],
    ["recommend.py", "--help"],
    ["recommend.py", "--set", "recommend.top_k=many"],
    ["extract_model_vectors.py", "--list"],
    ["-m", "zoo", "--help"],
    ["-m", "zoo", "build", "--set", "world.workers=many"],
)


def fastest(argv: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for argv in COMMANDS:
        sys.stdout.write(f"{fastest(argv, args.repeat):6.2f} s  python {' '.join(argv)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
