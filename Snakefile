# Tina: Tiny Reasoning Models via LoRA (Wang et al., 2025), reproduced as file-level dependencies;
# the stages and the files between them: docs/architecture.md#stages.
#
# The paper config is the default; the CPU demo is `--configfile config/demo/config.yaml`.


from pathlib import Path

from snakemake.utils import min_version

min_version("9.27")


configfile: "config/config.yaml"


# The report's start page; every table and figure caption sits beside it in rules/report/.
report: "rules/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/eval.smk"
include: "rules/results.smk"
include: "rules/demo.smk"
include: "rules/figures.smk"


# all and tables also ask for each samples.jsonl whose store file is gone, so it is generated again.
rule all:
    default_target: True
    input:
        TABLE_TARGETS,
        FIGURE_TARGETS,
        LOST_SAMPLES,


rule tables:
    input:
        TABLE_TARGETS,
        LOST_SAMPLES,


rule figures:
    input:
        FIGURE_TARGETS,


# Refuse a run whose planned jobs need more GPUs than this host has, before any job starts.
onstart:
    try:
        preflight.check_planned_devices(workflow, VALIDATED_CONFIG)
    except errors.UserError as error:
        errors.exit_with(error)


# The GPU check (config/gpu-check/config.yaml) prints what it measured and the paper plan
# (config/config.yaml alone, in this working directory) extrapolated from it.
onsuccess:
    if config.get("gpu_check"):
        from tina_repro.ops.gpu_check import summary

        print(summary(VALIDATED_CONFIG, Path("."), workflow_config.load_files(root=".")))
