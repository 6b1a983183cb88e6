#!/usr/bin/env bash
# The Lambda-mode cold start ("init") of the deployed binary, tollgate-lambda: milliseconds
# from spawning it to its first GET /2018-06-01/runtime/invocation/next on a local Runtime API
# stub, with the environment Lambda gives the function (template.yaml's tollgate settings,
# events/dev.env's issuer) and the JWKS prefetch over real HTTP. scripts/init-bench.py does the
# work; its docstring says how a run is timed and checked.
#
# Usage: scripts/init-bench.sh [--runs N] [--warmup N] [--entries N] [--quick] [NAME=BINARY...]
#   NAME=BINARY   one or more builds to compare, interleaved run by run (ABAB...) in one run
#                 of the bench; the ratio column is each median over the first one's. With
#                 none: `cargo build --release --bin tollgate-lambda`, measured as `tollgate`.
#   --runs N      timed runs per variant (30); --warmup N: untimed runs first (3)
#   --entries N   revocation on: moto_server with N items in the revocation table (0: off)
#   --quick       3 runs, 1 warm-up, for CI: it keeps the bench working, not its figures
# Output: a markdown table on stdout, raw times in target/init-bench/times.json.
# Python: $TOLLGATE_PYTHON, else .venv/bin/python3 (scripts/setup), else python3; --entries
# needs boto3 and moto_server beside that Python (the venv has both). Run it with nice -n 10
# on a shared machine; compare variants only within one run.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${TOLLGATE_PYTHON:-}
if [[ -z $python ]]; then
  if [[ -x .venv/bin/python3 ]]; then python=.venv/bin/python3; else python=python3; fi
fi

# A variant is an argument NAME=PATH (options are all --name or --name VALUE, no '=' in values).
build=true
for arg in "$@"; do
  case $arg in
    -h | --help) build=false ;;
    -*) ;;
    *=*) build=false ;;
  esac
done
if $build; then
  cargo build --release --quiet --bin tollgate-lambda
  set -- "$@" "tollgate=${CARGO_TARGET_DIR:-target}/release/tollgate-lambda"
fi
exec "$python" scripts/init-bench.py "$@"
