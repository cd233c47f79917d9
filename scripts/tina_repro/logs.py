"""Logging set-up shared by the workflow's entry scripts and the command line.

Snakemake deletes a job's log before it runs the job again. That suits a job that rebuilds its
output from scratch (preparation, grading, tables, figures): its log describes exactly the output
beside it. Training and generation resume what an earlier session left, and their process can
outlive a killed ``snakemake`` (an orphan that keeps writing), so their log keeps every session
(``keep_sessions``): the lines go to ``NAME.sessions.log``, which no rule declares and Snakemake
never deletes, appended to, one header line per session; the rule's log ``NAME.log`` is a link to
it, recreated by each session. An orphan writing on after a rerun began appends to the same file.
"""

import logging
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from tina_repro import __version__, errors

SESSIONS_SUFFIX = ".sessions.log"


def sessions_log(log_path: str | Path) -> Path:
    """Where a rule's log ``logs/x/NAME.log`` keeps every session: ``logs/x/NAME.sessions.log``."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.stem + SESSIONS_SUFFIX)


def session_header() -> str:
    """The line that opens a session's part of a log: who wrote what follows, and since when."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    return f"==== session: pid {os.getpid()} on {socket.gethostname()}, started {started} ===="


def _open_log(log_path: str, keep_sessions: bool):
    if not keep_sessions:
        return open(log_path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    kept = sessions_log(log_path)
    kept.parent.mkdir(parents=True, exist_ok=True)
    link = Path(log_path)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(kept.name)
    return kept.open("a", buffering=1)


def setup(log_path: str | None = None, *, keep_sessions: bool = False) -> logging.Logger:
    """Send this process's stdout, stderr and log records to ``log_path`` (the rule's log), else
    stderr. Stdout too: libraries print progress there (the Trainer's per-step metrics), which
    would otherwise flood Snakemake's console instead of landing in the job's log. A log starts
    with a session header (PID, host, start); with ``keep_sessions`` it keeps earlier sessions
    (module docstring).

    A user error that ends the process is one line, in the log and on the console
    (:func:`tina_repro.errors.excepthook`)."""
    errors.install()
    if log_path:
        sys.stderr = _open_log(log_path, keep_sessions)
        sys.stdout = sys.stderr
        print(session_header(), file=sys.stderr)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logger = logging.getLogger("tina_repro")
    # Which checkout's code ran: the workflow's own, or a copy the environment installed.
    logger.info("tina_repro %s from %s", __version__, Path(__file__).resolve().parent)
    return logger
