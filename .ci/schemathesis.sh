#!/usr/bin/env bash
# Schemathesis against a live instance: `likewise serve` on a loopback port with a fresh data
# directory and SQLite database, one donor with money and a token, then every operation of
# the money API's OpenAPI document (/api/v1/likewise/openapi.json), bounded in examples
# (LIKEWISE_SCHEMATHESIS_EXAMPLES per operation, 300: about 45 s) with a fixed seed. It fails
# on any server error and on any answer the document does not describe.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-$PWD/.venv/bin/python}
schemathesis=${SCHEMATHESIS:-$PWD/.venv/bin/schemathesis}
examples=${LIKEWISE_SCHEMATHESIS_EXAMPLES:-300}

work=$(mktemp -d)
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export LIKEWISE_DOMAIN="127.0.0.1:$port" LIKEWISE_DEV=1
export LIKEWISE_DATABASE_URL="sqlite+aiosqlite:///$work/likewise.db"
likewise() { "$py" -m server.cli "$@" --data "$work/data"; }

# Python itself in the background, not the `likewise` function: `$!` of a function is its
# subshell, and killing that left the instance running after the script.
"$py" -m server.cli serve --host 127.0.0.1 --port "$port" --data "$work/data" >"$work/serve.log" 2>&1 &
server=$!
stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "${1:-0}" != 0 ]; then
    echo "== instance log (errors)"
    grep -v "likewise.access" "$work/serve.log" | tail -n 200
  fi
  rm -rf "$work"
}
trap 'status=$?; stop "$status"; exit "$status"' EXIT

for _ in $(seq 100); do
  if "$py" -c "import httpx, sys; sys.exit(httpx.get('$base/healthz').status_code != 200)" 2>/dev/null; then
    break
  fi
  kill -0 "$server" || { echo "the instance exited"; exit 1; }
  sleep 0.2
done

likewise users create ann --email ann@example.org --password "correct horse battery" >/dev/null
likewise wallet credit ann 50.00 --reference schemathesis-seed >/dev/null
token=$(likewise tokens create ann --scopes "read write")
# Clicks to unclick (the document links GET clicks to DELETE clicks/{click_id}).
"$py" - "$base" "$token" <<'PY'
import sys, httpx
base, token = sys.argv[1], sys.argv[2]
for n in range(3):
    liked = httpx.post(f"{base}/api/v1/likewise/likes", json={"uri": f"https://blog.example/{n}"},
                       headers={"Authorization": f"Bearer {token}"})
    assert liked.status_code == 201, liked.text
PY

# From the scratch directory: schemathesis keeps its replay cache in the working directory.
cd "$work"
"$schemathesis" run "$base/api/v1/likewise/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$examples" --seed 20261205 --generation-database none \
  --workers 1 --request-timeout 20 --no-color
