"""Generation of completions for evaluation (transformers on CPU, vLLM + LoRA on GPU).

Not implemented yet: it lands with the evaluation issue (#5). Until then the rule fails loudly
instead of writing outputs that look like results.
"""


def generate_benchmark(**kwargs):
    raise NotImplementedError("generation of evaluation samples is not implemented yet (issue #5)")
