"""Figures stage (rules/figures.smk): the paper's figures from our tables and run logs.

:mod:`~tina_repro.figures.data` builds each figure's numbers, :mod:`~tina_repro.figures.paper`
and :mod:`~tina_repro.figures.runs` draw them (:mod:`~tina_repro.figures.style` for the shared
look), :mod:`~tina_repro.figures.phase` finds the training phase transition, and
:mod:`~tina_repro.figures.make_figure` draws the figure an output file names, and
:mod:`~tina_repro.figures.params` gives the figure rules their params.
"""
