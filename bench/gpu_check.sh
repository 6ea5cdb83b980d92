#!/usr/bin/env bash
# GPU validation in one go: build semrsm with the CUDA engine, run the CUDA tests, compute-sanitizer
# memcheck, the CUDA benchmarks and the GPU peers; every step with a time limit of its own, so that
# one hang does not eat the rest, and its log in a file of its own.
#
#   bash bench/gpu_check.sh [--dry-run] OUTDIR [PEERS_DIR]
#
# Needs an NVIDIA GPU, python3 with nvcc, CMake, ninja, pybind11, scikit-build-core, CuPy, PyTorch,
# pytest and pytest-benchmark installed; no network. PEERS_DIR holds the peers' sdists, fetched
# beforehand where PyPI answers (python3 bench/gpu_peers.py --fetch .peers); without it the peer
# steps are skipped. OUTDIR receives NN-step.log for every step, bench_cuda.md, gpu_peers.md and
# summary.md, which says which steps passed, failed, timed out or were skipped (rewritten after
# every step, so that a run stopped from outside still leaves one).
#
# Steps, in this order (the four checks of the second line run at the same time: none of them
# times anything; the benchmarks after them run alone):
#   environment, build, import
#   tests (pytest -m cuda -x), memcheck-lap, memcheck-semantic, peers-build
#   bench (bench/bench_cuda.py), peers (bench/gpu_peers.py)
#
# The whole run keeps within GPU_CHECK_BUDGET seconds (default 480). A step gets the limit below,
# or GPU_CHECK_LIMIT_<STEP> (e.g. GPU_CHECK_LIMIT_MEMCHECK_LAP=200), and never more than what is
# left of the budget; a step that would start with less than 15 s left is not run.
# GPU_CHECK_STEPS=tests,bench runs only the steps named (the others are reported as not selected);
# PYTHON names the interpreter (default python3); GPU_CHECK_BENCH_ARGS adds options to
# bench_cuda.py (e.g. --quick).
#
# --dry-run checks the plumbing on any machine, in about a minute: pip install --dry-run instead of the
# build, CUDA not required at import, the tests as they are (without a GPU they skip, and pytest's
# "no tests ran" counts as a pass), pytest without compute-sanitizer where it is missing,
# bench_cuda.py only compiled, the peers on the CPU (--device cpu, small sizes).
set -uo pipefail

usage="usage: bash bench/gpu_check.sh [--dry-run] OUTDIR [PEERS_DIR]"
dry=0
if [ "${1:-}" = "--dry-run" ]; then
    dry=1
    shift
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "$usage" >&2
    exit 2
fi
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
peers=""
if [ $# -eq 2 ]; then
    [ -d "$2" ] || { echo "gpu_check: PEERS_DIR $2 is not a folder" >&2; exit 2; }
    peers=$(cd "$2" && pwd)
fi
cd "$(dirname "$0")/.." || exit 2
py=${PYTHON:-python3}
budget=${GPU_CHECK_BUDGET:-480}
selected=",${GPU_CHECK_STEPS:-environment,build,import,tests,memcheck-lap,memcheck-semantic,peers-build,bench,peers},"
started=$SECONDS
started_at=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
status_dir="$out/.status"
rm -rf "$status_dir"
rm -f "$out"/[0-9][0-9]-*.log "$out/summary.md"
mkdir -p "$status_dir"

# The limit of step $1 (default $2), cut to what is left of the budget; fails when too little is.
limit_for() {
    local var
    var="GPU_CHECK_LIMIT_$(echo "$1" | tr 'a-z-' 'A-Z_')"
    local limit=${!var:-$2}
    local left=$((budget - (SECONDS - started) - 5))
    [ "$left" -ge 15 ] || return 1
    [ "$limit" -le "$left" ] || limit=$left
    echo "$limit"
}

# The line of a log worth quoting in the summary (after the command and its limit): pytest's and
# compute-sanitizer's verdicts, pip's last word, else the last line.
detail_of() {
    local line
    local verdicts="ERROR SUMMARY|[0-9]+ (passed|failed|errors?|skipped|deselected).* in [0-9.]+s"
    verdicts="$verdicts|Successfully installed|Would install|^CUDA engine|^machine:|^dry run"
    line=$(sed '1,/^-----$/d' "$1" | grep -aE "$verdicts" | tail -n 2 | tr '\n' ' ')
    [ -n "$line" ] || line=$(sed '1,/^-----$/d' "$1" | grep -av '^[[:space:]]*$' | tail -n 1)
    line=${line//|//}
    printf '%s' "${line:0:240}"
}

record() {  # record STEP STATUS SECONDS LIMIT DETAIL
    printf '%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5" > "$status_dir/$1"
    summary
}

skip_step() {  # skip_step NN-NAME REASON
    record "$1" "skipped" 0 - "$2"
}

is_selected() {
    case $selected in
        *",$1,"*) return 0 ;;
    esac
    return 1
}

# run_step NN-NAME DEFAULT_LIMIT COMMAND...: the command under timeout, its output in NN-NAME.log.
run_step() {
    local step=$1 default=$2
    shift 2
    local log="$out/$step.log" limit rc t0 status
    if ! is_selected "${step#*-}"; then
        skip_step "$step" "not selected (GPU_CHECK_STEPS)"
        return
    fi
    if ! limit=$(limit_for "${step#*-}" "$default"); then
        record "$step" "not run" 0 - "out of time: $((budget - (SECONDS - started))) s left of the budget"
        return
    fi
    printf '$ %s\n(limit %s s)\n-----\n' "$*" "$limit" > "$log"
    echo "[gpu_check] $step: up to $limit s ..."
    t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1 < /dev/null
    rc=$?
    case $rc in
        0) status="passed" ;;
        124|137) status="timed out" ;;
        *) status="failed (exit $rc)" ;;
    esac
    echo "[gpu_check] $step: $status in $((SECONDS - t0)) s"
    record "$step" "$status" $((SECONDS - t0)) "$limit" "$(detail_of "$log")"
}

summary() {  # written whole, then moved: steps running side by side each rewrite it
    local gpu commit counts f step fields log tmp="$out/.summary.$BASHPID"
    gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | paste -sd ';' -)
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit with uncommitted changes"
    counts=$(cut -f1 "$status_dir"/* 2>/dev/null | sed 's/ (exit.*//' | sort | uniq -c |
        awk '{c = $1; $1 = ""; printf "%s%d%s", sep, c, $0; sep = ", "}')
    {
        echo "# GPU check of semrsm at commit $commit$([ $dry = 1 ] && echo ' (dry run)')"
        echo
        echo "- started $started_at; $((SECONDS - started)) s so far of a budget of $budget s"
        echo "- GPU: ${gpu:-none found (nvidia-smi)}"
        echo "- steps: ${counts:-none yet}"
        echo
        echo "| step | status | seconds | limit (s) | log | detail |"
        echo "|---|---|---|---|---|---|"
        for f in "$status_dir"/*; do
            [ -e "$f" ] || continue
            step=$(basename "$f")
            IFS=$'\t' read -r -a fields < "$f"
            log="-"
            [ ! -e "$out/$step.log" ] || log="$step.log"
            echo "| ${step#*-} | ${fields[0]} | ${fields[1]} | ${fields[2]} | $log | ${fields[3]:-} |"
        done
    } > "$tmp"
    mv -f "$tmp" "$out/summary.md"
}

have() { command -v "$1" > /dev/null 2>&1; }

sanitizer=""
if have compute-sanitizer; then
    sanitizer=compute-sanitizer
elif [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" ]; then
    sanitizer="${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer"
fi

# In a dry run no CUDA test can run: pytest's exit status 5 (no tests ran) counts as a pass there.
pytest_dry=()
if [ $dry = 1 ]; then
    # shellcheck disable=SC2016  # expanded by the inner bash
    pytest_dry=(bash -c '"$@"; rc=$?; [ $rc != 5 ] || { echo "dry run: no test ran (they need a GPU)"; rc=0; }
        exit $rc' pytest)
fi

# memcheck NN-NAME TEST_FILE: one CUDA test module under compute-sanitizer, one cudaMalloc per
# CuPy array (tests/cuda_support.py) so that every bound is checked.
memcheck() {
    local tests=(-m pytest -x -q -p no:cacheprovider -m "cuda and not slow" "$2")
    if [ -n "$sanitizer" ]; then
        run_step "$1" 180 "${pytest_dry[@]}" env SEMRSM_CUPY_NO_POOL=1 "$sanitizer" --tool memcheck \
            --error-exitcode 99 --print-limit 100 "$py" "${tests[@]}"
    elif [ $dry = 1 ]; then
        run_step "$1" 180 "${pytest_dry[@]}" env SEMRSM_CUPY_NO_POOL=1 "$py" "${tests[@]}"
    else
        skip_step "$1" "compute-sanitizer not found (PATH, \$CUDA_HOME/bin)"
    fi
}

peer_sdists() { find "$peers" -maxdepth 1 \( -name '*.tar.gz' -o -name '*.zip' \) -print -quit 2>/dev/null; }

# What this machine is: GPU, toolkit, sanitizer, commit, the Python packages that matter; then one
# line for the summary. Exported, so that run_step can run it under timeout.
describe_machine() {
    echo "== nvidia-smi"; nvidia-smi || echo "nvidia-smi: not found"
    echo "== nvcc"; nvcc --version || echo "nvcc: not found"
    echo "== compute-sanitizer"; ${GPU_CHECK_SANITIZER:-false} --version 2>/dev/null | head -n 2
    echo "== git"; git log -1 --format="%H %s"; git status --short --untracked-files=no
    echo "== python"; "$GPU_CHECK_PYTHON" --version
    "$GPU_CHECK_PYTHON" -m pip list 2>/dev/null |
        grep -iE "^(numpy|scipy|cupy|torch|triton|pybind11|scikit-build-core|cmake|ninja|pytest|semrsm)[ -]"
    local gpu cuda
    gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | paste -sd ";" -)
    cuda=$(nvcc --version 2>/dev/null | grep -o "release [0-9.]*")
    echo "machine: ${gpu:-no GPU}; nvcc ${cuda:-not found}; $("$GPU_CHECK_PYTHON" --version 2>&1)"
}
export -f describe_machine
export GPU_CHECK_PYTHON=$py GPU_CHECK_SANITIZER=$sanitizer

# What the build reports: the CUDA engine must be available, except in a dry run.
check_import='
import sys, semrsm
cuda = semrsm.backends()["cuda"]
print(semrsm.backends())
if cuda["available"]:
    import cupy
    print("CUDA engine available on", ", ".join(cuda["devices"]), "with CuPy", cupy.__version__)
else:
    print("CUDA engine NOT available:", cuda["reason"], "(dry run: not required)" if sys.argv[1] == "1" else "")
sys.exit(0 if cuda["available"] or sys.argv[1] == "1" else 1)'

# 1. The machine, the build (CUDA engine required), what the build reports.
run_step 01-environment 30 bash -c describe_machine
if [ $dry = 1 ]; then
    if "$py" -c "import scikit_build_core, pybind11" 2> /dev/null; then
        run_step 02-build 60 env SEMRSM_CUDA=ON "$py" -m pip install --dry-run --no-build-isolation --no-deps \
            --no-index .
    else  # an installed wheel, as in CI: pip could not even read the project without them
        skip_step 02-build "dry run: scikit-build-core or pybind11 not installed here"
    fi
else
    run_step 02-build 300 env SEMRSM_CUDA=ON "$py" -m pip install -v --no-build-isolation --no-deps --no-index .
fi
run_step 03-import 60 "$py" -c "$check_import" "$dry"

# 2. The checks, side by side.
run_step 04-tests 180 "${pytest_dry[@]}" "$py" -m pytest -m cuda -x -q -rs -p no:cacheprovider &
memcheck 05-memcheck-lap tests/test_cuda_lap.py &
memcheck 06-memcheck-semantic tests/test_cuda_semantic.py &
if ! is_selected peers-build; then
    skip_step 07-peers-build "not selected (GPU_CHECK_STEPS)"
elif [ -z "$peers" ]; then
    skip_step 07-peers-build "no PEERS_DIR given"
elif [ -z "$(peer_sdists)" ]; then
    skip_step 07-peers-build "no sdists in $peers"
else
    run_step 07-peers-build 240 "$py" bench/gpu_peers.py --sdists "$peers" --build-only &
fi
wait

# 3. The benchmarks, alone on the machine.
if [ $dry = 1 ]; then
    run_step 08-bench 30 bash -c "'$py' -m py_compile bench/bench_cuda.py &&
        echo 'dry run: bench/bench_cuda.py compiles; it needs CuPy and a GPU to run'"
else
    # shellcheck disable=SC2086
    run_step 08-bench 200 "$py" bench/bench_cuda.py ${GPU_CHECK_BENCH_ARGS:-} --out "$out/bench_cuda.md"
fi
if ! is_selected peers; then
    skip_step 09-peers "not selected (GPU_CHECK_STEPS)"
elif [ -z "$peers" ] || [ -z "$(peer_sdists)" ]; then
    skip_step 09-peers "no peers' sdists (see peers-build)"
elif peer_limit=$(limit_for peers 240) && [ "$peer_limit" -gt 45 ]; then
    # gpu_peers.py starts no case after its --budget, 30 s before the limit, and then writes its report.
    if [ $dry = 1 ]; then
        run_step 09-peers "$peer_limit" "$py" bench/gpu_peers.py --device cpu --sizes 4x16,2x49 \
            --kinds uniform,semantic --budget $((peer_limit - 30)) --out "$out/gpu_peers.md" \
            --log "$out/09-peers-workers.log"
    else
        run_step 09-peers "$peer_limit" "$py" bench/gpu_peers.py --budget $((peer_limit - 30)) \
            --out "$out/gpu_peers.md" --log "$out/09-peers-workers.log"
    fi
else
    record 09-peers "not run" 0 - "out of time: $((budget - (SECONDS - started))) s left of the budget"
fi

summary
cat "$out/summary.md"
! grep -qE $'^(failed|timed out|not run)' <(cut -f1 "$status_dir"/*)
