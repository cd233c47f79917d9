"""Grading of generated samples into per-benchmark scores.

Not implemented yet: it lands with the evaluation issue (#5). Until then the rule fails loudly
instead of writing outputs that look like results.
"""


def grade_and_score(**kwargs):
    raise NotImplementedError("grading and scoring of samples is not implemented yet (issue #5)")
