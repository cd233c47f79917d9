"""The config edits that must rerun nothing expensive on a finished workflow, each with the jobs it
may bring: checked on the finished demo by check_harmless_edits.py and on a synthetic finished
paper tree by test_reruns.py.

- settings that shape no output (``grading_processes``, vLLM memory, batch size, the template of a
  task the benchmarks do not use, the free-text comment of a row of each sheet): nothing at all;
- the prices and the selection rule: only the tables and figures that print them (that is how a
  price change reaches costs.csv), never training, generation, grading or preparation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers import edit_first_comment, edit_sheet

from tina_repro.config import WorkflowConfig
from tina_repro.config.rows import SHEET_ROWS

#: jobs that only read results and print them: tables, their score collections and figures
REPORTING_RULES = re.compile(r"^(all|tables|figures|collect_\w+|\w+_table|figure_\w+)$")


@dataclass(frozen=True)
class Edit:
    """A config edit: ``overlay(wc, scratch)`` is the file merged over the run's configuration
    ``wc`` (it may write files into the folder ``scratch``); ``reaches`` says which planned jobs
    it may bring (a rule name -> allowed)."""

    name: str
    overlay: Callable[[WorkflowConfig, Path], dict]
    reaches: Callable[[str], bool]


def _nothing(rule: str) -> bool:
    return False


def _reporting(rule: str) -> bool:
    return bool(REPORTING_RULES.match(rule))


def _times_four(wc: WorkflowConfig, scratch: Path) -> dict:
    prices = wc.config["cost"]["usd_per_device_hour"]
    return {"cost": {"usd_per_device_hour": {device: p * 4 for device, p in prices.items()}}}


def _other_selection(wc: WorkflowConfig, scratch: Path) -> dict:
    rule = "final" if wc.config["selection"]["rule"] != "final" else "paper"
    return {"selection": {"rule": rule, "selection_benchmarks": []}}


def _evaluation(key: str, change: Callable) -> Callable[[WorkflowConfig, Path], dict]:
    return lambda wc, scratch: {"evaluation": {key: change(wc.config["evaluation"][key])}}


def _template(task: str) -> Callable[[WorkflowConfig, Path], dict]:
    return lambda wc, scratch: {
        "prompt_templates": {task: wc.config["prompt_templates"][task] + "\n(edited)"}
    }


def _comment(sheet: str) -> Callable[[WorkflowConfig, Path], dict]:
    def overlay(wc: WorkflowConfig, scratch: Path) -> dict:
        copy = edit_sheet(wc.path(sheet), edit_first_comment, out=scratch / f"{sheet}.tsv")
        return {sheet: str(Path(copy).resolve())}

    return overlay


PRICE = Edit("cost prices x4", _times_four, _reporting)
SELECTION = Edit("selection rule", _other_selection, _reporting)
#: edits that change no output at all (the template edit is harmless where no benchmark uses gpqa)
NO_OUTPUT = [
    Edit("grading_processes + 1", _evaluation("grading_processes", lambda n: n + 1), _nothing),
    Edit(
        "vllm_gpu_memory_utilization 0.5 -> 0.6",
        _evaluation("vllm_gpu_memory_utilization", lambda _: 0.6),
        _nothing,
    ),
    Edit("batch_size x 2", _evaluation("batch_size", lambda n: n * 2), _nothing),
    *(Edit(f"a comment in {sheet}", _comment(sheet), _nothing) for sheet in SHEET_ROWS),
]
GPQA_TEMPLATE = Edit("gpqa prompt template", _template("gpqa"), _nothing)


def unexpected(jobs: list[tuple[str, dict]], edit: Edit) -> list[str]:
    return sorted({rule for rule, _ in jobs if not edit.reaches(rule)})
