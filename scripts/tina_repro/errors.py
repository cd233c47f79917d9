"""User errors: mistakes the user can fix, reported as one line and never as a traceback.

Every stage raises a subclass of :class:`UserError` (``ConfigError``, ``DataError``, the GPU
lease errors, the pre-flight ``DeviceShortfall``, a Hub lock's drift, a second writer, a bad input
line, a full disk) for bad input or an unmet precondition; so is a write that finds no room on
the device wherever it happens (:func:`is_user_error`). Anything else is a bug and keeps its
traceback. Three entry points turn a user error into its one line: the ``tina-repro`` command
(``ops.cli.main``), the workflow's parse-time and pre-flight checks (:func:`exit_with`), and every
job script, through the exception hook that :func:`tina_repro.logs.setup` installs
(:func:`excepthook`): the line lands in the job's log, which Snakemake prints when a job fails
(``show-failed-logs`` in profiles/default).
"""

from __future__ import annotations

import errno
import sys

#: errno values that mean "no room to write": a full device, a quota, a file-size limit
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class UserError(Exception):
    """Bad input or an unmet precondition, worded as one line that says what to do."""


def is_user_error(error: BaseException) -> bool:
    """A :class:`UserError`, or a write that found no room (``tina_repro.files`` names the file
    of its own writers; a library's write names it where its error does)."""
    return isinstance(error, UserError) or (isinstance(error, OSError) and error.errno in NO_ROOM)


def one_line(error: BaseException) -> str:
    """The error's message on one line (a multi-line message is joined, never cut)."""
    return " ".join(str(error).split("\n")).strip() or type(error).__name__


def excepthook(kind, error, traceback) -> None:
    """``sys.excepthook`` of a job: a user error is one ``error:`` line in the job's log (which
    Snakemake shows when the job fails); anything else keeps its traceback."""
    if is_user_error(error):
        print(f"error: {one_line(error)}", file=sys.stderr, flush=True)
    else:
        sys.__excepthook__(kind, error, traceback)


def install() -> None:
    sys.excepthook = excepthook


def exit_with(error: BaseException, prefix: str = "error") -> None:
    """Stop the workflow while it parses: one line on stderr, exit status 1.

    Snakemake would print a raised exception with its file, line and a traceback; SystemExit is
    the one way out of a Snakefile that prints nothing else."""
    print(f"{prefix}: {one_line(error)}", file=sys.stderr, flush=True)
    raise SystemExit(1)
