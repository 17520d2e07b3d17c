"""Which pre-trained models to fine-tune for a dataset, on a device; add new models without retraining.

    python recommend.py --dataset ./my_imagefolder --top-k 10
    python recommend.py --dataset uoft-cs/cifar10 --split test --image-column img --json > ranking.json
    python recommend.py --dataset artifacts/zoo/default/datasets/tgt_shapes_basic --split test \\
        --device-profile rtx4090 --max-params 25M --max-memory-mb 2000 --pareto --out ranking.csv
    python recommend.py --dataset ./unlabelled_images --no-labels    # a random image sample instead of classes
    python recommend.py --dataset ./my_imagefolder --budget 8      # LogME re-scores the ranker's top 8, fused
    python recommend.py add-model google/vit-base-patch16-224 ./my_resnet       # then ranked like the zoo
    python recommend.py --world my_world.ini --dataset ./new_data   # your world's ranker (or --world NAME)

The ranker is the newest `python train.py transformer` run (or --ranker RUN). Settings: [recommend],
[dataset_loader] (columns), [dataset_tokens] (the CLIP; keep it as the ranker's training tokens were
made), [hardware] profiles_dir. The subcommand, when there is one, comes first.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from config import (
    ConfigParser,
    DatasetLoaderConfig,
    DatasetTokensConfig,
    HardwareConfig,
    ModelAutoEncoderConfig,
    RankingDataConfig,
    RunConfig,
    add_config_args,
)
from config.cli import configure, with_default_command
from config.layout import Layout
from config.recommend import RecommendConfig
from utils import log, outputs
from utils.errors import ZooRankError, run_cli

logger = log.get_logger("recommend")
PLOT_SUFFIXES = (".png", ".svg", ".pdf")  # what matplotlib writes from the file name


def paths(config: ConfigParser, run: RunConfig) -> dict[str, Path]:
    rec, ae, layout = config.get(RecommendConfig), config.get(ModelAutoEncoderConfig), Layout.from_run(run)
    return {"added_dir": rec.added_models_dir or layout.added_models,
            "zoo_vectors": ae.vectors_dir or layout.model_vectors}


def rank(args: argparse.Namespace, config: ConfigParser, run: RunConfig) -> int:
    from hardware import parse_count
    from recommender import Limits, Settings, recommend
    from recommender.budget import check_budget
    from recommender.report import check_out, text_table, to_json, write_out
    from recommender.service import default_plot

    check_out(args.out)
    budget = check_budget(args.budget) if args.budget is not None else 0
    rec, loader = config.get(RecommendConfig), config.get(DatasetLoaderConfig)
    label = "" if args.no_labels else args.label_column if args.label_column is not None else loader.label_column
    loader = dataclasses.replace(loader, path=args.dataset, split=args.split or loader.split, label_column=label,
                                 image_column=args.image_column or loader.image_column, name=args.loader or loader.name)
    try:
        max_params = parse_count(args.max_params) if args.max_params is not None else None
    except ZooRankError as err:
        raise ZooRankError(f"--max-params {args.max_params}: {err}") from None
    limits = Limits(args.max_latency_ms, args.min_throughput, max_params, args.max_memory_mb)
    plot = None
    if args.pareto is not None:
        name = f"{Path(args.dataset).name}_{loader.split}"
        plot = Path(args.pareto) if args.pareto else rec.pareto_plot or default_plot(
            run.artifacts_dir, name, args.device_profile or "none")
        outputs.check_file(plot, "--pareto", PLOT_SUFFIXES)
    settings = Settings(artifacts_dir=run.artifacts_dir, **paths(config, run), ranker=args.ranker or rec.ranker,
                        profile=args.device_profile, profiles_dir=config.get(HardwareConfig).profiles_dir,
                        limits=limits, only_profiled=args.only_profiled,
                        top_k=args.top_k if args.top_k is not None else rec.top_k, pareto_plot=plot, budget=budget,
                        fusion_file=rec.fusion_file or Layout.from_run(run).benchmark / "fusion.json")
    if settings.top_k < 0:
        raise ZooRankError(f"--top-k must be >= 0 (0: all models), got {settings.top_k}")
    result = recommend(loader, config.get(DatasetTokensConfig), settings)
    if args.out is not None:
        write_out(args.out, result)
        logger.info("wrote %s", args.out)
    sys.stdout.write(to_json(result) if args.json else text_table(result))
    return 0


def add_model(args: argparse.Namespace, config: ConfigParser, run: RunConfig) -> int:
    from config import ExtractorConfig, ProbesConfig, VectorizerConfig, WorldConfig
    from dataloader.model_table import read_embeddings
    from extractors.specs import parse_models
    from recommender import add_models
    from recommender.added import label_added, profile_added

    specs = parse_models(args.models)
    if args.id and len(specs) != 1:
        raise ZooRankError(f"--id names one model, but {len(specs)} were given")
    for spec in specs:  # a folder given on the command line is named by its folder name
        if spec.id == spec.source and Path(spec.source).exists():
            spec.id = Path(spec.source).resolve().name
    if args.id:
        specs[0].id = args.id
    embeddings = config.get(RankingDataConfig).embeddings(Layout.from_run(run))
    zoo_ids = {str(i) for i in read_embeddings(embeddings)["ids"]}
    where = paths(config, run)
    done = add_models(specs, config.get(ExtractorConfig), config.get(VectorizerConfig), where["added_dir"],
                      Layout.from_run(run).autoencoder, zoo_ids, where["zoo_vectors"], force=args.force,
                      replace=args.replace)
    layout = Layout.from_run(run, world=config.get(WorldConfig))
    profiles = profile_added(where["added_dir"], config.get(RankingDataConfig).profiles(layout), config.get(ProbesConfig),
                             config.get(DatasetLoaderConfig), run, layout)
    labels = label_added(where["added_dir"], config.get(RankingDataConfig).labels(layout), config.get(DatasetTokensConfig))
    extra = "; ".join([f"probe profiles: {profiles}"] * bool(profiles) + [f"labels: {labels}"] * bool(labels))
    sys.stdout.write(f"{len(done['added'])} added, {len(done['already'])} already added (re-encoded) -> "
                     f"{where['added_dir']}{f' ({extra})' if extra else ''}; "
                     f"{len(zoo_ids)} zoo models + the added ones are now ranked\n")
    return 0


COMMANDS = {"rank": rank, "add-model": add_model}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    add_config_args(common)
    common.add_argument("--world", metavar="FILE_OR_NAME", help="a world of your own (pipeline.py --world): its "
                        "newest ranker, models and CLIP; the world file, or its name once the pipeline has run")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rank", parents=[common], help="rank the zoo for a dataset (the default)")
    r.add_argument("--dataset", required=True, help="hub name, a save_to_disk / parquet folder, or an ImageFolder tree")
    r.add_argument("--split", help="default: [dataset_loader] split")
    r.add_argument("--image-column", help="default: [dataset_loader] image_column")
    r.add_argument("--label-column", help="default: [dataset_loader] label_column; '' for an unlabelled dataset")
    r.add_argument("--no-labels", action="store_true", help="ignore labels: tokens from a random image sample")
    r.add_argument("--loader", help="hf | image_folder (default: [dataset_loader] name)")
    r.add_argument("--ranker", type=Path, help="transformer run folder or checkpoint (default: the newest run)")
    r.add_argument("--top-k", type=int, help="rows shown (default: [recommend] top_k; 0: all)")
    r.add_argument("--budget", metavar="K", help="also score the ranker's top K with LogME on the dataset (each "
                   "model's forward pass) and fuse both as the benchmark fitted (its fusion.json); 0: the ranker alone. "
                   "A dataset farther from every probe than the ranker's training datasets: LogME on every model")
    r.add_argument("--json", action="store_true", help="machine-readable result on stdout (logs go to stderr)")
    r.add_argument("--out", type=Path, help="also write the result to a .csv or .json file")
    hw = r.add_argument_group("hardware")
    hw.add_argument("--device-profile", metavar="NAME", help="profile name, device name or file "
                    "(python profile_models.py list)")
    hw.add_argument("--max-latency-ms", type=float, help="batch-1 latency on the device")
    hw.add_argument("--min-throughput", type=float, help="images/s at the profile's batch size")
    hw.add_argument("--max-params", help="parameter count, e.g. 25M, 1.5B, 300000")
    hw.add_argument("--max-memory-mb", type=float, help="peak memory on the device (MiB)")
    hw.add_argument("--only-profiled", action="store_true", help="drop models the profile has no numbers for "
                    "(default: keep them, flagged, with their limits unchecked)")
    hw.add_argument("--pareto", nargs="?", const="", metavar="PNG", help="print the Pareto front of score vs "
                    "latency and plot it (default file: [recommend] pareto_plot)")
    a = sub.add_parser("add-model", parents=[common], help="register new models (hub ids, folders, JSON indexes)")
    a.add_argument("models", nargs="+", metavar="MODEL")
    a.add_argument("--id", help="name of the model (one model only; default: hub id or folder name)")
    a.add_argument("--force", action="store_true", help="re-extract a model that was already added")
    a.add_argument("--replace", action="store_true", help="replace a model added earlier under the same id from "
                   "another source (default: that is an error)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(with_default_command(argv, COMMANDS, "rank"))
    if args.world:  # the world's folders and CLIP; --set on the command line still wins
        from config.world_plan import world_sets

        base = ConfigParser(args.config, args.overrides).get(RunConfig).artifacts_dir
        mine = [o for o in args.overrides if o.split("=", 1)[0].strip() != "run.artifacts_dir"]
        args.overrides = world_sets(args.world, base) + mine
    config, run = configure(args)
    return COMMANDS[args.command](args, config, run)


if __name__ == "__main__":
    run_cli(main)
