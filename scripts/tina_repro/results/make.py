"""Which table a rule builds, and how tables are written: CSV plus a Markdown twin.

Entry point of scripts/make_table.py: :func:`make_table` builds the table of a Snakemake rule
(:data:`TABLES`) from the rule's named inputs and writes it as CSV and as Markdown next to it
(same stem, ``.md``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from tina_repro.config import load
from tina_repro.results.costs import costs_table
from tina_repro.results.flops_table import flops_table
from tina_repro.results.tables import Tables, ablations_table, checkpoints_table, main_table

logger = logging.getLogger(__name__)

TABLES = {
    "checkpoints_table": checkpoints_table,
    "main_table": main_table,
    "ablations_table": ablations_table,
    "costs_table": costs_table,
    "flops_table": flops_table,
}


def _cell(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table: floats with two decimals (scientific when very large or small)."""
    lines = [
        "| " + " | ".join(frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
    ]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, out_csv: str | Path) -> None:
    """``out_csv`` and its Markdown twin (same stem, ``.md``)."""
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_csv, index=False)
    out_csv.with_suffix(".md").write_text(to_markdown(frame))


def make_table(
    rule: str, inputs: dict, out_csv: str | Path, config: dict, root: str | Path = "."
) -> pd.DataFrame:
    """Build the table of Snakemake rule ``rule`` from its named ``inputs`` and write it.

    ``config`` is the workflow config, whose sheets (declared inputs of the rule) are read
    relative to ``root``."""
    if rule not in TABLES:
        raise ValueError(f"no table for rule {rule!r}; known: {', '.join(TABLES)}")
    frame = TABLES[rule](Tables(inputs, config, load(config, root)))
    write_table(frame, out_csv)
    logger.info("%s: %d rows into %s", rule, len(frame), out_csv)
    return frame
