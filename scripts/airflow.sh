#!/usr/bin/env bash
# Start, stop or inspect a local `airflow standalone` for Wiredesk.
#
#   scripts/airflow.sh start|stop|status|env
#
# Airflow's home lives under the data folder ($WIREDESK_DATA_DIR/airflow): SQLite metadata DB,
# examples off, DAG and plugin folders pointing at this repository, one admin login.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${WIREDESK_DATA_DIR:-$ROOT/.data}"
VENV_BIN="${VENV_BIN:-$ROOT/.venv/bin}"
PORT="${WIREDESK_AIRFLOW_PORT:-8080}"

export AIRFLOW_HOME="$DATA/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=True
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs"
export WIREDESK_DATA_DIR="$DATA"
# The demo replay wire is on 127.0.0.1: the SSRF guard lets exactly that host:port through.
export WIREDESK_PRIVATE_ALLOWLIST="${WIREDESK_PRIVATE_ALLOWLIST:-[\"127.0.0.1:${WIREDESK_REPLAY_PORT:-8765}\"]}"
export WIREDESK_POLL_MINUTES="${WIREDESK_POLL_MINUTES:-5}"  # the poll DAG's schedule (Settings.poll_minutes)
export PATH="$VENV_BIN:$PATH"

if [[ -s "$AIRFLOW_HOME/jwt_secret" ]]; then export AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$AIRFLOW_HOME/jwt_secret")"; fi

PIDFILE="$AIRFLOW_HOME/standalone.pid"
LOG="$AIRFLOW_HOME/standalone.log"

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

password() { python -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"; }

ensure_home() {
  mkdir -p "$AIRFLOW_HOME"
  if [[ ! -s "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ]]; then
    python -c 'import json,secrets,sys; json.dump({"admin": secrets.token_urlsafe(12)}, open(sys.argv[1], "w"))' \
      "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  fi
  # One secret shared by the api-server and the task runners (JWTs for the execution API).
  if [[ ! -s "$AIRFLOW_HOME/jwt_secret" ]]; then
    python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$AIRFLOW_HOME/jwt_secret"
  fi
  export AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$AIRFLOW_HOME/jwt_secret")"
  airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
}

wait_ui() {
  for _ in $(seq 1 180); do
    if curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1; then return 0; fi
    if ! running; then echo "airflow standalone exited; last lines of $LOG:"; tail -30 "$LOG"; return 1; fi
    sleep 1
  done
  echo "Airflow UI did not answer on port $PORT within 180 s; last lines of $LOG:"; tail -30 "$LOG"; return 1
}

case "${1:-status}" in
  start)
    if running; then echo "Airflow already running (pid $(cat "$PIDFILE"))"; else
      if (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT is already taken by another program; stop it or set WIREDESK_AIRFLOW_PORT"; exit 1
      fi
      ensure_home
      # setsid: its own process group, so `stop` ends the scheduler, api-server and the rest together.
      setsid airflow standalone >"$LOG" 2>&1 < /dev/null &
      echo $! > "$PIDFILE"
    fi
    wait_ui
    echo "Airflow UI: http://127.0.0.1:$PORT   login: admin / $(password)   (log: $LOG)"
    ;;
  stop)
    if running; then
      pid="$(cat "$PIDFILE")"; kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
      for _ in $(seq 1 30); do running || break; sleep 1; done
      running && kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$PIDFILE"; echo "Airflow stopped"
    else echo "Airflow not running"; fi
    ;;
  setup)
    # The pool that bounds concurrent Elasticsearch bulk writers (DAGs start unpaused: see above).
    airflow pools set elasticsearch "${WIREDESK_ES_POOL_SLOTS:-2}" "bounds concurrent Elasticsearch writers" >/dev/null 2>&1
    echo "pool 'elasticsearch' set"
    # Admin -> Connections shows (and lets users edit) where tasks and the plugin find Elasticsearch;
    # an explicit WIREDESK_ES_URL still wins. An existing connection is left as the user set it.
    if airflow connections get wiredesk_elasticsearch >/dev/null 2>&1; then
      echo "connection 'wiredesk_elasticsearch' kept"
    else
      airflow connections add wiredesk_elasticsearch --conn-type generic --conn-schema http \
        --conn-host "${WIREDESK_ES_HOST:-127.0.0.1}" --conn-port "${WIREDESK_ES_PORT:-9200}" \
        --conn-description "Elasticsearch for Wiredesk (WIREDESK_ES_* variables win)" >/dev/null
      echo "connection 'wiredesk_elasticsearch' added: http://${WIREDESK_ES_HOST:-127.0.0.1}:${WIREDESK_ES_PORT:-9200}"
    fi
    ;;
  status)
    if running; then echo "Airflow running (pid $(cat "$PIDFILE")) at http://127.0.0.1:$PORT"; else echo "Airflow not running"; exit 1; fi
    ;;
  env)
    # For `eval "$(scripts/airflow.sh env)"`: the same environment for airflow CLI commands.
    env | grep -E '^(AIRFLOW_HOME|AIRFLOW__|WIREDESK_DATA_DIR)=' | sed 's/^/export /; s/=\(.*\)$/="\1"/'
    ;;
  *) echo "usage: $0 start|stop|status|env"; exit 2 ;;
esac
