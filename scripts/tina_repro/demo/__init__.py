"""The embedded CPU demo (rules/demo.smk): the paper's workflow at toy scale, offline.

The demo runs the paper's workflow unchanged (same rules, same trainer, same grader); only the
data, the base model and config values differ. :mod:`~tina_repro.demo.task` is the arithmetic
task, :mod:`~tina_repro.demo.demo_data` writes its local data files,
:mod:`~tina_repro.demo.tiny_model` builds the tiny Qwen2 and its tokenizer, and
:mod:`~tina_repro.demo.warm_start` fine-tunes it into the demo's base model.
"""
