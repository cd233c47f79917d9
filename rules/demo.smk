# The embedded CPU demo's own inputs (`--configfile config/demo/config.yaml`): its local "Hub" data
# and its warm-started tiny base model. The demo sheets and config name these paths as local:
# sources, so Snakemake runs these rules first; the paper config never requests them.


rule make_demo_data:
    output:
        train=paths.DEMO_TRAIN,
        sft=paths.DEMO_SFT,
        bench_l1=paths.DEMO_BENCHMARK.format(level=1),
        bench_l2=paths.DEMO_BENCHMARK.format(level=2),
        bench_l3=paths.DEMO_BENCHMARK.format(level=3),
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
        directory(paths.DEMO_BASE_MODEL),
    log:
        "logs/build_demo_model.log",
    benchmark:
        "benchmarks/build_demo_model/base_model.tsv"
    conda:
        "../envs/cpu.yaml"
    # Snakemake sets OMP_NUM_THREADS to this: one thread is nearly as fast as two on 2 idle cores,
    # and a second thread beside another job oversubscribes them (far slower; README).
    threads: 1
    script:
        "../scripts/build_demo_model.py"
