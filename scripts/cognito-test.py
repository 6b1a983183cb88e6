#!/usr/bin/env python3
"""Cognito, for real: moto's Cognito emulator (moto_server on 127.0.0.1) creates a user pool,
an app client and a user, issues ID and access tokens through initiate_auth, and serves the
pool's JWKS. `tollgate invoke` must accept both tokens for the right client and reject them
for a wrong client id or the wrong token_use, with the exact reason logged.

Revocation (issue 22), with the revocation table in the same moto_server's DynamoDB: with
revocation on, the access token is allowed; after `tollgate revoke --origin-jti` with its
`origin_jti` (read from the payload, unverified), it is refused (token_revoked), and so are the
ID token of the same login and an access token refreshed from that login's refresh token (one
origin_jti: one refresh token's family); a new login (a new origin_jti) is still allowed."""

import json
import os
import subprocess
import sys
import tempfile

from moto_local import MotoServer, aws_environment, create_revocation_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target", "debug", "tollgate")
REVOCATION_TABLE = "tollgate-revocations-cognito-test"


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
    failures = []
    scratch = tempfile.TemporaryDirectory()
    moto = MotoServer(os.path.join(scratch.name, "moto.log"))
    base = moto.endpoint
    try:
        idp = moto.client("cognito-idp")
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

        def check(name, token, extra_env, want_exit, want_reason, want_context=None, want_detail=None):
            code, out, log = invoke(token, {**env, **extra_env})
            ok = code == want_exit and log["reason"] == want_reason
            if want_detail is not None:
                ok = ok and log.get("detail") == want_detail
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

        # Revocation of a login's token family by origin_jti, the table in the same moto_server.
        create_revocation_table(base, REVOCATION_TABLE)
        revocation = {"TOLLGATE_REVOCATION_TABLE": REVOCATION_TABLE, **aws_environment(base)}
        access_context = {"userId": sub, "clientId": client, "username": "alice",
                          "scopes": "aws.cognito.signin.user.admin", "groups": "", **attribution}
        origin_jti = claims_of(access_token)["origin_jti"]
        check("access token is allowed with revocation on", access_token, revocation, 0, "ok", access_context)
        revoke = subprocess.run([TOLLGATE, "revoke", "--origin-jti", origin_jti, "--expires-in", "1h"],
                                capture_output=True, timeout=30,
                                env={"PATH": os.environ.get("PATH", ""), **revocation})
        ok = revoke.returncode == 0
        print(("ok  " if ok else "FAIL"), "tollgate revoke --origin-jti stores the entry", f"(exit {revoke.returncode})")
        if not ok:
            failures.append(("tollgate revoke --origin-jti", revoke.returncode, revoke.stdout, revoke.stderr))
        revoked = "the token is revoked: its origin_jti is revoked"
        check("access token is refused once its origin_jti is revoked", access_token, revocation, 2,
              "token_revoked", want_detail=revoked)
        check("ID token of the same login is refused too", id_token, revocation, 2, "token_revoked",
              want_detail=revoked)
        refreshed = idp.initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})["AuthenticationResult"]
        refreshed_claims = claims_of(refreshed["AccessToken"])
        if refreshed_claims["origin_jti"] != origin_jti or refreshed_claims["jti"] == claims_of(access_token)["jti"]:
            failures.append(("the refreshed access token is not of the same family, with its own jti", refreshed_claims))
        check("access token refreshed from that login (same origin_jti, new jti) is refused", refreshed["AccessToken"],
              revocation, 2, "token_revoked", want_detail=revoked)
        again = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "alice", "PASSWORD": "Str0ng-Passw0rd!"})["AuthenticationResult"]
        if claims_of(again["AccessToken"])["origin_jti"] == origin_jti:
            failures.append(("a new login gave the revoked origin_jti again", origin_jti))
        check("access token of a new login (new origin_jti) is allowed", again["AccessToken"], revocation, 0, "ok",
              access_context)
        check("revoked token without revocation on is allowed (the refusal is the table's)", access_token, {}, 0, "ok",
              access_context)
    finally:
        moto.close()
        scratch.cleanup()
    if failures:
        for failure in failures:
            print("failure:", failure, file=sys.stderr)
        raise SystemExit(1)
    print("cognito (moto): all checks passed")


if __name__ == "__main__":
    main()
