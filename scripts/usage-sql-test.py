#!/usr/bin/env python3
"""The README's Athena SQL for the usage report, run on an embedded engine (DuckDB, pinned in
scripts/requirements.txt) against the same access logs as `tollgate usage-report`: the seed
fixture (events/access-logs/seed.jsonl) and a generated log of REST and HTTP API calls (several
users, days and statuses; a path served by two methods). Both must give the same rows: user,
route, date, calls and cost.

The SQL is taken from the README as it stands (the ```sql block of "Cost report"). DuckDB
reads the log as a table named `access_logs` with every field a string, as Athena's JSON SerDe
does with the table the README describes; the one Athena function DuckDB lacks,
`from_unixtime`, is given to it as a macro, and the session runs in UTC, as Athena does."""

import json
import os
import random
import re
import subprocess
import sys
import tempfile

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.path.join(ROOT, "target", "debug", "tollgate")
FIELDS = ["requestId", "requestTimeEpoch", "httpMethod", "path", "resourcePath", "routeKey",
          "status", "userId", "clientId", "plan", "tenantId", "endpoint", "costMicros"]


def readme_sql():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    if len(blocks) != 1:
        raise SystemExit(f"README.md: expected one ```sql block, found {len(blocks)}")
    return blocks[0]


def generated_log(path, lines=2000):
    """Route-scope calls as the template's access-log format records them, and a few CORS
    preflights."""
    rng = random.Random(16)
    rest = [("GET", "/api/user/profile", 100000), ("POST", "/api/user/update", 50000),
            ("GET", "/api/product/search", 70000), ("GET", "/api/user/{id}", 20000),
            ("DELETE", "/api/user/{id}", 500000)]
    http = [("GET /orders", 30000), ("POST /orders", 90000), ("$default", 0)]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(lines):
            epoch = 1642204800000 + rng.randrange(5 * 86400000)  # 2022-01-15 to 2022-01-19
            status = rng.choice(["200", "200", "200", "201", "403", "500"])
            user = str(100000 + rng.randrange(7))
            if rng.random() < 0.6:
                method, resource, cost = rng.choice(rest)
                route_key, endpoint = "-", f"{method} {resource}"
                path_ = "/prod" + resource.replace("{id}", str(rng.randrange(99)))
            else:
                route_key, cost = rng.choice(http)
                method, resource, endpoint = route_key.split(" ")[0], "-", route_key
                path_ = "/orders"
                if route_key == "$default":
                    method = "GET"
            line = dict(zip(FIELDS, [f"r-{i}", str(epoch), method, path_, resource, route_key,
                                     status, user, "tollgate-dev-client", "free", "-", endpoint,
                                     str(cost if status.startswith("2") else 0)]))
            if rng.random() < 0.05:
                # A browser's CORS preflight, answered by API Gateway without the authorizer:
                # a 2xx line with no caller and no cost, billed by neither.
                line.update(httpMethod="OPTIONS", status=rng.choice(["200", "204"]), userId="-",
                            clientId="-", plan="-", endpoint="-", costMicros="-")
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


def sql_rows(log):
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE MACRO from_unixtime(seconds) AS to_timestamp(seconds)")
    columns = ", ".join(f"{f}: 'VARCHAR'" for f in FIELDS)
    db.execute(f"CREATE VIEW access_logs AS SELECT * FROM read_json('{log}', "
               f"format = 'newline_delimited', columns = {{{columns}}})")
    rows = db.execute(readme_sql()).fetchall()
    return [(user, route, str(day), calls, cost) for user, route, day, calls, cost in rows]


def shown(routes):
    """usage-report's display of a route: its path when no other route has the same path."""
    def path(route):
        parts = route.split(" ", 1)
        return parts[1] if len(parts) == 2 and parts[1].startswith("/") else None
    return {r: (path(r) if path(r) and not any(o != r and path(o) == path(r) for o in routes)
                else r) for r in routes}


def report_rows(log):
    out = subprocess.run([TOLLGATE, "usage-report", "--format", "json", log],
                         check=True, capture_output=True, text=True)
    report = json.loads(out.stdout)
    return [(r["userId"], r["endpoint"], r["date"], r["calls"], r["costMicros"])
            for r in report["rows"]]


def main():
    if not os.access(TOLLGATE, os.X_OK):
        subprocess.run(["cargo", "build", "--quiet"], cwd=ROOT, check=True)
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        generated = os.path.join(work, "generated.jsonl")
        generated_log(generated)
        for name, log in [("events/access-logs/seed.jsonl",
                           os.path.join(ROOT, "events", "access-logs", "seed.jsonl")),
                          ("a generated log of 2,000 calls", generated)]:
            sql = sql_rows(log)
            names = shown({route for _, route, _, _, _ in sql})
            expected = sorted((u, names[r], d, c, m) for u, r, d, c, m in sql)
            got = sorted(report_rows(log))
            if expected == got:
                print(f"usage SQL: {name}: DuckDB {duckdb.__version__} and usage-report agree "
                      f"on {len(got)} rows, {sum(r[3] for r in got)} calls, "
                      f"{sum(r[4] for r in got)} micros")
            else:
                failures += 1
                print(f"usage SQL: {name}: DIFFERENT", file=sys.stderr)
                for row in sorted(set(expected) ^ set(got)):
                    side = "SQL only" if row in expected else "usage-report only"
                    print(f"  {side}: {row}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
