"""Turn datasets into sets of CLIP feature tokens: one NPZ per (dataset, split) plus index.json.

    python extract_dataset_tokens.py --datasets artifacts/zoo/default/datasets/index.json --splits train
    python extract_dataset_tokens.py --datasets ./my_imagefolder uoft-cs/cifar10 --shard 2/8   # or a job array
    python extract_dataset_tokens.py --set dataset_tokens.clip_pretrained=laion2b_s34b_b79k --set dataset_tokens.clip_model=ViT-B-32
    python extract_dataset_tokens.py --rebuild-index --output DIR          # after a job array

Settings: [dataset_tokens] (CLIP or a transformers backbone, images per class, which tokens) and
[dataset_loader] (columns). Reruns skip finished (dataset, split) pairs unless --force.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config import DatasetLoaderConfig, add_config_args
from config.cli import configure
from config.dataset_tokens import DatasetTokensConfig
from config.layout import Layout
from dataloader import load_dataset_from_config
from extractors.dataset import DATASET_EXTRACTOR_REGISTRY, build_tokens
from extractors.dataset.store import rebuild_index, token_path, write_tokens
from extractors.dataset.tokens import token_settings
from utils import io, log
from utils.errors import ZooRankError, run_cli
from utils.index import read_index
from utils.shards import parse_shard, shard

logger = log.get_logger("extract_dataset_tokens")


def parse_datasets(items: list[str]) -> list[tuple[str, str]]:
    """(name, hub id or folder) from a synthetic-world index.json, folders, or hub names."""
    out = []
    for item in items:
        path = Path(item).expanduser()
        if path.suffix == ".json":
            if not path.is_file():
                raise ZooRankError(f"dataset index {path} not found")
            for e in read_index(path, "datasets", "dataset index"):
                src = str(e.get("path", e["name"]))
                local = path.parent / src
                # relative to the index's folder when it is there; otherwise a hub name, as written
                hub = not local.exists() and src.count("/") == 1 and not src.startswith((".", "/", "~"))
                out.append((e["name"], src if hub else str(local.resolve())))
        else:
            out.append((path.name if path.exists() else item, str(path) if path.exists() else item))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", metavar="DATASET",
                        help="index.json of the embedded world, dataset folders, or hub names")
    parser.add_argument("--rebuild-index", action="store_true", help="only rebuild <output>/index.json (after an array)")
    parser.add_argument("--splits", nargs="+", default=["train"], help="splits to tokenize (default: train)")
    parser.add_argument("--output", type=Path, help="default: [dataset_tokens] output_dir, else <artifacts>/dataset_tokens")
    parser.add_argument("--shard", metavar="I/N", help="slice I of N of the (dataset, split) pairs")
    parser.add_argument("--force", action="store_true", help="recompute finished pairs")
    add_config_args(parser)
    args = parser.parse_args(argv)
    config, run = configure(args)
    cfg, loader_cfg = config.get(DatasetTokensConfig), config.get(DatasetLoaderConfig)
    out = args.output or cfg.output_dir or Layout.from_run(run).dataset_tokens
    io.remove_stale_temps(out)  # of a killed earlier run
    if args.rebuild_index:
        sys.stdout.write(f"index: {rebuild_index(out)['count']} token sets -> {out / 'index.json'}\n")
        return 0
    if not args.datasets:
        raise ZooRankError("no datasets: pass --datasets (an index.json, folders or hub names)")
    pairs = [(name, src, split) for name, src in parse_datasets(args.datasets) for split in args.splits]
    index, count = parse_shard(args.shard)
    todo = [p for p in shard(pairs, index, count) if args.force or not token_path(out, p[0], p[2]).is_file()]
    done = 0
    if todo:
        extractor = DATASET_EXTRACTOR_REGISTRY.get(cfg.extractor)(cfg)
        for name, src, split in todo:
            ds = load_dataset_from_config(loader_cfg, source=src, split=split)
            result = build_tokens(ds, extractor, cfg)
            write_tokens(out, name, split, result, {"source": src, **token_settings(cfg, extractor)})
            logger.info("%s[%s]: %d tokens from %d images", name, split, len(result["tokens"]), result["num_images"])
            done += 1
    idx = rebuild_index(out)
    where = f" (shard {index}/{count})" if count > 1 else ""
    sys.stdout.write(f"{done} tokenized, {len(shard(pairs, index, count)) - done} already done{where}; "
                     f"index has {idx['count']} -> {out}\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
