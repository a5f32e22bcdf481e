#!/usr/bin/env bash
# Start, stop or inspect the demo replay wire (bundled feeds and article pages on 127.0.0.1).
#
#   scripts/replay.sh start|stop|status
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${WIREDESK_DATA_DIR:-$ROOT/.data}"
PY="${VENV_BIN:-$ROOT/.venv/bin}/python"
PORT="${WIREDESK_REPLAY_PORT:-8765}"
PIDFILE="$DATA/replay/replay.pid"
LOG="$DATA/replay/replay.log"

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-status}" in
  start)
    mkdir -p "$DATA/replay"
    if running; then echo "replay wire already running on http://127.0.0.1:$PORT"; exit 0; fi
    if (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      echo "port $PORT is already taken by another program; stop it or set WIREDESK_REPLAY_PORT"; exit 1
    fi
    nohup "$PY" -m pipeline.ops.replay --host 127.0.0.1 --port "$PORT" >"$LOG" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
    running || { echo "replay wire failed to start:"; tail -20 "$LOG"; exit 1; }
    echo "replay wire: http://127.0.0.1:$PORT (log: $LOG)"
    ;;
  stop)
    if running; then kill "$(cat "$PIDFILE")"; rm -f "$PIDFILE"; echo "replay wire stopped"; else echo "replay wire not running"; fi
    ;;
  status)
    if running; then echo "replay wire running on http://127.0.0.1:$PORT"; else echo "replay wire not running"; exit 1; fi
    ;;
  *) echo "usage: $0 start|stop|status"; exit 2 ;;
esac
