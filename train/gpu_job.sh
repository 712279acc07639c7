#!/usr/bin/env bash
# The command of the second call on a lent GPU machine (README: "Training on a lent GPU machine"): install the
# carried Keras wheels, train on Keras' JAX backend for at most LIMIT seconds (SIGTERM then stops training like
# Ctrl-C, finished epochs kept), and collect the run folders into $OUT, whatever training did.
#   bash train/gpu_job.sh LIMIT_SECONDS MODULE [its arguments [:: next step's ...]] [::: another group ...]
#   MODULE: train (e.g. --recipe teacher-vgg --variants unweighted) or train.study (e.g. --recipe paper --epochs 100
#   --jobs 1: the study's runs; make study-report here reports them once they are unpacked)
#   Argument groups separated by ':::' train at the same time, one process each, sharing the accelerator (a small
#   model leaves most of it idle); each logs to $OUT/train-<n>.log. Within a group, steps separated by '::' run in
#   turn (e.g. a tail recipe, then another tail of the same base), all within the one limit. COLLECT_ARGS go to `train.gpu collect`
#   (--best-only: checkpoints without optimiser state or backup, partial runs too).
set -u
usage="usage: bash train/gpu_job.sh LIMIT_SECONDS train|train.study [arguments]"
limit=${1:?$usage}
module=${2:?$usage}
case "$module" in train | train.study) ;; *) echo "$usage" >&2; exit 2 ;; esac
shift 2
out=${OUT:?OUT must name the output folder that comes back}
py=${PYTHON:-python3}
carried=${GPU_DIR:-.gpu}  # what make gpu-pack wrote and the calls carried
if [ -d "$carried/wheels" ]; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$carried"/wheels/*.whl \
        || exit 2
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the study's parallel runs share the GPU
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
start=$(date +%s)
deadline=$((start + limit))
runs=${RUNS:-/tmp/runs}
run_group() {  # $1: one group's words, its steps separated by '::', run in turn until the first failure or the limit
    local steps step left
    mapfile -t steps < <(printf '%s\n' "$1" | sed 's/ :: /\n/g')
    for step in "${steps[@]}"; do
        left=$((deadline - $(date +%s)))
        [ "$left" -gt 0 ] || return 124
        # shellcheck disable=SC2086  # a step is a list of words
        timeout -k 60 "$left" "$py" -m "$module" --data "$carried/data" --runs "$runs" $step || return $?
    done
}
groups=()
current=""
for arg in "$@"; do
    if [ "$arg" = ":::" ]; then groups+=("$current"); current=""; else current+="${current:+ }$arg"; fi
done
groups+=("$current")
if [ ${#groups[@]} -eq 1 ]; then
    run_group "${groups[0]}" 2>&1 | tee "$out/train.log"
    echo "train: exit ${PIPESTATUS[0]} after $(( $(date +%s) - start )) s"
else
    pids=()
    for n in "${!groups[@]}"; do
        run_group "${groups[$n]}" > "$out/train-$((n + 1)).log" 2>&1 &
        pids+=($!)
    done
    for n in "${!pids[@]}"; do
        wait "${pids[$n]}"
        echo "train $((n + 1)) (${groups[$n]}): exit $? after $(( $(date +%s) - start )) s"
        tail -n 5 "$out/train-$((n + 1)).log"
    done
fi
# shellcheck disable=SC2086  # COLLECT_ARGS is a list of words
"$py" -m train.gpu collect --runs "$runs" --out "$out" ${COLLECT_ARGS:-}
