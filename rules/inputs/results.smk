# Input functions and values of rules/results.smk, kept apart from its rules as Snakemake's
# linter asks; each wraps a tested function of the package.
from tina_repro.results import inputs as table_inputs

# The sheets' rows, comments blank, for the jobs that need them (params: a comment reruns nothing).
SHEET_PARAMS = workflow_config.sheet_params(VALIDATED_CONFIG)
# Rows with a published number per file of paper_results: what a caption may speak of.
PUBLISHED = workflow_config.published_rows(VALIDATED_CONFIG.path("paper_results"))


def paper_results(name):
    return os.path.join(config["paper_results"], name)


def checkpoint_points(experiments):
    """(run, point) of every saved checkpoint of ``experiments``, from their manifests (known
    once the train_grpo checkpoint job ran)."""
    manifests = {e: checkpoints.train_grpo.get(experiment=e).output.manifest for e in experiments}
    return table_inputs.checkpoint_points(manifests)


def baseline_eval_files(pattern, names=BASELINES):
    """``pattern`` (a results/eval file) for the given baselines and every benchmark."""
    return table_inputs.eval_files(pattern, [(BASELINE_RUN, name) for name in names], BENCHMARKS)


def run_score_files(wildcards):
    return table_inputs.eval_files(
        paths.SCORE, checkpoint_points([wildcards.experiment]), BENCHMARKS
    )


def graded_files(experiments):
    """Input function: graded.jsonl of every checkpoint of ``experiments`` and of every
    baseline, the per-problem results behind the average intervals and the paired gains."""

    def files(wildcards):
        checkpoint_files = table_inputs.eval_files(
            paths.GRADED, checkpoint_points(experiments), BENCHMARKS
        )
        return [*checkpoint_files, *baseline_eval_files(paths.GRADED)]

    return files


def generation_timing_files(wildcards):
    """The Snakemake benchmark file of every generation job (one per model): the evaluation
    cost."""
    evaluated = [*checkpoint_points(EXPERIMENTS), *((BASELINE_RUN, name) for name in BASELINES)]
    return table_inputs.model_files(paths.GENERATION_TIMING, evaluated)


def generation_record_files(experiments):
    """Input function: generation.json of every checkpoint of ``experiments`` (merge
    retention)."""

    def files(wildcards):
        return table_inputs.model_files(paths.GENERATION_RECORD, checkpoint_points(experiments))

    return files


def run_tables(experiments):
    return expand(paths.RUN_SCORES, experiment=experiments)


def run_manifests(experiments):
    return expand(paths.RUN_MANIFEST, experiment=experiments)


def table_outputs(name, label):
    """A table's CSV (a download in the report) and its renderings (paths.TABLE_RENDERINGS):
    Markdown, and HTML, which the report shows inline; the caption is report/NAME_table.rst.
    All are declared, so a failed job leaves none of them behind to pass for the new table."""
    outputs = {ext: paths.table(name, ext) for ext in ["csv", *paths.TABLE_RENDERINGS]}
    for ext, shown in (("csv", "CSV (download)"), ("html", "table")):
        outputs[ext] = report(
            outputs[ext],
            caption=f"report/{name}_table.rst",
            category="Tables",
            labels={"table": label, "format": shown},
        )
    return outputs
