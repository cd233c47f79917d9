"""User errors: mistakes the user can fix, reported as one line and never as a traceback.

Every stage raises a subclass of :class:`UserError` (``ConfigError``, ``DataError``, the GPU
lease errors, the pre-flight ``DeviceShortfall``, a Hub lock's drift, a second writer) for bad
input or an unmet precondition; anything else is a bug and keeps
its traceback. Three entry points turn a user error into its one line: the ``tina-repro`` command
(``cli.main``), the workflow's parse-time and pre-flight checks (:func:`exit_with`), and every job
script, through the exception hook that :func:`tina_repro.logs.setup` installs
(:func:`excepthook`): the line lands in the job's log, which Snakemake prints when a job fails
(``show-failed-logs`` in profiles/default).
"""

from __future__ import annotations

import sys


class UserError(Exception):
    """Bad input or an unmet precondition, worded as one line that says what to do."""


def one_line(error: BaseException) -> str:
    """The error's message on one line (a multi-line message is joined, never cut)."""
    return " ".join(str(error).split("\n")).strip() or type(error).__name__


def excepthook(kind, error, traceback) -> None:
    """``sys.excepthook`` of a job: a user error is one ``error:`` line in the job's log (which
    Snakemake shows when the job fails); anything else keeps its traceback."""
    if issubclass(kind, UserError):
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
