"""`--config` / `--set` for every command-line entry point, and the prologue they share (`configure`)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from config.parser import ConfigParser
from config.run import RunConfig

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.ini"


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="INI file (default: %(default)s)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value; repeatable; wins over the INI",
    )


def load_config(args: argparse.Namespace) -> ConfigParser:
    return ConfigParser(args.config, args.overrides)


def configure(args: argparse.Namespace) -> tuple[ConfigParser, RunConfig]:
    """Every script's prologue: parse --config / --set, then apply [run]: the log level and torch's CPU
    threads (num_threads; 0: OMP_NUM_THREADS when set, else the cores this process may use). Returns the config and its [run] section."""
    from utils import log
    from utils.cores import available_cores

    config = load_config(args)
    run = config.get(RunConfig)
    log.set_level(run.log_level)
    import torch  # after the config: a bad value is rejected without waiting for torch's import

    # torch's default is every core of the machine, which collapses when another job holds some of them;
    # an OMP_NUM_THREADS the user (or an sbatch script) set is already torch's count and stays
    threads = run.num_threads if run.num_threads > 0 else None if os.environ.get("OMP_NUM_THREADS") else available_cores()
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return config, run


def with_default_command(argv: list[str] | None, commands: tuple[str, ...], default: str) -> list[str]:
    """argv (default: sys.argv[1:]) with `default` put first unless it already starts with a command or
    asks for help: `recommend.py --dataset D` means `recommend.py rank --dataset D`."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    return argv if argv and argv[0] in (*commands, "-h", "--help") else [default, *argv]
