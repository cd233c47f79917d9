# Tina: Tiny Reasoning Models via LoRA (Wang et al., 2025), reproduced as file-level dependencies;
# the stages and the files between them: docs/architecture.md#stages.
#
# The paper config is the default; the CPU demo is `--configfile config/demo/config.yaml`.


from snakemake.utils import min_version

min_version("9.27")


configfile: "config/config.yaml"


report: "report/workflow.rst"


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
        table_targets(),
        figure_targets(W),
        LOST_SAMPLES,


rule tables:
    input:
        table_targets(),
        LOST_SAMPLES,


rule figures:
    input:
        figure_targets(W),


# The GPU check (config/gpu-check/config.yaml) prints what it measured and the paper plan.
onsuccess:
    if config.get("gpu_check"):
        print(gpu_check_summary())
