#!/usr/bin/env bash
# feredge device installer. Run it from the unpacked bundle:  ./install.sh [options]
#
# Layout (PREFIX, default ~/feredge):
#   releases/<version>/   one folder per installed bundle; .venv -> ../../venvs/<key>
#   venvs/<key>/          virtual environments, keyed by requirements + Python + pip options, shared by
#                         releases with the same key (a code/model-only upgrade installs nothing)
#   current -> releases/<version>   switched atomically, and only after the new release passed its self-check
#   config.env            your settings: created once, never overwritten
#   logs/                 install logs, and the service's JSON lines
# A failed install removes only what it created: the previous release stays active and runnable.
#
# On a Raspberry Pi: apt installs python3-picamera2 (it comes only from Raspberry Pi OS) and python3-venv, the
# camera is checked, and the venv sees the system packages (--system-site-packages) with numpy pinned to the
# system's major version (picamera2's compiled helpers break under another numpy ABI). Elsewhere the apt and
# camera parts are skipped, with a note, so the same script is testable on any Linux.
#
# Exit codes: 0 ok, 2 usage/unsupported system, 3 no camera, 4 not enough disk space, 5 apt failed,
# 6 venv/pip failed, 7 self-check failed, 8 damaged bundle, 9 another install is running.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi # run with sh by mistake
set -euo pipefail
umask 022

PROG=feredge-install
say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }
die() {
    local code=$1
    shift
    printf '%s: ERROR: %s\n' "$PROG" "$*" >&2
    exit "$code"
}

usage() {
    cat <<'EOF'
Usage: install.sh [options]

  --prefix DIR        where to install (default: $FEREDGE_HOME or ~/feredge)
  --python PATH       Python for the venv (default: /usr/bin/python3, the one apt's picamera2 belongs to)
  --pip-args "ARGS"   extra pip install arguments, e.g. "--find-links /media/wheels --no-index"
  --with-bench        also install requirements/bench.txt (plots and metrics for benchmark reports)
  --systemd           install and (re)start the feredge systemd service (headless demo, JSON lines log)
  --no-camera-check   do not require a camera (e.g. to run the demo on video files)
  --keep N            releases to keep, the active one included (default: 3)
  -h, --help          this help

Environment: FEREDGE_HOME, FEREDGE_PYTHON, FEREDGE_PIP_ARGS, FEREDGE_MIN_FREE_MB (free space required),
FEREDGE_ASSUME_PI=1|0 (override Raspberry Pi detection), FEREDGE_SYSTEM_SITE_PACKAGES=1|0 (override the
venv's --system-site-packages, default: on a Pi only). PIP_* variables reach pip as usual.
EOF
}

PREFIX=${FEREDGE_HOME:-$HOME/feredge}
PYTHON=${FEREDGE_PYTHON:-}
PIP_ARGS=${FEREDGE_PIP_ARGS:-}
WITH_BENCH=0
SYSTEMD=0
CAMERA_CHECK=1
KEEP=3

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --python) PYTHON=${2:?--python needs a path}; shift 2 ;;
        --python=*) PYTHON=${1#*=}; shift ;;
        --pip-args) PIP_ARGS=${2-}; shift 2 ;;
        --pip-args=*) PIP_ARGS=${1#*=}; shift ;;
        --with-bench) WITH_BENCH=1; shift ;;
        --systemd) SYSTEMD=1; shift ;;
        --no-camera-check) CAMERA_CHECK=0; shift ;;
        --keep) KEEP=${2:?--keep needs a number}; shift 2 ;;
        --keep=*) KEEP=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die 2 "unknown option: $1" ;;
    esac
done
case "$KEEP" in ''|*[!0-9]*) die 2 "--keep needs a number, got '$KEEP'" ;; esac
[ "$KEEP" -ge 2 ] || KEEP=2 # the active release and the one before it, for rollback

SRC=$(cd "$(dirname "$0")" && pwd -P)
if [ ! -f "$SRC/VERSION" ] || [ ! -f "$SRC/SHA256SUMS" ]; then
    die 8 "$SRC does not look like an unpacked feredge bundle (no VERSION/SHA256SUMS)"
fi
VERSION=$(tr -d '[:space:]' <"$SRC/VERSION")
case "$VERSION" in ''|*/*|.*) die 8 "bad version '$VERSION' in $SRC/VERSION" ;; esac

# --- 1. the bundle is complete and undamaged ------------------------------------------------------------------
if command -v sha256sum >/dev/null 2>&1; then
    if ! bad=$(cd "$SRC" && sha256sum --quiet --strict -c SHA256SUMS 2>&1); then
        die 8 "the bundle is damaged (checksum mismatch):
$bad
Copy the bundle again (make deploy does this for you)."
    fi
else
    warn "sha256sum not found: not verifying the bundle's checksums"
fi

mkdir -p "$PREFIX" 2>/dev/null || die 2 "cannot create $PREFIX"
PREFIX=$(cd "$PREFIX" && pwd -P)
mkdir -p "$PREFIX/releases" "$PREFIX/venvs" "$PREFIX/logs"

# one install at a time
if command -v flock >/dev/null 2>&1; then
    exec 9>"$PREFIX/.install.lock"
    flock -n 9 || die 9 "another install into $PREFIX is running; wait for it to finish"
fi

# --- 2. which machine is this ---------------------------------------------------------------------------------
MODEL=""
for f in /proc/device-tree/model /sys/firmware/devicetree/base/model; do
    if [ -r "$f" ]; then MODEL=$(tr -d '\0' <"$f"); break; fi
done
case "${FEREDGE_ASSUME_PI:-auto}" in
    1|yes|true) IS_PI=1; MODEL=${MODEL:-Raspberry Pi (FEREDGE_ASSUME_PI=1)} ;;
    0|no|false) IS_PI=0 ;;
    *) case "$MODEL" in *"Raspberry Pi"*) IS_PI=1 ;; *) IS_PI=0 ;; esac ;;
esac
ARCH=$(uname -m)
# shellcheck disable=SC1091
OS_NAME=$( (. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-}") || true)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if [ -t 0 ]; then SUDO="sudo"; else SUDO="sudo -n"; fi
fi

if [ "$IS_PI" = 1 ]; then
    say "$MODEL, ${OS_NAME:-unknown OS}, $ARCH"
    [ "$ARCH" = aarch64 ] || die 2 "this needs the 64-bit Raspberry Pi OS (Bookworm or later); 'uname -m' says $ARCH.
The TFLite runtime has no wheels for 32-bit ARM: re-flash with Raspberry Pi OS (64-bit)."
else
    say "not a Raspberry Pi (${MODEL:-no device-tree model}; ${OS_NAME:-unknown OS}, $ARCH): skipping the apt packages (python3-picamera2) and the camera check; the demo can still read video files, image folders or a webcam index"
fi

# --- 3. system packages (Pi only) ------------------------------------------------------------------------------
APT_PACKAGES="python3-picamera2 python3-venv"
if [ "$IS_PI" = 1 ]; then
    missing=""
    for p in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        say "apt: installing$missing (picamera2 comes only from Raspberry Pi OS)"
        # shellcheck disable=SC2086
        if ! $SUDO apt-get install -y --no-install-recommends $missing; then
            say "apt: refreshing the package lists and retrying"
            # shellcheck disable=SC2086
            { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing; } ||
                die 5 "apt-get could not install$missing. Check the Pi's network and run by hand:
  sudo apt update && sudo apt install -y --no-install-recommends$missing
(if sudo asks for a password, run that once on the Pi, then deploy again)"
        fi
    else
        say "apt: $APT_PACKAGES already installed"
    fi
fi

# --- 4. Python --------------------------------------------------------------------------------------------------
if [ -z "$PYTHON" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || die 2 "Python not found: $PYTHON (install python3, or pass --python)"
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || die 2 "$PYTHON does not run"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die 2 "feredge needs Python >= 3.10, $PYTHON is $PYVER"

CONFIG="$PREFIX/config.env"
config_value() { # the value a key has in config.env (sourced in a subshell), or nothing
    [ -f "$CONFIG" ] || return 0
    # shellcheck disable=SC1090
    (set +u; set -a; . "$CONFIG" >/dev/null 2>&1; eval "printf '%s' \"\${$1:-}\"") || true
}

# --- 5. camera (Pi only) ----------------------------------------------------------------------------------------
SOURCE=$(config_value FEREDGE_SOURCE)
if [ "$IS_PI" = 1 ] && [ "$CAMERA_CHECK" = 1 ] && [ "${SOURCE:-picamera2}" = picamera2 ]; then
    if command -v rpicam-hello >/dev/null 2>&1; then
        cams=$(timeout 30 rpicam-hello --list-cameras 2>&1 || true)
    elif command -v libcamera-hello >/dev/null 2>&1; then
        cams=$(timeout 30 libcamera-hello --list-cameras 2>&1 || true)
    else
        cams=$(timeout 30 "$PYTHON" -c 'from picamera2 import Picamera2
print("Available cameras: %d" % len(Picamera2.global_camera_info()) if Picamera2.global_camera_info() else "No cameras available!")' 2>&1 || true)
    fi
    case "$cams" in
        *"Available cameras"*) say "camera: $(printf '%s\n' "$cams" | grep -m1 -E '^[[:space:]]*0 :' | sed 's/^[[:space:]]*//' || echo found)" ;;
        *) die 3 "no camera found on this Pi ('rpicam-hello --list-cameras': $(printf '%s' "$cams" | tail -n 1)).
  - Power off, check the ribbon cable (both ends seated, contacts the right way round; Pi 5 needs the narrow 22-pin cable).
  - Keep 'camera_auto_detect=1' in /boot/firmware/config.txt (or add 'dtoverlay=<sensor>' for third-party modules), reboot.
  - Test with: rpicam-hello --list-cameras
To install without a camera (the demo can read video files), run with --no-camera-check, or set
FEREDGE_SOURCE to a video file in $CONFIG. Nothing was changed." ;;
    esac
elif [ "$IS_PI" = 1 ]; then
    if [ "$CAMERA_CHECK" = 0 ]; then say "camera: not checked (--no-camera-check)"; else say "camera: not needed (FEREDGE_SOURCE=$SOURCE in $CONFIG)"; fi
fi

# --- 6. disk space ----------------------------------------------------------------------------------------------
avail_mb() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 { printf "%d", $4 / 1024 }'; }
REQ_FILES="$SRC/requirements/device.txt"
[ "$WITH_BENCH" = 1 ] && REQ_FILES="$REQ_FILES $SRC/requirements/bench.txt"
SYSTEM_SITE=${FEREDGE_SYSTEM_SITE_PACKAGES:-$IS_PI}
NUMPY_PIN=""
if [ "$SYSTEM_SITE" = 1 ]; then
    np_major=$("$PYTHON" -c 'import numpy; print(numpy.__version__.split(".")[0])' 2>/dev/null || true)
    case "$np_major" in
        '' | *[!0-9]*) ;;
        *) NUMPY_PIN="numpy>=$np_major,<$((np_major + 1))" ;;
    esac
fi
# shellcheck disable=SC2086
VENV_KEY=$({
    echo "feredge-venv-v1"
    cat $REQ_FILES
    "$PYTHON" -c 'import platform, sys; print(sys.version, platform.machine())'
    echo "site=$SYSTEM_SITE pin=$NUMPY_PIN pip=$PIP_ARGS"
} | sha256sum | cut -c1-16)
VENV_NAME="py$PYVER-$VENV_KEY"
VENV="$PREFIX/venvs/$VENV_NAME"
REL="$PREFIX/releases/$VERSION"
NEED_MB=50
[ -f "$VENV/.complete" ] || NEED_MB=400
NEED_MB=${FEREDGE_MIN_FREE_MB:-$NEED_MB}
FREE_MB=$(avail_mb "$PREFIX")
if [ -n "$FREE_MB" ] && [ "$FREE_MB" -lt "$NEED_MB" ]; then
    die 4 "not enough disk space in $PREFIX: ${FREE_MB} MB free, ${NEED_MB} MB needed.
Free some space (sudo apt clean; remove old files), then run the install again. Nothing was changed."
fi

# --- 7. stage the release and its venv (nothing active is touched) --------------------------------------------
PREV=$(readlink "$PREFIX/current" 2>/dev/null || true)
STAGE=""
CREATED_VENV=0
ACTIVATED=0
LOG="$PREFIX/logs/install-$VERSION.log"
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        [ -n "$STAGE" ] && rm -rf "$STAGE"
        [ "$CREATED_VENV" = 1 ] && [ ! -f "$VENV/.complete" ] && rm -rf "$VENV"
        if [ "$ACTIVATED" = 1 ]; then
            printf '%s: release %s is installed and active, but a later step failed (exit %s)\n' "$PROG" "$VERSION" "$rc" >&2
        elif [ -n "$PREV" ] && [ -e "$PREFIX/current" ]; then
            printf '%s: install of %s failed (exit %s); the active version is unchanged: %s\n' \
                "$PROG" "$VERSION" "$rc" "$(basename "$PREV")" >&2
        else
            printf '%s: install of %s failed (exit %s); nothing was activated\n' "$PROG" "$VERSION" "$rc" >&2
        fi
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

no_space_hint() {
    if grep -qi "no space left on device" "$LOG" 2>/dev/null; then
        echo " The disk is full: free some space and run the install again."
    fi
}

if [ -f "$REL/.installed" ]; then
    say "release $VERSION is already installed"
    WORK=$REL
else
    if [ -e "$REL" ]; then
        [ "$PREV" = "releases/$VERSION" ] && die 2 "$REL is active but incomplete; remove $PREFIX/current by hand and run again"
        rm -rf "$REL" # a leftover of an interrupted install
    fi
    STAGE="$PREFIX/releases/.$VERSION.tmp.$$"
    rm -rf "$STAGE"
    mkdir -p "$STAGE"
    cp -R "$SRC/." "$STAGE/" 2>>"$LOG" || die 4 "could not copy the bundle to $STAGE.$(no_space_hint)"
    rm -f "$STAGE/.venv"
    WORK=$STAGE
    say "staging release $VERSION"
fi

if [ -f "$VENV/.complete" ]; then
    say "venv $VENV_NAME is ready (same requirements as before: nothing to install)"
else
    rm -rf "$VENV"
    CREATED_VENV=1
    site_flag=""
    [ "$SYSTEM_SITE" = 1 ] && site_flag="--system-site-packages"
    say "creating venv $VENV_NAME ($PYTHON $PYVER${site_flag:+, $site_flag})"
    # shellcheck disable=SC2086
    "$PYTHON" -m venv $site_flag "$VENV" >>"$LOG" 2>&1 || die 6 "could not create a venv with $PYTHON (see $LOG).
Install the venv module: sudo apt install -y python3-venv.$(no_space_hint)"
    CONSTRAINTS="$VENV/feredge-constraints.txt"
    : >"$CONSTRAINTS"
    [ -n "$NUMPY_PIN" ] && echo "$NUMPY_PIN" >"$CONSTRAINTS" && say "pinning $NUMPY_PIN (the system numpy's ABI, for picamera2)"
    pip_install() { # requirement files...
        local args=()
        for r in "$@"; do args+=(-r "$r"); done
        # shellcheck disable=SC2086
        "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -c "$CONSTRAINTS" $PIP_ARGS "${args[@]}" \
            >>"$LOG" 2>&1
    }
    # shellcheck disable=SC2086
    say "pip: installing $(cat $REQ_FILES | sed 's/#.*//' | grep -v '^ *-r' | grep -v '^ *$' | tr '\n' ' ')(log: $LOG)"
    # shellcheck disable=SC2086
    if ! pip_install $REQ_FILES; then
        warn "pip failed (end of $LOG below); retrying with tflite-runtime and numpy<2 instead of ai-edge-litert"
        tail -n 3 "$LOG" | sed 's/^/    /' >&2
        fallback="$VENV/feredge-fallback.txt"
        # shellcheck disable=SC2086
        cat $REQ_FILES | grep -v '^ *-r' | grep -vi '^ *ai-edge-litert' >"$fallback" || true
        printf 'tflite-runtime\nnumpy<2\n' >>"$fallback"
        pip_install "$fallback" || die 6 "pip could not install the device requirements:
$(tail -n 3 "$LOG" | sed 's/^/    /')
(full log: $LOG).$(no_space_hint)
Offline? Pass wheels with --pip-args \"--no-index --find-links DIR\"."
    fi
    touch "$VENV/.complete"
fi
ln -sfn "../../venvs/$VENV_NAME" "$WORK/.venv.tmp.$$"
mv -Tf "$WORK/.venv.tmp.$$" "$WORK/.venv"

# --- 8. self-check: every bundled model loads and runs in the new venv -----------------------------------------
say "self-check"
if ! (cd "$WORK" && env FEREDGE_IS_PI="$IS_PI" FEREDGE_NEED_CAMERA="$CAMERA_CHECK" PYTHONPATH="$WORK" \
    .venv/bin/python - <<'PY'
import os
import sys
from pathlib import Path

import cv2
import numpy as np

import benchmarks  # noqa: F401  (the package must import without TensorFlow)
import device
from device.interpreter import interpreter_backend, load_interpreter

backend, version = interpreter_backend()
if backend == "tensorflow":
    sys.exit("the venv resolved the TFLite interpreter to TensorFlow; ai-edge-litert/tflite-runtime is missing")
models = sorted(Path("models").glob("*.tflite"))
if not models:
    sys.exit("no models in the release")
for path in models:
    try:
        interp = load_interpreter(path)
        inp = interp.get_input_details()[0]
        interp.set_tensor(inp["index"], np.zeros(inp["shape"], dtype=inp["dtype"]))
        interp.invoke()
        out = interp.get_tensor(interp.get_output_details()[0]["index"])
    except Exception as exc:  # the backend's ValueError/RuntimeError on a bad model: name the model
        sys.exit(f"{path}: the model does not load or run: {type(exc).__name__}: {exc}")
    print(f"  {path.name}: ok, output {list(out.shape)}")
if not Path(device.__file__).resolve().is_relative_to(Path.cwd().resolve()):
    sys.exit(f"device/ was imported from {Path(device.__file__).parent}, not from the release")
print(f"  python {sys.version.split()[0]}, numpy {np.__version__}, opencv {cv2.__version__}, {backend} {version}")
if os.environ.get("FEREDGE_IS_PI") == "1":
    try:
        import picamera2  # noqa: F401
    except Exception as exc:  # ImportError, or numpy ABI ValueError from simplejpeg
        msg = f"picamera2 does not import in the venv: {exc!r}"
        if os.environ.get("FEREDGE_NEED_CAMERA") == "1":
            sys.exit(msg)
        print("  WARNING: " + msg)
    else:
        print("  picamera2: ok")
PY
) 2>&1 | tee -a "$LOG" | sed 's/^/  /'; then
    die 7 "the new release failed its self-check (see above and $LOG)"
fi

if [ -n "$STAGE" ]; then
    date -u +%Y-%m-%dT%H:%M:%SZ >"$STAGE/.installed"
    mv -T "$STAGE" "$REL"
    STAGE=""
fi

# --- 9. settings: created once, never overwritten ----------------------------------------------------------------
DEMO_MODEL=$(sed -n 's/^ *"demo_model": *"\([^"]*\)".*/\1/p' "$REL/bundle.json" | head -n 1)
if [ -f "$CONFIG" ]; then
    say "keeping your settings: $CONFIG"
    model=$(config_value FEREDGE_MODEL)
    # shellcheck disable=SC2012
    case "$model" in
        '') ;;
        /*) [ -f "$model" ] || warn "FEREDGE_MODEL=$model in $CONFIG does not exist" ;;
        *) [ -f "$REL/$model" ] || warn "FEREDGE_MODEL=$model in $CONFIG is not in release $VERSION (it has: $(cd "$REL" && ls models/*.tflite | tr '\n' ' ')); edit $CONFIG" ;;
    esac
else
    default_source=0
    [ "$IS_PI" = 1 ] && default_source=picamera2
    sed -e "s|@SOURCE@|$default_source|" -e "s|@MODEL@|$DEMO_MODEL|" -e "s|@LOGDIR@|$PREFIX/logs|" \
        "$REL/config.env.example" >"$CONFIG.tmp.$$"
    mv -f "$CONFIG.tmp.$$" "$CONFIG"
    say "wrote your settings: $CONFIG (FEREDGE_SOURCE=$default_source, FEREDGE_MODEL=$DEMO_MODEL)"
fi

# --- 10. activate: atomic switch of the 'current' link ------------------------------------------------------------
ln -sfn "releases/$VERSION" "$PREFIX/.current.tmp.$$"
mv -Tf "$PREFIX/.current.tmp.$$" "$PREFIX/current"
ACTIVATED=1
if [ "$PREV" = "releases/$VERSION" ]; then
    say "active: $VERSION (unchanged)"
else
    say "active: $VERSION${PREV:+ (was $(basename "$PREV"))}"
fi

# --- 11. systemd service (optional) -------------------------------------------------------------------------------
# where systemd runs and keeps units (FEREDGE_SYSTEMD_RUN, FEREDGE_UNIT, FEREDGE_LOGROTATE_DIR: for the tests only)
SYSTEMD_RUN=${FEREDGE_SYSTEMD_RUN:-/run/systemd/system}
UNIT=${FEREDGE_UNIT:-/etc/systemd/system/feredge.service}
LOGROTATE_DIR=${FEREDGE_LOGROTATE_DIR:-/etc/logrotate.d}
if [ "$SYSTEMD" = 1 ]; then
    if [ -d "$SYSTEMD_RUN" ] && command -v systemctl >/dev/null 2>&1; then
        tmpunit=$(mktemp)
        cat >"$tmpunit" <<EOF
[Unit]
Description=feredge facial emotion recognition demo (headless, JSON lines to $PREFIX/logs)
After=network.target

[Service]
Type=simple
User=$(id -un)
Environment=FEREDGE_HOME=$PREFIX
ExecStart=$PREFIX/current/feredge service
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF
        { $SUDO install -m 0644 "$tmpunit" "$UNIT" && $SUDO systemctl daemon-reload &&
            $SUDO systemctl enable feredge.service >/dev/null 2>&1 && $SUDO systemctl restart feredge.service; } ||
            { rm -f "$tmpunit"; die 2 "could not install the systemd service (sudo needed); the release itself is installed and active"; }
        rm -f "$tmpunit"
        if command -v logrotate >/dev/null 2>&1 && [ -d "$LOGROTATE_DIR" ]; then
            printf '%s/logs/demo.jsonl %s/logs/demo.err {\n  daily\n  maxsize 50M\n  rotate 5\n  compress\n  missingok\n  notifempty\n  copytruncate\n}\n' \
                "$PREFIX" "$PREFIX" | $SUDO tee "$LOGROTATE_DIR/feredge" >/dev/null || true
        fi
        say "service: feredge.service enabled and (re)started; JSON lines go to $PREFIX/logs/demo.jsonl"
    else
        say "service: systemd is not running here; skipping the feredge.service unit"
    fi
elif [ -f "$UNIT" ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet feredge.service 2>/dev/null; then
    if $SUDO systemctl restart feredge.service; then
        say "service: restarted feredge.service on $VERSION"
    else
        warn "could not restart feredge.service; run: sudo systemctl restart feredge"
    fi
fi

# --- 12. prune old releases and unused venvs ------------------------------------------------------------------------
others=$((KEEP - 1))
[ -n "$PREV" ] && [ "$PREV" != "releases/$VERSION" ] && others=$((others - 1))
for d in $(cd "$PREFIX/releases" && ls -1t 2>/dev/null); do
    if [ "releases/$d" = "releases/$VERSION" ] || [ "releases/$d" = "$PREV" ]; then continue; fi
    if [ "$others" -gt 0 ] && [ -f "$PREFIX/releases/$d/.installed" ]; then
        others=$((others - 1))
    else
        rm -rf "${PREFIX:?}/releases/$d"
    fi
done
find "$PREFIX/releases" -maxdepth 1 -name '.*.tmp.*' -exec rm -rf {} + 2>/dev/null || true
for v in "$PREFIX"/venvs/*; do
    [ -d "$v" ] || continue
    used=0
    for r in "$PREFIX"/releases/*/.venv; do
        [ "$(readlink "$r" 2>/dev/null)" = "../../venvs/$(basename "$v")" ] && used=1 && break
    done
    [ "$used" = 1 ] || rm -rf "$v"
done

# --- 13. how to start ------------------------------------------------------------------------------------------------
cat <<EOF
$PROG: done. feredge $VERSION is installed in $PREFIX/current
  demo, one JSON line a frame:  $PREFIX/current/feredge demo --headless
  ... with an annotated video:  $PREFIX/current/feredge demo --headless --max-frames 300 --record ~/feredge.mp4
  on-device benchmark:          $PREFIX/current/feredge bench
  settings (kept on upgrade):   $CONFIG
EOF
