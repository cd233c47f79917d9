"""Which table an output file is, and how tables are written: CSV plus two renderings.

Entry point of scripts/make_table.py: :func:`make_table` builds the table named by its output
file (``results/tables/NAME.csv``; :data:`TABLES`, so renaming a rule changes nothing here) from
the rule's named inputs and writes it as CSV and, next to it with the same stem, as Markdown
(``.md``, for a repository or a terminal; pandas' ``DataFrame.to_markdown``) and as a standalone
HTML page (``.html``, which the Snakemake report shows inline). Each file is written atomically,
so none is ever a half-written table.
"""

from __future__ import annotations

import html
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from tina_repro import paths
from tina_repro.config import WorkflowConfig
from tina_repro.files import atomic_path, write_text
from tina_repro.results.costs import costs_table
from tina_repro.results.flops_table import flops_table
from tina_repro.results.tables import Tables, ablations_table, checkpoints_table, main_table

logger = logging.getLogger(__name__)

#: table name (its output file's stem, paths.TABLES) -> how it is built
TABLES = {
    "checkpoints": checkpoints_table,
    "main": main_table,
    "ablations": ablations_table,
    "costs": costs_table,
    "flops": flops_table,
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
    return str(value)


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table: floats with two decimals (scientific when very large or small).
    The cells are formatted here and never parsed again as numbers (``disable_numparse``)."""
    cells = frame.astype(object).map(lambda value: _cell(value).replace("|", "\\|"))
    return cells.to_markdown(index=False, tablefmt="github", disable_numparse=True) + "\n"


# Wide tables stay readable in the report's frame: the header row stays in view while scrolling.
HTML_STYLE = (
    "body{margin:0;font:13px/1.4 sans-serif}"
    "p{margin:8px}"
    "table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:2px 6px;white-space:nowrap;text-align:left}"
    "th{position:sticky;top:0;background:#e8e8e8}"
    "tr:nth-child(even) td{background:#f6f6f6}"
)


def to_html(frame: pd.DataFrame, title: str) -> str:
    """A standalone HTML page of the table (cells as in :func:`to_markdown`), with nothing that
    changes between two builds of the same table."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>\n"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{HTML_STYLE}</style></head>\n<body><p>{html.escape(title)}: {len(frame)} rows, "
        "shown with two decimals; the CSV has every value as written.</p>\n"
        f"<table><thead><tr>{head}</tr></thead>"
        f"<tbody>\n{rows}</tbody></table></body></html>\n"
    )


def write_table(frame: pd.DataFrame, out_csv: str | Path) -> None:
    """``out_csv`` and its renderings beside it."""
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    write_renderings(frame, out_csv)


def write_renderings(frame: pd.DataFrame, out_csv: str | Path) -> None:
    """The renderings of the table ``out_csv`` beside it (same stem, ``paths.TABLE_RENDERINGS``)."""
    out_csv = Path(out_csv)
    render = {"md": to_markdown, "html": lambda f: to_html(f, out_csv.name)}
    for ext in paths.TABLE_RENDERINGS:
        write_text(out_csv.with_suffix(f".{ext}"), render[ext](frame))


def make_table(inputs: dict, out_csv: str | Path, wc: WorkflowConfig) -> pd.DataFrame:
    """Build the table ``out_csv`` names (its stem, :data:`TABLES`) from the rule's named
    ``inputs`` and the configuration ``wc``, and write it."""
    name = Path(out_csv).stem
    if name not in TABLES:
        raise ValueError(f"no table named {name!r} ({out_csv}); known: {', '.join(TABLES)}")
    frame = TABLES[name](Tables(inputs, wc.config, wc))
    write_table(frame, out_csv)
    logger.info("%s table: %d rows into %s", name, len(frame), out_csv)
    return frame
