"""What of a datasets row shapes its prepared table: the params of rule prepare_dataset, light
enough to import where the workflow parses."""

from __future__ import annotations

import dataclasses

from tina_repro.config import Dataset
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
