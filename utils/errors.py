"""User-facing errors and the CLI wrapper that turns them into one line and exit code 2."""
from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_USER_ERROR = 2
# sysexits.h EX_TEMPFAIL: "try again later". Job scripts requeue on it (see slurm/).
EXIT_PREEMPTED = 75
# a full disk, a quota, a file-size limit or a read-only mount: no bug, and the atomic writers leave the
# previous version of the file in place, so one line and the same exit code as a user mistake
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


class ZooRankError(Exception):
    """A mistake the user can fix (bad config, missing file, unknown name).

    Its message is one line that names the thing and what to do; the CLI prints it
    without a traceback and exits with code 2.
    """


class ConfigError(ZooRankError):
    """Invalid configuration: unknown section or key, wrong type, bad value."""


class RegistryError(ZooRankError, KeyError):
    """Unknown or duplicate name in a registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def run_cli(main: Callable[[], int | None]) -> NoReturn:
    """Run `main()` and exit; user mistakes become `error: <one line>` on stderr and exit code 2."""
    try:
        code = main()
    except ZooRankError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(EXIT_USER_ERROR)
    except OSError as err:
        if err.errno not in NO_ROOM:
            raise
        sys.stderr.write(f"error: cannot write {err.filename or 'a file'}: {err.strerror}; make room (disk, quota, "
                         "ulimit -f) and rerun: finished work is kept and no file was left half-written\n")
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    sys.exit(code or 0)
