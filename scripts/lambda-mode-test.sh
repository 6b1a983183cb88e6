#!/usr/bin/env bash
# Lambda mode, for real: `cargo lambda watch` runs the deployed binary (tollgate-lambda) under
# a local Lambda runtime API emulator, with its JWKS served over HTTP by a local server that
# counts requests. Every fixture sent with `cargo lambda invoke` must give the same answer as
# `tollgate invoke` (the same response JSON, or the same Lambda error message); the JWKS is
# fetched once at init and once more for the unknown kid of http-v1.unknown-kid.json (a kid
# miss refetches at once), and a burst of warm invocations must not fetch it again.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-lambda >/dev/null || { echo "cargo-lambda is not installed (pip install cargo-lambda)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
jwks_port=$(free_port)
work=$(mktemp -d)
cargo build --quiet

# The JWKS over HTTP; every request is one line in jwks.log.
python3 -m http.server "$jwks_port" --bind 127.0.0.1 --directory events >"$work/jwks.log" 2>&1 &
jwks_pid=$!
grep -v '^JWKS_URI=' events/dev.env >"$work/lambda.env"
echo "JWKS_URI=http://127.0.0.1:$jwks_port/jwks.json" >>"$work/lambda.env"

cargo lambda watch -A 127.0.0.1 -P "$port" --ignore-changes --env-file "$work/lambda.env" >"$work/watch.log" 2>&1 &
watch_pid=$!
cleanup() {
  kill "$watch_pid" "$jwks_pid" 2>/dev/null || true
  pkill -P "$watch_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
jwks_fetches() { grep -c 'GET /jwks.json' "$work/jwks.log" || true; }

# Wait until the emulator answers (the first invoke also starts the function).
for _ in $(seq 1 120); do
  if cargo lambda invoke tollgate-lambda -A 127.0.0.1 -P "$port" --data-file events/rest-token.allow.json -o json >/dev/null 2>&1; then
    break
  fi
  sleep 1
done

set -a; . events/dev.env; set +a
failures=0
checked=0
for fixture in events/*.json; do
  case "$fixture" in events/jwks.json) continue ;; esac
  status=0
  "${CARGO_TARGET_DIR:-target}/debug/tollgate" invoke "$fixture" >"$work/local.json" 2>/dev/null || status=$?
  lambda_status=0
  cargo lambda invoke tollgate-lambda -A 127.0.0.1 -P "$port" --data-file "$fixture" -o json \
    >"$work/lambda.out" 2>"$work/lambda.err" || lambda_status=$?
  verdict=$(python3 - "$work" "$status" "$lambda_status" <<'PY'
import json, sys
work, status, lambda_status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
local = json.load(open(f"{work}/local.json"))
if "errorType" in local:
    err = open(f"{work}/lambda.err").read()
    ok = lambda_status != 0 and f"Error: {local['errorType']}" in err and f"× {local['errorMessage']}" in err
else:
    ok = lambda_status == 0 and json.load(open(f"{work}/lambda.out")) == local
print("same" if ok else "DIFFERENT")
PY
)
  checked=$((checked + 1))
  [ "$verdict" = same ] || echo "$verdict  $fixture (tollgate invoke exit $status)"
  [ "$verdict" = same ] || failures=$((failures + 1))
done

echo "lambda mode: $checked fixtures, $failures different"

# The fixtures fetched the JWKS twice: at init, and for the one unknown kid (which then starts
# the cool-down). A burst of warm invocations fetches it never again.
before=$(jwks_fetches)
burst=30
start_ns=$(date +%s%N)
for _ in $(seq 1 "$burst"); do
  cargo lambda invoke tollgate-lambda -A 127.0.0.1 -P "$port" --data-file events/rest-request.allow.json -o json >/dev/null
done
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
after=$(jwks_fetches)
latencies=$(grep -o '"latencyUs":[0-9]*' "$work/watch.log" | cut -d: -f2 | sort -n | awk '{a[NR]=$1} END {print "median " a[int((NR+1)/2)] " us, max " a[NR] " us over " NR " decisions"}')
echo "lambda mode: $burst warm invocations in ${elapsed_ms} ms (cargo lambda invoke round trips); JWKS fetches: $before before the burst, $after after"
echo "lambda mode: handler latency in the decision logs: $latencies"
if [ "$before" -ne 2 ] || [ "$after" -ne 2 ]; then
  echo "expected exactly two JWKS fetches (at init, and for the unknown kid), none in the burst" >&2
  failures=$((failures + 1))
fi
[ "$failures" -eq 0 ]
