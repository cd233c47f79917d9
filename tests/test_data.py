"""Data stage: sheet rows + small fixtures in each Hub schema -> the exact normalized rows.

Fixtures under tests/fixtures/hub/ mimic the columns of each Hub dataset; the specs are the real
rows of config/datasets.tsv and config/benchmarks.tsv with ``source`` pointed at a fixture, so the
sheets' column mappings are what is tested. No test touches the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, hub_cache_with_model
from huggingface_hub.errors import GatedRepoError

from tina_repro.config import Benchmark, Dataset
from tina_repro.config.rows import from_sheet
from tina_repro.config.sheets import load_schema, read_sheet
from tina_repro.data import models, normalize, prepare, sources
from tina_repro.data.spec import preparation_spec

HUB = Path(__file__).resolve().parent / "fixtures" / "hub"
DATASETS = {
    r["name"]: from_sheet(Dataset, r)
    for r in read_sheet(ROOT / "config/datasets.tsv", load_schema("datasets.schema.yaml"))
}
BENCHMARKS = {
    r["name"]: from_sheet(Benchmark, r)
    for r in read_sheet(ROOT / "config/benchmarks.tsv", load_schema("benchmarks.schema.yaml"))
}
TEMPLATES = yaml.safe_load((ROOT / "config/config.yaml").read_text())["prompt_templates"]
SEED = 1234

# Tina's MATH_QUERY_TEMPLATE (run_post_train_eval.py), written out independently of config.yaml.
MATH_PREFIX = (
    "Solve the following math problem efficiently and clearly.  The last line of your response "
    "should be of the following format: 'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope "
    "it is correct' (without quotes) where ANSWER is just the final number or expression that "
    "solves the problem. Think step by step before answering.\n\n"
)
GPQA_PREFIX = (
    "Answer the following multiple choice question. The last line of your response should be of "
    "the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think "
    "step by step before answering.\n\n"
)

FIXTURE_OF = {
    "still3": "still3.jsonl",
    "deepscaler": "deepscaler.jsonl",
    "open_s1": "open_s1.jsonl",
    "open_rs": "open_rs.jsonl",
    "limr": "limr.json",
    "open_r1_math": "open_r1_math.jsonl",
    "curated_thoughts": "curated_thoughts.jsonl",
    "ii_thought_math": "ii_thought_math.jsonl",
    "fastcurl": "fastcurl.jsonl",
    "deepscaler_l1": "deepscaler.jsonl",  # the same Hub set as deepscaler, mapped otherwise
    "aime24": "aime24.jsonl",
    "aime25": "aime25.jsonl",
    "amc23": "amc23.jsonl",
    "math_500": "math_500.jsonl",
    "minerva": "minerva.jsonl",
    "gpqa_diamond": "gpqa_diamond.csv",
}


def local(spec, path: Path | str | None = None, **overrides):
    """The sheet row with its source pointed at a local fixture."""
    path = path or HUB / FIXTURE_OF[spec.name]
    return dataclasses.replace(spec, source=f"local:{path}", **overrides)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


S1 = "The divisors are 1, 2, 3, 4, 6 and 12, so there are $\\boxed{6}$."
S2 = "Squaring repeatedly, $2^{10} = 1024$. Final answer: \\( \\boxed{1024} \\)."
EXPECTED_TRAINING = {
    "still3": [
        ("Compute $1+2+3+4+5$.", "$15$"),
        (
            "What is the probability that a fair coin lands heads twice in a row?",
            "$\\frac{1}{4}$",
        ),
        ("Find the positive root of $x^2 = 2$.", "$\\sqrt{2}$"),
    ],
    # grpo.py's special case: the worked solution is archived, the bare answer is the gold.
    "deepscaler": [
        ("Let $a=3$ and $b=4$. Find $\\sqrt{a^2+b^2}$.", "$5$"),
        ("Simplify $\\frac{6}{8}$.", "$\\frac{3}{4}$"),
    ],
    "open_s1": [
        ("How many positive divisors does $12$ have?", S1),
        ("Evaluate $2^{10}$.", S2),
    ],
    "open_rs": [
        (
            "What is the remainder when $100$ is divided by $7$?",
            "Since $100 = 7 \\cdot 14 + 2$, the remainder is $\\boxed{2}$.",
        ),
        ("Evaluate $2^{10}$.", S2),
    ],
    "limr": [
        ("If $3x + 2 = 11$, what is $x$?", "$3$"),
        ("Express $0.5$ as a fraction in lowest terms.", "$\\frac{1}{2}$"),
    ],
    "open_r1_math": [
        (
            "Find the sum of the interior angles of a hexagon, in degrees.",
            "A hexagon splits into $4$ triangles, so the sum is $4 \\cdot 180 = \\boxed{720}$.",
        ),
    ],
    "curated_thoughts": [
        (
            "Compute $\\binom{5}{2}$.",
            "By definition $\\binom{5}{2} = \\frac{5 \\cdot 4}{2} = \\boxed{10}$.",
        ),
    ],
}


FASTCURL_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."
EXPECTED_TRAINING |= {
    # c6274cd's 2thought branch: the first message's content; the JSON answer value, wrapped.
    "ii_thought_math": [
        ("Compute $3^4 - 1$.", "$80$"),
        ("Simplify $\\frac{10}{4}$.", "$\\frac{5}{2}$"),
    ],
    # the user message of the verl prompt; the bare ground truth wrapped as DeepScaleR's answer
    "fastcurl": [
        (
            "The operation $\\otimes$ is defined for all nonzero numbers by $a \\otimes b = "
            "\\frac{a^{2}}{b}$. Determine $[(1 \\otimes 2) \\otimes 3] - "
            "[1 \\otimes (2 \\otimes 3)]$." + FASTCURL_SUFFIX,
            "$-\\frac{2}{3}$",
        ),
        (
            "Doug constructs a square window using $8$ equal-size panes of glass. The ratio of "
            "the height to width for each pane is $5 : 2$, and the borders around and between "
            "the panes are $2$ inches wide. In inches, what is the side length of the square "
            "window?" + FASTCURL_SUFFIX,
            "$26$",
        ),
    ],
    # the L1 recipes skip grpo.py's deepscaler case (their names lack it): the worked solution
    "deepscaler_l1": [
        (
            "Let $a=3$ and $b=4$. Find $\\sqrt{a^2+b^2}$.",
            "By Pythagoras, $\\sqrt{9+16}=\\sqrt{25}=5$. The answer is $\\boxed{5}$.",
        ),
        (
            "Simplify $\\frac{6}{8}$.",
            "Divide numerator and denominator by 2 to get $\\boxed{\\frac{3}{4}}$.",
        ),
    ],
}


def grpo_py_columns(df: pd.DataFrame, is_deepscaler: bool) -> pd.DataFrame:
    """Tina's grpo.py column handling (docs/paper.md#data), step by step: an independent oracle.

    The 2thought branch of c6274cd (messages and verification_info) runs before the generic
    steps here: as written it comes after ``messages`` was dropped, and would fail."""
    df = df.copy()
    if "verification_info" in df.columns:
        df["problem"] = [messages[0]["content"] for messages in df.pop("messages")]
        df["solution"] = [
            f"${json.loads(info)['answer']['value']}$" for info in df.pop("verification_info")
        ]
    if "solution" not in df.columns and "answer" in df.columns:
        df = df.rename(columns={"answer": "solution"})
        df["solution"] = [f"${s}$" for s in df["solution"]]
    if "problem" not in df.columns and "question" in df.columns:
        df = df.rename(columns={"question": "problem"})
    if "problem" not in df.columns and "prompt" in df.columns:
        df = df.rename(columns={"prompt": "problem"})
    if is_deepscaler:
        df = df.rename(columns={"solution": "solution_archive"}).rename(
            columns={"answer": "solution"}
        )
        df["solution"] = [f"${s}$" for s in df["solution"]]
    return df[["problem", "solution"]]


@pytest.mark.parametrize("name", sorted(EXPECTED_TRAINING))
def test_training_sets_map_exactly_like_grpo_py(name):
    spec = local(DATASETS[name])
    out, report = normalize.normalize_training(sources.load_source(spec), spec)
    expected = [(p, s, i) for i, (p, s) in enumerate(EXPECTED_TRAINING[name])]
    assert list(out.columns) == ["problem", "solution", "row_id"]
    assert list(out.itertuples(index=False, name=None)) == expected
    if name != "fastcurl":  # grpo.py has no reading of the verl schema (datasets.tsv comment)
        oracle = grpo_py_columns(sources.load_source(spec), is_deepscaler=name == "deepscaler")
        assert list(oracle.itertuples(index=False, name=None)) == [(p, s) for p, s, _ in expected]
    assert report["rows_read"] == report["rows_kept"] == len(expected)
    assert report["drops"] == {}
    assert report["columns"] == {
        "problem": spec.problem_column,
        "solution": spec.solution_column,
        "wrap_solution": spec.wrap_solution,
    }


def test_column_paths_follow_lists_mappings_and_json_strings():
    assert sources.split_column_path("messages.0.content") == ("messages", (0, "content"))
    assert sources.split_column_path("answer") == ("answer", ())
    cell = [{"content": "q", "role": "user"}]
    assert sources.follow_path(cell, (0, "content")) == "q"
    assert sources.follow_path('{"answer": {"value": 7}}', ("answer", "value")) == 7
    # Hub datasets come to pandas as numpy arrays of dicts
    assert sources.follow_path(np.array(cell, dtype=object), (0, "role")) == "user"
    for bad, steps in [([], (0,)), ({"a": 1}, ("b",)), ('"q"', (0,)), ({"a": 1}, (0,))]:
        with pytest.raises(LookupError):
            sources.follow_path(bad, steps)
    with pytest.raises(ValueError):  # a plain string is decoded as JSON before a step into it
        sources.follow_path("not json", ("answer",))


def test_a_path_that_leads_nowhere_drops_the_row_and_counts_it():
    good = {
        "messages": [{"role": "user", "content": "Compute $1+1$."}],
        "verification_info": json.dumps({"answer": {"value": "2"}}),
    }
    rows = [good] * 199 + [{"messages": [], "verification_info": "{}"}]
    out, report = normalize.normalize_training(pd.DataFrame(rows), DATASETS["ii_thought_math"])
    assert len(out) == 199 and report["drops"] == {"problem_not_found": 1}
    assert report["drop_examples"] == {"problem_not_found": [199]}
    # a missing top-level column is still one error naming the source's columns
    with pytest.raises(sources.DataError, match=r"has no column\(s\) \['verification_info'\]"):
        normalize.normalize_training(pd.DataFrame([{"messages": []}]), DATASETS["ii_thought_math"])


def math_row(i, problem, answer):
    return (i, problem, answer, MATH_PREFIX + problem, None, None)


EXPECTED_MATH = {
    "aime24": [
        math_row(
            0, "Find the number of ordered pairs $(a,b)$ of positive integers with $a+b=10$.", "9"
        ),
        math_row(1, "Find the remainder when $2^{10}$ is divided by $1000$.", "024"),
        math_row(2, "Compute $15 \\times 15$.", "225"),
    ],
    "aime25": [
        math_row(0, "Find the sum of all positive divisors of $6$.", "12"),
        math_row(1, "Find $7^2 - 1$.", "48"),
    ],
    # AMC-23 copies derived from AI-MO's store answers as float64; they become text as written.
    "amc23": [
        math_row(0, "What is $\\frac{3}{4}$ of $36$?", "27.0"),
        math_row(1, "How many primes are less than $20$?", "8.0"),
    ],
    # MATH-500 and Minerva grade against the worked solution (latex_gold_metric).
    "math_500": [
        math_row(
            0,
            "Convert the point $(0,3)$ in rectangular coordinates to polar coordinates.",
            "We have $r = 3$ and $\\theta = \\frac{\\pi}{2}$, so the polar coordinates are "
            "$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
        ),
        math_row(
            1,
            "What is $\\sqrt{53}$ in simplest radical form?",
            "Since 53 is prime, $\\boxed{\\sqrt{53}}$ is already in simplest radical form.",
        ),
    ],
    "minerva": [
        math_row(
            0,
            "Subproblem 0: What is the speed of light in $\\mathrm{m/s}$, to 1 significant figure?",
            "The speed of light is about \\boxed{3e8} m/s.",
        ),
        math_row(
            1,
            "Compute the energy in eV of a photon of $2$ eV plus one of $3$ eV.",
            "Adding, $2 + 3 = \\boxed{5}$ eV.",
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_MATH))
def test_math_benchmarks_render_tina_prompt(name):
    expected = EXPECTED_MATH[name]
    spec = local(BENCHMARKS[name], expected_size=len(expected))
    out, report = normalize.normalize_benchmark(sources.load_source(spec), spec, TEMPLATES, SEED)
    assert list(out.columns) == ["id", "problem", "answer", "prompt", "choices", "correct_letter"]
    assert list(out.itertuples(index=False, name=None)) == expected
    assert report["rows_kept"] == report["expected_size"] == len(expected)


GPQA_ROWS = [  # (question, correct, incorrect 1..3) as in the fixture CSV
    (
        "Which particle mediates the electromagnetic force?",
        "Photon",
        ["Gluon", "W boson", "Higgs boson"],
    ),
    ("What is the chemical formula of table salt?", "NaCl", ["KCl", "NaOH", "HCl"]),
    (
        'A cell, in "interphase", is doing what?\nPick one.',
        "Growing and replicating DNA",
        ["Dividing its nucleus", "Undergoing apoptosis", "Fusing with another cell"],
    ),
    ("What is $\\int_0^1 2x\\,dx$?", "1", ["2", "0", "1/2"]),
    (
        "Which gas is most abundant in Earth's atmosphere?",
        "Nitrogen",
        ["Oxygen", "Argon", "Carbon dioxide"],
    ),
]


def lighteval_gold_indices(seed: int, n: int) -> list[int]:
    """lighteval's order: random.seed(seed) once, then random.randint(0, 3) per document."""
    state = random.getstate()
    try:
        random.seed(seed)
        return [random.randint(0, 3) for _ in range(n)]
    finally:
        random.setstate(state)


@pytest.mark.parametrize("seed", [SEED, 0, 7])
def test_gpqa_shuffles_like_lighteval(seed):
    spec = local(BENCHMARKS["gpqa_diamond"], expected_size=len(GPQA_ROWS))
    out, report = normalize.normalize_benchmark(sources.load_source(spec), spec, TEMPLATES, seed)
    indices = lighteval_gold_indices(seed, len(GPQA_ROWS))
    for row, (question, correct, incorrect), gold in zip(
        out.itertuples(index=False), GPQA_ROWS, indices, strict=True
    ):
        choices = incorrect[:gold] + [correct] + incorrect[gold:]
        assert list(row.choices) == choices
        assert row.correct_letter == row.answer == "ABCD"[gold]
        assert row.problem == question
        assert row.prompt == GPQA_PREFIX + question + "\n\n" + "\n".join(
            f"{letter}) {choice}" for letter, choice in zip("ABCD", choices, strict=True)
        )
    assert list(out["id"]) == list(range(len(GPQA_ROWS)))
    assert report["seed"] == seed


def test_gpqa_seed_1234_pinned():
    """The paper's seed puts the first correct answer last, the next four first."""
    spec = local(BENCHMARKS["gpqa_diamond"], expected_size=len(GPQA_ROWS))
    out, _ = normalize.normalize_benchmark(sources.load_source(spec), spec, TEMPLATES, 1234)
    assert list(out["correct_letter"]) == ["D", "A", "A", "A", "A"]
    assert out.loc[0, "prompt"] == (
        GPQA_PREFIX + "Which particle mediates the electromagnetic force?\n\n"
        "A) Gluon\nB) W boson\nC) Higgs boson\nD) Photon"
    )


def test_benchmark_rows_are_kept_as_lighteval_read_them(tmp_path):
    """A gold lighteval reads only as text (Minerva's -1./3) or not at all, and a GPQA correct
    answer repeated as an incorrect option, are kept (lighteval graded them so) and listed."""
    rows = [
        {"problem": "p0", "solution": "The ratio is $\\boxed{-1./3}$."},
        {"problem": "p1", "solution": "Adding, $2 + 3 = \\boxed{5}$ eV."},
        {"problem": "p2", "solution": "It cannot be determined."},
    ]
    source = tmp_path / "minerva.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec = local(BENCHMARKS["minerva"], source, expected_size=3)
    out, report = normalize.normalize_benchmark(sources.load_source(spec), spec, TEMPLATES, SEED)
    assert list(out["id"]) == [0, 1, 2] and report["drops"] == {}
    assert report["flagged_rows"] == {"gold_raw_text": [2], "gold_text_only": [0]}

    gpqa = pd.read_csv(HUB / "gpqa_diamond.csv")
    gpqa.loc[1, "Incorrect Answer 2"] = " NaCl"
    gpqa.to_csv(tmp_path / "gpqa.csv", index=False)
    spec = local(BENCHMARKS["gpqa_diamond"], tmp_path / "gpqa.csv", expected_size=len(GPQA_ROWS))
    out, report = normalize.normalize_benchmark(sources.load_source(spec), spec, TEMPLATES, SEED)
    assert len(out) == len(GPQA_ROWS) and report["flagged_rows"] == {"duplicate_option": [1]}
    assert sorted(out.loc[1, "choices"]) == sorted(["NaCl", "KCl", " NaCl", "HCl"])


def test_prepare_writes_parquet_and_report(tmp_path):
    spec = local(DATASETS["deepscaler"])
    report = prepare.prepare_training_dataset(spec, tmp_path / "d.parquet", tmp_path / "d.json")
    written = pd.read_parquet(tmp_path / "d.parquet")
    assert list(written.itertuples(index=False, name=None)) == [
        (p, s, i) for i, (p, s) in enumerate(EXPECTED_TRAINING["deepscaler"])
    ]
    assert json.loads((tmp_path / "d.json").read_text()) == report
    assert report["status"] == "ok" and report["error"] is None
    assert report["parquet_sha256"] == sha256(tmp_path / "d.parquet")
    assert report["source_sha256"] == sha256(HUB / "deepscaler.jsonl")
    assert report["revision_requested"] == "main"
    assert report["revision_resolved"] is None
    assert (report["rows_read"], report["rows_kept"]) == (2, 2)


def test_prepare_benchmark_parquet_round_trip(tmp_path):
    spec = local(BENCHMARKS["gpqa_diamond"], expected_size=5)
    prepare.prepare_benchmark(spec, TEMPLATES, SEED, tmp_path / "g.parquet", tmp_path / "g.json")
    spec = local(BENCHMARKS["aime25"], expected_size=2)
    prepare.prepare_benchmark(spec, TEMPLATES, SEED, tmp_path / "a.parquet", tmp_path / "a.json")
    gpqa, aime = pd.read_parquet(tmp_path / "g.parquet"), pd.read_parquet(tmp_path / "a.parquet")
    assert list(gpqa.loc[0, "choices"]) == ["Gluon", "W boson", "Higgs boson", "Photon"]
    assert aime["choices"].isna().all() and aime["correct_letter"].isna().all()
    assert list(aime["id"]) == [0, 1]


def test_malformed_set_fails_with_counts_in_report(tmp_path):
    spec = local(DATASETS["still3"], HUB / "still3_malformed.jsonl")
    # Only the row without a problem text is dropped; Tina trained on the others.
    with pytest.raises(sources.DataError, match=r"1 of 10 rows dropped \(10\.00% > 1%\)"):
        prepare.prepare_training_dataset(spec, tmp_path / "s.parquet", tmp_path / "s.json")
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["status"] == "failed" and "10.00%" in report["error"]
    assert (report["rows_read"], report["rows_kept"]) == (10, 9)
    assert report["drops"] == {"problem_not_text": 1}
    assert report["drop_examples"] == {"problem_not_text": [3]}
    # A missing answer is wrapped as grpo.py's f-string wraps it, "$None$", which math-verify
    # parses (a product of symbols); the empty box parses for no reward.
    assert report["kept_issues"] == {
        "gold_unparseable_accuracy": 1,
        "gold_unparseable_length_cosine": 1,
        "problem_blank": 1,
        "solution_missing": 1,
    }
    assert report["kept_issue_examples"] == {
        "gold_unparseable_accuracy": [4],
        "gold_unparseable_length_cosine": [4],
        "problem_blank": [1],
        "solution_missing": [2],
    }
    assert not (tmp_path / "s.parquet").exists()


def test_rows_with_an_unparseable_gold_are_kept_and_counted(tmp_path):
    rows = [{"question": f"Compute ${i}+1$.", "answer": str(i + 1)} for i in range(100)]
    rows.insert(50, {"question": "Box?", "answer": "\\boxed{}"})
    rows.insert(70, {"question": "   ", "answer": None})
    path = tmp_path / "still.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = prepare.prepare_training_dataset(
        local(DATASETS["still3"], path), tmp_path / "s.parquet", tmp_path / "s.json"
    )
    assert (report["rows_read"], report["rows_kept"], report["drops"]) == (102, 102, {})
    assert report["kept_issues"] == {
        "gold_unparseable_accuracy": 1,
        "gold_unparseable_length_cosine": 1,
        "problem_blank": 1,
        "solution_missing": 1,
    }
    assert report["kept_issue_examples"]["gold_unparseable_accuracy"] == [50]
    written = pd.read_parquet(tmp_path / "s.parquet")
    assert written["row_id"].tolist() == list(range(102))
    assert written.loc[50, "solution"] == "$\\boxed{}$"
    assert written.loc[70, ["problem", "solution"]].tolist() == ["   ", "$None$"]


def test_unwrapped_missing_gold_is_kept_empty_and_too_many_unparseable_golds_fail(tmp_path):
    spec = local(DATASETS["open_rs"])
    rows = [
        {"problem": f"Compute ${i}+1$.", "solution": f"So $\\boxed{{{i + 1}}}$."} for i in range(99)
    ]
    frame = pd.DataFrame([*rows, {"problem": "Say hi.", "solution": None}])
    out, report = normalize.normalize_training(frame, spec)
    assert out.loc[99, "solution"] == "" and report["kept_issues"] == {
        "gold_unparseable_accuracy": 1,
        "gold_unparseable_length_cosine": 1,
        "solution_missing": 1,
    }
    # 2 of 100 golds no reward can parse: the sheet most likely names the wrong column
    frame = pd.DataFrame(
        [*rows[:98], {"problem": "a", "solution": "no"}, {"problem": "b", "solution": "x"}]
    )
    with pytest.raises(
        sources.DataError, match=r"2 of 100 golds cannot be parsed .* wrong solution_column"
    ):
        normalize.normalize_training(frame, spec)


def test_benchmark_size_mismatch_fails(tmp_path):
    spec = local(BENCHMARKS["aime24"])  # the sheet's expected_size: 30
    with pytest.raises(sources.DataError, match="3 rows kept .* expected_size is 30"):
        prepare.prepare_benchmark(
            spec, TEMPLATES, SEED, tmp_path / "a.parquet", tmp_path / "a.json"
        )
    report = json.loads((tmp_path / "a.json").read_text())
    assert report["status"] == "failed" and report["rows_kept"] == 3
    assert not (tmp_path / "a.parquet").exists()


def test_empty_source_and_missing_column(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("question,answer\n")
    with pytest.raises(sources.DataError, match="the source has no rows"):
        spec = local(DATASETS["still3"], empty)
        normalize.normalize_training(sources.load_source(spec), spec)
    spec = local(DATASETS["still3"], problem_column="problem")
    with pytest.raises(sources.DataError, match=r"no column\(s\) \['problem'\]; its columns are"):
        normalize.normalize_training(sources.load_source(spec), spec)


def test_local_csv_jsonl_parquet_give_the_same_rows(tmp_path):
    frame = pd.read_json(HUB / "math_500.jsonl", lines=True, dtype=False)
    frame.to_parquet(tmp_path / "m.parquet")
    frame.to_csv(tmp_path / "m.csv", index=False)
    results = []
    for path in (HUB / "math_500.jsonl", tmp_path / "m.parquet", tmp_path / "m.csv"):
        spec = local(BENCHMARKS["math_500"], path, expected_size=2)
        out, _ = normalize.normalize_benchmark(sources.load_source(spec), spec, TEMPLATES, SEED)
        results.append(list(out.itertuples(index=False, name=None)))
    assert results[0] == results[1] == results[2] == EXPECTED_MATH["math_500"]


def test_local_source_errors(tmp_path):
    with pytest.raises(sources.DataError, match="does not exist"):
        sources.load_source(local(DATASETS["still3"], tmp_path / "missing.jsonl"))
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(sources.DataError, match="unsupported extension"):
        sources.load_source(local(DATASETS["still3"], tmp_path / "x.txt"))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(sources.DataError, match="cannot read local source"):
        sources.load_source(local(DATASETS["still3"], tmp_path / "bad.jsonl"))


# --- Hugging Face Hub (never a network call) ----------------------------------------------------


def test_hub_source_is_loaded_with_the_sheet_arguments(monkeypatch):
    import datasets

    calls = []
    frame = pd.read_json(HUB / "open_r1_math.jsonl", lines=True, dtype=False)

    def fake_load(path, **kwargs):
        calls.append((path, kwargs))
        return datasets.Dataset.from_pandas(frame)

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    spec = DATASETS["open_r1_math"]
    df = sources.load_source(spec)
    assert calls == [
        (
            "open-r1/OpenR1-Math-220k",
            {"name": "default", "split": "train", "revision": "main", "token": "hf_x"},
        )
    ]
    assert list(df.columns) == ["problem", "solution"]  # only the mapped columns are loaded
    out, _ = normalize.normalize_training(df, spec)
    assert list(out.itertuples(index=False, name=None)) == [
        (p, s, i) for i, (p, s) in enumerate(EXPECTED_TRAINING["open_r1_math"])
    ]


def test_hub_offline_without_cache_says_how_to_proceed(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    with pytest.raises(sources.DataError) as err:
        sources.load_source(BENCHMARKS["aime24"])
    message = str(err.value)
    assert message.startswith("aime24: cannot reach 'HuggingFaceH4/aime_2024' on the Hugging Face")
    assert "local:PATH" in message and "HF_HUB_OFFLINE=1 HF_HOME=" in message


def test_hub_unreachable_is_reported_with_the_dataset_name(tmp_path, monkeypatch):
    import datasets

    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'agentica-org/DeepScaleR-Preview-Dataset' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(sources.DataError, match="deepscaler: cannot reach") as err:
        prepare.prepare_training_dataset(
            DATASETS["deepscaler"], tmp_path / "d.parquet", tmp_path / "d.json"
        )
    report = json.loads((tmp_path / "d.json").read_text())
    assert report["status"] == "failed" and report["error"] == str(err.value)
    assert report["rows_read"] is None


# datasets' own message for a gated repository without a token (its cause is dropped).
GATED = (
    "Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub. "
    "You must be authenticated to access it."
)


def test_gated_gpqa_without_token_asks_for_hf_token(tmp_path, monkeypatch):
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    def gated(*args, **kwargs):
        raise DatasetNotFoundError(GATED)

    monkeypatch.setattr(datasets, "load_dataset", gated)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(sources.DataError) as err:
        prepare.prepare_benchmark(
            BENCHMARKS["gpqa_diamond"], TEMPLATES, SEED, tmp_path / "g.parquet", tmp_path / "g.json"
        )
    message = str(err.value)
    assert message.startswith("gpqa_diamond: the Hugging Face Hub is gated for 'Idavidrein/gpqa'")
    assert "HF_TOKEN is not set" in message
    assert "https://huggingface.co/datasets/Idavidrein/gpqa" in message


def test_refused_token_is_never_echoed(tmp_path, monkeypatch):
    import datasets

    secret = "hf_secretTOKENvalue123"
    response = httpx.Response(403, request=httpx.Request("GET", "https://huggingface.co/x"))

    def gated(*args, token=None, **kwargs):
        assert token == secret  # the token is passed to the Hub client...
        raise GatedRepoError("403 Forbidden: access to this repo is restricted", response=response)

    monkeypatch.setattr(datasets, "load_dataset", gated)
    monkeypatch.setenv("HF_TOKEN", secret)
    with pytest.raises(sources.DataError, match="HF_TOKEN is set but was not accepted") as err:
        prepare.prepare_benchmark(
            BENCHMARKS["gpqa_diamond"], TEMPLATES, SEED, tmp_path / "g.parquet", tmp_path / "g.json"
        )
    # ...and appears in neither the message nor the report.
    assert secret not in str(err.value)
    assert secret not in (tmp_path / "g.json").read_text()


def test_commit_is_read_from_the_datasets_cache_path():
    class Cached:
        cache_files = [
            {"filename": "/c/huggingface_h4___aime_2024/default/0.0.0/" + "ab12" * 10 + "/x.arrow"}
        ]

    assert sources._commit_of(Cached()) == "ab12" * 10
    Cached.cache_files = [{"filename": "/c/json/default-1a2b/0.0.0/abc/x.arrow"}]
    assert sources._commit_of(Cached()) is None


# --- models -------------------------------------------------------------------------------------


def test_download_model_local_folder_is_linked(tmp_path):
    source = tmp_path / "tiny"
    (source / "sub").mkdir(parents=True)
    (source / "config.json").write_text("{}")
    (source / "sub" / "weights.bin").write_bytes(b"1234")
    manifest = models.download_model(f"local:{source}", None, tmp_path / "out")
    assert manifest == {
        "source": f"local:{source}",
        "revision_requested": None,
        "revision_resolved": None,
        "files": [
            {"path": "config.json", "size": 2, "sha256": hashlib.sha256(b"{}").hexdigest()},
            {"path": "sub/weights.bin", "size": 4, "sha256": hashlib.sha256(b"1234").hexdigest()},
        ],
    }
    assert (tmp_path / "out" / "sub" / "weights.bin").resolve() == source / "sub" / "weights.bin"
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest


def test_download_model_offline_from_prefilled_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    commit = "0123456789abcdef" * 2 + "01234567"
    cache = hub_cache_with_model(tmp_path / "hub", "org/tiny", commit, '{"a": 1}')
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    manifest = models.download_model("org/tiny", "main", tmp_path / "out")
    assert manifest["revision_resolved"] == commit
    sha256 = hashlib.sha256(b'{"a": 1}').hexdigest()
    assert manifest["files"] == [{"path": "config.json", "size": 8, "sha256": sha256}]
    with pytest.raises(sources.DataError, match="org/absent: cannot reach 'org/absent'.*HF_HOME"):
        models.download_model("org/absent", "main", tmp_path / "out2")
    assert not (tmp_path / "out2" / "manifest.json").exists()


def test_download_gated_model_asks_for_token(tmp_path, monkeypatch):
    from huggingface_hub import HfApi, constants

    response = httpx.Response(401, request=httpx.Request("GET", "https://huggingface.co/api/m"))

    def gated(self, repo_id, revision=None, **kwargs):
        raise GatedRepoError("401 Client Error", response=response)

    monkeypatch.setattr(constants, "is_offline_mode", lambda: False)
    monkeypatch.setattr(HfApi, "model_info", gated)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(sources.DataError, match="gated for 'org/gated'.*HF_TOKEN is not set"):
        models.download_model("org/gated", "main", tmp_path / "out")


def test_adapter_download_fetches_only_the_evaluated_checkpoints(tmp_path, monkeypatch):
    """A Tina adapter repository holds every checkpoint: only the listed subfolders come down
    (the Hub's own pattern filter decides which files match)."""
    import huggingface_hub
    from huggingface_hub import HfApi, constants
    from huggingface_hub.utils import filter_repo_objects

    repository = ["README.md", "checkpoint-1500/adapter_model.safetensors"]
    repository += [
        "checkpoint-2000/adapter_config.json",
        "checkpoint-2000/adapter_model.safetensors",
    ]
    commit = "f" * 40

    def snapshot_download(repo_id, revision, local_dir, token, allow_patterns):
        assert (repo_id, revision) == ("Tina-Yi/R1-Distill-Qwen-1.5B-STILL", commit)
        for name in filter_repo_objects(repository, allow_patterns=allow_patterns):
            (Path(local_dir) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(local_dir) / name).write_text("x")

    monkeypatch.setattr(constants, "is_offline_mode", lambda: False)
    monkeypatch.setattr(
        HfApi, "model_info", lambda self, repo, revision=None, **_: SimpleNamespace(sha=commit)
    )
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    spec = {
        "source": "Tina-Yi/R1-Distill-Qwen-1.5B-STILL",
        "revision": "main",
        "subfolders": ["checkpoint-2000"],
    }
    manifest = models.download_hub_repository(spec, tmp_path / "still")
    assert manifest["revision_resolved"] == commit
    assert [f["path"] for f in manifest["files"]] == repository[2:]
    # Without subfolders the whole repository comes down.
    manifest = models.download_hub_repository({**spec, "subfolders": []}, tmp_path / "all")
    assert [f["path"] for f in manifest["files"]] == sorted(repository)


def test_only_the_columns_that_shape_a_table_are_in_the_preparation_spec():
    row = DATASETS["limr"]
    same = [dataclasses.replace(row, paper_size=12, comment="a note", system_prompt="open_rs")]
    other = [dataclasses.replace(row, problem_column="q"), dataclasses.replace(row, split="x")]
    assert all(preparation_spec(r) == preparation_spec(row) for r in same)
    assert all(preparation_spec(r) != preparation_spec(row) for r in other)
