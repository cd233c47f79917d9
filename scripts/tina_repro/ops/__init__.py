"""Commands for people, not pipeline stages: the ``tina-repro`` command (:mod:`~tina_repro.ops.cli`)
and what it prints.

:mod:`~tina_repro.ops.status` summarises what is done and pending, :mod:`~tina_repro.ops.plan`
what evaluation still costs, :mod:`~tina_repro.ops.resolve` what a training row resolves to
without training, and :mod:`~tina_repro.ops.gpu_check` what the GPU check measured (printed by
the Snakefile's ``onsuccess`` handler). Each reads the validated config and the files the
workflow writes; no rule runs any of them, and no stage imports this package.
"""
