"""Evaluation stage (rules/eval.smk): generate completions per evaluated model, grade, score.

:mod:`~tina_repro.eval.requests` builds seeded per-sample requests,
:mod:`~tina_repro.eval.backends` generates them (transformers on CPU, vLLM on GPU or CPU),
:mod:`~tina_repro.eval.generate` drives one resumable job, :mod:`~tina_repro.eval.grading` grades
one completion as the paper's lighteval tasks did (:mod:`~tina_repro.eval.workers` many, in
bounded processes), and :mod:`~tina_repro.eval.score` writes graded.jsonl and score.json
(:mod:`~tina_repro.eval.scoring`).
"""
