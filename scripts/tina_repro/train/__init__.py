"""Training stage (rules/train.smk): LoRA-GRPO runs with TRL 1.16, faithful to the paper's recipe.

:mod:`~tina_repro.train.mapping` maps the paper's TRL 0.15.2 recipe onto TRL 1.16 field by field,
:mod:`~tina_repro.rewards` (shared with the config stage's checks) reproduces Tina's reward
functions, and :mod:`~tina_repro.train.trainer` runs one row (resumable), started by
:mod:`~tina_repro.train.launch` (in-process, or accelerate for multi-GPU rows).
"""
