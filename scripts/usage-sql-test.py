#!/usr/bin/env python3
"""The README's Athena SQL for the usage report, run on an embedded engine (DuckDB, pinned in
scripts/requirements.txt) against the same access logs as `tollgate usage-report --pricing`,
with the price table `tollgate prices --pricing` exports from the same configuration:
- the seed fixture (events/access-logs/seed.jsonl), the same calls as the token-keyed template
  logs them (events/access-logs/token-keyed.jsonl), and a generated route-keyed log of REST and
  HTTP API calls (several users, days and statuses; a path served by two methods), priced by
  config/tollgate.toml, where every call carries its own route's cost;
- a generated token-keyed log of thousands of REST, HTTP API and WebSocket calls, as the
  template's formats write them with no cost in the context (`-` or empty), over an ordinary
  shop's prices (path parameters, a literal beside a parameter, `ANY` beside a method, a greedy
  route beside a deeper literal, `$default`, `$connect`, plans with their own prices, the
  default plan's among them), with unknown and missing plans, some calls still carrying their
  own route's cost and some another route's (a context cached for another route).
Both must give the same rows, to the micro: user, route, date, calls and cost.

The SQL is taken from the README as it stands (the ```sql block of "Cost report" that is a
SELECT). DuckDB reads the log as a table named `access_logs` and the price table as `prices`,
every field a string, as Athena's JSON and CSV SerDes do with the tables the README
describes; the one Athena function DuckDB lacks, `from_unixtime`, is given to it as a macro,
and the session runs in UTC, as Athena does."""

import json
import os
import random
import re
import subprocess
import sys
import tempfile

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "debug", "tollgate")
FIELDS = ["requestId", "requestTimeEpoch", "httpMethod", "path", "resourcePath", "routeKey",
          "status", "userId", "clientId", "plan", "tenantId", "endpoint", "costMicros"]


def readme_sql():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    blocks = [b for b in re.findall(r"```sql\n(.*?)```", text, re.S) if b.lstrip().upper().startswith("SELECT")]
    if len(blocks) != 1:
        raise SystemExit(f"README.md: expected one ```sql block with a SELECT, found {len(blocks)}")
    return blocks[0]


# An ordinary shop's prices, for the token-keyed log.
SHOP_PRICING = """
[plans]
names = ["free", "pro", "team"]
default = "free"

[[routes]]
route = "GET /products"
price = "0.001"

[[routes]]
route = "GET /products/{id}"
price = "0.002"
prices = { pro = "0.0015" }

[[routes]]
route = "GET /products/featured"
price = "0.0005"

[[routes]]
route = "GET /products/{id}/reviews"
price = "0.003"
prices = { team = "0.0025" }

[[routes]]
route = "ANY /cart"
price = "0.01"
prices = { free = "0.02" }

[[routes]]
route = "GET /cart"
price = "0.005"

[[routes]]
route = "POST /orders"
price = "0.25"
prices = { pro = "0.20", team = "0.15" }

[[routes]]
route = "ANY /files/*"
price = "0.04"

[[routes]]
route = "GET /files/public/readme"
price = "0"

[[routes]]
route = "$default"
price = "0.000007"

[[routes]]
route = "$connect"
price = "0.000001"
"""


def token_keyed_log(path, lines=6000):
    """Calls as the template's REST, HTTP API and WebSocket formats write them under a
    token-keyed cache, Zipf-shaped over the shop's routes."""
    rng = random.Random(20)
    # (REST method, REST resource or None, HTTP route key or None)
    routes = [("GET", "/products", "GET /products"), ("GET", "/products/{id}", "GET /products/{id}"),
              ("GET", "/products/featured", "GET /products/featured"),
              ("GET", "/products/{id}/reviews", "GET /products/{id}/reviews"),
              ("GET", "/cart", "GET /cart"), ("POST", "/cart", "ANY /cart"), ("DELETE", "/cart", "ANY /cart"),
              ("PATCH", "/cart", "ANY /cart"), ("POST", "/orders", "POST /orders"),
              ("GET", "/files/{proxy+}", "ANY /files/{proxy+}"), ("PUT", "/files/{proxy+}", "ANY /files/{proxy+}"),
              ("GET", "/files/public/readme", "GET /files/public/readme"), (None, None, "$default")]
    weights = [1 / (rank + 1) for rank in range(len(routes))]
    plans = ["free", "pro", "team", "gold", "-", ""]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(lines):
            epoch = 1642204800000 + rng.randrange(4 * 86400000)
            status = rng.choice(["200"] * 8 + ["201", "204", "403", "404", "500"])
            user = f"user-{rng.randrange(40):02d}"
            plan = rng.choice(plans)
            kind = rng.random()
            if kind < 0.05:
                fields = {"httpMethod": "-", "path": "-", "resourcePath": "-", "routeKey": "$connect",
                          "eventType": "CONNECT", "connectionId": f"c-{i}"}
                route = "$connect"
            else:
                method, resource, route_key = rng.choices(routes, weights)[0]
                if resource is not None and kind < 0.6:
                    route = f"{method} {resource}"
                    fields = {"httpMethod": method, "path": "/prod" + resource.replace("{id}", str(rng.randrange(99)))
                              .replace("{proxy+}", "a/b"), "resourcePath": resource, "routeKey": "-"}
                else:
                    route = route_key
                    fields = {"httpMethod": method or "GET", "path": "/x", "resourcePath": "-", "routeKey": route_key}
            cost_field = rng.choice(["-", "-", ""])
            endpoint, cost = cost_field, cost_field
            shape = rng.random()
            if shape < 0.1:
                endpoint, cost = route, str(rng.randrange(1, 90000))  # a route-keyed answer: its own cost
            elif shape < 0.2:
                endpoint, cost = "GET /products", "1000"  # a context cached for another route
            line = {"requestId": f"r-{i}", "requestTimeEpoch": str(epoch), **fields, "status": status,
                    "userId": user, "clientId": "tollgate-dev-client", "plan": plan, "tenantId": "-",
                    "endpoint": endpoint, "costMicros": cost}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


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


def exported_prices(config, path):
    """`tollgate prices --pricing config` into `path`; the number of rows."""
    with open(path, "w", encoding="utf-8") as out:
        subprocess.run([TOLLGATE, "prices", "--pricing", config], check=True, stdout=out, cwd=ROOT)
    with open(path, encoding="utf-8") as table:
        return sum(1 for _ in table) - 1


def sql_rows(log, prices):
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE MACRO from_unixtime(seconds) AS to_timestamp(seconds)")
    columns = ", ".join(f"{f}: 'VARCHAR'" for f in FIELDS)
    db.execute(f"CREATE VIEW access_logs AS SELECT * FROM read_json('{log}', "
               f"format = 'newline_delimited', columns = {{{columns}}})")
    # Every field a string, as the README's CSV table reads it; an empty field stays ''.
    db.execute(f"CREATE VIEW prices AS SELECT * FROM read_csv('{prices}', header = true, quote = '\"', "
               "escape = '\"', allow_quoted_nulls = false, "
               "columns = {'route': 'VARCHAR', 'plan': 'VARCHAR', 'price_micros': 'VARCHAR'})")
    rows = db.execute(readme_sql()).fetchall()
    return [(user, route, str(day), calls, cost) for user, route, day, calls, cost in rows]


def shown(routes):
    """usage-report's display of a route: its path when no other route has the same path."""
    def path(route):
        parts = route.split(" ", 1)
        return parts[1] if len(parts) == 2 and parts[1].startswith("/") else None
    return {r: (path(r) if path(r) and not any(o != r and path(o) == path(r) for o in routes)
                else r) for r in routes}


def report_rows(log, config):
    out = subprocess.run([TOLLGATE, "usage-report", "--pricing", config, "--format", "json", log],
                         check=True, capture_output=True, text=True, cwd=ROOT)
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
        token_keyed = os.path.join(work, "token-keyed.jsonl")
        token_keyed_log(token_keyed)
        shop = os.path.join(work, "shop.toml")
        with open(shop, "w", encoding="utf-8") as f:
            f.write(SHOP_PRICING)
        shipped = os.path.join(ROOT, "config", "tollgate.toml")
        for name, log, config in [
                ("events/access-logs/seed.jsonl", os.path.join(ROOT, "events", "access-logs", "seed.jsonl"), shipped),
                ("events/access-logs/token-keyed.jsonl",
                 os.path.join(ROOT, "events", "access-logs", "token-keyed.jsonl"), shipped),
                ("a generated route-keyed log of 2,000 calls", generated, shipped),
                ("a generated token-keyed log of 6,000 calls", token_keyed, shop)]:
            prices = os.path.join(work, "prices.csv")
            price_rows = exported_prices(config, prices)
            sql = sql_rows(log, prices)
            names = shown({route for _, route, _, _, _ in sql})
            expected = sorted((u, names[r], d, c, m) for u, r, d, c, m in sql)
            got = sorted(report_rows(log, config))
            if log == token_keyed:
                # The log must exercise the prices: many rows and routes, and the SQL without
                # the exported prices (a header alone) must bill it differently.
                empty = os.path.join(work, "no-prices.csv")
                with open(empty, "w", encoding="utf-8") as f:
                    f.write("route,plan,price_micros\n")
                unpriced = sorted((u, names[r], d, c, m) for u, r, d, c, m in sql_rows(log, empty))
                if len(got) < 200 or len({r[1] for r in got}) < 14 or unpriced == got:
                    failures += 1
                    print(f"usage SQL: {name}: the generated log does not exercise the prices: {len(got)} rows, "
                          f"{len({r[1] for r in got})} routes, the same without prices: {unpriced == got}",
                          file=sys.stderr)
            if expected == got:
                print(f"usage SQL: {name}: DuckDB {duckdb.__version__} with {price_rows} exported prices "
                      f"and usage-report agree on {len(got)} rows, {sum(r[3] for r in got)} calls, "
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
