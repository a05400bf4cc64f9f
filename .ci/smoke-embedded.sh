#!/usr/bin/env bash
# `npm start` with no DATABASE_URL on an empty data directory must answer health within 30 s and
# leave no postgres process behind after Ctrl-C (SIGINT).
set -euo pipefail
data=$(mktemp -d)
chmod 755 "$data" # as root, PostgreSQL runs as an unprivileged user that must reach it
log="$data.log"
port=$((20000 + RANDOM % 20000))
trap 'kill -9 -- -$pid 2>/dev/null || true; rm -rf "$data" "$log"' EXIT

# Its own process group, like a job in a terminal, so Ctrl-C can be sent to the whole group.
env -u DATABASE_URL HELDOUT_DATA_DIR="$data" PORT=$port setsid npm start >"$log" 2>&1 &
pid=$!
ok=""
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$port/api/v1/health" 2>/dev/null | grep -q '"database":{"status":"ok"'; then ok=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.5
done
if [ -z "$ok" ]; then echo "smoke: health did not answer ok within 30 s"; cat "$log"; exit 1; fi
echo "smoke: health ok"

# Ctrl-C: the terminal sends SIGINT to every process of the foreground group (npm, sh, node).
kill -INT -- -$pid
for _ in $(seq 1 60); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
if kill -0 $pid 2>/dev/null; then echo "smoke: npm start still running 30 s after SIGINT"; cat "$log"; exit 1; fi
if pgrep -f "$data" >/dev/null; then echo "smoke: processes left behind:"; pgrep -af "$data"; exit 1; fi
echo "smoke: stopped cleanly, nothing left behind"
echo "1 passed, 0 failed"
