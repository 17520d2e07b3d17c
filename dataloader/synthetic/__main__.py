"""`python -m dataloader.synthetic --preset tiny|default --out DIR [--seed N]`."""
from __future__ import annotations

import argparse
import fnmatch

from dataloader.synthetic import FAMILY_REGISTRY, PRESETS, VARIANT_REGISTRY, preset_specs, write_preset
from utils.errors import ZooRankError, run_cli
from utils.log import get_logger, set_level

logger = get_logger("dataloader.synthetic")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dataloader.synthetic",
        description="Write the synthetic datasets of a preset (Hugging Face save_to_disk format) and index.json.",
    )
    p.add_argument("--preset", choices=PRESETS, default="default", help="which collection (default: default)")
    p.add_argument("--out", help="output folder (one subfolder per dataset, plus index.json)")
    p.add_argument("--seed", type=int, default=0, help="base seed; another seed gives other images (default 0)")
    p.add_argument("--image-size", type=int, default=32, help="image side in pixels (default 32)")
    p.add_argument("--only", metavar="GLOB", help="only datasets whose name matches, e.g. 'tgt_*'")
    p.add_argument("--force", action="store_true", help="rebuild even datasets already complete on disk")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list families, variants and the preset's datasets; write nothing")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ... (default INFO)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_level(args.log_level)
    specs = preset_specs(args.preset, seed=args.seed, image_size=args.image_size)
    if args.only:
        specs = [s for s in specs if fnmatch.fnmatch(s.name, args.only)]
        if not specs:
            raise ZooRankError(f"--only '{args.only}' matches no dataset of preset '{args.preset}'")
    if args.list:
        for name, fam in FAMILY_REGISTRY.items():
            logger.info("family %-15s %2d classes: %s", name, len(fam.classes), fam.description)
        for name, var in VARIANT_REGISTRY.items():
            logger.info("variant %-10s %s", name, var.description)
        for s in specs:
            logger.info("%-6s %-40s %-15s %2d classes  variants=%s", s.role, s.name, s.family, s.num_classes,
                        ",".join(s.variants) or "-")
        return 0
    if not args.out:
        raise ZooRankError("--out DIR is required (where to write the datasets)")
    write_preset(specs, args.out, force=args.force, progress=not args.no_progress, preset=args.preset,
                 seed=args.seed)
    return 0


if __name__ == "__main__":
    run_cli(main)
