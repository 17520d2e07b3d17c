"""Sampled training tasks for the ranker: class subsets, fewer images per class and mixtures of 2-4 of the
world's target datasets, each with exact ground truth by the ground truth's linear probe from the frozen
features it kept (no forward pass). A fold trains only on the tasks all of whose datasets it trains on.

    python make_tasks.py                       # the world of [world] preset
    python make_tasks.py --set tasks.count=2000

Reads the matrix's folder (its kept features/, [ground_truth] keep_features) and writes
<artifacts_dir>/tasks/tasks.json ([tasks] output_dir), cached per model (tasks/scores/).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from config import GroundTruthConfig, RankingDataConfig, TasksConfig, WorldConfig, add_config_args
from config.cli import configure
from config.layout import Layout
from utils import log
from utils.errors import ZooRankError, run_cli

logger = log.get_logger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=Path, help="the ground truth's kept features (default: beside the matrix)")
    parser.add_argument("--output", type=Path, help="default: [tasks] output_dir, else <artifacts>/tasks")
    add_config_args(parser)
    args = parser.parse_args(argv)
    config, run = configure(args)
    from dataloader.performance import read_performance
    from features.store import feature_file, load_features
    from features.tasks import sample_tasks, score_tasks
    from utils.hashing import stable_hash
    from utils.io import write_json

    cfg, gt, data = config.get(TasksConfig), config.get(GroundTruthConfig), config.get(RankingDataConfig)
    layout = Layout.from_run(run, world=config.get(WorldConfig))
    out = args.output or cfg.output_dir or layout.tasks
    features_dir = args.features or gt.features_dir or Path(data.performance_file).parent / "features"
    perf = read_performance(data.performance_file)
    datasets, models = sorted(perf), sorted(set.intersection(*(set(v) for v in perf.values())))
    first = feature_file(features_dir, models[0], datasets[0])
    if not first.is_file():
        raise ZooRankError(f"no kept features in {features_dir} (e.g. {first.name}); build the ground truth with "
                           "[ground_truth] keep_features = true (python -m zoo ground-truth)")
    classes = {d: int(load_features(feature_file(features_dir, models[0], d))["train_labels"].max()) + 1
               for d in datasets}
    tasks = sample_tasks(classes, cfg.count, cfg.seed, cfg.kinds, (cfg.fewshot_min, cfg.fewshot_max), cfg.max_classes)
    digest = stable_hash({"tasks": [t.to_json() for t in tasks], "c": gt.probe_c, "max_iter": gt.probe_max_iter,
                          "seed": run.seed})
    start = time.perf_counter()
    scores = score_tasks(tasks, models, features_dir, out / "scores", digest, gt.probe_c, gt.probe_max_iter, run.seed,
                         cfg.workers, run.num_threads)
    entries = [{**t.to_json(), "scores": {m: scores[m][i] for m in models}} for i, t in enumerate(tasks)]
    write_json(out / "tasks.json", {"tasks": entries, "metadata": {"digest": digest, "count": len(tasks),
                                                                    "models": models, "datasets": datasets}})
    kinds = {k: sum(t.kind == k for t in tasks) for k in cfg.kinds}
    sys.stdout.write(f"tasks: {len(tasks)} ({', '.join(f'{v} {k}' for k, v in kinds.items())}) x {len(models)} models "
                     f"in {time.perf_counter() - start:.1f} s -> {out / 'tasks.json'}\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
