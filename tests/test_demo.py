"""The embedded CPU demo's own pieces: task, teacher, local data files, warm start, config, DAG."""

import json
import random
import re
import shutil
from pathlib import Path

import pytest
from helpers import ROOT, demo_config, dry_run, paper_config

from tina_repro.config.rows import as_params
from tina_repro.demo import demo_data, task, warm_start
from tina_repro.demo.tiny_model import GENERATION_PROMPT

LINE = re.compile(r"^(?:(units|tens): )?(\d+(?:[-+*]\d+)+)=(\d+)$")


def _value(expression: str) -> int:
    """Value of a product or of a sum/difference of non-negative integers."""
    if "*" in expression:
        left, right = expression.split("*")
        return int(left) * int(right)
    return sum(int(term) for term in re.findall(r"[-+]?\d+", expression))


def _question_value(problem: task.Problem) -> int:
    """The answer recomputed from the question text alone, independently of the teacher."""
    if problem.level == 3:
        boxes, each, given = map(int, re.findall(r"\d+", problem.question))
        return boxes * each - given
    expression = re.search(r"\$(.+)\$", problem.question).group(1).replace("\\times ", "*")
    if "*" not in expression:
        return _value(expression)
    left, op, right = re.fullmatch(r"(\d+(?:\*\d+)?)([-+])(\d+(?:\*\d+)?)", expression).groups()
    return _value(left) + (1 if op == "+" else -1) * _value(right)


def _check_columns(lines: list[tuple[str | None, str, int]]) -> None:
    """The units and tens lines use the operands' digits and assemble into the final line."""
    (_, units_expr, units), (_, tens_expr, tens), (_, final_expr, result) = lines
    a, op, b = re.fullmatch(r"(\d+)([-+])(\d+)", final_expr).groups()
    a, b = int(a), int(b)
    if op == "+":
        assert units_expr == f"{a % 10}+{b % 10}"
        carry = "+1" if units >= 10 else ""
        assert tens_expr == f"{a // 10}+{b // 10}{carry}"
        assert 10 * tens + units % 10 == result
    else:
        borrow = a % 10 < b % 10
        assert units_expr == f"{a % 10 + 10 * borrow}-{b % 10}"
        assert tens_expr == f"{a // 10}{'-1' if borrow else ''}-{b // 10}"
        assert 10 * tens + units == result


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_data")
    paths = {
        "train": folder / "train.jsonl",
        "sft": folder / "sft.jsonl",
        **{f"bench_l{level}": folder / f"bench_l{level}.jsonl" for level in task.LEVELS},
    }
    counts = demo_data.write_demo_data(
        paths["train"], paths["sft"], {level: paths[f"bench_l{level}"] for level in task.LEVELS}
    )
    rows = {key: [json.loads(line) for line in path.open()] for key, path in paths.items()}
    return paths, counts, rows


def test_generator_is_deterministic(demo_files, tmp_path):
    paths, _, _ = demo_files
    again = {key: tmp_path / path.name for key, path in paths.items()}
    demo_data.write_demo_data(
        again["train"], again["sft"], {level: again[f"bench_l{level}"] for level in task.LEVELS}
    )
    for key, path in paths.items():
        assert again[key].read_bytes() == path.read_bytes(), key


def test_benchmarks_are_distinct_per_level_and_excluded_from_all_training(demo_files):
    _, counts, rows = demo_files
    benchmark = set()
    for level in task.LEVELS:
        questions = [row["problem"] for row in rows[f"bench_l{level}"]]
        assert len(questions) == len(set(questions)) == task.BENCHMARK_SIZE
        benchmark.update(questions)
    assert len(benchmark) == 3 * task.BENCHMARK_SIZE
    train = [row["problem"] for row in rows["train"]]
    assert len(train) == len(set(train)) == demo_data.TRAIN_SIZE == counts["train"]
    sft = [row["problem"] for row in rows["sft"]]
    assert len(sft) == warm_start.WarmStartSettings().n_examples == counts["sft"]
    assert not benchmark & set(train)
    assert not benchmark & set(sft)
    # All three levels are trained on, in about equal shares.
    shares = [sum(row["level"] == level for row in rows["sft"]) / len(sft) for level in task.LEVELS]
    assert all(0.3 < share < 0.37 for share in shares), shares


@pytest.mark.parametrize("level", task.LEVELS)
def test_every_teacher_step_is_right_and_the_boxed_answer_is_the_gold(level):
    rng = random.Random(level)
    for _ in range(1000):
        problem = task.make_problem(rng, level)
        assert problem.level == level
        assert problem.answer == _question_value(problem) >= 0
        completion = task.teacher_completion(problem)
        reasoning, answer_line = completion.split(task.THINK_END)
        assert answer_line == f"The answer is $\\boxed{{{problem.answer}}}$."
        lines = []
        for text in reasoning.split("\n"):
            match = LINE.match(text)
            assert match, text
            column, expression, result = match.group(1), match.group(2), int(match.group(3))
            assert _value(expression) == result, text
            lines.append((column, expression, result))
        assert [c for c, _, _ in lines[-3:]] == ["units", "tens", None]
        _check_columns(lines[-3:])
        assert lines[-1][2] == problem.answer
        if level > 1:  # the product comes first and is an operand of the final line
            assert lines[0][0] is None
            assert lines[0][2] in map(int, re.split(r"[-+]", lines[-1][1]))
        unanswered = task.teacher_completion(problem, answered=False)
        check = f"check: {problem.answer}{'+' if '-' in lines[-1][1] else '-'}"
        assert unanswered.startswith(reasoning + "\n" + check)
        assert unanswered.endswith("\n</think>")
        # The check ends on an operand of the last step, not on the answer.
        last_number = int(re.findall(r"\d+", unanswered)[-1])
        assert last_number == int(re.split(r"[-+]", lines[-1][1])[0])


def test_make_problem_rejects_an_unknown_level():
    with pytest.raises(ValueError, match="unknown level 4"):
        task.make_problem(random.Random(0), 4)


def test_thirty_percent_of_teacher_traces_have_no_answer(demo_files):
    _, counts, rows = demo_files
    unanswered = [row for row in rows["sft"] if not row["answered"]]
    assert len(unanswered) == counts["sft_unanswered"]
    assert len(unanswered) == round(demo_data.UNANSWERED_FRACTION * len(rows["sft"]))
    assert all(row["completion"].endswith("\n</think>") for row in unanswered)
    assert all("\\boxed" not in row["completion"] for row in unanswered)
    answered = [row for row in rows["sft"] if row["answered"]]
    assert all(row["completion"].endswith("$.") for row in answered)


def test_paper_rewards_and_grader_score_the_teacher_as_intended(demo_files):
    """Answered traces earn the accuracy reward and pass the paper's grader on every gold form;
    unanswered ones (a backwards check, </think>, then nothing) get no reward at all, which is the
    headroom GRPO can close."""
    from tina_repro.eval.grading import grade
    from tina_repro.rewards import build

    _, _, rows = demo_files
    accuracy, fmt = build("accuracy"), build("format")
    problem = task.make_problem(random.Random(0), 2)
    answered, unanswered = (task.teacher_completion(problem, flag) for flag in (True, False))
    gold = f"${problem.answer}$"  # the training gold once the sheet's wrap_solution applied
    assert accuracy([answered, unanswered], [gold, gold]) == [1.0, 0.0]
    assert fmt([answered, unanswered]) == [1.0, 0.0]
    assert all(
        row["solution"].endswith(f"$\\boxed{{{row['answer']}}}$.") for row in rows["bench_l3"]
    )
    for gold, gold_format in (
        (str(problem.answer), "expr"),
        (task.worked_solution(problem), "latex"),
    ):
        assert grade(answered, gold, "math", gold_format).correct
        assert grade(answered, gold, "math", gold_format).formatted
        assert not grade(unanswered, gold, "math", gold_format).correct
        assert not grade(unanswered, gold, "math", gold_format).formatted


def test_local_files_go_through_the_normal_data_stage(demo_files, tmp_path):
    """Every demo row passes the paper's checks: nothing dropped, sizes as the demo sheets say."""
    import dataclasses

    from tina_repro.data import prepare

    paths, _, _ = demo_files
    wc = demo_config()
    templates, seed = wc.config["prompt_templates"], wc.config["evaluation"]["seed"]
    for name, spec in wc.benchmarks.items():
        local = dataclasses.replace(spec, source=f"local:{paths[Path(spec.source).stem]}")
        report = prepare.prepare_benchmark(
            local, templates, seed, tmp_path / f"{name}.parquet", tmp_path / f"{name}.json"
        )
        assert report["rows_kept"] == report["rows_read"] == task.BENCHMARK_SIZE
    for name, spec in wc.datasets.items():
        local = dataclasses.replace(spec, source=f"local:{paths['train']}")
        report = prepare.prepare_training_dataset(
            local, tmp_path / f"{name}.parquet", tmp_path / f"{name}.json"
        )
        assert report["rows_kept"] == demo_data.TRAIN_SIZE


@pytest.mark.slow
def test_warm_start_smoke_lowers_the_loss_and_trains_only_the_completion(demo_files, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, rows = demo_files
    sft = tmp_path / "sft.jsonl"
    settings = warm_start.WarmStartSettings(steps=20, batch_size=8)
    sft.write_text("".join(json.dumps(row) + "\n" for row in rows["sft"][: settings.n_examples]))
    out = tmp_path / "model"
    report = warm_start.build_demo_base_model(sft, out, size="test", settings=settings)
    assert report["loss_last"] < 0.8 * report["loss_first"]
    assert report["n_examples"] == 160
    recorded = json.loads((out / "warm_start.json").read_text())
    assert recorded["loss_last"] == report["loss_last"]
    # the model's folder holds no fact of the run: the same weights built again are the same model
    assert report["wall_seconds"] > 0 and not set(warm_start.RUN_FACTS) & set(recorded)

    tokenizer = AutoTokenizer.from_pretrained(out)
    AutoModelForCausalLM.from_pretrained(out)  # reloads
    [(prompt, completion)] = warm_start.encode_sft_examples(tokenizer, rows["sft"][:1])
    assert tokenizer.decode(prompt).endswith(rows["sft"][0]["problem"] + GENERATION_PROMPT)
    assert completion[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(completion[:-1]) == rows["sft"][0]["completion"]
    ids, mask, labels = warm_start._batch([(prompt, completion), (prompt, completion[:3])], 0)
    assert labels[0].tolist() == [-100] * len(prompt) + completion
    assert labels[1].tolist() == [-100] * len(prompt) + completion[:3] + [-100] * (
        len(completion) - 3
    )
    assert mask[1].sum().item() == len(prompt) + 3


def test_warm_start_grpo_and_evaluation_see_the_same_prompt(tmp_path):
    """The warm start teaches completions after exactly the text GRPO rollouts and evaluation
    feed the model under the demo config (its system prompt, template and prompt template)."""
    import pandas as pd
    from transformers import AutoTokenizer

    from tina_repro.demo.tiny_model import build_tiny_model
    from tina_repro.eval.requests import render_prompt
    from tina_repro.train.prompts import prepare_prompts

    wc = demo_config()
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "model", size="test"))
    assert wc.config["training_chat_template"] == ""  # GRPO keeps the model's own template
    problem = task.make_problem(random.Random(0), 3).question
    [(prompt_ids, _)] = warm_start.encode_sft_examples(
        tokenizer, [{"problem": problem, "completion": ""}]
    )
    warm_start_prompt = tokenizer.decode(prompt_ids)

    name = next(iter(wc.experiments))
    dataset, _ = prepare_prompts(
        pd.DataFrame({"problem": [problem], "solution": ["$1$"], "row_id": [0]}),
        tokenizer,
        wc.system_prompt(name),
        wc.experiments[name].max_prompt_length,
    )
    rollout_prompt = tokenizer.apply_chat_template(
        dataset[0]["prompt"], tokenize=False, add_generation_prompt=True
    )
    evaluation_prompt = render_prompt(
        tokenizer, wc.config["prompt_templates"]["math"].format(Question=problem)
    )
    assert warm_start_prompt == rollout_prompt == evaluation_prompt
    assert warm_start_prompt.endswith(problem + GENERATION_PROMPT)


def test_warm_start_refuses_too_few_traces(demo_files, tmp_path):
    _, _, rows = demo_files
    sft = tmp_path / "sft.jsonl"
    sft.write_text(json.dumps(rows["sft"][0]) + "\n")
    with pytest.raises(ValueError, match="needs 2 steps x 4 = 8"):
        warm_start.warm_start(tmp_path, sft, warm_start.WarmStartSettings(steps=2, batch_size=4))


def test_demo_config_validates_and_runs_every_table_on_cpu():
    wc = demo_config()
    assert wc.config["base_model"]["source"] == "local:resources/demo/base_model"
    assert wc.config["evaluation"]["backend"] == "transformers"
    assert all(row.gpus == 0 and not row.use_vllm for row in wc.experiments.values())
    for table in ("main", "datasets", "learning_rate", "lora_rank", "rl_algorithm", "rewards"):
        assert wc.experiments_in(table), table
    for table in ("learning_rate", "lora_rank", "rl_algorithm"):
        assert len(wc.experiments_in(table)) == 2, table
    [main] = wc.experiments_in("main")
    row = wc.experiments[main]
    for name in wc.experiments_in("learning_rate", "lora_rank", "rl_algorithm", "rewards"):
        # Every run saves at least 4 checkpoints; ablations share the main run's schedule.
        ablation = wc.experiments[name]
        assert ablation.stop_step // ablation.save_steps >= 4
        assert ablation.max_steps == row.max_steps
    # The format-only test: the main run's settings but the rewards of Tina's format ablation
    # (no accuracy reward), compared with the main run at the same final step.
    fmt = as_params(wc.experiments["demo_format"])
    assert {k for k in fmt if fmt[k] != as_params(row)[k]} == {
        "name",
        "tables",
        "rewards",
        "comment",
        "compared_with",
    }
    assert fmt["rewards"] == paper_config().experiments["open_rs3_format"].rewards
    assert "accuracy" not in fmt["rewards"] and fmt["compared_with"] == main
    sources = [spec.source for spec in (*wc.datasets.values(), *wc.benchmarks.values())]
    assert all(source.startswith("local:resources/demo/") for source in sources)


@pytest.mark.slow
def test_demo_dag_builds_its_inputs_first_and_the_paper_dag_never_does(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    code, counts, output = dry_run(
        tmp_path, "results/tables/main.csv", "--configfile", "config/demo/config.yaml"
    )
    assert code == 0, output
    assert counts["make_demo_data"] == counts["build_demo_model"] == 1
    assert counts["prepare_dataset"] == 1 and counts["prepare_benchmark"] == 3
    assert counts["train_grpo"] == 1
    assert counts["generate_samples"] == 1  # the base model, every level in one job
    assert counts["grade_samples"] == 3  # one per level
    assert "download_model" not in counts
    code, counts, output = dry_run(tmp_path, "results/tables/main.csv")
    assert code == 0, output
    assert "make_demo_data" not in counts and "build_demo_model" not in counts


def demo_results(tmp_path: Path, gain: tuple[float, float, float], format_rate: float):
    """A finished demo's main table (base and main run averages) and the main run's training log,
    with the given gain (point, CI low, CI high) and evaluated format rate."""
    import pandas as pd

    from tina_repro import paths

    wc = demo_config()
    (run,) = wc.experiments_in("main")
    log = tmp_path / paths.RUN_LOG_HISTORY.format(experiment=run)
    log.parent.mkdir(parents=True)
    rising = [0.6 + 0.38 * step / 79 for step in range(80)]
    pd.DataFrame({"step": range(1, 81), "rewards/format/mean": rising}).to_csv(log, index=False)
    average = {"benchmark": "average", "ci_low": 0.0, "ci_high": 0.0}
    main = pd.DataFrame(
        [
            {**average, "model": "base", "step": None, "reproduced": 40.8, "format_rate": 64.4},
            {
                **average,
                "model": run,
                "step": wc.experiments[run].stop_step,
                "reproduced": 40.8 + gain[0],
                "gain_vs_base": gain[0],
                "gain_ci_low": gain[1],
                "gain_ci_high": gain[2],
                "format_rate": format_rate,
                "accuracy_given_formatted": 63.6,
            },
        ]
    )
    return wc, main


@pytest.mark.parametrize(
    ("gain", "format_rate", "failure"),
    [
        ((22.8, 19.5, 25.9), 99.9, None),  # CI's machine at eddb91f
        ((12.0, 9.3, 14.7), 99.0, None),  # another CPU, same commit
        ((1.0, -1.5, 3.5), 99.9, "need a gain whose 95% CI lies above zero"),
        ((12.0, 9.3, 14.7), 90.0, "format rate 90.0% is below 95.0%"),
    ],
)
def test_the_demo_check_holds_invariants_not_one_machines_numbers(
    tmp_path, gain, format_rate, failure
):
    import check_demo

    wc, main = demo_results(tmp_path, gain, format_rate)
    problems = check_demo.check_learning(tmp_path, wc, main)
    if failure is None:
        assert problems == []
    else:
        assert len(problems) == 1 and failure in problems[0], problems
