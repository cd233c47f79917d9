"""pass@k, bootstrap intervals and paired differences on small fixtures with known answers."""

import math
import random

import numpy as np
import pytest

from tina_repro.eval.scoring import paired_bootstrap_diff, pass_at_k, score


def rows_for(correct_by_problem: dict, formatted=None, **flags) -> list[dict]:
    """Graded rows: ``{problem_id: [correct of sample 0, 1, ...]}``; the stricter reading after
    ``</think>`` and math-verify's reading agree with it."""
    rows = []
    for pid, outcomes in correct_by_problem.items():
        for index, correct in enumerate(outcomes):
            rows.append(
                {
                    "problem_id": pid,
                    "sample_index": index,
                    "correct": correct,
                    "timeout": flags.get("timeout", False),
                    "unparsed": flags.get("unparsed", False),
                    "formatted": True if formatted is None else formatted(pid, index),
                    "correct_after_think": correct,
                    "correct_math_verify": correct,
                }
            )
    return rows


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 3, 3, 1 - 35 / 120),  # 1 - C(7,3)/C(10,3)
        (5, 2, 4, 1.0),  # n - c < k: every draw of 4 holds a correct one
        (5, 0, 3, 0.0),
        (5, 5, 5, 1.0),
        (1, 1, 1, 1.0),
    ],
)
def test_pass_at_k_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_vectorised_and_matches_binomials():
    rng = random.Random(0)
    n = [rng.randint(8, 64) for _ in range(50)]
    c = [rng.randint(0, m) for m in n]
    got = pass_at_k(n, c, 8)
    want = [1 - math.comb(m - x, 8) / math.comb(m, 8) for m, x in zip(n, c, strict=True)]
    assert isinstance(got, np.ndarray) and got.shape == (50,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_pass_at_k_rejects_impossible_inputs():
    with pytest.raises(ValueError, match="at least 4 samples"):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError, match="k must be"):
        pass_at_k(3, 1, 0)


def test_score_exact_values():
    rows = rows_for(
        {"p1": [True] * 4, "p2": [True, False, True, False], "p3": [False] * 4},
        formatted=lambda pid, index: not (pid == "p2" and index == 1),
    )
    rows[-1]["unparsed"] = True
    rows[-2]["timeout"] = True
    result = score(rows, k_values=(1, 2, 4, 8))
    assert result["pass_at_1"] == pytest.approx(50.0)
    # per problem pass@2: 1, 1 - C(2,2)/C(4,2) = 5/6, 0
    assert result["pass_at_k"] == pytest.approx({1: 50.0, 2: 100 * (1 + 5 / 6) / 3, 4: 200 / 3})
    assert 8 not in result["pass_at_k"]
    assert {k: result[k] for k in ("n_problems", "samples_per_problem", "n_samples")} == {
        "n_problems": 3,
        "samples_per_problem": 4,
        "n_samples": 12,
    }
    assert (result["n_correct"], result["n_unparsed"], result["n_timeouts"]) == (6, 1, 1)
    assert result["format_rate"] == pytest.approx(100 * 11 / 12)
    assert result["accuracy_given_formatted"] == pytest.approx(100 * 6 / 11)
    low, high = result["ci95"]
    assert 0.0 <= low < 50.0 < high <= 100.0
    assert result["accuracy_after_think"] == pytest.approx(50.0)


def test_accuracy_after_think_counts_the_stricter_reading_only():
    rows = rows_for({"p1": [True, True], "p2": [True, False]})
    rows[0]["correct_after_think"] = False  # e.g. an answer found only inside the reasoning
    result = score(rows)
    assert result["pass_at_1"] == pytest.approx(75.0)
    assert result["accuracy_after_think"] == pytest.approx(50.0)
    del rows[1]["correct_after_think"]
    with pytest.raises(ValueError, match=r"row 1: missing key\(s\) correct_after_think"):
        score(rows)


def test_accuracy_math_verify_counts_math_verifys_reading_only():
    rows = rows_for({"p1": [False, False], "p2": [True, False]})
    rows[0]["correct_math_verify"] = True  # e.g. \\boxed{113\\%} against gold 113
    result = score(rows)
    assert result["pass_at_1"] == pytest.approx(25.0)
    assert result["accuracy_math_verify"] == pytest.approx(50.0)
    assert result["accuracy_after_think"] == pytest.approx(25.0)
    del rows[3]["correct_math_verify"]
    with pytest.raises(ValueError, match=r"row 3: missing key\(s\) correct_math_verify"):
        score(rows)


def test_score_ci_on_a_constant_vector_is_a_point():
    rows = rows_for({pid: [True, False] for pid in range(30)})
    result = score(rows)
    assert result["pass_at_1"] == pytest.approx(50.0)
    assert result["ci95"] == pytest.approx([50.0, 50.0])


def test_score_ci_is_seeded_and_narrows_with_more_problems():
    small = rows_for({pid: [pid % 2 == 0] for pid in range(20)})
    large = rows_for({pid: [pid % 2 == 0] for pid in range(2000)})
    assert score(small, seed=3)["ci95"] == score(small, seed=3)["ci95"]
    width_small = np.diff(score(small)["ci95"])[0]
    width_large = np.diff(score(large)["ci95"])[0]
    # the standard error of a mean of 0/1 with p=0.5 is 50/sqrt(n) points; the interval is ~3.9 SE
    assert width_small == pytest.approx(3.92 * 50 / math.sqrt(20), rel=0.15)
    assert width_large == pytest.approx(3.92 * 50 / math.sqrt(2000), rel=0.1)


def test_score_without_formatted_answers_has_no_conditional_accuracy():
    result = score(rows_for({"p": [True, False]}, formatted=lambda pid, index: False))
    assert result["format_rate"] == 0.0
    assert result["accuracy_given_formatted"] is None


def test_score_rejects_bad_rows():
    with pytest.raises(ValueError, match="different sample counts"):
        score(rows_for({"p1": [True, True], "p2": [True]}))
    with pytest.raises(ValueError, match="sample_index 0 twice"):
        score(rows_for({"p1": [True]}) * 2)
    rows = rows_for({"p1": [True]})
    del rows[0]["formatted"]
    with pytest.raises(ValueError, match=r"row 0: missing key\(s\) formatted"):
        score(rows)
    with pytest.raises(ValueError, match="no graded rows"):
        score([])


def test_paired_diff_exact_mean_and_pairing_by_problem_id():
    a = rows_for({"p1": [True, True], "p2": [False, False], "p3": [True, False]})
    b = rows_for({"p3": [True, True], "p1": [True, True], "p2": [True, True]})
    result = paired_bootstrap_diff(a, list(reversed(b)))
    assert result["diff"] == pytest.approx(50.0)  # mean of (0, 1, 0.5)
    assert (result["a_mean"], result["b_mean"]) == pytest.approx((50.0, 100.0))
    assert result["n_problems"] == 3
    low, high = result["ci95"]
    assert 0.0 <= low <= 50.0 <= high <= 100.0


def test_paired_diff_of_a_constant_shift_is_a_point():
    a = rows_for({pid: [True, False] for pid in range(25)})
    b = rows_for({pid: [True, True] for pid in range(25)})
    result = paired_bootstrap_diff(a, b)
    assert result["diff"] == pytest.approx(50.0)
    assert result["ci95"] == pytest.approx([50.0, 50.0])
    assert paired_bootstrap_diff(b, b)["ci95"] == pytest.approx([0.0, 0.0])


def test_paired_diff_needs_the_same_problems():
    a = rows_for({"p1": [True], "p2": [True]})
    b = rows_for({"p1": [True], "p3": [False]})
    with pytest.raises(ValueError, match=r"only in a \['p2'\], only in b \['p3'\]"):
        paired_bootstrap_diff(a, b)
