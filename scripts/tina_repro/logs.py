"""Logging set-up shared by the workflow's entry scripts and the command line."""

import logging
import sys
from pathlib import Path

from tina_repro import __version__, errors


def setup(log_path: str | None = None) -> logging.Logger:
    """Send this process's stdout, stderr and log records to ``log_path`` (the rule's log), else
    stderr. Stdout too: libraries print progress there (the Trainer's per-step metrics), which
    would otherwise flood Snakemake's console instead of landing in the job's log.

    A user error that ends the process is one line, in the log and on the console
    (:func:`tina_repro.errors.excepthook`)."""
    errors.install()
    if log_path:
        sys.stderr = open(log_path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stdout = sys.stderr
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
