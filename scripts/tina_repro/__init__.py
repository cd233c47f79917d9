"""tina_repro: the logic behind the Tina reproduction workflow.

Every stage of the Snakemake workflow (data, training, evaluation, grading, tables, figures)
calls into this package; the same functions run by hand through the ``tina-repro`` command.
"""

__version__ = "0.1.0"
