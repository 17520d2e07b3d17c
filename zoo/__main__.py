"""`python -m zoo <command>`: build the embedded benchmark world of a preset, or one stage of it.

    python -m zoo build --preset tiny                 # datasets, model zoo, CLIP, ground truth
    python -m zoo datasets|models|clip --preset default
    python -m zoo ground-truth --preset default --shard 3/16          # or a SLURM array task
    python -m zoo merge --preset default                              # join the shard files
    python -m zoo ground-truth --models google/vit-base-patch16-224 ./my_model --datasets uoft-cs/cifar10 \\
        --output cifar_gt.json                                        # real models and datasets
    python -m zoo spread artifacts/zoo/default/dataset_model_performance.json
    python -m zoo prepare --world my_world.ini                        # check a world file's models and
                                                                      # datasets, write its indexes

Settings: [world], [zoo], [ground_truth], [run] and [dataset_loader] of config.ini (--config, --set).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from config import DatasetLoaderConfig, add_config_args
from config.cli import configure
from config.clip import ClipPretrainConfig
from config.world import GroundTruthConfig, WorldConfig, ZooConfig
from utils import log
from utils.errors import run_cli
from utils.shards import parse_shard
from zoo.matrix import load_matrix
from zoo.population import PRESETS
from zoo.spread import format_spread, matrix_spread

logger = log.get_logger("zoo")
COMMANDS = ("build", "datasets", "models", "clip", "ground-truth", "merge", "spread", "prepare")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m zoo", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--preset", choices=PRESETS, help="which world (default: [world] preset)")
    common.add_argument("--workers", type=int, help="processes for models and ground truth (default: [world] workers)")
    common.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_args(common)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    b = sub.add_parser("build", parents=[common], help="every stage: datasets, models, CLIP, ground truth")
    sub.add_parser("datasets", parents=[common], help="the synthetic source and target datasets")
    m = sub.add_parser("models", parents=[common], help="pretrain the model zoo, write models/index.json")
    m.add_argument("--only", metavar="GLOB", help="only models whose id matches, e.g. '*-vit-*'")
    m.add_argument("--list", action="store_true", help="list the zoo's models; train nothing")
    sub.add_parser("clip", parents=[common], help="the small CLIP on the source datasets")
    g = sub.add_parser("ground-truth", parents=[common], help="score (model, dataset) pairs into the matrix")
    g.add_argument("--models", nargs="+", help="model index JSONs, model folders or hub ids (default: the zoo)")
    g.add_argument("--datasets", nargs="+", help="dataset index JSONs, dataset folders or hub names "
                   "(default: the preset's target datasets)")
    g.add_argument("--shard", metavar="I/N", help="every N-th pair from I (default: SLURM array variables, else all)")
    g.add_argument("--method", help="linear_probe | finetune (default: [ground_truth] method)")
    g.add_argument("--output", type=Path, help="matrix file (default: [ground_truth] output, else the preset's)")
    g.add_argument("--constants", action="store_true", help="also write constants/dataset_model_performance.json")
    for p in (b, m):
        p.add_argument("--force", action="store_true", help="rebuild even what is cached")
    mg = sub.add_parser("merge", parents=[common], help="join ground-truth shard files into the matrix")
    mg.add_argument("files", nargs="*", type=Path, help="shard files (default: all beside the output)")
    mg.add_argument("--output", type=Path, help="matrix file (default: [ground_truth] output, else the preset's)")
    pr = sub.add_parser("prepare", parents=[common], help="a world file's models and datasets: check them, "
                        "write the world's indexes (pipeline.py --world runs it first)")
    pr.add_argument("--world", type=Path, required=True, help="the world file (INI, see config/worlds/)")
    s = sub.add_parser("spread", help="how much a matrix varies: winners, Kendall tau, accuracy ranges")
    s.add_argument("matrix", type=Path)
    return parser


def _split(items: list[str] | None) -> list[str] | None:
    return [x for item in items for x in item.split(",") if x.strip()] if items else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "spread":
        sys.stdout.write(format_spread(matrix_spread(load_matrix(args.matrix)[0])) + "\n")
        return 0
    config, run = configure(args)
    wc = config.get(WorldConfig)
    if args.command == "prepare":
        return prepare(args.world, config, run, wc)
    from zoo import build as stages  # datasets, scipy and sklearn: not paid by --help and config errors

    world = stages.world_for(wc, run, args.preset)
    workers = args.workers or wc.workers
    progress = wc.progress and not args.no_progress
    start = time.perf_counter()
    gt = config.get(GroundTruthConfig)
    if args.command in ("build", "datasets"):
        stages.stage_datasets(world, progress, force=getattr(args, "force", False))
    if args.command == "models" and args.list:
        for spec in stages.model_specs(world, config.get(ZooConfig).architectures, args.only):
            sys.stdout.write(f"{spec.id:48s} epochs={spec.epochs} lr={spec.lr:.5f} images={spec.images}\n")
        return 0
    if args.command in ("build", "models"):
        stages.stage_models(world, config.get(ZooConfig), run, workers, progress, args.force,
                            getattr(args, "only", None))
    spread = None
    if args.command in ("build", "ground-truth"):
        if getattr(args, "method", None):
            gt.method = args.method
        if getattr(args, "constants", False):
            gt.constants = "on"
        path, spread = stages.stage_ground_truth(
            world, gt, config.get(DatasetLoaderConfig), run, _split(getattr(args, "models", None)),
            _split(getattr(args, "datasets", None)), getattr(args, "output", None),
            parse_shard(args.shard) if args.command == "ground-truth" else (0, 1), workers, progress)
    if args.command == "merge":
        path, spread = stages.stage_merge(world, gt, args.files, args.output)
    if spread is not None:
        sys.stdout.write(format_spread(spread) + "\n")
        logger.info("matrix written to %s", path)
    # the CLIP needs only the datasets; it comes last so that its failure cannot cost the matrix
    if args.command == "clip" or (args.command == "build" and wc.clip):
        stages.stage_clip(world, config.get(ClipPretrainConfig))
    if args.command == "build":
        logger.info("world '%s' built in %.1f s under %s", world.preset, time.perf_counter() - start, world.root)
    return 0


def prepare(world_file: Path, config, run, wc: WorldConfig) -> int:
    from config import BenchmarkConfig, DatasetTokensConfig, ExtractorConfig
    from config.layout import Layout
    from config.world_file import read_world_file
    from zoo.own_world import prepare_world

    wf = read_world_file(world_file)
    if wc.root is None:  # by hand: the world's own folders below artifacts_dir
        layout = Layout(run.artifacts_dir).for_world(wf.name)
    else:  # a stage of pipeline.py / slurm/submit.py --world: their --set values name the folders
        layout = Layout(run.artifacts_dir, wf.name, wc.root, config.get(BenchmarkConfig).output_dir)
    s = prepare_world(wf, layout, config.get(GroundTruthConfig), config.get(DatasetLoaderConfig),
                      config.get(ExtractorConfig).output_dir or layout.model_vectors,
                      config.get(DatasetTokensConfig).output_dir or layout.dataset_tokens)
    sys.stdout.write(f"world '{wf.name}': {s['models']} models, {s['targets']} target datasets in {s['families']} "
                     f"families, {s['probes']} probe datasets -> {layout.world.root}\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
