"""Probe profiles: every model's behaviour on a fixed probe collection (never a target dataset), a model
token part of its own for the ranker. Cached per (model, probe) pair, resumable, shardable.

    python extract_probe_profiles.py --models artifacts/zoo/default/models/index.json
    python extract_probe_profiles.py --models index.json --shard 2/8     # one task of a job array
    python extract_probe_profiles.py --models index.json --merge         # after the array: profiles.npz

Probe datasets: [probes] datasets (folders, hub names or an index.json), else the world's source and
probe datasets (each source family under each corruption). Output: [probes] output_dir, else <artifacts_dir>/probe_profiles (see features/profile_store.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config import DatasetLoaderConfig, ProbesConfig, WorldConfig, add_config_args
from config.cli import configure
from config.layout import Layout
from utils import log
from utils.errors import run_cli
from utils.shards import parse_shard

logger = log.get_logger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                        help="a models index.json, model folders or hub ids")
    parser.add_argument("--output", type=Path, help="default: [probes] output_dir, else <artifacts>/probe_profiles")
    parser.add_argument("--shard", metavar="I/N", help="slice I of N of the (model, probe) pairs; no merge")
    parser.add_argument("--merge", action="store_true", help="only write profiles.npz from the pairs' records")
    add_config_args(parser)
    args = parser.parse_args(argv)
    config, run = configure(args)
    from features.profile_store import merge_profiles, probe_items, run_profiles
    from features.refs import parse_datasets, parse_models

    cfg = config.get(ProbesConfig)
    layout = Layout.from_run(run, world=config.get(WorldConfig))
    out = args.output or cfg.output_dir or layout.probe_profiles
    items, roles = probe_items(cfg, layout)
    models, probes = parse_models(args.models), parse_datasets(items, roles)
    index, count = parse_shard(args.shard)
    if not args.merge:
        run_profiles(models, probes, cfg, config.get(DatasetLoaderConfig), run, out, (index, count))
        if count > 1:
            sys.stdout.write(f"probe profiles: shard {index}/{count} done; merge with --merge\n")
            return 0
    path = merge_profiles(models, probes, cfg, out)
    sys.stdout.write(f"probe profiles: {len(models)} models x {len(probes)} probes "
                     f"({', '.join(p.id for p in probes)}) -> {path}\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
