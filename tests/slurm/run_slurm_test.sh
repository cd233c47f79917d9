#!/usr/bin/env bash
# Runs workflow targets through a real one-node SLURM cluster started on this machine
# (snakemake --executor slurm) and locally (--cores 2), then checks that both runs produced the
# same outputs in kind and completeness. Needs root (apt-get, daemons); see tests/slurm/README.md.
#
# Everything it writes lives in one temp dir (munge key and socket, daemon state and logs, a copy
# of the workflow, both working directories), removed on success (kept on failure, or with
# KEEP_TMP=1), except /etc/slurm/{slurm,cgroup}.conf, removed on exit. The one lasting change is
# installing Debian's slurmctld, slurmd, slurm-client and munge.
set -euo pipefail

# --- What to run: SLURM_TEST=demo (default) or data -----------------------------------------
SLURM_TEST=${SLURM_TEST:-demo}
case $SLURM_TEST in
demo)
    # The CPU demo's training and evaluation of one run: its data and warm-started base model,
    # 40 LoRA-GRPO steps (4 checkpoints), then sampling and grading of each checkpoint on the 3
    # demo benchmarks. All CPU: the demo rows have gpus 0, generation asks for gpu=0.
    TARGETS=(results/scores/demo_rank8.csv)
    # Relative to the working directory (snakemake runs there); `=`: --configfile takes several.
    CONFIG_ARGS=(--configfile=config/demo/config.yaml)
    # The demo builds its own data and model by rules: the config is all it needs.
    prepare_workdir() { cp -r "$WORKFLOW/config" "$1/"; }
    ;;
data)
    # The data rules on the test fixtures (about 1 min).
    TARGETS=(
        resources/datasets/limr.parquet
        resources/benchmarks/aime24.parquet
        resources/benchmarks/gpqa_diamond.parquet
    )
    CONFIG_ARGS=()
    prepare_workdir() { "$PYTHON" "$HERE/slurm_check.py" prepare-data "$WORKFLOW/config" "$1"; }
    ;;
*)
    echo "SLURM_TEST must be demo or data, not '$SLURM_TEST'" >&2
    exit 2
    ;;
esac
# ---------------------------------------------------------------------------------------------

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# The README install: python3 -m venv .venv && .venv/bin/pip install -e ".[test]"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
PARTITION=tina # must match default-resources.slurm_partition in the profile
# Resources and executor: this folder's profile, or a site profile adapted to this cluster.
PROFILE=${PROFILE:-$HERE/profile}
# This cluster has no slurmdbd, so sacct has nothing to read; squeue lists finished jobs for
# MinJobAge (300 s >= 3x the first check delay, else the plugin falls back to sacct).
SLURM_ARGS=(--slurm-status-command squeue --slurm-init-seconds-before-status-checks 5)
NODE_TIMEOUT_S=60
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-1800}
START=$(date +%s)

say() { printf '[slurm-test %4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
die() { say "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root: it installs packages and starts munged/slurmctld/slurmd"
[[ -x $PYTHON ]] || die "no Python at $PYTHON (set PYTHON=...)"
unset SNAKEMAKE_PROFILE SLURM_CONF
# Both runs (SLURM jobs inherit the environment): models load from local folders only, and one
# hash seed, since PEFT writes adapter_config.json's target_modules in set order.
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0

# --- 1. Packages -----------------------------------------------------------------------------
missing=()
for pkg in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "install ${missing[*]} (Debian/Ubuntu package names) first"
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
say "$(slurmctld -V), munge $(munged -V 2>&1 | awk '{print $1}' | sed 's/munge-//')"
for daemon in slurmctld slurmd; do
    ! pgrep -x "$daemon" >/dev/null \
        || die "a $daemon is already running; stop it first (ports 6817/6818)"
done
# The config must sit at the default path: the jobstep plugin drops SLURM_* variables (SLURM_CONF
# included) before the srun inside each job, so that srun only finds /etc/slurm/slurm.conf.
CONF_DIR=/etc/slurm
MARKER="# Written by tests/slurm/run_slurm_test.sh"
for conf in slurm.conf cgroup.conf; do
    [[ ! -e $CONF_DIR/$conf ]] || head -1 "$CONF_DIR/$conf" | grep -qF "$MARKER" \
        || die "$CONF_DIR/$conf exists and is not ours; refusing to replace a real cluster's config"
done

# --- 2. One-node cluster in a temp dir -------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tina-slurm.XXXXXX")
chmod 755 "$TMP" # munged wants every directory above its socket searchable
RUN=$TMP/cluster
mkdir -p -m 755 "$RUN/munge"
mkdir -p "$RUN/state" "$RUN/spool"
PIDS=()

cleanup() {
    local rc=$?
    if ((${#PIDS[@]})); then
        # Jobs first, while slurmctld/slurmd still run (else their slurmstepd processes linger).
        timeout 20 scancel --partition "$PARTITION" 2>/dev/null || true
        for _ in $(seq 30); do
            [[ -z $(timeout 5 squeue -h -o %i 2>/dev/null | head -1) ]] && break
            sleep 1
        done
        for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
        for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
        say "stopped daemons ${PIDS[*]}"
    fi
    for conf in slurm.conf cgroup.conf; do
        ! head -1 "$CONF_DIR/$conf" 2>/dev/null | grep -qF "$MARKER" || rm -f "$CONF_DIR/$conf"
    done
    if ((rc == 0)) && [[ -z ${KEEP_TMP:-} ]]; then
        rm -rf "$TMP"
    else
        say "kept $TMP (cluster logs in $RUN, runs in $TMP/local and $TMP/slurm)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The node as slurmd sees it (CPUs, sockets, cores, memory), renamed to localhost.
HARDWARE=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //')
mkdir -p "$CONF_DIR"
SLURM_CONF=$CONF_DIR/slurm.conf
cat >"$SLURM_CONF" <<EOF
$MARKER: one node on localhost, no accounting database.
ClusterName=tinatest
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$RUN/munge/munge.socket
StateSaveLocation=$RUN/state
SlurmdSpoolDir=$RUN/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$RUN/slurmctld.log
SlurmdLogFile=$RUN/slurmd.log
MailProg=/bin/true
# No cgroups (containers often lack a writable hierarchy): plain process tracking.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd (see SLURM_ARGS).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=300
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 $HARDWARE State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$CONF_DIR/cgroup.conf" <<EOF
$MARKER: not used (proctrack/linuxproc, task/none), present because slurmd looks for it.
CgroupPlugin=autodetect
EOF
cp "$SLURM_CONF" "$CONF_DIR/cgroup.conf" "$RUN/"
say "cluster config $SLURM_CONF: localhost $HARDWARE, partition $PARTITION"

# Daemons run in their own sessions so that Ctrl-C reaches Snakemake (which cancels its jobs)
# but not them; cleanup stops them once the jobs are gone.
mungekey --create --keyfile="$RUN/munge/munge.key"
setsid munged --foreground --key-file="$RUN/munge/munge.key" --socket="$RUN/munge/munge.socket" \
    --pid-file="$RUN/munge/munged.pid" --log-file="$RUN/munge/munged.log" \
    --seed-file="$RUN/munge/munged.seed" >"$RUN/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $RUN/munge/munge.socket ]] && break; sleep 0.2; done
munge -n -S "$RUN/munge/munge.socket" | unmunge -S "$RUN/munge/munge.socket" >/dev/null \
    || die "munged does not answer (see $RUN/munged.out)"
setsid slurmctld -D -c -f "$SLURM_CONF" >"$RUN/slurmctld.out" 2>&1 &
PIDS+=($!)
setsid slurmd -D -N localhost -f "$SLURM_CONF" >"$RUN/slurmd.out" 2>&1 &
PIDS+=($!)
say "started munged, slurmctld, slurmd (pids ${PIDS[*]})"

state=""
for _ in $(seq "$NODE_TIMEOUT_S"); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 1
done
if [[ $state != idle ]]; then
    tail -n 20 "$RUN/slurmctld.log" "$RUN/slurmd.log" 2>/dev/null || true
    sinfo -R 2>/dev/null || true
    die "node localhost is '${state:-unknown}' after ${NODE_TIMEOUT_S}s, not idle"
fi
say "node localhost idle: $(sinfo -h -o '%P %D %c CPUs %m MB %T')"

# --- 3./4. The same targets through SLURM and locally ----------------------------------------
snakemake_in() {
    local workdir=$1 label=$2
    shift 2
    local t0 rc=0 progress
    t0=$(date +%s)
    # In the working directory: relative --configfile paths resolve there.
    (cd "$workdir" && timeout --foreground "$RUN_TIMEOUT_S" "$PYTHON" -m snakemake \
        --snakefile "$WORKFLOW/Snakefile" --directory "$workdir" "${CONFIG_ARGS[@]}" "$@" \
        "${TARGETS[@]}") >"$TMP/$label.log" 2>&1 || rc=$?
    progress=$(grep -Eo '[0-9]+ of [0-9]+ steps \([0-9]+%\) done' "$TMP/$label.log" | tail -1) || true
    say "$label run: exit $rc after $(($(date +%s) - t0))s, ${progress:-no step done}"
    if ((rc != 0)); then
        tail -n 40 "$TMP/$label.log"
        return 1
    fi
}

# Both runs use one copy of the workflow, taken now: the tree may change during a 15-minute test.
WORKFLOW=$TMP/workflow
mkdir "$WORKFLOW"
for part in Snakefile config envs profiles rules scripts; do
    cp -r "$ROOT/$part" "$WORKFLOW/"
done
find "$WORKFLOW" -name __pycache__ -prune -exec rm -rf {} +

failures=()
for label in slurm local; do
    mkdir "$TMP/$label"
    prepare_workdir "$TMP/$label"
done
say "$SLURM_TEST targets: ${TARGETS[*]} ${CONFIG_ARGS[*]}"
snakemake_in "$TMP/slurm" slurm --profile "$PROFILE" "${SLURM_ARGS[@]}" \
    || failures+=("snakemake --executor slurm failed")
snakemake_in "$TMP/local" local --cores 2 || failures+=("local snakemake failed")

# Every job must have gone through sbatch (the plugin logs "Job N has been submitted with SLURM
# jobid M") and ended with exit status 0 in slurmctld's log.
submitted=$(grep -c "has been submitted with SLURM jobid" "$TMP/slurm.log" || true)
succeeded=$(grep -c "_job_complete: JobId=[0-9]* WEXITSTATUS 0" "$RUN/slurmctld.log" || true)
slurm_logs=$(find "$TMP/slurm/.snakemake/slurm_logs" -name '*.log' 2>/dev/null | wc -l)
say "SLURM: $submitted jobs submitted, $succeeded exited 0 in slurmctld, $slurm_logs job logs kept"
((submitted > 0 && succeeded == submitted)) || failures+=("not every submitted SLURM job exited 0")
# Local rules (grading, score tables) run on the host that drives the workflow, by design.
"$PYTHON" "$HERE/slurm_check.py" jobs "$TMP/slurm.log" \
    || failures+=("a cluster job was neither submitted nor local")

# --- 5. Compare --------------------------------------------------------------------------------
say "outputs (values local/slurm):"
"$PYTHON" "$HERE/slurm_check.py" compare "$TMP/local" "$TMP/slurm" || failures+=("outputs differ")

if ((${#failures[@]})); then
    for failure in "${failures[@]}"; do say "FAIL: $failure"; done
    say "RESULT: FAIL"
    exit 1
fi
say "RESULT: PASS (same outputs through SLURM and locally; wall time $(($(date +%s) - START))s)"
