"""Benchmark the learned rankers against transferability estimators and trivial rankers.

    python benchmark.py                     # run (cached per pair and per fold) + write the report
    python benchmark.py --preset tiny       # another embedded world
    python benchmark.py report              # re-render report.json / report.md / plots from results.json

Protocol: leave-families-out over the target datasets (see evaluation/benchmark.py). Settings:
[benchmark], plus [transformer] (rankers, their inputs), [dataset_tokens] (CLIP), [run], [world].
Output: <artifacts_dir>/benchmark/<preset>/{results.json, report.json, report.md, plots/}.
"""
from __future__ import annotations

import argparse
import json
import sys

from config import add_config_args
from config.cli import configure
from utils import log, outputs
from utils.errors import ZooRankError, run_cli
from utils.io import write_json

logger = log.get_logger("benchmark")


def summary_line(report: dict) -> str:
    """One line: the best ranker and the best estimator by weighted tau (rank=None), and the speedup."""
    rows = report["summary"]
    best = {kind: next((n for n, s in rows.items() if s["kind"] == kind), None) for kind in ("ranker", "estimator")}
    parts = []
    for kind, name in best.items():
        if name:
            s = rows[name]
            sp = f", {s['speedup_vs_logme']:.1f}x LogME's speed" if kind == "ranker" and s["speedup_vs_logme"] else ""
            parts.append(f"best {kind} {name}: weighted tau (rank=None) {s['weighted_tau_rank_none']['mean']:.3f}, "
                         f"top-1 regret {100 * s['top1_regret']['mean']:.2f} pts{sp}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=("run", "report"), default="run",
                        help="run: benchmark then report (default); report: only re-render the report")
    parser.add_argument("--preset", help="embedded world (default: [world] preset)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    config, _ = configure(args)
    from evaluation.benchmark import benchmark_dir, run_benchmark
    from evaluation.report import write_report

    out = benchmark_dir(config, args.preset)
    outputs.check_dir(out, "[benchmark] output_dir")
    if args.command == "run":
        results = run_benchmark(args.config, args.overrides, args.preset)
        write_json(out / "results.json", results)
    else:
        try:
            results = json.loads((out / "results.json").read_text())
        except FileNotFoundError:
            raise ZooRankError(f"{out / 'results.json'} not found; run python benchmark.py first") from None
        except json.JSONDecodeError as err:
            raise ZooRankError(f"{out / 'results.json'} is corrupt ({err.msg}); rerun python benchmark.py") from None
    report = write_report(results, out)
    sys.stdout.write(f"report: {out / 'report.md'}; {summary_line(report)}\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
