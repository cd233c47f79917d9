# What every stage shares: the package on the path, the validated configuration, the names the
# rules expand over, the wildcard constraints and the model inputs. Each stage's input functions
# sit in its own rules file and wrap functions of its subpackage (scripts/tina_repro/<stage>/);
# every artifact path comes from tina_repro.paths, which the package uses too.
import os
import sys

WORKFLOW_PACKAGE_ROOT = os.path.join(workflow.basedir, "scripts")
sys.path.insert(0, WORKFLOW_PACKAGE_ROOT)

from tina_repro import config as workflow_config
from tina_repro import errors
from tina_repro import fingerprints
from tina_repro import jobs
from tina_repro import paths
from tina_repro.config import preflight
from tina_repro.config import BASELINE_RUN, model_dir, model_input, wildcard_pattern
from tina_repro.config.rows import ABLATION_TABLES
from tina_repro.config.targets import figure_targets, table_targets
from tina_repro.eval import points

# Jobs import this checkout's package too, whatever copy the environment has installed.
jobs.import_package_from(WORKFLOW_PACKAGE_ROOT)

# config.yaml and the sheets, validated and typed (tina_repro.config.WorkflowConfig).
try:
    VALIDATED_CONFIG = workflow_config.load(config)
except workflow_config.ConfigError as error:
    errors.exit_with(error, "invalid configuration")

EXPERIMENTS = list(VALIDATED_CONFIG.experiments)
BENCHMARKS = list(VALIDATED_CONFIG.benchmarks)
BASELINES = list(VALIDATED_CONFIG.baselines)
MAIN_EXPERIMENTS = VALIDATED_CONFIG.experiments_in("main")
# An ablation also lists the rows its rows are compared with (experiments.tsv compared_with).
ABLATION_EXPERIMENTS = VALIDATED_CONFIG.with_references(
    VALIDATED_CONFIG.experiments_in(*ABLATION_TABLES)
)
# Every Hub repository the workflow downloads: the base model, baseline models and adapters.
HUB_MODELS = VALIDATED_CONFIG.hub_repositories()


wildcard_constraints:
    experiment=wildcard_pattern(EXPERIMENTS),
    dataset=wildcard_pattern(VALIDATED_CONFIG.datasets),
    benchmark=wildcard_pattern(BENCHMARKS),
    model=wildcard_pattern(HUB_MODELS) if HUB_MODELS else "(?!)",
    run=wildcard_pattern([*EXPERIMENTS, BASELINE_RUN]),
    point=r"step-\d+|" + wildcard_pattern(BASELINES),
    step=r"\d+",


# ---- named targets (rules all, tables, figures in the Snakefile) --------------------------------
TABLE_TARGETS = table_targets()
FIGURE_TARGETS = figure_targets(VALIDATED_CONFIG)
# samples.jsonl links whose store file is gone (tina_repro.eval.points.lost_samples): all and
# tables ask for them, so they are generated again.
LOST_SAMPLES = [str(path) for path in points.lost_samples(VALIDATED_CONFIG)]


# ---- the base model, which training, evaluation and the FLOPs table read -------------------------
BASE_MODEL = VALIDATED_CONFIG.config["base_model"]
BASE_MODEL_INPUT = model_input(BASE_MODEL["source"], BASE_MODEL["revision"])
BASE_MODEL_DIR = model_dir(BASE_MODEL["source"], BASE_MODEL["revision"])
