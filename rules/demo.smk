# The embedded CPU demo's own inputs (`--configfile config/demo/config.yaml`): its local "Hub" data
# and its warm-started tiny base model. The demo sheets and config name these paths as local:
# sources, so Snakemake runs these rules first; the paper config never requests them.


rule make_demo_data:
    output:
        train="resources/demo/train.jsonl",
        sft="resources/demo/sft.jsonl",
        bench_l1="resources/demo/bench_l1.jsonl",
        bench_l2="resources/demo/bench_l2.jsonl",
        bench_l3="resources/demo/bench_l3.jsonl",
    log:
        "logs/make_demo_data.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_demo_data.py"


rule build_demo_model:
    input:
        sft=rules.make_demo_data.output.sft,
    output:
        directory("resources/demo/base_model"),
    log:
        "logs/build_demo_model.log",
    benchmark:
        "benchmarks/build_demo_model/base_model.tsv"
    conda:
        "../envs/gpu.yaml"
    # Snakemake sets OMP_NUM_THREADS to this. One thread is nearly as fast as two on 2 idle cores
    # (93 s vs 81 s in the appendix for 380 steps), and no oversubscription beside another job
    # (two threads there: 18x slower).
    threads: 1
    script:
        "../scripts/build_demo_model.py"
