#!/usr/bin/env bash
# usage-report against DuckDB on the same access log: one JSON line per call in the SAM
# template's REST format, 1,000,000 lines by default. Takes DuckDB (pinned) from .venv, or
# installs it from the same hash-pinned lock into a venv under target/; generates the log once,
# runs both (one warm-up run each, so the file is in the page cache for both, then five timed
# runs of each, alternating), checks that they bill the same calls and cost, and prints the
# median time and the highest peak memory (GNU time) side by side.
#   scripts/report-bench.sh [LINES]      full run (release build)
#   scripts/report-bench.sh --quick      20,000 lines with the debug build, to keep it working
set -euo pipefail
cd "$(dirname "$0")/.."

lines=1000000
profile=release
rounds=5
if [[ "${1:-}" == "--quick" ]]; then
  lines=20000
  profile=debug
  rounds=1
elif [[ -n "${1:-}" ]]; then
  lines=$1
fi
dir=target/report-bench
mkdir -p "$dir"
# DuckDB, pinned with its hashes in scripts/requirements.txt: the project's .venv has it
# (scripts/setup); without one, a venv under target/ gets that one package from the same lock.
if .venv/bin/python3 -c 'import duckdb' 2>/dev/null; then
  python=.venv/bin/python3
else
  venv=$dir/venv
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  sed -n '/^duckdb==/,/# via/p' scripts/requirements.txt >"$dir/duckdb-requirements.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    -r "$dir/duckdb-requirements.txt"
  python=$venv/bin/python
fi

log=$dir/access-$lines.jsonl
if [[ ! -s "$log" ]]; then
  "$python" - "$lines" >"$log" <<'PY'
import random, sys
random.seed(7)
lines = int(sys.argv[1])
routes = [("GET", "/api/user/profile", 100000), ("POST", "/api/user/update", 50000),
          ("GET", "/api/product/search", 70000), ("GET", "/api/product/{id}", 20000),
          ("DELETE", "/api/user/{id}", 500000), ("GET", "/api/orders", 30000),
          ("POST", "/api/orders", 90000), ("GET", "/api/orders/{id}", 10000),
          ("GET", "/api/invoices/{id}/pdf", 150000), ("PUT", "/api/user/profile", 40000)]
start = 1640995200000  # 2022-01-01
out = sys.stdout
for i in range(lines):
    method, resource, cost = routes[random.randrange(len(routes))]
    user = 100000 + random.randrange(200)
    t = start + random.randrange(31 * 86400000)
    status = "200" if random.random() < 0.95 else "403"
    out.write('{"requestId":"r-%d","requestTimeEpoch":"%d","httpMethod":"%s","path":"/prod%s","resourcePath":"%s","routeKey":"-","status":"%s","userId":"%d","clientId":"tollgate-dev-client","plan":"free","tenantId":"-","endpoint":"%s %s","costMicros":"%d","apiKeyId":"-","authorizerLatency":"3","authorizerError":"-"}\n'
              % (i, t, method, resource, resource, status, user, method, resource, cost if status == "200" else 0))
PY
fi
bytes=$(stat -c %s "$log")

if [[ $profile == release ]]; then
  cargo build --release --quiet
else
  cargo build --quiet
fi
tollgate=target/$profile/tollgate

duckdb_query="
import duckdb, json, sys
rows = duckdb.sql('''
  SELECT userId, CASE WHEN routeKey <> '-' THEN routeKey ELSE httpMethod || ' ' || resourcePath END AS route,
         CAST(to_timestamp(CAST(requestTimeEpoch AS BIGINT) / 1000) AS DATE) AS day,
         count(*) AS calls, sum(CAST(costMicros AS BIGINT)) AS cost
  FROM read_json('$log', format = 'newline_delimited', columns = {
         requestTimeEpoch: 'VARCHAR', httpMethod: 'VARCHAR', resourcePath: 'VARCHAR', routeKey: 'VARCHAR',
         status: 'VARCHAR', userId: 'VARCHAR', costMicros: 'VARCHAR'})
  WHERE status LIKE '2%'
  GROUP BY ALL''').fetchall()
print(json.dumps({'rows': len(rows), 'calls': sum(r[3] for r in rows), 'cost': sum(r[4] for r in rows)}))
"

# One warm-up run each (the file is then in the page cache for both), then ROUNDS timed runs
# of each, alternating, so that a shared machine's noise hits both alike; the median time and
# the highest peak memory of each are compared.
timed() { # label, round, command...: one timed run; appends "seconds peak-KiB" to a file
  local label=$1 round=$2; shift 2
  /usr/bin/time -f "%e %M" -a -o "$dir/$label.time" "$@" >"$dir/$label.out" 2>"$dir/$label.err"
}
rm -f "$dir/tollgate.time" "$dir/duckdb.time"
"$tollgate" usage-report --format json "$log" >/dev/null 2>&1
"$python" -c "$duckdb_query" >/dev/null 2>&1
for round in $(seq 1 "$rounds"); do
  timed tollgate "$round" "$tollgate" usage-report --format json "$log"
  timed duckdb "$round" "$python" -c "$duckdb_query"
done
median_and_peak() { sort -n "$1" | awk '{t[NR]=$1; if ($2>m) m=$2} END {print t[int((NR+1)/2)], m}'; }
read -r t_secs t_kib < <(median_and_peak "$dir/tollgate.time")
read -r d_secs d_kib < <(median_and_peak "$dir/duckdb.time")
"$python" - "$dir" "$lines" "$bytes" "$t_secs" "$t_kib" "$d_secs" "$d_kib" <<'PY'
import json, sys
d, lines, size, ts, tk, ds, dk = sys.argv[1:]
ours = json.load(open(f"{d}/tollgate.out"))
theirs = json.load(open(f"{d}/duckdb.out"))
same = (ours["total"]["calls"], ours["total"]["costMicros"], len(ours["rows"])) == (theirs["calls"], theirs["cost"], theirs["rows"])
print(f"{int(lines):,} lines, {int(size) / 1e6:.0f} MB; both bill {theirs['calls']:,} calls, {theirs['cost']:,} micros, {theirs['rows']:,} rows: {'same' if same else 'DIFFERENT'}")
print("| tool | time (median) | peak memory |")
print("|---|---:|---:|")
print(f"| tollgate usage-report | {float(ts):.2f} s | {int(tk) / 1024:.0f} MiB |")
print(f"| DuckDB read_json + GROUP BY | {float(ds):.2f} s | {int(dk) / 1024:.0f} MiB |")
print(f"| tollgate / DuckDB | {float(ts) / float(ds):.2f}x time | {int(tk) / int(dk):.2f}x memory |")
sys.exit(0 if same else 1)
PY
