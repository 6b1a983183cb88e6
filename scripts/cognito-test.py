#!/usr/bin/env python3
"""Cognito, for real: moto's Cognito emulator (moto_server on 127.0.0.1) creates a user pool,
an app client and a user, issues ID and access tokens through initiate_auth, and serves the
pool's JWKS. `tollgate invoke` must accept both tokens for the right client and reject them
for a wrong client id or the wrong token_use, with the exact reason logged."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.path.join(ROOT, "target", "debug", "tollgate")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # the server answers, even if not 200
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"moto_server did not come up at {url}")


def claims_of(token):
    import base64
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def event(token):
    arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/api/user/profile"
    return {
        "type": "REQUEST",
        "methodArn": arn,
        "resource": "/api/user/profile",
        "path": "/api/user/profile",
        "httpMethod": "GET",
        "headers": {"Authorization": f"Bearer {token}"},
        "multiValueHeaders": {"Authorization": [f"Bearer {token}"]},
        "requestContext": {"accountId": "123456789012", "stage": "prod", "requestId": "cognito-test",
                           "resourcePath": "/api/user/profile", "httpMethod": "GET", "apiId": "a1b2c3d4e5"},
    }


def invoke(token, env):
    full_env = {"PATH": os.environ.get("PATH", "")}
    full_env.update(env)
    proc = subprocess.run([TOLLGATE, "invoke", "-"], input=json.dumps(event(token)).encode(),
                          capture_output=True, env=full_env, timeout=30)
    log = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    return proc.returncode, json.loads(proc.stdout), log


def main():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failures = []
    try:
        wait_for(base + "/moto-api/")
        idp = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=base,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        pool = idp.create_user_pool(PoolName="tollgate-test")["UserPool"]["Id"]
        client = idp.create_user_pool_client(
            UserPoolId=pool, ClientName="tollgate-test-client",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword="Temp-Passw0rd!")
        idp.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Str0ng-Passw0rd!", Permanent=True)
        tokens = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": "alice", "PASSWORD": "Str0ng-Passw0rd!"})["AuthenticationResult"]
        id_token, access_token = tokens["IdToken"], tokens["AccessToken"]
        issuer = claims_of(id_token)["iss"]
        sub = claims_of(id_token)["sub"]
        jwks_uri = f"{base}/{pool}/.well-known/jwks.json"
        env = {"JWT_ISSUER": issuer, "JWT_AUDIENCE": client, "JWKS_URI": jwks_uri}
        arn_stage = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*"

        def check(name, token, extra_env, want_exit, want_reason, want_context=None):
            code, out, log = invoke(token, {**env, **extra_env})
            ok = code == want_exit and log["reason"] == want_reason
            if want_exit == 0:
                ok = ok and out["principalId"] == sub \
                    and out["policyDocument"]["Statement"][0]["Resource"] == [arn_stage] \
                    and out["context"] == want_context
            else:
                ok = ok and out == {"errorType": "Unauthorized", "errorMessage": "Unauthorized"}
            print(("ok  " if ok else "FAIL"), name, f"(exit {code}, reason {log['reason']})")
            if not ok:
                failures.append((name, code, out, log))

        # Without route rules: plan "default", no tenant; under the default token-keyed cache, no
        # per-route `endpoint` or `costMicros` (a cached context would carry them to other routes).
        attribution = {"tenantId": "", "plan": "default"}
        check("ID token is allowed", id_token, {}, 0, "ok",
              {"userId": sub, "clientId": client, "username": "alice", "scopes": "", "groups": "",
               **attribution})
        check("access token is allowed", access_token, {}, 0, "ok",
              {"userId": sub, "clientId": client, "username": "alice", "scopes": "aws.cognito.signin.user.admin",
               "groups": "", **attribution})
        check("access token with JWT_TOKEN_USE=access is allowed", access_token, {"JWT_TOKEN_USE": "access"}, 0, "ok",
              {"userId": sub, "clientId": client, "username": "alice", "scopes": "aws.cognito.signin.user.admin",
               "groups": "", **attribution})
        check("ID token with JWT_TOKEN_USE=access is rejected", id_token, {"JWT_TOKEN_USE": "access"}, 2, "wrong_token_use")
        check("ID token for a wrong client id is rejected", id_token, {"JWT_AUDIENCE": "some-other-client"}, 2, "wrong_audience")
        check("access token for a wrong client id is rejected", access_token, {"JWT_AUDIENCE": "some-other-client"}, 2, "wrong_audience")
        check("token of another pool's issuer is rejected", id_token, {"JWT_ISSUER": issuer + "x"}, 2, "wrong_issuer")
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    if failures:
        for failure in failures:
            print("failure:", failure, file=sys.stderr)
        raise SystemExit(1)
    print("cognito (moto): all checks passed")


if __name__ == "__main__":
    main()
