#!/usr/bin/env python3
"""The Lambda-mode cold start ("init") of tollgate-lambda, whole process, on a Runtime API stub.

One run: spawn the binary with the environment Lambda gives a function (the template's
tollgate settings, events/dev.env's issuer, its JWKS served over HTTP by the stub), and time
from just before the spawn to the binary's first `GET /2018-06-01/runtime/invocation/next`,
which the stub stamps as soon as it has read the request; then kill it. A run that exits before
/next, or reaches it without having fetched the JWKS, is an error, never a figure.

Variants (`NAME=BINARY`, one or more) are run interleaved, run by run (ABAB...), so that a
noisy machine weighs on every variant alike. `--entries N` starts moto_server, creates the
revocation table of issue 22 (pk/sk, PAY_PER_REQUEST, TTL on expires_at), writes N items in
its layout, counts them back, and points the binary at it (TOLLGATE_REVOCATION_TABLE,
AWS_ENDPOINT_URL_DYNAMODB). A binary without revocation ignores those variables.

Standard library only, plus boto3 and moto_server for --entries (the project venv's).
Usually run through scripts/init-bench.sh, which builds the binary when no variant is given.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from moto_local import CREDENTIALS, REGION, MotoError, MotoServer, create_revocation_table, free_port

REPO = Path(__file__).resolve().parent.parent
NEXT_PATH = "/2018-06-01/runtime/invocation/next"
JWKS_PATH = "/jwks.json"
TABLE = "tollgate-revocations-bench"
OUT = REPO / "target" / "init-bench"


class BenchError(Exception):
    """A run or the set-up failed: the bench stops without figures."""


def log(message: str) -> None:
    print(f"init-bench: {message}", file=sys.stderr, flush=True)


# --- the Runtime API stub (and the JWKS) -------------------------------------------------


class Stub:
    """Lambda's Runtime API as far as init goes, and the issuer's JWKS, on one local server.

    The first /next of a run is stamped with time.monotonic() and then held open (as Lambda
    holds it until an invocation comes) until the run is over and the process killed.
    """

    def __init__(self, jwks: bytes) -> None:
        self.jwks = jwks
        self.lock = threading.Lock()
        self.begin_run()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path == NEXT_PATH:
                    stamp = time.monotonic()
                    with stub.lock:
                        if stub.next_at is None:
                            stub.next_at = stamp
                            stub.jwks_before_next = stub.jwks_fetches
                        release = stub.release
                        stub.reached.set()
                    # Long poll: no invocation is coming. The process is killed meanwhile.
                    release.wait(120)
                    self.close_connection = True
                    return
                if self.path == JWKS_PATH:
                    stamp = time.monotonic()
                    with stub.lock:
                        stub.jwks_fetches += 1
                        if stub.jwks_at is None:
                            stub.jwks_at = stamp
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Cache-Control", "max-age=3600")
                    self.send_header("Content-Length", str(len(stub.jwks)))
                    self.end_headers()
                    self.wfile.write(stub.jwks)
                    return
                self.unexpected()

            def do_POST(self) -> None:
                self.unexpected()

            def unexpected(self) -> None:
                # e.g. /2018-06-01/runtime/init/error: recorded, and the run fails.
                with stub.lock:
                    stub.unexpected.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def begin_run(self) -> None:
        with self.lock:
            self.next_at: float | None = None
            self.jwks_at: float | None = None
            self.jwks_fetches = 0
            self.jwks_before_next = 0
            self.unexpected: list[str] = []
            self.reached = threading.Event()
            self.release = threading.Event()

    def end_run(self) -> None:
        with self.lock:
            self.release.set()

    def close(self) -> None:
        self.end_run()
        self.server.shutdown()
        self.server.server_close()


# --- DynamoDB (moto) for --entries --------------------------------------------------------


def fill_table(endpoint: str, entries: int, issuer: str) -> None:
    """Creates the table of issue 22's interface and writes `entries` items in its layout."""
    try:
        import boto3  # only --entries needs it
    except ImportError:
        raise BenchError("--entries needs boto3 (the project venv: scripts/setup)") from None
    create_revocation_table(endpoint, TABLE)
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)

    rng = random.Random(22)  # the same items every time
    now_ms = int(time.time() * 1000)
    expires_at = now_ms // 1000 + 86400
    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION,
                           **CREDENTIALS).Table(TABLE)
    with table.batch_writer() as batch:
        for i in range(entries):
            revoked_at = now_ms - (entries - i) * 1000  # one a second, oldest first
            item = {
                "pk": "revocations",
                "sk": f"{revoked_at:013d}#{rng.getrandbits(64):016x}",
                "revoked_at": revoked_at,
                "expires_at": expires_at,
            }
            # Mostly single tokens; some token families, subjects and keys.
            if i % 100 == 99:
                item.update(kind="kid", value=f"bench-kid-{i}", issuer=issuer)
            elif i % 10 == 9:
                item.update(kind="sub", value=f"bench-user-{i}", issued_before=expires_at - 86400)
            elif i % 10 == 8:
                item.update(kind="origin_jti", value=f"{rng.getrandbits(128):032x}")
            else:
                item.update(kind="jti", value=f"{rng.getrandbits(128):032x}")
            batch.put_item(Item=item)

    # Read back what the binary will read: the one partition, in sk order, consistently.
    count = 0
    kinds: set[str] = set()
    pages = ddb.get_paginator("query").paginate(
        TableName=TABLE, KeyConditionExpression="pk = :p AND sk > :cursor",
        ExpressionAttributeValues={":p": {"S": "revocations"}, ":cursor": {"S": "0"}},
        ConsistentRead=True)
    for page in pages:
        count += page["Count"]
        kinds.update(item["kind"]["S"] for item in page["Items"])
    if count != entries:
        raise BenchError(f"the table holds {count} revocation items, {entries} were written")
    ttl = ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    if ttl.get("AttributeName") != "expires_at" or ttl.get("TimeToLiveStatus") != "ENABLED":
        raise BenchError(f"TTL on the table is not expires_at: {ttl}")
    log(f"table {TABLE}: {count} items ({', '.join(sorted(kinds))}) read back with Query")


# --- one run ---------------------------------------------------------------------------


def lambda_env(stub_port: int, moto: MotoServer | None) -> dict[str, str]:
    """What Lambda sets for a provided.al2023 function, with the template's tollgate settings."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": "bootstrap",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{stub_port}",
        "AWS_LAMBDA_FUNCTION_NAME": "tollgate-init-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",  # template.yaml's MemorySize
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/tollgate-init-bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/02/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDINITBENCH",
        "AWS_SECRET_ACCESS_KEY": "init-bench-not-a-secret",
        "AWS_SESSION_TOKEN": "init-bench-not-a-token",
    }
    # events/dev.env's issuer, audience and scopes; its JWKS over HTTP instead of a file.
    for line in (REPO / "events" / "dev.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    env["JWKS_URI"] = f"http://127.0.0.1:{stub_port}{JWKS_PATH}"
    # The tollgate settings template.yaml gives the function (config/tollgate.toml is its layer).
    env.update({
        "TOLLGATE_CONFIG": str(REPO / "config" / "tollgate.toml"),
        "HTTP_API_SIMPLE_RESPONSES": "false",
        "TOLLGATE_AUTHORIZER_CACHE": "token",
        "TOLLGATE_ROUTE_TABLE": "declared",
    })
    if moto is not None:
        env["TOLLGATE_REVOCATION_TABLE"] = TABLE
        env["AWS_ENDPOINT_URL_DYNAMODB"] = moto.endpoint
    return env


def one_run(name: str, binary: str, stub: Stub, env: dict[str, str], scratch: Path,
            timeout: float) -> tuple[float, float, int]:
    """Milliseconds from the spawn to the first /next and to the first JWKS request, and the
    JWKS fetches before /next."""
    out_path, err_path = scratch / "stdout", scratch / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        stub.begin_run()
        reached = stub.reached
        start = time.monotonic()
        proc = subprocess.Popen([binary], env=env, cwd=scratch, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        # Whichever comes first: /next, or the process ending (no polling, so no GIL traffic).
        threading.Thread(target=lambda: (proc.wait(), reached.set()), daemon=True).start()
        reached.wait(timeout)
        with stub.lock:
            next_at, jwks_at = stub.next_at, stub.jwks_at
            jwks, unexpected = stub.jwks_before_next, list(stub.unexpected)
        exited = proc.poll()
        if exited is None:
            proc.kill()
        proc.wait()
        stub.end_run()

    def failure(why: str) -> BenchError:
        text = [f"{name} ({binary}): {why}"]
        if unexpected:
            text.append(f"--- its other requests to the stub: {unexpected}")
        for label, path in (("stderr", err_path), ("stdout", out_path)):
            data = path.read_bytes()[-4000:].decode(errors="replace").rstrip()
            text.append(f"--- its {label}:\n{data}" if data else f"--- its {label}: (empty)")
        return BenchError("\n".join(text))

    if next_at is None:
        if exited is not None:
            raise failure(f"exited with status {exited} before GET /next")
        raise failure(f"no GET /next within {timeout:g} s")
    if unexpected:
        raise failure("requests to the Runtime API other than /next and the JWKS")
    if jwks < 1 or jwks_at is None:
        raise failure("reached /next without fetching the JWKS (the init prefetch is not timed)")
    return (next_at - start) * 1000, (jwks_at - start) * 1000, jwks


# --- figures -------------------------------------------------------------------------------


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def summary(times: list[float]) -> dict[str, float]:
    s = sorted(times)
    return {"median_ms": quantile(s, 0.5), "p10_ms": quantile(s, 0.1),
            "p90_ms": quantile(s, 0.9), "min_ms": s[0], "max_ms": s[-1]}


def parse_variant(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PATH_TO_BINARY")
    binary = Path(path).resolve()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r}: {binary} is not an executable file")
    return name, str(binary)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", type=parse_variant, metavar="NAME=BINARY")
    parser.add_argument("--runs", type=positive, default=30, help="timed runs per variant (30)")
    parser.add_argument("--warmup", type=non_negative, default=3,
                        help="untimed runs per variant first (3)")
    parser.add_argument("--entries", type=non_negative, default=0,
                        help="revocation items in a moto table (0: revocation off)")
    parser.add_argument("--quick", action="store_true",
                        help="3 runs, 1 warm-up: keeps the bench working, not its figures")
    parser.add_argument("--timeout", type=float, default=30, help="seconds a run may take (30)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.warmup = 3, 1
    names = [name for name, _ in args.variants]
    if len(set(names)) != len(names):
        parser.error(f"variant names must differ: {names}")

    OUT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tollgate-init-bench-"))
    stub = Stub((REPO / "events" / "jwks.json").read_bytes())
    moto: MotoServer | None = None
    try:
        if args.entries:
            try:
                moto = MotoServer(scratch / "moto.log")
            except MotoError as e:
                raise BenchError(f"--entries needs moto_server: {e}") from None
            issuer = lambda_env(stub.port, None)["JWT_ISSUER"]
            fill_table(moto.endpoint, args.entries, issuer)
        env = lambda_env(stub.port, moto)
        times: dict[str, list[float]] = {name: [] for name in names}
        to_jwks: dict[str, list[float]] = {name: [] for name in names}
        jwks: dict[str, list[int]] = {name: [] for name in names}
        ddb: dict[str, list[int]] = {name: [] for name in names}
        total = args.warmup + args.runs
        log(f"{len(names)} variant(s), {args.warmup} warm-up + {args.runs} runs each, "
            f"interleaved; revocation {'on, ' + str(args.entries) + ' items' if moto else 'off'}")
        # moto's request count before each run; a run's requests are those up to the next mark.
        marks: list[tuple[str, bool, int]] = []
        for round_no in range(total):
            for name, binary in args.variants:
                marks.append((name, round_no >= args.warmup, moto.requests() if moto else 0))
                elapsed, jwks_ms, fetches = one_run(name, binary, stub, env, scratch, args.timeout)
                if round_no >= args.warmup:
                    times[name].append(elapsed)
                    to_jwks[name].append(jwks_ms)
                    jwks[name].append(fetches)
        if moto:
            time.sleep(0.3)  # the last run's requests reach moto's log
            ends = [mark for _, _, mark in marks[1:]] + [moto.requests()]
            for (name, timed, mark), end in zip(marks, ends):
                if timed:
                    ddb[name].append(end - mark)
    finally:
        stub.close()
        if moto:
            moto.close()
        shutil.rmtree(scratch, ignore_errors=True)

    first = summary(times[names[0]])["median_ms"]
    rows = []
    print("| variant | runs | median ms | p10 | p90 | min | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, binary in args.variants:
        s = summary(times[name])
        ratio = s["median_ms"] / first
        print(f"| {name} | {len(times[name])} | {s['median_ms']:.2f} | {s['p10_ms']:.2f} | "
              f"{s['p90_ms']:.2f} | {s['min_ms']:.2f} | {ratio:.2f} |")
        row = {"name": name, "binary": binary, "runs": len(times[name]), **s,
               "ratio_of_medians": ratio, "times_ms": times[name],
               "median_ms_to_first_jwks_request": summary(to_jwks[name])["median_ms"],
               "ms_to_first_jwks_request": to_jwks[name],
               "jwks_fetches_before_next": jwks[name]}
        if moto:
            row["dynamodb_requests"] = ddb[name]
        rows.append(row)
    sys.stdout.flush()
    for row in rows if moto else []:
        log(f"{row['name']}: DynamoDB requests per run: {sorted(set(row['dynamodb_requests']))} "
            f"(0: the binary does not read the table)")
    result = {
        "measure": "ms from spawn to the first GET " + NEXT_PATH,
        "runs": args.runs, "warmup": args.warmup, "entries": args.entries,
        "quick": args.quick, "order": "interleaved, run by run", "variants": rows,
    }
    (OUT / "times.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"raw times: {(OUT / 'times.json').relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"init-bench: {e}", file=sys.stderr)
        sys.exit(1)
