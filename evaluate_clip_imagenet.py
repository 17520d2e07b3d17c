"""Zero-shot and linear-probe accuracy of a CLIP model on labelled image datasets (ImageNet or any other).

    python evaluate_clip_imagenet.py --clip artifacts/zoo/clip --dataset data/synth/tgt_shapes_clutter
    python evaluate_clip_imagenet.py --clip ckpt.safetensors --dataset DIR1 --dataset DIR2 --json
    python evaluate_clip_imagenet.py --model ViT-B-32 --pretrained openai --dataset imagenet-1k --split validation

Zero-shot: each class name is put into prompt templates, encoded by the text tower and averaged;
an image gets the class whose prompt embedding is closest. Linear probe: logistic regression on
L2-normalised image features, fitted on --train-split (optionally a class-balanced subsample) and
scored on --split. Templates (--templates auto): the synthetic family's prompts for datasets written
by dataloader.synthetic, open_clip's ImageNet class names and 80 templates for 1000-class datasets,
generic prompts otherwise. A table goes to stdout (or JSON with --json); logs go to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from dataloader import DATASET_LOADER_REGISTRY, ImageClassificationDataset, class_balanced_indices
from utils import log
from utils.errors import ZooRankError, run_cli
from zoo import clip as zclip
from zoo.clip_data import read_meta

logger = log.get_logger("evaluate_clip_imagenet")
C_GRID = (0.1, 1.0, 10.0, 100.0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", action="append", required=True, metavar="NAME|DIR",
                   help="hub name or local folder (save_to_disk, parquet, imagefolder); repeatable")
    p.add_argument("--split", default="test", help="split to score (default: test)")
    p.add_argument("--train-split", default="train", help="split the linear probe is fitted on (default: train)")
    p.add_argument("--val-split", default="validation",
                   help="split that picks the probe's C when --C auto and the split exists (default: validation)")
    p.add_argument("--image-column", default="image")
    p.add_argument("--label-column", default="label")
    model = p.add_argument_group("model (one of)")
    model.add_argument("--clip", metavar="DIR|CHECKPOINT",
                       help="a ZooRank CLIP folder (zoo.clip.build_clip) or its checkpoint file")
    model.add_argument("--model", metavar="NAME", help="open_clip architecture, e.g. ViT-B-32")
    model.add_argument("--pretrained", metavar="TAG|FILE", help="open_clip pretrained tag or weights file for --model")
    p.add_argument("--templates", default="auto", metavar="auto|generic|imagenet|FILE",
                   help="zero-shot prompts: auto, generic, imagenet, or a file with one '{}' template per line")
    p.add_argument("--train-per-class", type=int, default=0, metavar="N",
                   help="linear probe: class-balanced subsample of N training images per class (0: all)")
    p.add_argument("--test-per-class", type=int, default=0, metavar="N",
                   help="score on a class-balanced subsample of N images per class (0: all)")
    p.add_argument("--C", default="auto", help="inverse L2 strength of the probe, or auto (pick from "
                   f"{', '.join(map(str, C_GRID))} on --val-split; 10 without one)")
    p.add_argument("--no-zero-shot", action="store_true", help="skip zero-shot")
    p.add_argument("--no-linear-probe", action="store_true", help="skip the linear probe")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0, help="seeds the subsamples")
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout instead of the table")
    p.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default), ...")
    return p


# ------------------------------------------------------------------------------------------ model
def load_model(args: argparse.Namespace) -> tuple[torch.nn.Module, Callable, Callable, str]:
    if bool(args.clip) == bool(args.model):
        raise ZooRankError("give either --clip DIR|CHECKPOINT or --model NAME [--pretrained TAG]")
    if args.clip:
        model, preprocess, tokenizer = zclip.load_clip(args.clip, device=args.device)
        return model, preprocess, tokenizer, str(args.clip)
    import open_clip

    if args.pretrained is None:
        logger.warning("--model %s without --pretrained: random weights", args.model)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            args.model, pretrained=args.pretrained, device=args.device, weights_only=True)
    except Exception as err:  # unknown name or tag, no network, a corrupt file...
        raise ZooRankError(f"cannot load open_clip model '{args.model}' with pretrained '{args.pretrained}' "
                           f"({type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]})") from None
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(args.model), f"{args.model}@{args.pretrained}"


def pick_templates(spec: str, dataset: str, class_names: list[str]) -> tuple[list[str], tuple, str]:
    """(class names, templates, description) for one dataset."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES

    family = read_meta(dataset).get("family") if Path(dataset).expanduser().is_dir() else None
    imagenet = len(class_names) == len(IMAGENET_CLASSNAMES)
    if spec == "auto":
        spec = f"family:{family}" if family in zclip.FAMILY_TEMPLATES else "imagenet" if imagenet else "generic"
    if spec == "imagenet":
        names = list(IMAGENET_CLASSNAMES) if imagenet else class_names
        return names, tuple(OPENAI_IMAGENET_TEMPLATES), "imagenet"
    if spec == "generic":
        return class_names, zclip.GENERIC_TEMPLATES, "generic"
    if spec.startswith("family:"):
        return class_names, zclip.zero_shot_templates(spec.split(":", 1)[1]), spec
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ZooRankError(f"--templates {spec}: not auto, generic, imagenet or an existing file")
    lines = [t.strip() for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    if not lines or not all("{}" in t for t in lines):
        raise ZooRankError(f"--templates {path}: every line must hold one '{{}}' for the class name")
    return class_names, tuple(lines), str(path)


# --------------------------------------------------------------------------------------- features
def load_split(args: argparse.Namespace, dataset: str, split: str, preprocess: Callable,
               per_class: int) -> ImageClassificationDataset:
    loader = DATASET_LOADER_REGISTRY.get("hf")
    data = loader(path=dataset, split=split, image_column=args.image_column, label_column=args.label_column,
                  transform=preprocess)
    if not args.label_column or not data.has_labels:
        raise ZooRankError(f"dataset {dataset} split '{split}' has no labels; set --label-column")
    data.check_classes()
    if per_class > 0:
        data = data.subset(class_balanced_indices(data.labels, per_class, args.seed))
    return data


def features(model: torch.nn.Module, data: ImageClassificationDataset, batch_size: int, device: str) -> np.ndarray:
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    return zclip.encode_images(model, (x for x, _ in loader), device)


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 C: float, seed: int) -> float:
    probe = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    probe.fit(train_x, train_y)
    return float((probe.predict(test_x) == test_y).mean())


def pick_C(args: argparse.Namespace, model: torch.nn.Module, dataset: str, preprocess: Callable,
           train_x: np.ndarray, train_y: np.ndarray) -> float:
    if args.C != "auto":
        try:
            return float(args.C)
        except ValueError:
            raise ZooRankError(f"--C must be a number or auto, got {args.C!r}") from None
    try:
        val = load_split(args, dataset, args.val_split, preprocess, args.test_per_class)
    except ZooRankError as err:
        logger.info("no C sweep for %s (%s); C = 10", dataset, err)
        return 10.0
    val_x = features(model, val, args.batch_size, args.device)
    scores = [linear_probe(train_x, train_y, val_x, val.labels, c, args.seed) for c in C_GRID]
    return C_GRID[int(np.argmax(scores))]


def evaluate(args: argparse.Namespace, model: torch.nn.Module, preprocess: Callable, tokenizer: Callable,
             dataset: str) -> dict[str, Any]:
    start = time.perf_counter()
    test = load_split(args, dataset, args.split, preprocess, args.test_per_class)
    train = None
    if not args.no_linear_probe:
        train = load_split(args, dataset, args.train_split, preprocess, args.train_per_class)
    test_x = features(model, test, args.batch_size, args.device)
    counts = np.bincount(test.labels, minlength=len(test.class_names))
    row: dict[str, Any] = {
        "dataset": dataset, "split": args.split, "num_classes": len(test.class_names), "num_test": len(test),
        "chance": round(1.0 / len(test.class_names), 4), "majority": round(float(counts.max() / counts.sum()), 4),
    }
    if not args.no_zero_shot:
        names, templates, desc = pick_templates(args.templates, dataset, test.class_names)
        weights = zclip.zero_shot_weights(model, tokenizer, names, templates, args.device)
        pred = zclip.zero_shot_predict(test_x, weights)
        row.update(zero_shot=round(float((pred == test.labels).mean()), 4), templates=desc)
    if train is not None:
        train_x = features(model, train, args.batch_size, args.device)
        C = pick_C(args, model, dataset, preprocess, train_x, train.labels)
        acc = linear_probe(train_x, train.labels, test_x, test.labels, C, args.seed)
        row.update(linear_probe=round(acc, 4), train_split=args.train_split, num_train=len(train), C=C)
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    cols = [("dataset", "dataset"), ("classes", "num_classes"), ("n_test", "num_test"), ("zero-shot", "zero_shot"),
            ("linear-probe", "linear_probe"), ("chance", "chance")]
    cells = [[h for h, _ in cols]]
    for r in rows:
        name = Path(r["dataset"]).name if Path(r["dataset"]).expanduser().is_dir() else r["dataset"]
        cells.append([name] + [("-" if r.get(k) is None else f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]))
                               for _, k in cols[1:]])
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in cells]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log.set_level(args.log_level)
    if args.batch_size < 1 or args.train_per_class < 0 or args.test_per_class < 0:
        raise ZooRankError("--batch-size must be >= 1 and --train-per-class/--test-per-class >= 0")
    if args.no_zero_shot and args.no_linear_probe:
        raise ZooRankError("--no-zero-shot and --no-linear-probe together leave nothing to do")
    model, preprocess, tokenizer, model_desc = load_model(args)
    rows = [evaluate(args, model, preprocess, tokenizer, d) for d in args.dataset]
    if args.json:
        sys.stdout.write(json.dumps({"model": model_desc, "results": rows}, indent=2) + "\n")
    else:
        sys.stdout.write(f"model: {model_desc}\n" + table(rows))
    return 0


if __name__ == "__main__":
    run_cli(main)
