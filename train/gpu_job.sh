#!/usr/bin/env bash
# The command of the second call on a lent GPU machine (README: "Training on a lent GPU machine"): install the
# carried Keras wheels, train on Keras' JAX backend for at most LIMIT seconds (SIGTERM then stops training like
# Ctrl-C, finished epochs kept), and collect the run folders into $OUT, whatever training did.
#   bash train/gpu_job.sh LIMIT_SECONDS MODULE [its arguments]
#   MODULE: train (e.g. --recipe teacher-vgg --variants unweighted) or train.study (e.g. --recipe paper --epochs 100
#   --jobs 1: the study's runs; make study-report here reports them once they are unpacked)
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
runs=${RUNS:-/tmp/runs}
timeout "$limit" "$py" -m "$module" --data "$carried/data" --runs "$runs" "$@" 2>&1 | tee "$out/train.log"
echo "train: exit ${PIPESTATUS[0]} after $(( $(date +%s) - start )) s"
"$py" -m train.gpu collect --runs "$runs" --out "$out"
