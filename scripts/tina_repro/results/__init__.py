"""Results stage (rules/results.smk): scores collected, the paper's tables, cost and FLOPs.

:mod:`~tina_repro.results.collect` gathers score files, :mod:`~tina_repro.results.selection`
picks each run's reported checkpoint, :mod:`~tina_repro.results.stats` computes intervals and
paired gains, :mod:`~tina_repro.results.tables` builds the main, ablation and checkpoint tables,
:mod:`~tina_repro.results.costs` the cost table, :mod:`~tina_repro.results.flops_table` the FLOPs
table (runs counted by :mod:`~tina_repro.results.flops`, full-parameter baselines estimated by
:mod:`~tina_repro.results.baseline_flops`), :mod:`~tina_repro.results.make_table` builds the
table an output file names, and :mod:`~tina_repro.results.inputs` lists the evaluation files a
table or figure reads.
"""
