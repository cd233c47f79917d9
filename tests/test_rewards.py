"""Reward functions against hand-computed values of Tina's definitions (docs/paper.md#rewards)."""

import logging
import math
import pickle
import threading

import pytest

from tina_repro import rewards
from tina_repro.rewards import REWARD_NAMES, build, parse_weighted, validate_params

GOLD = "$5$"
RIGHT = r"\boxed{5}"  # 9 characters
WRONG = r"\boxed{7}"  # 9 characters
# A comparison sympy cannot finish in time: math-verify's alarm must cut it off.
PATHOLOGICAL = r"\boxed{9^{9^{9^{9}}}}"


def padded(text: str, length: int) -> str:
    """``text`` followed by spaces, exactly ``length`` characters long."""
    assert len(text) <= length
    return text + " " * (length - len(text))


def as_messages(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_registry_names_and_trl_log_names():
    assert REWARD_NAMES == (
        "accuracy",
        "format",
        "tag_count",
        "length",
        "cosine",
        "reasoning_steps",
        "repetition_penalty",
        "length_l1_exact",
        "length_l1_max",
    )
    for name in REWARD_NAMES:
        assert build(name).__name__ == name  # TRL logs rewards/<__name__>/mean


def test_built_functions_pickle():
    cosine = pickle.loads(pickle.dumps(build("cosine", max_len=9)))
    assert cosine.__name__ == "cosine"
    assert cosine([RIGHT], solution=[GOLD]) == [0.5]


# --- format and tag_count ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no tags at all", 0.0),
        ("<think>\nreasoning\n</think>\n<answer>5</answer>", 1.0),
        ("reasoning\n</think>\nanswer", 1.0),  # the opening tag is not required
        ("a\n</think>\nb\n</think>\nc", 0.0),  # twice
        ("reasoning</think>\nanswer", 0.0),  # no newline before
        ("reasoning\n</think>answer", 0.0),  # no newline after
        ("reasoning\n</think>", 0.0),  # at the very end
    ],
)
def test_format(text, expected):
    assert build("format")([text]) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nothing", 0.0),
        ("<think>\nreasoning", 0.5),
        ("reasoning\n</think>\nanswer", 0.5),
        ("<think>\nreasoning\n</think>\nanswer", 1.0),
        ("<think>\n<think>\nreasoning\n</think>\nanswer", 0.5),  # two openings
        ("<think>\na\n</think>\nb\n</think>\n", 0.5),  # two closings
        ("<think>reasoning</think>", 0.0),  # missing newlines
    ],
)
def test_tag_count(text, expected):
    assert build("tag_count")([text]) == [expected]


# --- accuracy ---------------------------------------------------------------------------------


def test_accuracy_right_wrong_and_unanchored():
    completions = [f"so {RIGHT}", WRONG, "the answer is 5", r"$\boxed{5}$", r"$\frac{10}{2}$"]
    assert build("accuracy")(completions, solution=[GOLD] * 5) == [1.0, 0.0, 0.0, 1.0, 0.0]


def test_accuracy_gold_forms():
    acc = build("accuracy")
    # A full worked solution (open-rs style): the first match is its boxed answer.
    assert acc([r"\boxed{12}"], solution=[r"Adding, we get $\boxed{12}$."]) == [1.0]
    # A bare number parses too: accuracy uses math-verify's default (LaTeX + expression) gold parse.
    assert acc([r"\boxed{42}"], solution=["42"]) == [1.0]


def test_accuracy_unparseable_gold_is_none(caplog):
    with caplog.at_level(logging.WARNING, logger="tina_repro.rewards"):
        assert build("accuracy")([RIGHT, WRONG], solution=["no math here"] * 2) == [None, None]
    assert "2 of 2 completions" in caplog.text


def test_accuracy_conversational_completions_with_trl_kwargs():
    # TRL 1.16 also passes prompts, completion_ids, the other dataset columns and trainer hooks.
    completions = [as_messages(RIGHT), as_messages(WRONG)]
    prompt = [{"role": "user", "content": "2 + 3?"}]
    result = build("accuracy")(
        prompts=[prompt, prompt],
        completions=completions,
        completion_ids=[[1, 2], [3]],
        solution=[GOLD, GOLD],
        problem=["2 + 3?", "2 + 3?"],
        trainer_state=None,
        log_extra=print,
        log_metric=print,
    )
    assert result == [1.0, 0.0]


def test_pathological_completion_times_out_as_wrong():
    assert build("accuracy", timeout_seconds=1)([PATHOLOGICAL], solution=[GOLD]) == [0.0]


def test_equations_deprecation_is_not_logged(caplog):
    with caplog.at_level(logging.WARNING):
        build("accuracy")([RIGHT], solution=[GOLD])
    assert "deprecated" not in caplog.text


def test_math_verify_refuses_threads_loudly():
    errors = []

    def call():
        try:
            build("accuracy")([RIGHT], solution=[GOLD])
        except ValueError as error:
            errors.append(str(error))

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert errors and "threaded environment" in errors[0]


# --- cosine -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (padded(RIGHT, 500), 0.75),  # max_len / 2
        (padded(RIGHT, 1000), 0.5),  # max_len
        (padded(RIGHT, 1500), 0.75),  # past max_len the cosine wraps: not monotonic
        (padded(RIGHT, 2000), 1.0),  # 2 * max_len scores like length 0
        ("", 0.0),  # wrong at length 0
        (padded(WRONG, 500), -0.25),
        (padded(WRONG, 1000), -0.5),
        (
            padded(WRONG, 2000),
            0.0,
        ),  # periodic quirk: a long wrong answer gets the short-wrong value
    ],
)
def test_cosine_defaults(text, expected):
    # Tina's ModelPTConfig: wrong 0.0 (short) -> -0.5 (long), correct 1.0 (short) -> 0.5 (long).
    assert build("cosine")([text], solution=[GOLD]) == [pytest.approx(expected, abs=1e-12)]


def test_cosine_max_len_and_value_parameters():
    assert build("cosine", max_len=9)([RIGHT, WRONG], solution=[GOLD, GOLD]) == [0.5, -0.5]
    assert build("cosine", max_len=18)([RIGHT], solution=[GOLD]) == [pytest.approx(0.75)]
    # open-r1's function defaults: short wrong answers are punished hardest.
    open_r1 = build("cosine", min_value_wrong=-1.0, max_value_wrong=-0.5, max_len=3584)
    assert open_r1([""], solution=[GOLD]) == [-1.0]
    assert open_r1([padded(WRONG, 3584)], solution=[GOLD]) == [-0.5]


def test_cosine_unparseable_gold_scores_one():
    # cosine parses the gold as LaTeX only, so a bare number is "unparseable" here.
    assert build("cosine")([WRONG, RIGHT], solution=["no math here", "5"]) == [1.0, 1.0]


def test_cosine_conversational_completions():
    assert build("cosine", max_len=9)([as_messages(RIGHT)], solution=[GOLD]) == [0.5]


# --- length -----------------------------------------------------------------------------------

GROUP = [RIGHT, padded(RIGHT, 18), padded(WRONG, 36), WRONG]  # lengths 9, 18, 36, 9


def test_length_over_whole_batch():
    # lambda = 0.5 - (len - 9) / (36 - 9); wrong answers get min(0, lambda).
    assert build("length")(GROUP, solution=[GOLD] * 4) == [
        0.5,
        pytest.approx(0.5 - 9 / 27),
        -0.5,
        0.0,
    ]


def test_length_per_group():
    # Groups (9, 18) and (36, 9) normalise separately.
    assert build("length", group_size=2)(GROUP, solution=[GOLD] * 4) == [0.5, -0.5, -0.5, 0.0]


def test_length_all_equal_is_zero():
    assert build("length")([RIGHT, WRONG, RIGHT], solution=[GOLD] * 3) == [0.0, 0.0, 0.0]


def test_length_unparseable_gold_counts_as_correct():
    assert build("length")(["x", "xxx", "xx"], solution=["no math"] * 3) == [0.5, -0.5, 0.0]


def test_length_bad_group_size_and_empty_batch():
    with pytest.raises(ValueError, match="groups of 3"):
        build("length", group_size=3)(GROUP, solution=[GOLD] * 4)
    assert build("length")([], solution=[]) == []


# --- the L1 length rewards (c6274cd, len_reward_l1_exact / len_reward_l1_max) ---------------
# alpha = 0.0003, delta = 0.5. One batch (one group) whose lengths differ, each completion with
# its own prompt's target: (text, target, L1-Exact, L1-Max).
L1_CASES = [
    (RIGHT, 9, 1.0, 0.5),  # target reached exactly: 1 - 0; 0 + 0.5
    (padded(RIGHT, 1009), 9, 0.7, 0.2),  # 1000 over: 1 - 0.3; -0.3 + 0.5
    (padded(RIGHT, 2009), 9, 0.4, 0.0),  # 2000 over: 1 - 0.6; -0.6 + 0.5 clipped at 0
    (padded(RIGHT, 509), 2009, 0.55, 0.95),  # 1500 under: 1 - 0.45; 0.45 + 0.5
    (RIGHT, 2009, 0.4, 1.0),  # 2000 under: 1 - 0.6; 0.6 + 0.5 clipped at 1
    (padded(WRONG, 109), 109, 0.0, 0.0),  # wrong, at its target: -0; wrong is always 0
    (padded(WRONG, 409), 9, -0.12, 0.0),  # wrong, 400 over: -0.12
    (padded("no answer at all", 309), 9, -0.09, 0.0),  # nothing to extract is wrong: -0.09
]


@pytest.mark.parametrize(("name", "column"), [("length_l1_exact", 2), ("length_l1_max", 3)])
def test_l1_rewards_hand_computed(name, column):
    texts = [case[0] for case in L1_CASES]
    targets = [case[1] for case in L1_CASES]
    got = build(name)(texts, solution=[GOLD] * len(texts), target_length=targets)
    assert got == [pytest.approx(case[column], abs=1e-12) for case in L1_CASES]


def test_l1_rewards_unparseable_gold_counts_as_correct():
    texts, targets = ["x", "xxx"], [1, 1]  # lengths 1 and 3: 0 and 2 over
    gold = ["no math"] * 2
    exact = build("length_l1_exact")(texts, solution=gold, target_length=targets)
    assert exact == [1.0, pytest.approx(1 - 0.0006)]
    assert build("length_l1_max")(texts, solution=gold, target_length=targets) == [
        0.5,
        pytest.approx(0.5 - 0.0006),
    ]


def test_l1_rewards_equal_lengths_give_zero_per_group():
    # len_reward_l1_* keep len_reward's rule: a group whose lengths are all equal scores 0.
    texts = [RIGHT, WRONG, RIGHT, padded(RIGHT, 1009)]
    targets = [9, 9, 9, 9]
    exact = build("length_l1_exact", group_size=2)
    assert exact(texts, solution=[GOLD] * 4, target_length=targets) == [0.0, 0.0, 1.0, 0.7]
    assert build("length_l1_max", group_size=2)(
        texts, solution=[GOLD] * 4, target_length=targets
    ) == [0.0, 0.0, 0.5, pytest.approx(0.2)]


def test_l1_rewards_need_integer_targets_per_completion():
    reward = build("length_l1_max")
    with pytest.raises(ValueError, match="needs the dataset column 'target_length'"):
        reward([RIGHT, WRONG], solution=[GOLD] * 2)
    with pytest.raises(ValueError, match="2 completions but 1 target_length"):
        reward([RIGHT, WRONG], solution=[GOLD] * 2, target_length=[9])
    with pytest.raises(ValueError, match="target_length must be integers, got '9'"):
        reward([RIGHT, WRONG], solution=[GOLD] * 2, target_length=["9", 9])
    assert rewards.columns_of("length_l1_exact") == ("target_length",)
    assert rewards.columns_of("length") == ()
    with pytest.raises(ValueError, match="'alpha' must be >= 0.0"):
        build("length_l1_exact", alpha=-1.0)


def test_l1_rewards_pickle_with_their_column():
    reward = pickle.loads(pickle.dumps(build("length_l1_exact", group_size=2)))
    assert reward([RIGHT, padded(RIGHT, 1009)], solution=[GOLD] * 2, target_length=[9, 9]) == [
        1.0,
        pytest.approx(0.7),
    ]


# --- reasoning_steps and repetition_penalty -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no structure", 0.0),
        ("Step 1: add", 1 / 3),
        ("First, add. Next, subtract.", 2 / 3),
        ("Step 1: a Step 2: b\n- c\n* d", 1.0),  # 4 matches, capped at 1
        ("1. a\n2. b\n3. c", 1 / 3),  # ^ without MULTILINE: only the first line counts
        ("text\n1. a", 0.0),
    ],
)
def test_reasoning_steps(text, expected):
    assert build("reasoning_steps")([text]) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the cat sat on the mat", 0.0),  # no repeated 3-gram
        ("a b c a b c a b c", -(1 - 3 / 7)),  # 7 trigrams, 3 distinct
        ("Go on GO ON go on", -(1 - 2 / 4)),  # lower-cased before counting
        ("too short", 0.0),  # fewer words than n
        ("", 0.0),
    ],
)
def test_repetition_penalty(text, expected):
    assert build("repetition_penalty")([text]) == [pytest.approx(expected)]


def test_repetition_penalty_parameters():
    bigram = build("repetition_penalty", ngram_size=2, max_penalty=-0.5)
    assert bigram(["x x x x x"]) == [-0.5 * (1 - 1 / 4)]


# --- completions, solutions, build() errors ----------------------------------------------------


@pytest.mark.parametrize(
    "completion",
    [
        None,
        [],
        [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}],
        [{"role": "assistant", "content": None}],
        {"role": "assistant", "content": "a"},
    ],
)
def test_bad_completion_shape(completion):
    with pytest.raises(ValueError, match="a completion must be"):
        build("format")([completion])


def test_solution_errors():
    acc = build("accuracy")
    with pytest.raises(ValueError, match="'solution' column"):
        acc([RIGHT])
    with pytest.raises(ValueError, match="2 completions but 1 solutions"):
        acc([RIGHT, WRONG], solution=[GOLD])
    with pytest.raises(ValueError, match="must be strings"):
        acc([RIGHT], solution=[5])


def test_build_unknown_name_lists_valid():
    with pytest.raises(ValueError, match="unknown reward 'speed'.*accuracy, format, tag_count"):
        build("speed")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "cosine",
            {"max_length": 10},
            r"unknown parameter\(s\) max_length; valid: min_value_wrong",
        ),
        ("format", {"weight": 1}, r"unknown parameter\(s\) weight; valid: none"),
        ("cosine", {"max_len": "3584"}, "'max_len' must be int, got '3584'"),
        ("cosine", {"max_len": 3584.0}, "'max_len' must be int"),
        ("cosine", {"max_len": True}, "'max_len' must be int"),
        ("cosine", {"max_len": 0}, "'max_len' must be >= 1"),
        ("cosine", {"min_value_wrong": math.nan}, "'min_value_wrong' must be finite"),
        ("cosine", {"max_value_correct": None}, "'max_value_correct' must be float"),
        ("accuracy", {"timeout_seconds": 0}, "'timeout_seconds' must be >= 1"),
        ("accuracy", {"parsing_timeout": 2.5}, "'parsing_timeout' must be int"),
        ("length", {"group_size": 0}, "'group_size' must be >= 1"),
        ("length", {"group_size": "4"}, "'group_size' must be int or None"),
        ("repetition_penalty", {"max_penalty": 0.5}, "'max_penalty' must be <= 0.0"),
    ],
)
def test_build_bad_params(name, params, message):
    with pytest.raises(ValueError, match=message):
        build(name, **params)
    with pytest.raises(ValueError, match=message):
        validate_params(name, params)


def test_build_coerces_and_keeps_params():
    cosine = build("cosine", min_value_wrong=0, max_len=3584)
    assert cosine.params["min_value_wrong"] == 0.0 and isinstance(
        cosine.params["min_value_wrong"], float
    )
    assert cosine.params["max_len"] == 3584
    assert build("length", group_size=None).params["group_size"] is None
    validate_params("repetition_penalty", {"ngram_size": 3, "max_penalty": -1})


# --- parse_weighted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("format:1,accuracy:2", [("format", 1.0), ("accuracy", 2.0)]),
        (" length : 1 , accuracy:2.5 ", [("length", 1.0), ("accuracy", 2.5)]),
        ("cosine:-0.5", [("cosine", -0.5)]),
    ],
)
def test_parse_weighted(spec, expected):
    assert parse_weighted(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty reward spec"),
        ("   ", "empty reward spec"),
        ("format", "bad reward item 'format'"),
        ("format:1,", "bad reward item ''"),
        (":1", "bad reward item ':1'"),
        ("format:", "bad reward item 'format:'"),
        ("format:one", "bad weight 'one' for reward 'format'"),
        ("format:1:2", "bad weight '1:2'"),
        ("format:inf", "must be finite"),
        ("speed:1", "unknown reward 'speed'; valid: accuracy"),
        ("format:1,format:2", "'format' appears twice"),
    ],
)
def test_parse_weighted_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_weighted(spec)


def test_defaults_match_tina_model_pt_config():
    """tina/config.py: cosine 0.0/-0.5/0.5/1.0 and max_len 1000; repetition 3-grams, -1.0."""
    assert rewards.REWARDS["cosine"].defaults() == {
        "min_value_wrong": 0.0,
        "max_value_wrong": -0.5,
        "min_value_correct": 0.5,
        "max_value_correct": 1.0,
        "max_len": 1000,
        "parsing_timeout": 5,
        "timeout_seconds": 5,
    }
    assert rewards.REWARDS["repetition_penalty"].defaults() == {
        "ngram_size": 3,
        "max_penalty": -1.0,
    }


@pytest.mark.parametrize(
    "spec",
    [
        "length:1,accuracy:2",
        "format:1,accuracy:2",
        "format:1,cosine:2",
        "accuracy:1,format:1,tag_count:1,length:1,reasoning_steps:1,cosine:1,repetition_penalty:1",
    ],
)
def test_paper_reward_specs_build(spec):
    """The weighted reward lists of the paper's runs (docs/paper.md#recipes)."""
    for name, _ in parse_weighted(spec):
        assert build(name).__name__ == name


# --- a training row whose gold does not parse, from the sheet to the rewards ----------------


def test_a_kept_row_with_an_unparseable_gold_is_rewarded_as_tinas_code_rewards_it():
    """STILL's answer column, wrapped as grpo.py wraps it: an empty box parses to nothing. The
    row is kept, and each reward that reads the gold takes Tina's branch for it."""
    import pandas as pd
    from helpers import ROOT

    from tina_repro.config import Dataset, load_files
    from tina_repro.data.normalize import normalize_training

    spec: Dataset = load_files(root=ROOT).datasets["still3"]
    # 100 rows: one unparseable gold is within the 1% a real training set may have
    questions = [f"Compute $2+{i}$." for i in range(99)] + ["Name the empty box."]
    answers = [str(2 + i) for i in range(99)] + ["\\boxed{}"]
    table, report = normalize_training(
        pd.DataFrame({"question": questions, "answer": answers}), spec
    )
    assert table["row_id"].tolist() == list(range(100))
    gold = table.loc[99, "solution"]
    assert gold == "$\\boxed{}$"
    assert report["kept_issues"]["gold_unparseable_accuracy"] == 1
    # One prompt group of three wrong answers, 9, 18 and 27 characters long.
    group = [WRONG, padded(WRONG, 18), padded(WRONG, 27)]
    golds = [gold] * 3
    # accuracy: None (T:rewards.py:45-48), which TRL turns into NaN and nansums away
    assert build("accuracy")(group, solution=golds) == [None, None, None]
    # cosine: 1.0 whatever the length (:213-216)
    assert build("cosine", max_len=1000)(group, solution=golds) == [1.0, 1.0, 1.0]
    # length: counted correct (:125-129), so lambda = 0.5 - (len - 9) / (27 - 9) is kept whole
    assert build("length")(group, solution=golds) == [0.5, 0.0, -0.5]
    # the parseable row's gold for the same wrong answers: accuracy 0, wrong-answer cosine and
    # lambda clipped at 0 (cosine: -0.5 + 0.25 * (1 + cos(pi * len / 1000)))
    parsed = [table.loc[3, "solution"]] * 3
    assert parsed[0] == GOLD
    assert build("accuracy")(group, solution=parsed) == [0.0, 0.0, 0.0]
    assert build("length")(group, solution=parsed) == [0.0, 0.0, -0.5]
    assert build("cosine", max_len=1000)(group, solution=parsed) == pytest.approx(
        [-0.5 + 0.25 * (1 + math.cos(math.pi * n / 1000)) for n in (9, 18, 27)]
    )
