"""Turn pre-trained models into fixed-size parameter vectors: one NPZ per model plus index.json.

    python extract_model_vectors.py --models google/vit-base-patch16-224 ./my_resnet zoo.json --output vecs
    python extract_model_vectors.py --models zoo.json --shard 3/16          # or a SLURM job array
    python extract_model_vectors.py --rebuild-index --output vecs           # after a job array, if wanted
    python extract_model_vectors.py --fit-normalizer train_ids.txt --output vecs   # -> vecs/normalizer.npz
    python extract_model_vectors.py --apply-normalizer vecs/normalizer.npz --output vecs

Settings: [extractor] and [vectorizer] in config.ini (`--set vectorizer.size=4096`). Reruns skip
finished models. Exit code 2 when a model fails ([extractor] on_error = skip: after the others).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from config import ExtractorConfig, VectorizerConfig, add_config_args
from config.cli import configure
from config.layout import Layout
from extractors import EXTRACTOR_REGISTRY, VECTORIZER_REGISTRY, RobustNormalizer, fit_normalizer
from extractors.runner import run_extraction
from extractors.specs import parse_models
from extractors.store import load_vectors, rebuild_index
from utils import io, log  # contains beautilog's side effects
from utils.errors import ZooRankError, run_cli
from utils.registry import describe
from utils.shards import parse_shard, shard

logger = log.get_logger("extract_model_vectors")



def read_ids(spec: str) -> list[str]:
    """Model ids from a JSON index, a text file (one per line) or a comma-separated list."""
    path = Path(spec).expanduser()
    if path.suffix == ".json" and path.is_file():
        return [s.id for s in parse_models([str(path)])]
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [s.strip() for s in spec.split(",") if s.strip()]


def fit(args: argparse.Namespace, out: Path, clip: float) -> int:
    ids = read_ids(args.fit_normalizer)
    ids, vectors = load_vectors(out, ids)
    norm = fit_normalizer(vectors, ids, clip=clip)
    path = args.normalizer or out / "normalizer.npz"
    norm.save(path)
    sys.stdout.write(f"normalizer fitted on {len(ids)} models ({vectors.shape[1]} dims) -> {path}\n")
    return 0


def apply(args: argparse.Namespace, out: Path) -> int:
    norm = RobustNormalizer.load(args.apply_normalizer)
    ids, vectors = load_vectors(out)
    path = out / "vectors_normalized.npz"
    io.save_npz(path, ids=np.array(ids, dtype=str), vectors=norm.apply(vectors),
                meta=np.array(json.dumps({"normalizer": str(args.apply_normalizer)})))
    sys.stdout.write(f"normalized {len(ids)} vectors -> {path}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", metavar="MODEL", help="hub ids, folders, files or JSON indexes "
                        "(default: [extractor] models)")
    parser.add_argument("--output", type=Path, help="output folder (default: [extractor] output_dir, "
                        "else <run.artifacts_dir>/model_vectors)")
    parser.add_argument("--shard", metavar="I/N", help="process slice I of N (default: SLURM_ARRAY_TASK_ID/COUNT)")
    parser.add_argument("--force", action="store_true", help="recompute models that are already done")
    parser.add_argument("--list", action="store_true", help="list extractors and vectorizers")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--rebuild-index", action="store_true", help="only rebuild <output>/index.json")
    mode.add_argument("--fit-normalizer", metavar="TRAIN_IDS",
                      help="fit the normalizer on these models only (JSON index, id file or a,b,c)")
    mode.add_argument("--apply-normalizer", metavar="NPZ", help="write <output>/vectors_normalized.npz")
    parser.add_argument("--normalizer", type=Path, help="--fit-normalizer output (default: <output>/normalizer.npz)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    if args.list:
        for kind, registry in (("extractor", EXTRACTOR_REGISTRY), ("vectorizer", VECTORIZER_REGISTRY)):
            for name, cls in registry.items():
                sys.stdout.write(f"{kind:10s} {name:12s} {describe(cls)}\n")
        return 0
    config, run = configure(args)
    ex_cfg, vec_cfg = config.get(ExtractorConfig), config.get(VectorizerConfig)
    out = args.output or ex_cfg.output_dir or Layout.from_run(run).model_vectors
    io.remove_stale_temps(out)  # of a killed earlier run
    if args.rebuild_index:
        index = rebuild_index(out)
        sys.stdout.write(f"index: {index['count']} models, {len(index['failed'])} failed -> {out / 'index.json'}\n")
        return 0
    if args.fit_normalizer:
        return fit(args, out, vec_cfg.normalizer_clip)
    if args.apply_normalizer:
        return apply(args, out)
    VECTORIZER_REGISTRY.get(vec_cfg.name)  # fail on unknown names before reading any model list
    EXTRACTOR_REGISTRY.get(ex_cfg.name)
    specs = parse_models(args.models or ex_cfg.models)
    if not specs:
        raise ZooRankError("no models to vectorize: pass --models or set [extractor] models")
    index, count = parse_shard(args.shard)
    mine = shard(specs, index, count)
    summary = run_extraction(mine, ex_cfg, vec_cfg, out, force=args.force)
    where = f" (shard {index}/{count})" if count > 1 else ""
    sys.stdout.write(f"{len(summary.done)} vectorized, {len(summary.resumed)} already done, {len(summary.failed)} "
                     f"failed of {len(mine)} models{where} -> {out}\n")
    if summary.failed:
        names = ", ".join(repr(i) for i, _ in summary.failed[:3]) + (" ..." if len(summary.failed) > 3 else "")
        raise ZooRankError(f"{len(summary.failed)} model(s) failed and were skipped: {names}; see {out / 'failed'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
