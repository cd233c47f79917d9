# Input functions and values of rules/figures.smk, kept apart from its rules as Snakemake's
# linter asks; each wraps a tested function of the package.
from tina_repro.figures import params as figure_params

# score.json files of the baseline that evaluates the untrained base model, drawn as a
# reference line (none when the baselines sheet has no such row).
BASE_MODEL_POINT = VALIDATED_CONFIG.base_model_point()
BASE_MODEL_SCORES = (
    [] if BASE_MODEL_POINT is None else baseline_eval_files(paths.SCORE, [BASE_MODEL_POINT])
)


def run_save_steps(wildcards):
    """A run's checkpoint interval: the paper rule's candidates are its multiples."""
    return VALIDATED_CONFIG.experiments[wildcards.experiment].save_steps


def run_title(wildcards):
    return figure_params.run_title(VALIDATED_CONFIG, wildcards.experiment)
