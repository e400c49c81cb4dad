#!/usr/bin/env bash
# Stop the daemons tests/slurm/start.sh started, by the PIDs it recorded (last started, first stopped).
#   tests/slurm/stop.sh STATE_DIR
set -uo pipefail
STATE_DIR=${1:?usage: stop.sh STATE_DIR}
[[ -f "$STATE_DIR/pids" ]] || exit 0
tac "$STATE_DIR/pids" | while read -r name pid; do
    kill "$pid" 2>/dev/null || continue
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && { echo "stop.sh: $name ($pid) ignored SIGTERM; killing it" >&2; kill -9 "$pid"; }
done
: > "$STATE_DIR/pids"
