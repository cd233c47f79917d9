"""Data stage (rules/data.smk): training sets, benchmarks and models in one checked form.

:mod:`~tina_repro.data.sources` loads (Hub or local file), :mod:`~tina_repro.data.normalize`
maps and checks, :mod:`~tina_repro.data.prepare` writes Parquet plus a report (of what
:mod:`~tina_repro.data.spec` says shapes it), and :mod:`~tina_repro.data.models` snapshots model
and adapter repositories.
"""
