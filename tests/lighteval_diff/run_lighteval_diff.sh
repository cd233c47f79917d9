#!/usr/bin/env bash
# Our grader against lighteval's own code: grades one set of completions with lighteval 0.8.1's
# multilingual_extractive_match_metric, configured as Tina's three metrics (lighteval_grade.py, in
# lighteval's own environment), and with ours (tina_repro.eval.grading), then prints agreement per
# benchmark kind and fails on a disagreement outside the documented classes (differential.py says
# exactly when). See README, "lighteval's own grader", and docs/paper.md#grading.
#
#   tests/lighteval_diff/run_lighteval_diff.sh [DEMO_DIR]
#
# The completions: a seeded corpus of 6000 (corpus.py), the cases of our grading unit tests (whose
# expected verdicts lighteval must confirm) and, given DEMO_DIR (the working directory of a
# finished demo; CI passes `.` after its demo run), every distinct sample the demo wrote.
# lighteval's environment is built once in $LIGHTEVAL_VENV (default .venv-lighteval) from
# requirements.txt and reused while that file is unchanged. Everything else lives in a temp dir
# removed on success (KEEP_TMP=1 keeps it). Both graders use lighteval's 5 s per parse and
# comparison and $PROCESSES (default 2) worker processes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${LIGHTEVAL_VENV:-$ROOT/.venv-lighteval}
DEMO_DIR=${1:-}
PROCESSES=${PROCESSES:-2}
TIMEOUT_S=5
START=$(date +%s)
OUR_PYTHON=${OUR_PYTHON:-python}

say() { printf '[lighteval-diff %4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
die() {
    say "FAIL: $*"
    exit 1
}

# --- 1. lighteval's environment -----------------------------------------------------------------
STAMP=$VENV/.tina-lighteval-stamp
WANT=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || $(cat "$STAMP" 2>/dev/null) != "$WANT" ]]; then
    say "building $VENV (pip install --no-deps -r requirements.txt)"
    t0=$(date +%s)
    python3 -m venv --clear "$VENV"
    "$VENV/bin/pip" install -q --no-deps -r "$HERE/requirements.txt" >"$VENV/build.log" 2>&1 \
        || { tail -n 20 "$VENV/build.log"; die "pip install failed (log: $VENV/build.log)"; }
    echo "$WANT" >"$STAMP"
    say "environment built in $(($(date +%s) - t0))s ($(du -sh "$VENV" | cut -f1))"
else
    say "reusing $VENV"
fi
"$VENV/bin/python" -c "import lighteval.metrics.dynamic_metrics" \
    || die "lighteval.metrics does not import in $VENV"

# --- 2. the completions, graded both ways --------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tina-lighteval-diff.XXXXXX")
cleanup() {
    local rc=$?
    if ((rc == 0)) && [[ -z ${KEEP_TMP:-} ]]; then rm -rf "$TMP"; else say "kept $TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
"$OUR_PYTHON" "$HERE/differential.py" build "$TMP/rows.jsonl" ${DEMO_DIR:+--demo "$DEMO_DIR"} \
    || die "building the rows failed"
t0=$(date +%s)
"$VENV/bin/python" "$HERE/lighteval_grade.py" "$TMP/rows.jsonl" "$TMP/lighteval.jsonl" \
    --processes "$PROCESSES" --timeout-s "$TIMEOUT_S" 2>"$TMP/lighteval.log" \
    || { tail -n 40 "$TMP/lighteval.log"; die "lighteval's grading failed"; }
say "lighteval graded in $(($(date +%s) - t0))s"
t0=$(date +%s)
"$OUR_PYTHON" "$HERE/differential.py" compare "$TMP/rows.jsonl" "$TMP/lighteval.jsonl" \
    --processes "$PROCESSES" --timeout-s "$TIMEOUT_S" --json "$TMP/summary.json" \
    || die "disagreements outside the documented classes (above; summary: $TMP/summary.json)"
say "RESULT: PASS (ours graded and compared in $(($(date +%s) - t0))s, wall time $(($(date +%s) - START))s)"
