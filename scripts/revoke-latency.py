#!/usr/bin/env python3
"""The time from `tollgate revoke` returning to the first 401 through `tollgate serve`, for
BENCHMARKS.md: moto's DynamoDB on 127.0.0.1 holds the table, `tollgate serve` (the release
build) reads it every TOLLGATE_REVOCATION_REFRESH_SECONDS (default 5) with its authorizer
cache off (--cache-ttl 0: the bound is then the refresh interval alone), and a client polls
one route every 10 ms with a token until it is refused. The revocations land at random points
of the refresh interval, so the times spread from 0 to the interval.

Usage: scripts/revoke-latency.py [--runs N] [--refresh SECONDS] [--bin target/release/tollgate]
Needs the project's .venv (moto, PyJWT)."""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, time, urllib.request, uuid

import boto3
import jwt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ISSUER = "https://dev-only.tollgate.invalid"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def status(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        return urllib.request.urlopen(request, timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--refresh", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "tollgate"))
    args = ap.parse_args()
    moto_port, serve_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    env = {
        "PATH": os.environ["PATH"], "HOME": tempfile.gettempdir(),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": "tollgate-dev-client",
        "JWKS_URI": "file://" + os.path.join(ROOT, "events/jwks.json"),
        "REQUIRED_SCOPES": "api/read",
        "TOLLGATE_CONFIG": os.path.join(ROOT, "config/tollgate.toml"),
        "TOLLGATE_REVOCATION_TABLE": "revocations",
        "TOLLGATE_REVOCATION_REFRESH_SECONDS": str(args.refresh),
    }
    moto = subprocess.Popen([os.path.join(ROOT, ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    serve = None
    try:
        wait_for(endpoint + "/moto-api/")
        boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").create_table(
            TableName="revocations",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST")
        serve = subprocess.Popen([args.bin, "serve", "--listen", f"127.0.0.1:{serve_port}", "--cache-ttl", "0"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{serve_port}/api/user/profile"
        wait_for(url)
        with open(os.path.join(ROOT, "events/dev-keys/DEV-ONLY-rsa-private.pem"), "rb") as f:
            key = f.read()
        times = []
        for _ in range(args.runs):
            jti = str(uuid.uuid4())
            now = int(time.time())
            token = jwt.encode({"sub": "bench-user", "iss": ISSUER, "client_id": "tollgate-dev-client",
                                "token_use": "access", "scope": "api/read", "jti": jti,
                                "iat": now - 5, "exp": now + 3600},
                               key, algorithm="RS256", headers={"kid": "DEV-ONLY-rsa-1"})
            if status(url, token) != 200:
                raise SystemExit("the fresh token was not allowed")
            # Land the revocation at a random point of the refresh interval.
            time.sleep((uuid.uuid4().int % 1000) / 1000 * args.refresh)
            subprocess.run([args.bin, "revoke", "--jti", jti, "--expires-in", "1h"], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            revoked = time.monotonic()
            while status(url, token) != 401:
                if time.monotonic() - revoked > args.refresh + 5:
                    raise SystemExit("not refused within the refresh interval + 5 s")
                time.sleep(0.01)
            times.append(time.monotonic() - revoked)
        times.sort()
        print(f"refresh {args.refresh} s, cache TTL 0, {args.runs} revocations: time from `tollgate revoke` to the first 401")
        print(f"| median | p90 | max | bound |\n|---:|---:|---:|---:|")
        print(f"| {statistics.median(times):.2f} s | {times[int(len(times) * 0.9) - 1]:.2f} s | {times[-1]:.2f} s | {args.refresh} s |")
        if times[-1] > args.refresh + 0.5:
            raise SystemExit(f"the slowest took {times[-1]:.2f} s, past the bound of {args.refresh} s")
    finally:
        if serve:
            serve.terminate()
            serve.wait(timeout=10)
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
