"""Model labels: each model's class names (its config's id2label) as one CLIP text vector, a model token part of
its own for the ranker (features/labels.py). Every distinct class name is encoded once; a rerun encodes only
the models whose class names are not already in --output (same CLIP).

    python extract_model_labels.py --models artifacts/zoo/default/models/index.json
    python extract_model_labels.py --models index.json ./my_resnet google/vit-base-patch16-224

The text encoder is the dataset tokens' CLIP ([dataset_tokens]), so that labels and images share one space.
Output: --output, else <artifacts_dir>/model_labels/labels.npz (dataloader/model_labels.py's format).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config import add_config_args
from config.cli import configure
from config.dataset_tokens import DatasetTokensConfig
from config.layout import Layout
from dataloader.model_labels import LABELS
from utils import log
from utils.errors import run_cli

logger = log.get_logger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                        help="a models index.json, model folders or hub ids")
    parser.add_argument("--output", type=Path, help=f"default: <artifacts_dir>/model_labels/{LABELS}")
    add_config_args(parser)
    args = parser.parse_args(argv)
    config, run = configure(args)
    from features.labels import model_labels, write_labels
    from features.refs import parse_models

    refs = parse_models(args.models)
    out = args.output or Layout.from_run(run).model_labels / LABELS
    labels = model_labels(refs, config.get(DatasetTokensConfig), previous=out)
    unnamed = [m for m, n in labels.named.items() if n == 0]
    if unnamed:
        logger.warning("%d of %d models name no classes (e.g. %s): their label vectors are zeros", len(unnamed),
                       len(labels.named), unnamed[0])
    path = write_labels(out, labels)
    sys.stdout.write(f"model labels: {len(refs)} models, {sum(labels.named.values())} class names -> {path}\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
