# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared settings and helpers for the emulator scripts in this directory.
# Sourced by localstack/up, localstack/down and localstack/seed-demo; not
# meant to be run on its own.

FIREDRILL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCALSTACK_DIR="$FIREDRILL_ROOT/localstack"

FIREDRILL_VENV="${FIREDRILL_VENV:-/var/cache/firedrill/venv}"
FIREDRILL_PYTHON="$FIREDRILL_VENV/bin/python"
FIREDRILL_EMULATOR_DIR="${FIREDRILL_EMULATOR_DIR:-/tmp/firedrill-emulators}"
FIREDRILL_LOCALSTACK_PORT="${FIREDRILL_LOCALSTACK_PORT:-4566}"
FIREDRILL_MOTO_PORT="${FIREDRILL_MOTO_PORT:-5001}"
FIREDRILL_EMULATOR_MODE="${FIREDRILL_EMULATOR_MODE:-host}"
FIREDRILL_LOCALSTACK_IMAGE="${FIREDRILL_LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}"
FIREDRILL_LOCALSTACK_CONTAINER="${FIREDRILL_LOCALSTACK_CONTAINER:-firedrill-localstack}"

LS_PID_FILE="$FIREDRILL_EMULATOR_DIR/localstack.pid"
LS_CID_FILE="$FIREDRILL_EMULATOR_DIR/localstack.container"
LS_LOG="$FIREDRILL_EMULATOR_DIR/localstack.log"
MOTO_PID_FILE="$FIREDRILL_EMULATOR_DIR/moto.pid"
MOTO_LOG="$FIREDRILL_EMULATOR_DIR/moto.log"

LS_URL="http://127.0.0.1:$FIREDRILL_LOCALSTACK_PORT"
MOTO_URL="http://127.0.0.1:$FIREDRILL_MOTO_PORT"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ensure_venv: create the virtualenv from localstack/requirements.txt when it
# is missing, and rebuild it from scratch when requirements.txt has changed
# since it was built (the hash is stored inside the venv). A rebuild rather
# than an in-place upgrade, because localstack-core's moto fork (moto-ext)
# and upstream moto install into the same `moto` package directory: pip
# cannot switch between them in place without leaving a mixed tree behind.
ensure_venv() {
    local req="$LOCALSTACK_DIR/requirements.txt"
    local stamp="$FIREDRILL_VENV/.firedrill-requirements.sha256"
    local want
    want="$(sha256sum <"$req" | cut -d' ' -f1)"

    mkdir -p "$(dirname "$FIREDRILL_VENV")"
    # Serialise concurrent callers (make -j, two terminals) on one lock.
    exec 8>"$FIREDRILL_VENV.lock"
    flock 8

    if [[ -x "$FIREDRILL_PYTHON" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        exec 8>&-
        return 0
    fi

    local bootstrap="${FIREDRILL_BOOTSTRAP_PYTHON:-python3}"
    command -v "$bootstrap" >/dev/null || die "$bootstrap not found (needed to create $FIREDRILL_VENV)"
    if [[ -d "$FIREDRILL_VENV" ]]; then
        log "venv: requirements.txt changed (or no stamp), rebuilding $FIREDRILL_VENV"
    else
        log "venv: creating $FIREDRILL_VENV"
    fi
    local t0
    t0="$(now)"
    "$bootstrap" -m venv --clear "$FIREDRILL_VENV"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$FIREDRILL_PYTHON" -m pip install --no-input -q -r "$req" ||
        die "pip install -r $req failed"
    # Catch a broken combination at install time rather than as a
    # half-started LocalStack later.
    "$FIREDRILL_PYTHON" -c 'import boto3, moto.server, moto.rds; from localstack.services.moto import call_moto' ||
        die "venv at $FIREDRILL_VENV installed but fails its import check"
    [[ -x "$FIREDRILL_VENV/bin/moto_server" ]] || die "moto_server missing from $FIREDRILL_VENV/bin"
    printf '%s\n' "$want" >"$stamp"
    log "venv: ready in $(elapsed "$t0")s"
    exec 8>&-
}

# pid_alive FILE PATTERN: the pid in FILE is running and its command line
# contains PATTERN (guards against a recycled pid).
pid_alive() {
    local file="$1" pattern="$2" pid
    [[ -f "$file" ]] || return 1
    pid="$(cat "$file" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

docker_usable() {
    command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

# stop_pid FILE PATTERN NAME: TERM the process (and its process group), wait
# up to 10 s, then KILL. Removes FILE. Quiet no-op when nothing is running.
stop_pid() {
    local file="$1" pattern="$2" name="$3" pid i
    if ! pid_alive "$file" "$pattern"; then
        rm -f "$file"
        return 0
    fi
    pid="$(cat "$file")"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not stop after 10 s, sending KILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$file"
    log "$name stopped (pid $pid)"
}
