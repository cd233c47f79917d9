"""What the figure rules pass a job besides its input files (rules/figures.smk wraps these);
light enough to import where the workflow parses."""

from __future__ import annotations

from tina_repro.config import WorkflowConfig

# The columns of an experiments row that Figure 1 labels its points with.
LABEL_COLUMNS = ("dataset", "num_generations")


def run_title(wc: WorkflowConfig, experiment: str) -> str:
    """A run's figure title: the paper's name with ours, or ours where the paper has none."""
    paper_name = wc.experiments[experiment].paper_name
    return f"{paper_name} ({experiment})" if paper_name else experiment


def overall_comparison_runs(wc: WorkflowConfig, experiments: list[str]) -> dict[str, dict]:
    """experiment -> the columns of its row that Figure 1 labels it with."""
    return {
        name: {column: getattr(wc.experiments[name], column) for column in LABEL_COLUMNS}
        for name in experiments
    }
