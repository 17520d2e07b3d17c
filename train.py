"""Run one registered trainer: `python train.py <TrainerName> [--config F] [--set s.k=v] [--resume auto]`."""
from __future__ import annotations

import argparse
import sys

from config import add_config_args
from config.cli import configure
from utils import log
from utils.errors import EXIT_PREEMPTED, run_cli
from utils.plugins import load_plugins
from utils.registry import describe

logger = log.get_logger("train")



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trainer", nargs="?", help="registered trainer name (case-insensitive, 'Trainer' optional)")
    parser.add_argument("--list", nargs="?", const="*", metavar="PATTERN", help="list trainers (wildcards ok)")
    parser.add_argument("--resume", metavar="auto|PATH", help="continue a run: newest checkpoint, a .pt or a run folder")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE|FILE.py",
                        help="import a module that registers more trainers (also: ZOORANK_PLUGINS=a,b)")
    add_config_args(parser)
    args = parser.parse_args(argv)
    load_plugins(args.plugin)
    if not args.list:
        if not args.trainer:
            parser.error("name a trainer (python train.py --list shows them)")
        config, _ = configure(args)
        config.resolved()  # every section checked before torch and the trainers are imported: errors in a second
    from train import TRAINER_REGISTRY
    from train.base_trainer import Preempted

    if args.list:
        for name in TRAINER_REGISTRY.list(args.list):
            sys.stdout.write(f"{name:32s} {describe(TRAINER_REGISTRY.get(name))}\n")
        return 0
    cls = TRAINER_REGISTRY.get(args.trainer)
    trainer = cls.from_config(config)
    try:
        trainer.fit(resume=args.resume)
    except Preempted as stop:
        logger.warning("%s; resume with --resume auto", stop)
        return EXIT_PREEMPTED
    return 0


if __name__ == "__main__":
    run_cli(main)
