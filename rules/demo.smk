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
    # Snakemake sets OMP_NUM_THREADS to this. Two threads are faster than one (README), and
    # nothing else can run meanwhile (every later job needs this model); Snakemake runs no job
    # beside a job holding both cores, so the threads never oversubscribe them.
    threads: 2
    script:
        "../scripts/build_demo_model.py"
