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

# The UI: the page at / and its bundle (built by the server on first request, from node_modules).
page=$(curl -fsS "http://127.0.0.1:$port/")
asset=$(printf '%s' "$page" | grep -o '/assets/app.js?v=[0-9a-f]*' | head -n1)
if [ -z "$asset" ]; then echo "smoke: / did not serve the UI page"; printf '%s\n' "$page"; cat "$log"; exit 1; fi
bytes=$(curl -fsS "http://127.0.0.1:$port$asset" | wc -c)
if [ "$bytes" -lt 20000 ]; then echo "smoke: the UI bundle is $bytes bytes"; cat "$log"; exit 1; fi
grep -q "Open the leaderboard signed in: http://127.0.0.1:$port/#token=hld_" "$log" || { echo "smoke: no sign-in link printed"; cat "$log"; exit 1; }
echo "smoke: UI served ($bytes bytes of script)"

# Ctrl-C: the terminal sends SIGINT to every process of the foreground group (npm, sh, node).
kill -INT -- -$pid
for _ in $(seq 1 60); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
if kill -0 $pid 2>/dev/null; then echo "smoke: npm start still running 30 s after SIGINT"; cat "$log"; exit 1; fi
if pgrep -f "$data" >/dev/null; then echo "smoke: processes left behind:"; pgrep -af "$data"; exit 1; fi
echo "smoke: stopped cleanly, nothing left behind"
echo "1 passed, 0 failed"
