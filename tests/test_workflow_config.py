"""Validation of config.yaml and the sheets: every mistake is caught with file, line and key."""

import copy
import dataclasses
import re

import pytest
import yaml
from helpers import ROOT, edit_sheet, set_cell

from tina_repro.config import BASELINE_RUN, ConfigError, EvaluationSettings, load, load_files
from tina_repro.config.rows import as_params, training_params
from tina_repro.config.sheets import load_schema
from tina_repro.data.spec import preparation_spec
from tina_repro.fingerprints import digest_of
from tina_repro.train.context import TrainingContext

PAPER_CONFIG = ROOT / "config" / "config.yaml"


@pytest.fixture
def paper_config():
    return yaml.safe_load(PAPER_CONFIG.read_text())


def test_paper_config_loads_with_typed_rows(paper_config):
    wc = load(paper_config, ROOT)
    # the paper's 15 runs and its 3 further readings, the later commit's 6 recipes and the
    # intended reading of the long-completion one; one seed each
    assert len(wc.experiments) == 25
    assert wc.replicates["open_rs2"] == ("open_rs2",)
    assert wc.experiments_in("main") == ["still", "deepscaler", "open_rs1", "open_rs2", "open_rs3"]
    assert len(wc.experiments_in("datasets", "learning_rate", "lora_rank", "rl_algorithm")) == 20
    assert wc.experiments_in("rewards", "completion_length", "length_control") == [
        "open_rs3_format",
        "open_rs3_long_completion",
        "open_rs3_long_completion_drgrpo_tina",
        "l1_exact",
        "l1_max",
    ]
    assert wc.experiments["open_rs3_format"].compared_with == "open_rs3"
    drgrpo = wc.experiments["open_rs3_drgrpo"]  # as released: the typo left plain GRPO
    assert (drgrpo.loss_type, drgrpo.scale_rewards, drgrpo.beta) == ("grpo", "group", 0.04)
    tina = wc.experiments["open_rs3_drgrpo_tina"]
    assert (tina.loss_type, tina.scale_rewards) == ("bnpo", "none")
    assert drgrpo.learning_rate == pytest.approx(1e-6)
    assert drgrpo.lora_target_modules[0] == "q_proj" and len(drgrpo.lora_target_modules) == 7
    assert wc.experiments["open_r1"].max_steps is None  # one epoch, cut at stop_step
    assert (wc.experiments["open_r1"].stop_step, wc.experiments["open_thoughts"].stop_step) == (
        1900,
        2800,
    )
    assert (wc.experiments["limr_rank128"].lora_r, wc.experiments["limr_rank128"].lora_alpha) == (
        128,
        512,
    )
    assert wc.experiments["limr"].use_vllm is True
    assert wc.system_prompt("open_rs2") == wc.config["system_prompts"]["open_rs"]
    assert wc.system_prompt("open_rs1") == wc.config["system_prompts"]["open_r1"]
    assert set(wc.benchmarks) == {
        "aime24",
        "aime25",
        "amc23",
        "math_500",
        "gpqa_diamond",
        "minerva",
    }
    sizes = {name: row.expected_size for name, row in wc.benchmarks.items()}
    assert sizes == {
        "aime24": 30,
        "aime25": 30,
        "amc23": 40,
        "math_500": 500,
        "gpqa_diamond": 198,
        "minerva": 272,
    }
    assert len(wc.baselines) == 8
    still = wc.baselines["still_released"]
    assert (still.kind, still.checkpoint_step, still.compared_with) == (
        "released_adapter",
        2000,
        "still",
    )
    assert (wc.baselines["base"].kind, wc.baselines["base"].checkpoint_step) == ("baseline", None)
    # The released adapters sit on the base model, yet the base model's row is the untrained one.
    assert wc.base_model_point() == "base"


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("compared_with", "stil", "key 'compared_with': 'stil' needs an adapter and a row of"),
        ("adapter", "", "key 'adapter_subfolder': set without an adapter"),
        ("adapter_subfolder", "../checkpoint-2000", "adapter_subfolder"),
    ],
)
def test_bad_released_adapter_rows_are_named(paper_config, tmp_path, column, value, message):
    edit = set_cell("still_released", column, value)
    paper_config["baselines"] = edit_sheet(
        ROOT / "config/baselines.tsv", edit, out=tmp_path / "baselines.tsv"
    )
    with pytest.raises(ConfigError, match=message) as error:
        load(paper_config, ROOT)
    assert "baselines.tsv line 8 (name=still_released)" in str(error.value)


def test_misspelled_column_names_file_row_and_key(paper_config, tmp_path):
    def add_typo(header, rows):
        header.append("scale_reward")
        for row in rows:
            row.append("false" if row[0] == "open_rs3_drgrpo" else "")

    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", add_typo, out=tmp_path / "experiments.tsv"
    )
    with pytest.raises(ConfigError) as error:
        load(paper_config, ROOT)
    message = str(error.value)
    assert "experiments.tsv line 17 (name=open_rs3_drgrpo)" in message
    assert "unknown key 'scale_reward'" in message
    assert "\n" not in message


def test_misspelled_config_key_is_named(paper_config):
    paper_config["evaluation"]["temprature"] = 0.6
    with pytest.raises(ConfigError, match=r"^config: unknown key 'evaluation/temprature'"):
        load(paper_config, ROOT)


def test_missing_config_key_is_named(paper_config):
    del paper_config["evaluation"]["top_p"]
    with pytest.raises(ConfigError, match="'top_p' is a required property"):
        load(paper_config, ROOT)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("rewards", "format:1,acuracy:2", "key 'rewards': unknown reward 'acuracy'"),
        ("rewards", "format=1", "key 'rewards'"),
        ("lora_r", "thirty-two", "key 'lora_r': 'thirty-two' is not valid"),
        ("lora_r", "0", "key 'lora_r': 0 is less than the minimum of 1"),
        ("learning_rate", "2", "key 'learning_rate'"),
        ("loss_type", "ppo", "key 'loss_type': 'ppo' is not one of"),
        ("use_vllm", "maybe", "key 'use_vllm'"),
        ("stop_step", "400", "key 'stop_step': 400 is beyond max_steps 360"),
        ("save_steps", "500", "key 'save_steps': 500 is beyond the last step 180"),
        ("prompts_per_step", "7", "key 'prompts_per_step': 7 prompts cannot be split evenly"),
        ("dataset", "limr2", "key 'dataset': 'limr2' is not a row"),
        ("tables", "main;ablation", "key 'tables'"),
        ("name", "limr/x", "key 'name'"),
    ],
)
def test_bad_experiment_values(paper_config, tmp_path, column, value, expected):
    edit = set_cell("limr", column, value)
    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", edit, out=tmp_path / "experiments.tsv"
    )
    with pytest.raises(ConfigError) as error:
        load(paper_config, ROOT)
    assert "experiments.tsv line " in str(error.value)
    assert expected in str(error.value)


def test_cpu_row_cannot_ask_for_vllm(paper_config, tmp_path):
    def cpu_with_vllm(header, rows):
        set_cell("limr", "gpus", "0")(header, rows)

    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", cpu_with_vllm, out=tmp_path / "experiments.tsv"
    )
    with pytest.raises(ConfigError, match="key 'use_vllm': vLLM rollouts need gpus >= 1"):
        load(paper_config, ROOT)


def test_duplicate_experiment_name(paper_config, tmp_path):
    def duplicate(header, rows):
        rows.append(list(rows[0]))

    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", duplicate, out=tmp_path / "experiments.tsv"
    )
    with pytest.raises(ConfigError, match="duplicate name 'still'"):
        load(paper_config, ROOT)


def test_unknown_system_prompt_key(paper_config, tmp_path):
    edit = set_cell("limr", "system_prompt", "open_r2")
    paper_config["datasets"] = edit_sheet(
        ROOT / "config/datasets.tsv", edit, out=tmp_path / "datasets.tsv"
    )
    with pytest.raises(ConfigError, match="datasets.tsv line .*key 'system_prompt'"):
        load(paper_config, ROOT)


def test_l1_rewards_need_a_dataset_with_target_length(paper_config, tmp_path):
    edit = set_cell("deepscaler", "rewards", "format:1,length_l1_exact:2")
    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", edit, out=tmp_path / "experiments.tsv"
    )
    with pytest.raises(ConfigError) as error:
        load(paper_config, ROOT)
    assert "experiments.tsv line 3 (name=deepscaler): key 'rewards'" in str(error.value)
    assert "'length_l1_exact' reads each prompt's target_length, but dataset 'deepscaler'" in str(
        error.value
    )
    reversed_range = set_cell("deepscaler_l1", "target_length", "4000-100")
    paper_config["experiments"] = "config/experiments.tsv"
    paper_config["datasets"] = edit_sheet(
        ROOT / "config/datasets.tsv", reversed_range, out=tmp_path / "datasets.tsv"
    )
    with pytest.raises(ConfigError, match="key 'target_length': 4000-100 has its lowest"):
        load(paper_config, ROOT)


def test_target_length_is_a_training_param_only_where_it_is_set(paper_config):
    wc = load(paper_config, ROOT)
    assert wc.datasets["deepscaler_l1"].target_length == (100, 4000)
    assert wc.datasets["deepscaler"].target_length is None
    # preparation never sees it: editing the budgets re-prepares (and retrains) nothing else
    l1 = wc.datasets["deepscaler_l1"]
    assert preparation_spec(l1) == preparation_spec(dataclasses.replace(l1, target_length=None))
    # a run without budgets keeps the training params it had before the field existed
    context = TrainingContext.of(wc, "open_rs2")
    assert "target_length" not in context.as_params()
    assert TrainingContext(**context.as_params()) == context


def test_a_row_with_several_seeds_becomes_one_run_per_seed(paper_config, tmp_path):
    edit = set_cell("open_rs2", "seeds", "42;43;44")
    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", edit, out=tmp_path / "experiments.tsv"
    )
    wc = load(paper_config, ROOT)
    runs = ("open_rs2", "open_rs2_seed43", "open_rs2_seed44")
    assert wc.replicates["open_rs2"] == runs
    assert [wc.experiments[run].seed for run in runs] == [42, 43, 44]
    # replicates share everything but the name and the seed
    base = as_params(wc.experiments["open_rs2"])
    for run in runs[1:]:
        other = as_params(wc.experiments[run])
        assert {k for k in base if base[k] != other[k]} == {"name", "seed"}
        assert wc.row_of(run) == "open_rs2"
        assert wc.where("experiments", run).endswith("line 5 (name=open_rs2_seed43)") == (
            run == "open_rs2_seed43"
        )
    assert wc.experiments_in("main")[3:6] == list(runs)
    # a table shows the row once: its mean over the seeds
    assert wc.rows_in("main") == ["still", "deepscaler", "open_rs1", "open_rs2", "open_rs3"]
    # the first run keeps the training params it had with one seed
    single = load(yaml.safe_load(PAPER_CONFIG.read_text()), ROOT)
    assert training_params(wc.experiments["open_rs2"]) == training_params(
        single.experiments["open_rs2"]
    )


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ("42;43;42", "line 5 (name=open_rs2): key 'seeds': seed 42 is given twice"),
        ("42, 43", "line 5 (name=open_rs2): key 'seeds'"),
    ],
)
def test_bad_seeds_are_named(paper_config, tmp_path, seeds, message):
    edit = set_cell("open_rs2", "seeds", seeds)
    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", edit, out=tmp_path / "experiments.tsv"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(paper_config, ROOT)


def test_a_replicate_may_not_take_another_rows_name(paper_config, tmp_path):
    def edit(header, rows):
        rows.insert(0, [*rows[7]])  # a copy of limr named like limr's second replicate
        rows[0][0] = "limr_seed43"
        set_cell("limr", "seeds", "42;43")(header, rows)

    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", edit, out=tmp_path / "experiments.tsv"
    )
    message = "line 10 (name=limr): the replicate 'limr_seed43' has the name of the row on line 2"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(paper_config, ROOT)


def test_compared_with_names_another_row(paper_config, tmp_path):
    for value in ("open_rs3_format", "no_such_row"):
        edit = set_cell("open_rs3_format", "compared_with", value)
        paper_config["experiments"] = edit_sheet(
            ROOT / "config/experiments.tsv", edit, out=tmp_path / "experiments.tsv"
        )
        with pytest.raises(ConfigError, match=f"key 'compared_with': '{value}' is not another"):
            load(paper_config, ROOT)


def test_ten_seed_overlay_asks_for_one_seed_per_sample(paper_config):
    wc = load_files(ROOT / "config" / "eval-10-seeds.yaml", root=ROOT)
    evaluation = wc.evaluation
    assert evaluation.samples_per_problem == 10
    assert evaluation.sample_seeds == tuple(range(10))
    assert evaluation.temperature == 0.6 and evaluation.max_new_tokens == 32768
    assert load(copy.deepcopy(paper_config), ROOT).evaluation.sample_seeds == ()
    paper_config["evaluation"]["sample_seeds"] = [0, 1, 2]
    with pytest.raises(ConfigError, match="'evaluation/sample_seeds': 3 seeds for samples_per"):
        load(paper_config, ROOT)


def test_evaluation_settings_type_every_key_of_the_block(paper_config):
    schema = load_schema("config.schema.yaml")["properties"]["evaluation"]["properties"]
    fields = {f.name for f in dataclasses.fields(EvaluationSettings)}
    assert fields == set(schema)
    settings = load(paper_config, ROOT).evaluation
    assert (settings.backend, settings.vllm_device, settings.adapter_mode) == (
        "vllm",
        "cuda",
        "merged",
    )
    assert (settings.grading_timeout_s, settings.vllm_enforce_eager) == (5, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 0
    # the number YAML wrote stays as written: the samples' identity hashes its JSON
    paper_config["evaluation"]["temperature"] = 1
    identity = load(paper_config, ROOT).evaluation.sampling_identity(has_adapter=False)
    assert type(identity["temperature"]) is int


def every_sampling_identity(wc) -> list:
    """(run, point, identity as ordered items) of every evaluated model of ``wc``: a checkpoint
    of each run, which has an adapter, and every baselines row."""
    models = [(BASELINE_RUN, name, bool(row.adapter)) for name, row in wc.baselines.items()]
    models += [(run, "step-1", True) for run in wc.experiments]
    return [
        [run, point, list(wc.evaluation_settings(run, point).sampling_identity(adapter).items())]
        for run, point, adapter in models
    ]


# digest_of(every_sampling_identity(...)) of each config as eval.requests.sampling_settings
# computed the generation rule's params before EvaluationSettings (main at a07ac12): another
# value here is another identity, which regenerates every finished sample of that config.
IDENTITIES_BEFORE = {
    (): "cdf4ebc6c2a4a46b9069cb38039f2e7ec553b40f055739e90e4b6ed3d5765252",
    ("demo/config.yaml",): "49462a0ce5bef8682d023fbc45dfb9782b8112c0c2c889ac2a97e0d6dfd84402",
    ("eval-10-seeds.yaml",): "3aed133ec2b256554b32567e77be5ecbc9c25316ac9de9c645254b7318aa6da4",
    ("gpu-check/config.yaml",): "5df404fb1edf441b24eb3d7d1042e92e2f17f7112b29742a4b12de06cc0c74ff",
}


@pytest.mark.parametrize("overlays", list(IDENTITIES_BEFORE))
def test_sampling_identities_are_those_finished_samples_carry(overlays):
    wc = load_files(*(ROOT / "config" / name for name in overlays), root=ROOT)
    identities = every_sampling_identity(wc)
    assert digest_of(identities) == IDENTITIES_BEFORE[overlays]
    if not overlays:  # the paper's base model, key by key in the order Snakemake compares
        assert identities[0] == [
            BASELINE_RUN,
            "base",
            [
                ("backend", "vllm"),
                ("temperature", 0.6),
                ("top_p", 0.95),
                ("max_new_tokens", 32768),
                ("samples_per_problem", 1),
                ("seed", 1234),
                ("max_model_len", 32768),
                ("prompt_tokens", "lighteval"),
            ],
        ]
    if overlays == ("gpu-check/config.yaml",):  # a baselines row's own prompt tokens
        own = wc.evaluation_settings(BASELINE_RUN, "base_chat_template")
        assert own.sampling_identity(False)["prompt_tokens"] == "chat_template"
        assert wc.evaluation.prompt_tokens == "lighteval"


def test_heldout_selection_needs_a_proper_subset(paper_config):
    paper_config["selection"] = {"rule": "heldout", "selection_benchmarks": []}
    with pytest.raises(ConfigError, match="selection_benchmarks"):
        load(paper_config, ROOT)
    paper_config["selection"]["selection_benchmarks"] = ["aime24", "nope"]
    with pytest.raises(ConfigError, match="unknown 'nope'"):
        load(paper_config, ROOT)
    paper_config["selection"]["selection_benchmarks"] = ["math_500"]
    assert load(copy.deepcopy(paper_config), ROOT).config["selection"]["rule"] == "heldout"


def test_load_files_merges_like_configfile(tmp_path):
    override = tmp_path / "override.yaml"
    override.write_text("evaluation:\n  samples_per_problem: 10\n")
    wc = load_files(override, root=ROOT)
    assert wc.config["evaluation"]["samples_per_problem"] == 10
    assert wc.config["evaluation"]["temperature"] == 0.6


def readme_columns(sheet: str) -> dict[str, str]:
    """{column: meaning} of the column table under config/README.md's ``## {sheet}.tsv``; a row
    naming several columns gives each the row's meaning."""
    readme = (ROOT / "config" / "README.md").read_text()
    section = re.search(rf"^## {sheet}\.tsv.*?$(.*?)(?=^## |\Z)", readme, re.M | re.S).group(1)
    columns = {}
    for line in section.splitlines():
        if row := re.match(r"^\| ((?:`[a-z0-9_]+`(?:, )?)+) \| (.*) \|$", line):
            for column in re.findall(r"`([a-z0-9_]+)`", row.group(1)):
                assert column not in columns, f"{sheet}.tsv column {column} described twice"
                columns[column] = row.group(2)
    return columns


@pytest.mark.parametrize("sheet", ["experiments", "datasets", "benchmarks", "baselines"])
def test_config_readme_shows_each_columns_schema_description(sheet):
    """A column is described once, in its schema's description; the README's table shows it."""
    from tina_repro.config.sheets import load_schema

    schema = {
        column: spec["description"]
        for column, spec in load_schema(f"{sheet}.schema.yaml")["properties"].items()
    }
    assert readme_columns(sheet) == schema


def test_config_readme_describes_every_config_key():
    from tina_repro.config.sheets import load_schema

    readme = (ROOT / "config" / "README.md").read_text()
    for key, spec in load_schema("config.schema.yaml")["properties"].items():
        assert f"`{key}" in readme, key
        for sub in spec.get("properties", {}):
            assert f".{sub}`" in readme or f"`{key}.{sub}" in readme, f"{key}.{sub}"


def test_preflight_refuses_gpu_jobs_on_a_smaller_host_naming_the_fix(paper_config):
    from tina_repro.config.preflight import DeviceShortfall, check_devices

    wc = load(paper_config, ROOT)
    training = [("train_grpo", {"experiment": "limr"}, 2)]
    check_devices(wc, training, 2)
    with pytest.raises(DeviceShortfall, match=r"experiments.tsv line 9 \(name=limr\): trains on 2"):
        check_devices(wc, training, 1)
    generation = [("generate_samples", {"run": "baseline", "point": "base", "benchmark": "x"}, 1)]
    with pytest.raises(DeviceShortfall, match="evaluation.backend: transformers"):
        check_devices(wc, generation, 0)


def test_jobs_see_every_row_setting_but_not_the_comments(paper_config):
    from tina_repro.config import from_sheet_params, sheet_params

    wc = load(paper_config, root=ROOT)
    seen = from_sheet_params(wc.config, sheet_params(wc))
    for sheet in ("experiments", "datasets", "benchmarks", "baselines"):
        rows = getattr(wc, sheet)
        assert list(getattr(seen, sheet)) == list(rows)  # the sheet's order
        assert any(row.comment for row in rows.values())
        for name, row in getattr(seen, sheet).items():
            assert row == dataclasses.replace(rows[name], comment=None)
    assert seen.replicates == wc.replicates  # the tables group a row's seeds by it


def test_jobs_see_a_rows_replicates(paper_config, tmp_path):
    from tina_repro.config import from_sheet_params, sheet_params

    edit = set_cell("open_rs2", "seeds", "42;43")
    paper_config["experiments"] = edit_sheet(
        ROOT / "config/experiments.tsv", edit, out=tmp_path / "experiments.tsv"
    )
    wc = load(paper_config, root=ROOT)
    seen = from_sheet_params(wc.config, sheet_params(wc))
    assert seen.replicates["open_rs2"] == ("open_rs2", "open_rs2_seed43")
    assert "open_rs2" in seen.experiments_in("main")  # once, with its two runs
