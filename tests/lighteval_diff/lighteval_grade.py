"""Grade completions with lighteval's own metric code, configured exactly as Tina's tasks were.

Runs in lighteval's environment (.venv-lighteval, built by run_lighteval_diff.sh from
requirements.txt), not ours: lighteval 0.8.1 from PyPI (whose metric code equals the paper's
commit ed084813 but for one ``try/except`` around ``Number(...)`` in ``extract_expr``) on
``latex2sympy2_extended==1.0.6``, ``sympy==1.13.1`` and ``numpy<2``, which cannot be installed
beside our pins (docs/paper.md#grading). Of our code it imports only
:mod:`tina_repro.eval.process_pool` (the standard library and pebble).

The three metrics are built with the arguments of ``latex_gold_metric``, ``expr_gold_metric``
and ``gpqa_metric`` in Tina's ``scripts/training/run_post_train_eval.py`` (077329b) and called
as lighteval's pipeline calls a generative metric (``apply_generative_metric``): golds
``doc.get_golds()``, predictions ``[completion]`` and the task's ``Doc`` (math: ``choices=[gold]``;
GPQA: the four letters with the gold's index); lighteval puts what it extracted into
``doc.specific``.

    .venv-lighteval/bin/python lighteval_grade.py IN.jsonl OUT.jsonl [--processes N]
        [--timeout-s 5] [--limit-s 120]

``IN.jsonl`` rows hold ``text``, ``gold``, ``task`` (``math`` or ``gpqa``) and, for math,
``gold_format`` (``latex`` or ``expr``); ``OUT.jsonl`` has, per row and in order, ``correct``,
``extracted_predictions``, ``extracted_golds`` (lighteval's, as strings), ``seconds`` and
``limit`` (true when the row's worker was still busy after ``--limit-s`` seconds and was killed:
lighteval itself has no such bound, so such a row is wrong).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for helpers

import helpers  # noqa: E402, F401 (puts this checkout's scripts/ on sys.path)

from tina_repro.eval.process_pool import run_bounded  # noqa: E402

LETTERS = "ABCD"
METRIC_OF_GOLD_FORMAT = {"latex": "latex_gold_metric", "expr": "expr_gold_metric"}


@functools.cache
def tina_metrics(timeout_seconds: int) -> dict:
    """Tina's three metrics (run_post_train_eval.py:52-77), with lighteval's ``timeout_seconds``
    (its default, 5, is the paper's: Tina did not pass it)."""
    from lighteval.metrics.dynamic_metrics import (
        ExprExtractionConfig,
        IndicesExtractionConfig,
        LatexExtractionConfig,
        multilingual_extractive_match_metric,
    )
    from lighteval.utils.language import Language

    prediction = (ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0))
    common = {"language": Language.ENGLISH, "precision": 5, "timeout_seconds": timeout_seconds}
    math = {**common, "fallback_mode": "first_match", "aggregation_function": max}
    return {
        "latex_gold_metric": multilingual_extractive_match_metric(
            gold_extraction_target=(LatexExtractionConfig(),),
            pred_extraction_target=prediction,
            **math,
        ),
        "expr_gold_metric": multilingual_extractive_match_metric(
            gold_extraction_target=(ExprExtractionConfig(),),
            pred_extraction_target=prediction,
            **math,
        ),
        "gpqa_metric": multilingual_extractive_match_metric(
            gold_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
            pred_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
            **common,
        ),
    }


def check_row(row: dict) -> None:
    """Raise ValueError unless ``row`` can be graded by one of Tina's metrics."""
    task, gold = row.get("task"), row.get("gold")
    if not isinstance(row.get("text"), str) or not isinstance(gold, str):
        raise ValueError("'text' and 'gold' must be strings")
    if task == "gpqa":
        if gold not in tuple(LETTERS):
            raise ValueError(f"a GPQA gold must be one of the letters A-D, got {gold[:40]!r}")
    elif task == "math":
        if row.get("gold_format") not in METRIC_OF_GOLD_FORMAT:
            raise ValueError(
                f"gold_format must be one of {sorted(METRIC_OF_GOLD_FORMAT)} for lighteval's "
                f"math metrics, got {row.get('gold_format')!r}"
            )
    else:
        raise ValueError(f"unknown task {task!r}; expected math or gpqa")


def grade(row: dict, timeout_seconds: int) -> dict:
    """lighteval's verdict on one row, with what it extracted."""
    from lighteval.tasks.requests import Doc

    if row["task"] == "gpqa":
        metric = tina_metrics(timeout_seconds)["gpqa_metric"]
        doc = Doc(query="", choices=list(LETTERS), gold_index=LETTERS.index(row["gold"]))
    else:
        metric = tina_metrics(timeout_seconds)[METRIC_OF_GOLD_FORMAT[row["gold_format"]]]
        doc = Doc(query="", choices=[row["gold"]], gold_index=0)
    started = time.perf_counter()
    score = metric.sample_level_fn(
        golds=doc.get_golds(), predictions=[row["text"]], formatted_doc=doc
    )
    specific = doc.specific or {}
    return {
        "correct": score == 1.0,
        "extracted_predictions": specific.get("extracted_predictions", []),
        "extracted_golds": specific.get("extracted_golds", []),
        "seconds": time.perf_counter() - started,
        "limit": False,
    }


def killed(row: dict, limit_s: float) -> dict:
    return {
        "correct": False,
        "extracted_predictions": [],
        "extracted_golds": [],
        "seconds": limit_s,
        "limit": True,
    }


def grade_rows(
    rows: list[dict], processes: int, timeout_seconds: int, limit_s: float
) -> list[dict]:
    for index, row in enumerate(rows):
        try:
            check_row(row)
        except ValueError as err:
            raise ValueError(f"row {index}: {err}") from None
    tina_metrics(timeout_seconds)  # imported once here: forked workers start with lighteval loaded
    work = functools.partial(grade, timeout_seconds=timeout_seconds)
    return run_bounded(rows, processes, limit_s, work, functools.partial(killed, limit_s=limit_s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--timeout-s", type=int, default=5, help="lighteval's timeout_seconds")
    parser.add_argument("--limit-s", type=float, default=120.0, help="kill a row's worker after")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # lighteval warns on every completion it extracts nothing from; the verdict says as much.
    logging.getLogger("lighteval").setLevel(logging.ERROR)
    started = time.perf_counter()
    with open(args.input, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    graded = grade_rows(rows, args.processes, args.timeout_s, args.limit_s)
    with open(args.output, "w", encoding="utf-8") as out:
        for result in graded:
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    print(
        f"lighteval graded {len(rows)} rows in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
