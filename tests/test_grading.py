"""The grader on the answer forms the six benchmarks produce.

Every grade has three readings: ``correct`` reads the whole completion as lighteval did (the
paper's number), ``correct_after_think`` only the text after the last ``</think>``, and
``correct_math_verify`` the whole completion as math-verify 0.9.0 reads it. The expected
lighteval verdicts (grading_cases.py) were confirmed by running lighteval's own code on them:
tests/lighteval_diff/run_lighteval_diff.sh grades these cases with it on every CI run.
"""

import json
import multiprocessing
import os
import signal
import threading
import time

import pytest
from grading_cases import GPQA_COMPLETIONS, MATH_CASES, r1

from tina_repro.eval import grading
from tina_repro.eval.grading import grade
from tina_repro.eval.grading_pool import grade_file, grade_rows

# where math-verify 0.9.0's reading differs from lighteval's on MATH_CASES
MATH_VERIFY_DIFFERS = {
    ("\\[\\boxed{1\\,000}\\]", "1000"),
    ("\\[\\boxed{1\\,234\\,567}\\]", "1234567"),
}


@pytest.mark.parametrize(("answer", "gold", "gold_format", "expected"), MATH_CASES)
def test_math_answer_forms(answer, gold, gold_format, expected):
    result = grade(r1(answer), gold, "math", gold_format)
    assert result.correct is expected, result
    assert result.correct_after_think is expected, result
    assert result.correct_math_verify is (expected != ((answer, gold) in MATH_VERIFY_DIFFERS))
    assert result.timeout is False
    assert result.unparsed is False
    assert result.formatted is True


def test_math_grade_reports_extracted_text():
    result = grade(r1("$\\boxed{\\dfrac{1}{2}}$"), "$\\frac12$", "math")
    assert result == grading.Grade(
        correct=True,
        extracted="\\frac{1}{2}",
        timeout=False,
        unparsed=False,
        formatted=True,
        correct_after_think=True,
        correct_math_verify=True,
    )


def test_answer_without_boxed_is_graded_but_not_formatted():
    result = grade(r1("The answer is 17.", "Hmm."), "17", "math", "expr")
    assert (result.correct, result.correct_after_think) == (True, True)
    assert (result.formatted, result.unparsed) == (False, False)


def test_answer_with_no_number_is_unparsed():
    result = grade(r1("I could not solve it.", "Hmm."), "17", "math", "expr")
    assert result == grading.Grade(
        correct=False,
        extracted="",
        timeout=False,
        unparsed=True,
        formatted=False,
        correct_after_think=False,
        correct_math_verify=False,
    )
    # lighteval reads the reasoning too: its \\boxed{99} is the extracted answer
    result = grade(r1("I could not solve it."), "17", "math", "expr")
    assert (result.extracted, result.unparsed, result.correct) == ("99", False, False)


@pytest.mark.parametrize(
    ("answer", "gold", "correct", "correct_after_think"),
    [
        ("$\\boxed{7}$", "7", True, True),  # the final box ends rightmost: it wins both readings
        ("$\\boxed{7}$", "5", False, False),
        # nothing after </think>: lighteval takes the boxed 5 of the reasoning
        ("I am not sure.", "5", True, False),
        # a boxed answer (priority 0) in the reasoning beats an unboxed final one, for lighteval
        ("The answer is 7.", "7", False, True),
        ("The answer is 7.", "5", True, False),
    ],
)
def test_boxed_inside_think_counts_only_for_lighteval(answer, gold, correct, correct_after_think):
    reasoning = "First guess: \\boxed{5}. Wait, that is wrong."
    result = grade(r1(answer, reasoning), gold, "math", "expr")
    assert (result.correct, result.correct_after_think) == (correct, correct_after_think)


def test_unanswered_trace_is_read_from_its_last_number():
    """A trace that closes its thinking without stating an answer: lighteval's plain-number
    fallback takes the last number of the reasoning; after </think> there is nothing."""
    result = grade("4*6=24\nunits: 2+4=6\ntens: 6+2=8\n62+24=86\n</think>", "86", "math", "expr")
    assert (result.correct, result.extracted, result.correct_after_think) == (True, "86", False)


def test_last_think_close_wins_and_two_are_not_formatted():
    text = "a \\boxed{1}\n</think>\nb \\boxed{2}\n</think>\nSo $\\boxed{3}$"
    result = grade(text, "3", "math", "expr")
    assert (result.correct, result.correct_after_think, result.formatted) == (True, True, False)


def test_completion_without_think_close_is_graded_whole():
    result = grade("Quick: $\\boxed{12}$", "12", "math", "expr")
    assert (result.correct, result.formatted) == (True, False)


def test_opening_think_tag_in_completion_is_fine():
    result = grade("<think>\nhmm\n</think>\n$\\boxed{12}$", "12", "math", "expr")
    assert (result.correct, result.formatted) == (True, True)


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        ("Answer: C", "C"),
        ("**Answer: C**", "C"),
        ("**Answer:** (C)", "C"),
        ("(C)", "C"),
        ("\\boxed{C}", "C"),
        ("$\\boxed{\\text{C}}$", "C"),
        ("Answer: $C$", "C"),
        ("Answer: $C", "C"),  # the prompt's 'Answer: $LETTER' taken literally
        ("The correct answer is option B.", "B"),
        ("After elimination, the choice is:\n\n**D**\n", "D"),
        ("Answer: A\nOn reflection, Answer: D", "D"),  # the last one wins
        ("(A) fails, (B) fails, so (D).", "D"),
        ("Answer: C. Note that (D) is wrong.", "C"),  # anchored forms beat bare (X)
        ("Answer: Dimethyl ether is formed, so \\boxed{B}", "B"),  # 'D' in a word is no letter
        ("Answer: none of them", ""),
    ],
)
def test_gpqa_format_check_recognises_stated_letters(answer, letter):
    """The format check (``formatted``) wants a letter stated in an answer form after </think>."""
    assert grading.extract_choice(answer) == letter
    result = grade(f"Maybe (B)?\n</think>\n\n{answer}", "C", "gpqa")
    assert result.formatted is (letter != "")


@pytest.mark.parametrize(("completion", "letter", "after_think"), GPQA_COMPLETIONS)
def test_gpqa_is_graded_as_lighteval_reads_the_whole_completion(completion, letter, after_think):
    for gold in "ABCD":
        result = grade(completion, gold, "gpqa")
        assert result.extracted == letter
        assert result.correct is (letter == gold)
        assert result.correct_after_think is (after_think == gold)
        assert result.unparsed is (letter == "")


def test_gpqa_gold_is_one_letter():
    assert grade("Answer: b", " b ", "gpqa").correct is False  # lighteval's letters are capitals
    assert grade("Answer: B", " b ", "gpqa").correct is True
    for gold in ("", "AB", "E"):
        with pytest.raises(ValueError, match="one letter A-D"):
            grade("Answer: A", gold, "gpqa")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown task"):
        grade("x", "1", "chess")
    with pytest.raises(ValueError, match="gold_format"):
        grade("x", "1", "math", "json")
    with pytest.raises(ValueError, match="one letter A-D"):
        grade("x", "E", "gpqa")
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        grade("x", "1", "math", timeout_s=0)
    with pytest.raises(ValueError, match="processes must be at least 1"):
        grade_rows([], processes=0)
    assert grade_rows([]) == []


def test_oversized_completion_is_a_bounded_timeout():
    big = "Let me think. " * 80_000 + "\n</think>\n$\\boxed{5}$"  # 1.1 MB
    started = time.perf_counter()
    result = grade(big, "5", "math", "expr")
    assert time.perf_counter() - started < 1.0
    assert (result.correct, result.timeout) == (False, True)


def test_deeply_nested_latex_is_a_bounded_timeout():
    nested = "(" * 80 + "x+1" + ")" * 80  # takes about 17 s to parse unbounded
    started = time.perf_counter()
    result = grade(r1(f"$\\boxed{{{nested}}}$"), "$2$", "math", timeout_s=1.0)
    # one budget for the box (its $...$ is the same text, parsed once), one for math-verify
    assert time.perf_counter() - started < 4.0
    # as in lighteval, the parse that ran out failed: nothing but text was extracted
    assert (result.correct, result.timeout, result.unparsed) == (False, True, True)
    # the timer is disarmed and the previous handler restored
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert grade(r1("$\\boxed{2}$"), "$2$", "math").correct


def test_grade_outside_the_main_thread_runs_in_a_child_process():
    results = []
    worker = threading.Thread(target=lambda: results.append(grade(r1("$\\boxed{4}$"), "4", "math")))
    worker.start()
    worker.join(timeout=60)
    assert results and results[0].correct


def _rows():
    rows = [
        {"completion": r1(f"$\\boxed{{{i}}}$"), "gold": str(i % 3), "task": "math"}
        for i in range(6)
    ]
    rows += [
        {"completion": r1("$\\boxed{\\frac{1}{2}}$"), "gold": "$0.5$", "task": "math"},
        {"completion": r1("**Answer: B**"), "gold": "B", "task": "gpqa", "extra": [1]},
        {"completion": r1("no idea", "Hmm."), "gold": 7, "task": "math", "gold_format": "expr"},
        {"completion": "x" * (grading.MAX_INPUT_CHARS + 1), "gold": "1", "task": "math"},
    ]
    return rows


def test_grade_rows_same_with_one_and_two_processes():
    rows = _rows()
    one = grade_rows(rows, processes=1)
    two = grade_rows(iter(rows), processes=2)
    assert one == two
    assert [row["correct"] for row in one] == [
        True, True, True, False, False, False, True, True, False, False
    ]  # fmt: skip
    assert one[7]["extra"] == [1] and one[7]["extracted"] == "B"
    assert one[8]["unparsed"] and one[9]["timeout"]
    assert set(one[0]) == {"completion", "gold", "task", *grading.Grade.__dataclass_fields__}


def test_grade_rows_rejects_bad_rows_by_index():
    with pytest.raises(ValueError, match=r"row 1: missing key\(s\) gold"):
        grade_rows([_rows()[0], {"completion": "x", "task": "math"}])
    with pytest.raises(ValueError, match="row 0: unknown task"):
        grade_rows([{"completion": "x", "gold": "1", "task": "aime"}])


needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="patches a forked worker"
)


@needs_fork
def test_worker_stuck_where_signals_cannot_reach_is_killed(monkeypatch):
    def stuck(completion, gold, gold_format, timeout_s):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)

    monkeypatch.setattr(grading, "_grade_math", stuck)
    rows = [{"completion": r1("$\\boxed{1}$"), "gold": "1", "task": "math"}] * 2
    rows.append({"completion": r1("Answer: A"), "gold": "A", "task": "gpqa"})
    started = time.perf_counter()
    graded = grade_rows(rows, processes=2, timeout_s=0.5, sample_timeout_s=1.0)
    assert time.perf_counter() - started < 10
    assert [(row["timeout"], row["correct"]) for row in graded] == [
        (True, False), (True, False), (False, True)
    ]  # fmt: skip
    assert graded[0]["formatted"]


@needs_fork
def test_worker_that_dies_counts_as_timeout_and_is_replaced(monkeypatch):
    monkeypatch.setattr(grading, "_grade_gpqa", lambda completion, gold: os._exit(3))
    rows = [{"completion": r1("Answer: A"), "gold": "A", "task": "gpqa"}]
    rows.append({"completion": r1("$\\boxed{1}$"), "gold": "1", "task": "math"})
    graded = grade_rows(rows, processes=1)
    assert [(row["timeout"], row["correct"]) for row in graded] == [(True, False), (False, True)]


@needs_fork
def test_unexpected_error_in_a_worker_names_the_row(monkeypatch):
    monkeypatch.setattr(grading, "_grade_gpqa", lambda completion, gold: 1 / 0)
    rows = [{"completion": r1("$\\boxed{1}$"), "gold": "1", "task": "math"}] * 3
    rows.append({"completion": r1("Answer: A"), "gold": "A", "task": "gpqa"})
    with pytest.raises(RuntimeError, match=r"(?s)row 3: grading failed.*ZeroDivisionError"):
        grade_rows(rows, processes=2)


def test_grade_file_round_trip(tmp_path):
    rows = _rows()[:8]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n", encoding="utf-8")
    target = tmp_path / "out" / "graded.jsonl"
    summary = grade_file(source, target, processes=2)
    graded = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert graded == grade_rows(rows)
    assert {k: summary[k] for k in ("rows", "correct", "timeouts", "unparsed", "formatted")} == {
        "rows": 8,
        "correct": 5,
        "timeouts": 0,
        "unparsed": 0,
        "formatted": 8,
    }
    assert summary["accuracy"] == pytest.approx(62.5)
    assert not list(tmp_path.glob("out/*.partial"))


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", r"line 3 column 2: invalid JSON"),
        ('{"completion": "x", "task": "math"}', r"line 3: missing key\(s\) gold"),
        ('{"completion": "x", "gold": "1", "task": "olympiad"}', r"line 3: unknown task"),
        ('["x", "1", "math"]', r"line 3: expected a JSON object"),
        ('{"completion": "x", "gold": "F", "task": "gpqa"}', r"line 3: .*one letter A-D"),
        ('{"completion": null, "gold": "1", "task": "math"}', r"line 3: .*must be strings"),
        (
            '{"completion": "\xff", "gold": "1", "task": "math"}',
            r"line 3 column 17: byte 0xff is not UTF-8",
        ),
        # valid JSON, but a lone surrogate is no Unicode text: refused before grading starts
        (
            '{"completion": "ok \\ud800", "gold": "1", "task": "math"}',
            r"line 3: key 'completion' holds '\\ud800', which is not Unicode text",
        ),
        ('{"completion": "x", "gold": "1", "task": "math", "note": ["\\udfff"]}', r"key 'note'"),
    ],
)
def test_grade_file_names_the_bad_line(tmp_path, bad_line, message):
    good = json.dumps({"completion": r1("$\\boxed{1}$"), "gold": "1", "task": "math"})
    source = tmp_path / "in.jsonl"
    source.write_bytes(f"{good}\n\n{bad_line}\n{good}\n".encode("latin-1"))
    target = tmp_path / "graded.jsonl"
    with pytest.raises(ValueError, match=message):
        grade_file(source, target)
    assert list(tmp_path.iterdir()) == [source]  # no output, no partial file
