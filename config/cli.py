"""`--config` / `--set` for every command-line entry point."""
from __future__ import annotations

import argparse
from pathlib import Path

from config.parser import ConfigParser

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.ini"


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="INI file (default: %(default)s)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value; repeatable; wins over the INI",
    )


def load_config(args: argparse.Namespace) -> ConfigParser:
    return ConfigParser(args.config, args.overrides)


def with_default_command(argv: list[str] | None, commands: tuple[str, ...], default: str) -> list[str]:
    """argv (default: sys.argv[1:]) with `default` put first unless it already starts with a command or
    asks for help: `recommend.py --dataset D` means `recommend.py rank --dataset D`."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    return argv if argv and argv[0] in (*commands, "-h", "--help") else [default, *argv]
