"""Tables, cost and FLOPs built from scores and training logs.

Not implemented yet: it lands with the results issue (#6). Until then the rules fail loudly
instead of writing tables that look like results.
"""


def collect_scores(score_files, out_csv):
    raise NotImplementedError("collecting scores is not implemented yet (issue #6)")


def make_table(rule, inputs, out_csv, config):
    raise NotImplementedError(f"the table of rule {rule} is not implemented yet (issue #6)")
