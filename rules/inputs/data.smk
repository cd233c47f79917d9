# Input functions and values of rules/data.smk, kept apart from its rules as Snakemake's
# linter asks; each wraps a tested function of the package.
from tina_repro.config.rows import settings_params
from tina_repro.data import spec as data_spec


def dataset_spec(wildcards):
    """The columns that shape the prepared table (tina_repro.data.spec.preparation_spec)."""
    return data_spec.preparation_spec(VALIDATED_CONFIG.datasets[wildcards.dataset])


def benchmark_spec(wildcards):
    return settings_params(VALIDATED_CONFIG.benchmarks[wildcards.benchmark])


def benchmark_templates(wildcards):
    row = VALIDATED_CONFIG.benchmarks[wildcards.benchmark]
    return data_spec.benchmark_templates(row, config["prompt_templates"])


def source_inputs(sheet, wildcard):
    """Input function of the local: source file and the Hub lock (none for local: sources) of
    the row of ``sheet`` that ``wildcard`` names. The lock is ancient: a download recording its commit rewrites the file, and that
    must not make every other download, and all that follows it, outdated; a changed row is
    taken up deliberately (README, Hub lock)."""

    def inputs(wildcards):
        row = getattr(VALIDATED_CONFIG, sheet)[wildcards[wildcard]]
        lock = [ancient(paths.HUB_LOCK)] if data_spec.reads_hub_lock(row) else []
        return {"source": data_spec.local_source_files(row), "hub_lock": lock}

    return inputs
