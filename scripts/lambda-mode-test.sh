#!/usr/bin/env bash
# Lambda mode, for real: `cargo lambda watch` runs tollgate under a local Lambda runtime API
# emulator, and every fixture sent with `cargo lambda invoke` must give the same answer as
# `tollgate invoke`: the same response JSON, or the same Lambda error message.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-lambda >/dev/null || { echo "cargo-lambda is not installed (pip install cargo-lambda)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
cargo build --quiet
cargo lambda watch -A 127.0.0.1 -P "$port" --ignore-changes --env-file events/dev.env >"$work/watch.log" 2>&1 &
watch_pid=$!
cleanup() { kill "$watch_pid" 2>/dev/null || true; pkill -P "$watch_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Wait until the emulator answers (the first invoke also starts the function).
for _ in $(seq 1 120); do
  if cargo lambda invoke tollgate -A 127.0.0.1 -P "$port" --data-file events/rest-token.allow.json -o json >/dev/null 2>&1; then
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
  ./target/debug/tollgate invoke "$fixture" >"$work/local.json" 2>/dev/null || status=$?
  lambda_status=0
  cargo lambda invoke tollgate -A 127.0.0.1 -P "$port" --data-file "$fixture" -o json \
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
  echo "$verdict  $fixture (tollgate invoke exit $status)"
  [ "$verdict" = same ] || failures=$((failures + 1))
done

echo "lambda mode: $checked fixtures, $failures different"
[ "$failures" -eq 0 ]
