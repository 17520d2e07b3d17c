"""Are two benchmark reports the same apart from timings? (refactorings must not move a number)

    python benchmarks/compare_reports.py OLD/report.json NEW/report.json

Both reports come from the same machine (the tiny world's tiny models train differently in the last
bits on other CPUs). Keys that measure time or describe the run (seconds, speedups, timing curves,
date, machine) are dropped; everything else must be equal, floats included. Prints the number of
compared values and the first differences; exit 0 when identical, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

TIMING = re.compile(r"seconds|speedup|time_vs_models|timing|^date$|^machine$|^output_dir$")


def strip_timings(obj: Any) -> Any:
    """`obj` without the keys TIMING matches, recursively."""
    if isinstance(obj, dict):
        return {k: strip_timings(v) for k, v in obj.items() if not TIMING.search(str(k))}
    if isinstance(obj, list):
        return [strip_timings(v) for v in obj]
    return obj


def differences(a: Any, b: Any, path: str = "") -> tuple[int, list[str]]:
    """(number of compared leaves, paths where `a` and `b` differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        count, diffs = 0, [f"{path}/{k}: only in one report" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            n, d = differences(a[k], b[k], f"{path}/{k}")
            count, diffs = count + n, diffs + d
        return count, diffs
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return 1, [f"{path}: {len(a)} vs {len(b)} items"]
        count, diffs = 0, []
        for i, (x, y) in enumerate(zip(a, b)):
            n, d = differences(x, y, f"{path}[{i}]")
            count, diffs = count + n, diffs + d
        return count, diffs
    return 1, [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    reports = []
    for path in (args.old, args.new):
        try:
            reports.append(strip_timings(json.loads(path.read_text())))
        except (OSError, ValueError) as err:
            print(f"error: cannot read report {path} ({err}); run python pipeline.py --preset tiny first",
                  file=sys.stderr)
            return 2
    count, diffs = differences(*reports)
    print(f"{count} values compared (timings dropped), {len(diffs)} differ")
    for line in diffs[:20]:
        print("  " + line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
