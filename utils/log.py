"""The one place where beautilog is configured and imported.

beautilog writes `beautilog.ini` and a log file into the current directory on import unless
BEAUTILOG_CONFIG_PATH names an INI; we point it at `config/beautilog.ini` first. Console logs go to
stderr so that a command's machine-readable output (e.g. `--json`) can own stdout.
"""
from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path

_INI = Path(__file__).resolve().parent.parent / "config" / "beautilog.ini"
os.environ.setdefault("BEAUTILOG_CONFIG_PATH", str(_INI))

import beautilog  # noqa: E402  (must follow the environment variable)

FORMAT = "%(asctime)s : %(levelname)s : %(name)s : %(message)s"


def _console_to_stderr() -> None:
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, beautilog.ColoredConsoleHandler) and hasattr(stream, "file"):
            stream.file = sys.stderr
            if not sys.stderr.isatty():  # no colour escape codes in job logs and pipes
                handler.emit = functools.partial(logging.StreamHandler.emit, handler)


_console_to_stderr()


def get_logger(name: str) -> logging.Logger:
    """Logger for a module; beautilog's root handlers do the formatting."""
    return logging.getLogger(name)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(level.upper())


def add_file_handler(path: Path) -> logging.Handler:
    """Also log (DEBUG and up) to `path`; returns the handler so the caller can remove it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    return handler


def remove_handler(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
