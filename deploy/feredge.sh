#!/usr/bin/env bash
# feredge launcher, installed as ~/feredge/current/feredge. Reads ~/feredge/config.env; arguments given here win
# over the settings (the last --option wins).
set -euo pipefail

SELF=$(readlink -f "$0")
REL=$(dirname "$SELF")
FEREDGE_HOME=${FEREDGE_HOME:-$(dirname "$(dirname "$REL")")}
PY="$REL/.venv/bin/python"
CONFIG="$FEREDGE_HOME/config.env"

die() {
    printf 'feredge: ERROR: %s\n' "$*" >&2
    exit 2
}

if [ -f "$CONFIG" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$CONFIG"
    set +a
fi
FEREDGE_SOURCE=${FEREDGE_SOURCE:-picamera2}
FEREDGE_MODEL=${FEREDGE_MODEL:-$(sed -n 's/^ *"demo_model": *"\([^"]*\)".*/\1/p' "$REL/bundle.json" 2>/dev/null | head -n 1)}
FEREDGE_DEMO_ARGS=${FEREDGE_DEMO_ARGS:-}
FEREDGE_SERVE=${FEREDGE_SERVE:-}
FEREDGE_BENCH_CLIP=${FEREDGE_BENCH_CLIP:-}
FEREDGE_BENCH_ARGS=${FEREDGE_BENCH_ARGS---quick}
FEREDGE_LOG_DIR=${FEREDGE_LOG_DIR:-$FEREDGE_HOME/logs}

[ -x "$PY" ] || die "no Python environment at $REL/.venv: run install.sh from the bundle again"
export PYTHONPATH="$REL${PYTHONPATH:+:$PYTHONPATH}"

resolve() { # a path from the settings: absolute as is, relative to the release otherwise
    case "$1" in
        /*) printf '%s' "$1" ;;
        *) printf '%s' "$REL/$1" ;;
    esac
}

has_option() { # has_option --opt args...: true when args contain --opt or --opt=...
    local opt=$1
    shift
    for a in "$@"; do
        case "$a" in "$opt" | "$opt"=*) return 0 ;; esac
    done
    return 1
}

absolute() { # absolute OPTION VALUE: VALUE made absolute when it is a relative path (a file for --clip)
    case "$2" in
        /* | '') printf '%s' "$2" ;;
        *) if [ "$1" = --out ] || [ -e "$2" ]; then printf '%s' "$PWD/$2"; else printf '%s' "$2"; fi ;;
    esac
}

release_file() { # a relative path typed on the command line: from here when it is here, else from the release
    case "$1" in
        /* | '') printf '%s' "$1" ;;
        *) if [ ! -e "$1" ] && [ -e "$REL/$1" ]; then printf '%s' "$REL/$1"; else printf '%s' "$1"; fi ;;
    esac
}

with_release_models() { # args=(...): "$@" with a --model path that names a file of the release made absolute
    args=()
    while [ $# -gt 0 ]; do
        a=$1
        shift
        case "$a" in
            --model) args+=("$a" "$(release_file "${1-}")"); [ $# -gt 0 ] && shift ;;
            --model=*) args+=("--model=$(release_file "${a#*=}")") ;;
            *) args+=("$a") ;;
        esac
    done
}

model_path() {
    [ -n "$FEREDGE_MODEL" ] || die "FEREDGE_MODEL is not set in $CONFIG"
    local m
    m=$(resolve "$FEREDGE_MODEL")
    # shellcheck disable=SC2012
    [ -f "$m" ] || die "model $m not found (FEREDGE_MODEL in $CONFIG); this release has: $(cd "$REL" && ls models/*.tflite | tr '\n' ' ')"
    printf '%s' "$m"
}

usage() {
    cat <<EOF
feredge $(cat "$REL/VERSION") ($REL)

  feredge demo [ARGS]     run the demo: python -m device --source \$FEREDGE_SOURCE --model \$FEREDGE_MODEL ARGS
                          e.g. feredge demo --headless --max-frames 100
  feredge bench [ARGS]    on-device latency benchmark of every bundled model on a clip
                          (python -m benchmarks run --models models --clip CLIP --out ~/feredge/bench/<time> ARGS)
  feredge service         what the systemd unit runs: the headless demo, JSON lines appended to \$FEREDGE_LOG_DIR;
                          with FEREDGE_SERVE=[HOST:]PORT also the web view (--serve): http://HOST:PORT/
  feredge python [ARGS]   the release's Python
  feredge version | info

Settings: $CONFIG
EOF
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
    demo)
        model=()
        has_option --model "$@" || model=(--model "$(model_path)")
        with_release_models "$@" # --model models/weighted_int8.tflite works from any folder
        set -- ${args[@]+"${args[@]}"}
        # shellcheck disable=SC2086
        exec "$PY" -m device --source "$FEREDGE_SOURCE" "${model[@]}" $FEREDGE_DEMO_ARGS "$@"
        ;;
    service)
        mkdir -p "$FEREDGE_LOG_DIR"
        serve=() # the web view: FEREDGE_SERVE=8080 (this Pi only) or 0.0.0.0:8080 (the network, on purpose)
        [ -n "$FEREDGE_SERVE" ] && serve=(--serve "$FEREDGE_SERVE")
        printf '%s feredge %s starting: source=%s model=%s%s\n' "$(date -u +%FT%TZ)" "$(cat "$REL/VERSION")" \
            "$FEREDGE_SOURCE" "$FEREDGE_MODEL" "${FEREDGE_SERVE:+ serve=$FEREDGE_SERVE}" >>"$FEREDGE_LOG_DIR/demo.err"
        # shellcheck disable=SC2086
        exec "$PY" -m device --source "$FEREDGE_SOURCE" --model "$(model_path)" ${serve[@]+"${serve[@]}"} \
            $FEREDGE_DEMO_ARGS --headless "$@" >>"$FEREDGE_LOG_DIR/demo.jsonl" 2>>"$FEREDGE_LOG_DIR/demo.err"
        ;;
    bench)
        clip=()
        if ! has_option --clip "$@"; then
            c=$FEREDGE_BENCH_CLIP
            [ -n "$c" ] || c=$(sed -n 's/^ *"bench_clip": *"\([^"]*\)".*/\1/p' "$REL/bundle.json" | head -n 1)
            if [ -z "$c" ]; then # no clip: the live source itself (picamera2 or a webcam index: 300 frames)
                case "$FEREDGE_SOURCE" in
                    picamera2 | [0-9] | [0-9][0-9]) c=$FEREDGE_SOURCE ;;
                    *) [ -f "$FEREDGE_SOURCE" ] && c=$FEREDGE_SOURCE ;;
                esac
            fi
            [ -n "$c" ] || die "no clip to benchmark on. Record one with the camera, then run it:
  rpicam-vid -t 10s --width 640 --height 480 --codec libav -o ~/clip.mp4
  feredge bench --clip ~/clip.mp4
(or set FEREDGE_BENCH_CLIP in $CONFIG)"
            case "$c" in
                picamera2 | [0-9] | [0-9][0-9]) clip=(--clip "$c") ;;
                *) clip=(--clip "$(resolve "$c")") ;;
            esac
        fi
        out=()
        has_option --out "$@" || out=(--out "$FEREDGE_HOME/bench/$(date +%Y%m%d-%H%M%S)")
        args=() # relative --clip/--out paths made absolute: the benchmark's workers run in another folder
        while [ $# -gt 0 ]; do
            a=$1
            shift
            case "$a" in
                --clip | --out) args+=("$a" "$(absolute "$a" "${1-}")"); [ $# -gt 0 ] && shift ;;
                --clip=* | --out=*) args+=("${a%%=*}=$(absolute "${a%%=*}" "${a#*=}")") ;;
                *) args+=("$a") ;;
            esac
        done
        set -- ${args[@]+"${args[@]}"}
        # shellcheck disable=SC2086
        exec "$PY" -m benchmarks run --models "$REL/models" "${clip[@]}" "${out[@]}" $FEREDGE_BENCH_ARGS "$@"
        ;;
    python) exec "$PY" "$@" ;;
    version) cat "$REL/VERSION" ;;
    info)
        echo "release:  $(cat "$REL/VERSION") ($REL)"
        echo "settings: $CONFIG"
        echo "source:   $FEREDGE_SOURCE"
        echo "model:    $FEREDGE_MODEL"
        echo "serve:    ${FEREDGE_SERVE:-off} (the service's web view, FEREDGE_SERVE)"
        "$PY" -c 'from device.interpreter import interpreter_backend; import numpy, cv2, sys
print("runtime:  python %s, numpy %s, opencv %s, %s %s" % (sys.version.split()[0], numpy.__version__, cv2.__version__, *interpreter_backend()))'
        ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
