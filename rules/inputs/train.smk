# Input functions and values of rules/train.smk, kept apart from its rules as Snakemake's
# linter asks; each wraps a tested function of the package.
from tina_repro.config import model_dir_of_input
from tina_repro.config.rows import training_params
from tina_repro.train.context import TrainingContext


def training_row(wildcards):
    """The experiment row as the trainer takes it; what only the tables read (the free-text
    comment, compared_with) never triggers a rerun."""
    return training_params(VALIDATED_CONFIG.experiments[wildcards.experiment])


def training_context(wildcards):
    """The config settings a run depends on besides its row (base model, prompt, template)."""
    return TrainingContext.of(VALIDATED_CONFIG, wildcards.experiment).as_params()


def training_dataset(pattern):
    """Input function: ``pattern`` (the prepared table or its report) of the run's dataset."""

    def dataset_file(wildcards):
        row = VALIDATED_CONFIG.experiments[wildcards.experiment]
        return pattern.format(dataset=row.dataset)

    return dataset_file


def base_model_fingerprint(wildcards):
    """The base weights by content: a re-download or rebuild of other weights retrains."""
    return fingerprints.model_fingerprint(BASE_MODEL_DIR)


def training_gpus(wildcards):
    return VALIDATED_CONFIG.experiments[wildcards.experiment].gpus


def training_threads(wildcards):
    return jobs.threads(training_gpus(wildcards))


def training_env(wildcards):
    return jobs.conda_env(training_gpus(wildcards))
