"""What of a sheet's row the data rules take: the columns that shape a prepared table (rule
prepare_dataset's params), a benchmark's template, and the source files and Hub lock a
preparation reads; light enough to import where the workflow parses."""

from __future__ import annotations

import dataclasses

from tina_repro.config import Benchmark, Dataset, is_local
from tina_repro.config.rows import as_params

# Columns of a datasets row that shape no prepared table (the system prompt and the L1 recipes'
# target_length are training's: they reach a run through its identity). They are blank in
# prepare_dataset's params, so editing them re-prepares nothing: a table re-prepared in the same
# invocation as training retrains the runs on it even when its bytes are the same, since
# Snakemake cannot know them beforehand.
NOT_PREPARED = {"system_prompt": "", "paper_size": None, "comment": None, "target_length": None}


def preparation_spec(row: Dataset) -> dict:
    """``row`` as prepare_dataset's params: the columns that shape its table, the others blank."""
    return as_params(dataclasses.replace(row, **NOT_PREPARED))


def local_source_files(row: Dataset | Benchmark) -> list[str]:
    """The file a ``local:`` source reads, as a job input (so a rule that makes it, the demo's,
    runs first); none for a Hub source."""
    return [row.source.removeprefix("local:")] if is_local(row.source) else []


def reads_hub_lock(row: Dataset | Benchmark) -> bool:
    """Whether preparing ``row`` reads (and extends) the Hub lock: every Hub source does."""
    return not is_local(row.source)


def benchmark_templates(row: Benchmark, templates: dict[str, str]) -> dict[str, str]:
    """The prompt template of the benchmark's own task, by name (``templates``: the config's
    prompt_templates): editing another task's template never re-prepares it."""
    return {row.template: templates[row.template]}
