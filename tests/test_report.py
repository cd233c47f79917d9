"""The report's words: the start page and every caption rendered as Snakemake renders them (its
Jinja settings, then reStructuredText to HTML), for the paper config and for the CPU demo, whose
published-results files are empty. A caption speaks only of what its table or figure shows."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from docutils.core import publish_parts
from helpers import ROOT, demo_config, paper_config
from jinja2 import Environment

from tina_repro import paths
from tina_repro.config import published_rows
from tina_repro.config.targets import figure_names

REPORT = ROOT / "rules" / "report"
# What only the paper's published numbers put into a figure or table (saying there are none is
# fine).
PUBLISHED_WORDS = re.compile(
    r"grey|hollow|Squares|STILL-3|DeepScaleR|(?<!no )published (average|value|dollars|recipes)"
)


def render(name: str, wc, **wildcards) -> str:
    """The caption ``rules/report/NAME.rst`` as the report shows it: text of its HTML."""
    snakemake = SimpleNamespace(
        config=wc.config,
        params=SimpleNamespace(published=published_rows(wc.path("paper_results"))),
        wildcards=SimpleNamespace(**wildcards),
    )
    text = Environment(trim_blocks=True, lstrip_blocks=True).from_string(
        (REPORT / f"{name}.rst").read_text()
    )
    html = publish_parts(
        text.render(snakemake=snakemake),
        writer="html",
        settings_overrides={"report_level": 2, "halt_level": 2},  # a markup slip fails here
    )["body"]
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def demo_captions() -> list[str]:
    """The captions of the demo's report: of every table and of the figures it draws."""
    figures = {name.split("/")[0] for name in figure_names(demo_config())}
    return sorted({*figures, *(f"{table}_table" for table in paths.TABLES)})


def test_every_caption_of_the_demo_exists():
    assert {f"{name}.rst" for name in demo_captions()} <= {p.name for p in REPORT.iterdir()}


@pytest.mark.parametrize("name", demo_captions())
def test_demo_captions_speak_of_no_published_number(name):
    text = render(name, demo_config(), experiment="demo")
    assert not PUBLISHED_WORDS.search(text), text
    assert "{{" not in text and "{%" not in text


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("ablations", "the published average (grey diamond)"),
        ("cost_vs_performance", "Squares: full-parameter RL models"),
        ("flops_vs_performance", "Squares: the full-parameter baselines"),
        ("overall_comparison", "Grey bars are published"),
        ("main_table", "the published value, their difference"),
        ("ablations_table", "with the published values"),
        ("costs_table", "next to the published dollars"),
        ("flops_table", "Then the full-parameter baselines"),
    ],
)
def test_paper_captions_name_the_published_numbers_drawn(name, shown):
    paper = render(name, paper_config(), experiment="open_rs2")
    demo = render(name, demo_config(), experiment="demo")
    assert shown in paper and shown not in demo
    assert "config/demo/paper_results holds no" in demo


@pytest.mark.parametrize(
    ("rule", "benchmarks", "says"),
    [
        ("paper", [], "(the paper's: the best unweighted average over all benchmarks"),
        ("heldout", ["aime24"], "(held out: selected on aime24 only, scores reported on the other"),
        ("final", [], "(the last checkpoint evaluated on every benchmark, chosen without looking"),
    ],
)
def test_the_start_page_says_how_each_rule_chose_the_checkpoint(rule, benchmarks, says):
    wc = paper_config()
    wc.config["selection"] = {"rule": rule, "selection_benchmarks": benchmarks}
    text = render("workflow", wc)
    assert f"chosen by the {rule} rule {says}" in text
    assert ("held out" in text) == (rule == "heldout")


def test_the_demo_start_page_describes_its_final_rule():
    text = render("workflow", demo_config())
    assert "chosen by the final rule (the last checkpoint evaluated on every benchmark" in text
    assert "held out" not in text and "selected on" not in text


def test_published_rows_count_the_rows_with_a_published_number():
    paper = published_rows(paper_config().path("paper_results"))
    assert paper["tina_models"] == 5 and paper["baselines"] == 6 and paper["ablations"] == 21
    demo = published_rows(demo_config().path("paper_results"))
    assert set(demo) == set(paper) and not any(demo.values())  # the Tina row of Figure 1 is empty
