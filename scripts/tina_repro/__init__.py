"""tina_repro: the logic behind the Tina reproduction workflow, laid out like the pipeline.

One subpackage per stage, named like its rules file; imports go config -> data/train/eval ->
results -> figures, never back:

- :mod:`tina_repro.config` (rules/common.smk): config.yaml and the sheets, validated and typed;
- :mod:`tina_repro.data` (rules/data.smk): training sets, benchmarks and models from the Hub;
- :mod:`tina_repro.train` (rules/train.smk): LoRA-GRPO with TRL, mapped from the paper's recipe;
- :mod:`tina_repro.eval` (rules/eval.smk): generation, grading and scores per checkpoint;
- :mod:`tina_repro.results` (rules/results.smk): the paper's tables, cost and FLOPs;
- :mod:`tina_repro.figures` (rules/figures.smk): the paper's figures;
- :mod:`tina_repro.demo` (rules/demo.smk): the embedded CPU demo's data and base model.

Shared by all stages: :mod:`~tina_repro.paths` (every artifact's pattern),
:mod:`~tina_repro.extractive_match` (lighteval's maths grading, for benchmarks and grades alike),
:mod:`~tina_repro.files`
(JSON/JSONL and checksums), :mod:`~tina_repro.logs` and :mod:`~tina_repro.gpu_lease`. Above
the stages, :mod:`tina_repro.ops` holds the commands for people (the ``tina-repro`` command).
"""

__version__ = "0.1.0"
