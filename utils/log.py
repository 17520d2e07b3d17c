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


def _consoles() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, beautilog.ColoredConsoleHandler)]


def set_level(level: str | int) -> None:
    """What reaches the console: `level` and up ([run] log_level; the pipeline's stages run at WARNING).

    The level is the console handler's, not the root logger's: a run's own log file (add_file_handler)
    keeps its INFO lines (epochs, run folder) however quiet the console is.
    """
    value = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    for handler in _consoles():
        handler.setLevel(value)
    logging.getLogger().setLevel(min(value, logging.INFO))


def console_level() -> int:
    """The console's level (what set_level set), e.g. for worker processes to log like their parent."""
    return min((h.level for h in _consoles()), default=logging.getLogger().getEffectiveLevel())


def add_file_handler(path: Path) -> logging.Handler:
    """Also log to `path` (INFO and up, DEBUG under log_level DEBUG, whatever the console shows);
    returns the handler so the caller can remove it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    quiet = root.getEffectiveLevel()
    if quiet > logging.INFO:  # a root level set directly (not by set_level) would starve the file
        set_level(max(quiet, console_level()))
    return handler


def remove_handler(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
