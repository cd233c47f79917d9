"""The logic of the differential test against lighteval (tests/lighteval_diff/): when a
disagreement fails the run, the prompt-format rule, the documented classes and the corpus."""

import re
from collections import Counter

import pytest
from helpers import ROOT
from lighteval_diff import corpus
from lighteval_diff.differential import (
    DOCUMENTED_CLASSES,
    DisagreementClass,
    agreement_table,
    classify,
    failures,
    follows_answer_format,
)

FORMAT_LINE = "Therefore, the final answer is: $\\boxed{12}$. I hope it is correct"


@pytest.mark.parametrize(
    ("completion", "task", "follows"),
    [
        (f"Reasoning.\n</think>\n\n{FORMAT_LINE}", "math", True),
        (f"Reasoning.\n</think>\n\n{FORMAT_LINE}.\n\n", "math", True),
        (f"{FORMAT_LINE}\nWait, let me check again.", "math", False),  # not the last line
        ("So the answer is $\\boxed{12}$.", "math", False),
        ("Therefore, the final answer is: 12. I hope it is correct", "math", False),  # no box
        ("", "math", False),
        ("Hmm.\n</think>\nAnswer: C", "gpqa", True),
        ("Answer: $C$", "gpqa", True),
        ("Answer: $C", "gpqa", True),  # the prompt's 'Answer: $LETTER' taken literally
        ("**Answer:** (C)", "gpqa", False),
        (FORMAT_LINE, "gpqa", False),
    ],
)
def test_follows_answer_format(completion, task, follows):
    assert follows_answer_format(completion, task) is follows


def row(ours: bool, lighteval: bool, text="The answer is 12.", **extra) -> dict:
    return {
        "id": "r",
        "source": "corpus",
        "benchmark": "aime",
        "task": "math",
        "text": text,
        "ours": {"correct": ours, "timeout": extra.pop("timeout", False)},
        "lighteval": {"correct": lighteval, "seconds": extra.pop("seconds", 0.1)},
        "timeout_s": 5,
        **extra,
    }


def test_agreement_never_fails():
    assert failures([row(True, True), row(False, False, text=FORMAT_LINE)]) == []


def test_an_undocumented_disagreement_fails():
    (problem,) = failures([row(True, False)])
    assert "outside the documented classes" in problem


def test_a_documented_class_explains_a_disagreement():
    assert classify(row(True, False, timeout=True)) == "time_budget"
    assert classify(row(True, False, seconds=5.2)) == "time_budget"
    assert failures([row(True, False, timeout=True)]) == []
    pretend = DisagreementClass("boxed_percent", "example", lambda r: "\\%" in r["text"])
    assert failures([row(True, False, text="$\\boxed{5\\%}$")], classes=(pretend,)) == []
    assert failures([row(True, False)], classes=(pretend,)) != []


def test_no_class_may_touch_a_completion_in_the_prompts_format():
    text = f"Reasoning.\n</think>\n\n{FORMAT_LINE}"
    (problem,) = failures([row(True, False, text=text, timeout=True)])
    assert "prompt's answer format" in problem


def test_a_unit_test_expectation_lighteval_refutes_fails():
    (problem,) = failures([row(True, True, expected=False)])
    assert "the unit test expects False, lighteval says True" in problem
    assert failures([row(True, True, expected=True)]) == []


def test_agreement_table_counts_per_source_and_benchmark():
    rows = [row(True, True), row(True, False), {**row(False, False), "benchmark": "gpqa"}]
    assert agreement_table(rows) == [
        ("corpus", "aime", 1, 2),
        ("corpus", "all", 2, 3),
        ("corpus", "gpqa", 1, 1),
    ]


def test_every_documented_class_is_in_docs_with_its_reason():
    grading = (ROOT / "docs" / "paper.md").read_text().split('<a id="grading"></a>')[1]
    grading = grading.split('<a id="eval-seeds"></a>')[0]
    for documented in DOCUMENTED_CLASSES:
        assert re.search(rf"`{documented.name}`", grading), documented.name


def test_corpus_is_seeded_large_and_varied():
    rows = corpus.generate(6000, 20250226)
    assert rows == corpus.generate(6000, 20250226)
    assert rows != corpus.generate(6000, 1)
    kinds = Counter(row["benchmark"] for row in rows)
    assert set(kinds) == set(corpus.KINDS) and min(kinds.values()) > 600
    forms = Counter(row["form"] for row in rows)
    assert {"format_line", "two_boxes", "boxed_middle", "unboxed_is", "truncated", "empty"} <= set(
        forms
    )
    assert sum(follows_answer_format(r["completion"], r["task"]) for r in rows) > 1000
    golds = {row["gold_format"] for row in rows}
    assert golds == {"expr", "latex", None}


def test_lightevals_environment_is_pinned_exactly():
    lines = (ROOT / "tests" / "lighteval_diff" / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    assert all(re.fullmatch(r"[\w.+-]+", version) for version in pins.values()), pins
    assert pins["lighteval"] == "0.8.1" and pins["latex2sympy2_extended"] == "1.0.6"
    assert pins["sympy"] == "1.13.1" and int(pins["numpy"].split(".")[0]) < 2
    assert len(pins) == len([line for line in lines if line and not line.startswith("#")])
