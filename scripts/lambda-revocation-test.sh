#!/usr/bin/env bash
# Revocation (issue 22) in Lambda mode, for real: `cargo lambda watch` runs the deployed binary
# (tollgate-lambda) with the revocation table in moto_server's DynamoDB (created through the
# DynamoDB API, per the interface), its JWKS over HTTP, a refresh interval of 1 s and a
# maximum staleness of 8 s. Entries are written with the `tollgate revoke` command, as an
# operator would; tokens are signed fresh with the development keys, a unique jti each, and
# sent as REST TOKEN events through `cargo lambda invoke`. Each check asserts the answer
# API Gateway gets (the Allow policy, the Lambda error "Unauthorized" for a 401, the
# TollgateError for a 500) and the reason of the decision line the function logged:
#   a. a token revoked by jti is refused (token_revoked) on the first invoke after one refresh;
#   b. a user's cut-off (--sub) refuses their token issued before it, not one issued after;
#   d. an entry past its --expires-at is ignored: the token it refused is allowed again;
#   c. a key revoked for its issuer (--kid --issuer) refuses every token it signed
#      (key_revoked) while the JWKS still lists it; a key entry for another issuer does not
#      apply. The other cases sign with the EC key, so this one can come in any order;
#   e. with the table unreachable (moto killed), the last list still answers up to the maximum
#      staleness (a revoked token refused, a good one allowed), then every invoke is the 500
#      error revocations_unavailable;
#   f. the failed reads are logged as revocation_refresh lines, result error, with the EMF
#      count revocationRefreshes by result (and none failed while moto was up).
# One line per passed check; exit 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-lambda >/dev/null || { echo "cargo-lambda is not installed (scripts/setup)" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "moto_server is not installed (scripts/setup)" >&2; exit 1; }
python3 -c 'import boto3, jwt' 2>/dev/null || { echo "boto3 and PyJWT are needed (scripts/setup)" >&2; exit 1; }

free_port() { python3 -c 'import sys; sys.path.insert(0, "scripts"); from moto_local import free_port; print(free_port())'; }
port=$(free_port)
jwks_port=$(free_port)
moto_port=$(free_port)
work=$(mktemp -d)
cargo build --quiet
tollgate=${CARGO_TARGET_DIR:-target}/debug/tollgate
script_start=$SECONDS

moto_pid=""
jwks_pid=""
watch_pid=""
cleanup() {
  # moto and the watch run in process groups of their own (setsid): the whole group goes,
  # the function that cargo lambda starts included.
  for pid in "$watch_pid" "$moto_pid"; do
    [ -n "$pid" ] && kill -- "-$pid" 2>/dev/null || true
  done
  [ -n "$jwks_pid" ] && kill "$jwks_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The AWS side: moto's DynamoDB, fake credentials, one region.
export AWS_ACCESS_KEY_ID=AKIDTOLLGATETEST AWS_SECRET_ACCESS_KEY=tollgate-test-not-a-secret
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$moto_port
export TOLLGATE_REVOCATION_TABLE=tollgate-revocations-test
setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!

# Helpers: tokens and events, and reading what an invoke answered.
cat >"$work/helper.py" <<'PY'
import json, os, sys, time, urllib.request, uuid

KEYS = {"rsa": ("events/dev-keys/DEV-ONLY-rsa-private.pem", "DEV-ONLY-rsa-1", "RS256"),
        "ec": ("events/dev-keys/DEV-ONLY-ec-p256-private.pem", "DEV-ONLY-ec-p256-1", "ES256")}

def mint(out, key, sub, iat):
    """A REST TOKEN event with a fresh token (the fixtures' claims) at OUT.json, its jti at OUT.jti."""
    import jwt
    path, kid, alg = KEYS[key]
    iat = int(time.time()) if iat == "now" else int(iat)
    jti = str(uuid.uuid4())
    claims = {"iss": "https://dev-only.tollgate.invalid", "sub": sub, "aud": "tollgate-dev-client",
              "client_id": "tollgate-dev-client", "token_use": "access", "scope": "api/read",
              "username": sub, "iat": iat, "exp": int(time.time()) + 3600, "jti": jti}
    token = jwt.encode(claims, open(path).read(), algorithm=alg, headers={"kid": kid})
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}",
             "methodArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/api/user/profile"}
    json.dump(event, open(out + ".json", "w"))
    open(out + ".jti", "w").write(jti)

def decisions(log):
    lines = []
    for line in open(log, errors="replace"):
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == "decision":
            lines.append(record)
    return lines

def verdict(status, out, err, log, before):
    """`allow|deny|unauthorized|error:REASON|other <reason of the new decision line>`."""
    status, before = int(status), int(before)
    err_text = open(err, errors="replace").read()
    answer = "other"
    if status == 0:
        try:
            effect = json.load(open(out))["policyDocument"]["Statement"][0]["Effect"]
            answer = {"Allow": "allow", "Deny": "deny"}.get(effect, "other")
        except (ValueError, KeyError, IndexError, TypeError):
            pass
    elif "Error: Unauthorized" in err_text and "× Unauthorized" in err_text:
        answer = "unauthorized"
    elif "Error: TollgateError" in err_text:
        marker = "× tollgate cannot decide: "
        if marker in err_text:
            answer = "error:" + err_text.split(marker, 1)[1].splitlines()[0].strip()
    found = decisions(log)
    reason = found[before]["reason"] if len(found) == before + 1 else f"({len(found) - before} new decision lines)"
    print(answer, reason)

def refreshes(log):
    """`OK ERRORS`: the revocation_refresh lines by result, each checked for its EMF metadata."""
    counts = {"ok": 0, "error": 0}
    for line in open(log, errors="replace"):
        start = line.find("{")
        try:
            record = json.loads(line[start:]) if start >= 0 else None
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("event") != "revocation_refresh":
            continue
        emf = record.get("_aws", {}).get("CloudWatchMetrics", [{}])[0]
        good = (emf.get("Namespace") == "tollgate" and emf.get("Dimensions") == [["result"]]
                and {"Name": "revocationRefreshes", "Unit": "Count"} in emf.get("Metrics", [])
                and record.get("revocationRefreshes") == 1
                and record.get("level") == ("info" if record.get("result") == "ok" else "warn"))
        key = record.get("result") if good else "malformed"
        counts[key] = counts.get(key, 0) + 1
    print(counts.get("ok", 0), counts.get("error", 0), counts.get("malformed", 0))

def jwks_lists(url, kid):
    keys = json.load(urllib.request.urlopen(url, timeout=5))["keys"]
    print("listed" if any(k.get("kid") == kid for k in keys) else "absent")

def cut_off(table_json, sub):
    """The issued_before (Unix seconds) of SUB's entry, from `tollgate revocations --format json`
    (which gives it in RFC 3339)."""
    from datetime import datetime
    for line in open(table_json):
        entry = json.loads(line)
        if entry.get("kind") == "sub" and entry.get("value") == sub:
            print(int(datetime.fromisoformat(entry["issued_before"]).timestamp()))
            return
    raise SystemExit(f"no sub entry in {table_json}")

globals()[sys.argv[1]](*sys.argv[2:])
PY
helper() { python3 "$work/helper.py" "$@"; }
# The table, through the DynamoDB API, once moto answers (scripts/moto_local.py: the one layout).
python3 scripts/moto_local.py table "$AWS_ENDPOINT_URL_DYNAMODB" "$TOLLGATE_REVOCATION_TABLE"

# The JWKS over HTTP, as in lambda-mode-test.sh.
python3 -m http.server "$jwks_port" --bind 127.0.0.1 --directory events >"$work/jwks.log" 2>&1 &
jwks_pid=$!
{
  grep -v '^JWKS_URI=' events/dev.env
  echo "JWKS_URI=http://127.0.0.1:$jwks_port/jwks.json"
  echo "TOLLGATE_REVOCATION_TABLE=$TOLLGATE_REVOCATION_TABLE"
  echo "TOLLGATE_REVOCATION_REFRESH_SECONDS=1"
  echo "TOLLGATE_REVOCATION_MAX_STALE_SECONDS=8"
  echo "AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB"
  echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
  echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
  echo "AWS_REGION=$AWS_REGION"
} >"$work/lambda.env"
setsid cargo lambda watch -A 127.0.0.1 -P "$port" --ignore-changes --env-file "$work/lambda.env" >"$work/watch.log" 2>&1 &
watch_pid=$!

passed=0
failures=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failures=$((failures + 1)); echo "FAIL  $1"; }
decision_count() { grep -c '"event":"decision"' "$work/watch.log" || true; }

# decide EVENT: "<answer> <reason>" for one invoke (the decision line can trail the response).
decide() {
  local before status=0
  before=$(decision_count)
  cargo lambda invoke tollgate-lambda -A 127.0.0.1 -P "$port" --data-file "$1" -o json \
    >"$work/out.json" 2>"$work/err.txt" || status=$?
  for _ in $(seq 1 40); do
    [ "$(decision_count)" -gt "$before" ] && break
    sleep 0.05
  done
  helper verdict "$status" "$work/out.json" "$work/err.txt" "$work/watch.log" "$before"
}
# expect WANT EVENT WHAT
expect() {
  local got
  got=$(decide "$2")
  if [ "$got" = "$1" ]; then pass "$3 ($got)"; else fail "$3: expected '$1', got '$got'"; fi
}
mint() { helper mint "$work/$1" "$2" "$3" "${4:-now}"; }
revoke() { "$tollgate" revoke "$@" >/dev/null || fail "tollgate revoke $* exited $?"; }
refresh() { sleep 1.2; }  # past the 1 s refresh interval: the next invoke reads the table
# wait_until UNIX_SECONDS (never more than 10 s: a cut-off or expiry is seconds away at most)
wait_until() {
  local deadline=$((SECONDS + 10))
  until [ "$(date +%s)" -ge "$1" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { fail "waited 10 s for $1 to come"; return 0; }
    sleep 0.1
  done
}

mint good ec good-user
mint rsa rsa rsa-user

# Wait until the emulator answers (the first invoke also builds and starts the function).
for _ in $(seq 1 120); do
  if cargo lambda invoke tollgate-lambda -A 127.0.0.1 -P "$port" --data-file "$work/good.json" -o json >/dev/null 2>&1; then
    break
  fi
  sleep 1
done
ready_at=$SECONDS
expect "allow ok" "$work/good.json" "a fresh token is allowed with revocation on"

# a. One token, by jti.
mint a ec alice
expect "allow ok" "$work/a.json" "a: the token is allowed before its revocation"
revoke --jti "$(cat "$work/a.jti")" --expires-in 1h
refresh
expect "unauthorized token_revoked" "$work/a.json" "a: refused after 'tollgate revoke --jti' and one refresh"
expect "allow ok" "$work/good.json" "a: another token is still allowed"

# b. A user's cut-off: tokens issued before it are refused, tokens issued after it pass.
mint b-old ec bob
expect "allow ok" "$work/b-old.json" "b: bob's token is allowed before the cut-off"
revoke --sub bob --expires-in 1h
"$tollgate" revocations --format json >"$work/revocations.json"
cut=$(helper cut_off "$work/revocations.json" bob)
# A token issued at the cut-off second (iat == issued_before), once that second has come.
wait_until "$cut"
mint b-new ec bob "$cut"
refresh
expect "unauthorized token_revoked" "$work/b-old.json" "b: bob's token issued before 'tollgate revoke --sub' is refused"
expect "allow ok" "$work/b-new.json" "b: bob's token issued at the cut-off (iat = issued_before) is allowed"

# d. An entry that expires: once past its --expires-at it is ignored.
mint d ec dora
until_s=$(( $(date +%s) + 4 ))
revoke --jti "$(cat "$work/d.jti")" --expires-at "$(date -u -d "@$until_s" +%Y-%m-%dT%H:%M:%SZ)"
refresh
expect "unauthorized token_revoked" "$work/d.json" "d: refused while its entry (--expires-at, 4 s ahead) is live"
wait_until "$until_s"
refresh
expect "allow ok" "$work/d.json" "d: allowed again once the entry's expires_at has passed"

# c. A signing key, for its issuer: every token it signed is refused, though the JWKS lists it.
expect "allow ok" "$work/rsa.json" "c: a token signed with DEV-ONLY-rsa-1 is allowed before the key's revocation"
revoke --kid DEV-ONLY-rsa-1 --issuer https://dev-only.tollgate.invalid --expires-in 1h
revoke --kid DEV-ONLY-ec-p256-1 --issuer https://another-issuer.invalid --expires-in 1h
refresh
expect "unauthorized key_revoked" "$work/rsa.json" "c: refused after 'tollgate revoke --kid DEV-ONLY-rsa-1 --issuer'"
if [ "$(helper jwks_lists "http://127.0.0.1:$jwks_port/jwks.json" DEV-ONLY-rsa-1)" = listed ]; then
  pass "c: the JWKS served to the function still lists DEV-ONLY-rsa-1"
else
  fail "c: the JWKS no longer lists DEV-ONLY-rsa-1"
fi
mint rsa-2 rsa carol
expect "unauthorized key_revoked" "$work/rsa-2.json" "c: a token signed with the key after its revocation is refused too"
expect "allow ok" "$work/good.json" "c: a key entry for another issuer does not refuse that key's tokens here"

# e. The table unreachable: the last list serves up to the maximum staleness (8 s), then 500.
refresh
expect "allow ok" "$work/good.json" "e: a last read of the table succeeds"
read -r ok_before errors_before malformed_before < <(helper refreshes "$work/watch.log")
kill -- "-$moto_pid"
wait "$moto_pid" 2>/dev/null || true
moto_pid=""
killed_at=$(date +%s%N)
refresh
expect "unauthorized token_revoked" "$work/a.json" "e: moto gone, within the maximum staleness: a revoked token is still refused"
expect "allow ok" "$work/good.json" "e: moto gone, within the maximum staleness: a good token is still allowed"
within_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
sleep 8.5
expect "error:revocations_unavailable revocations_unavailable" "$work/good.json" "e: past the maximum staleness a good token gets the 500 error"
expect "error:revocations_unavailable revocations_unavailable" "$work/a.json" "e: past the maximum staleness a revoked token gets the 500 error"
expect "error:revocations_unavailable revocations_unavailable" "$work/b-new.json" "e: every invoke gets it"

# f. The failed reads are logged, with their metric; none failed while moto was up.
read -r ok_after errors_after malformed_after < <(helper refreshes "$work/watch.log")
if [ "$errors_before" -eq 0 ] && [ "$ok_before" -ge 1 ] && [ "$malformed_before" -eq 0 ]; then
  pass "f: while moto was up, $ok_before revocation_refresh lines, all result=ok with their EMF metadata"
else
  fail "f: before moto was killed: $ok_before ok, $errors_before error, $malformed_before malformed refresh lines"
fi
if [ "$errors_after" -ge 2 ] && [ "$ok_after" -eq "$ok_before" ] && [ "$malformed_after" -eq 0 ]; then
  pass "f: after moto was killed, $errors_after revocation_refresh lines with result=error and the revocationRefreshes EMF count"
else
  fail "f: after moto was killed: $ok_after ok (before: $ok_before), $errors_after error, $malformed_after malformed refresh lines"
fi

echo "lambda revocation: $passed checks passed, $failures failed; the within-staleness checks ran ${within_ms} ms after moto was killed; $((SECONDS - ready_at)) s of checks, $((SECONDS - script_start)) s in all"
[ "$failures" -eq 0 ]
