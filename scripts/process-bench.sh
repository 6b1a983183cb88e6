#!/usr/bin/env bash
# Whole processes side by side in one hyperfine run, on the same token and JWKS file:
# `tollgate invoke` on a fixture, a node one-shot with aws-jwt-verify, a python one-shot with
# PyJWT, and /bin/true as the floor. Then the peak RSS of each (GNU time).
#
# Needs: hyperfine (apt), node + npm, python3 with PyJWT and cryptography (pip).
# Usage: scripts/process-bench.sh [--quick]     (--quick: 3 runs each with the debug build, for
#                                                CI: it keeps the bench working, not its figures)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=200
profile=release
if [[ "${1:-}" == "--quick" ]]; then
  runs=3
  profile=debug
fi
out=target/process-bench
mkdir -p "$out"

if [[ $profile == release ]]; then
  cargo build --release --quiet --bin tollgate
else
  cargo build --quiet --bin tollgate
fi
node_dir=$(scripts/peers/install.sh)

set -a
# shellcheck disable=SC1091
source events/dev.env
set +a
fixture=events/rest-token.allow.json
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["authorizationToken"].split()[1])' "$fixture")
jwks=events/jwks.json

tollgate=(target/$profile/tollgate invoke "$fixture")
node_cmd=(node "$node_dir/verify-aws-jwt-verify.mjs" "$token" "$jwks" "$JWT_ISSUER" "$JWT_AUDIENCE")
python_cmd=(python3 scripts/peers/verify-pyjwt.py "$token" "$jwks" "$JWT_ISSUER" "$JWT_AUDIENCE")

# Every contender must accept the token, or the timings mean nothing.
"${tollgate[@]}" >/dev/null 2>&1 || { echo "tollgate did not allow the fixture" >&2; exit 1; }
"${node_cmd[@]}" || { echo "aws-jwt-verify rejected the token" >&2; exit 1; }
"${python_cmd[@]}" || { echo "PyJWT rejected the token" >&2; exit 1; }

hyperfine --shell=none --warmup 5 --runs "$runs" --style basic \
  --export-markdown "$out/times.md" --export-json "$out/times.json" \
  -n '/bin/true' '/bin/true' \
  -n 'tollgate invoke' "${tollgate[*]}" \
  -n 'node + aws-jwt-verify' "${node_cmd[*]}" \
  -n 'python + PyJWT' "${python_cmd[*]}"

echo
echo "peak RSS (GNU time, max of 5 runs):"
rss() {
  local max=0 kb
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%M' -o "$out/rss.tmp" "$@" >/dev/null 2>&1
    kb=$(tail -1 "$out/rss.tmp")
    (( kb > max )) && max=$kb
  done
  echo "$max"
}
for name in tollgate node python; do
  case $name in
    tollgate) cmd=("${tollgate[@]}") ;;
    node) cmd=("${node_cmd[@]}") ;;
    python) cmd=("${python_cmd[@]}") ;;
  esac
  printf '  %-9s %6s KiB\n' "$name" "$(rss "${cmd[@]}")"
done | tee "$out/rss.txt"

python3 - "$out/times.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
t = results["tollgate invoke"]["median"]
print(f"\ntollgate invoke median {t*1e3:.2f} ms")
for name in ("node + aws-jwt-verify", "python + PyJWT"):
    print(f"  {name}: {results[name]['median']*1e3:.2f} ms, {results[name]['median']/t:.1f}x tollgate")
PY
