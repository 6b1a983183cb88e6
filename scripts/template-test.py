#!/usr/bin/env python3
"""Reads template.yaml (with cfn-lint's CloudFormation-aware YAML loader), expands it with the
real SAM translator, and checks the wiring that matters, so that a later edit cannot break it
silently:
- the authorizer function: provided.al2023, arm64, built by cargo-lambda, configured from the
  parameters, simple responses on when the HTTP API uses them;
- REST API: REQUEST authorizer whose identity sources include Authorization and the route
  (method and resource path), a usage plan, API key source AUTHORIZER;
- HTTP API: Lambda authorizer with payload 2.0 and simple responses, route key in the identity;
- WebSocket API: $connect authorized by tollgate with the token from the query string;
- the declared cache scope (TOLLGATE_AUTHORIZER_CACHE) is `route` exactly when every REQUEST
  authorizer's identity sources include the route (checked on mutated copies too);
- every access-log format is one JSON object carrying the cost context, and lines written in
  that format are billed by `tollgate usage-report` (the real binary)."""

import copy
import json
import os
import re
import subprocess
import sys

import cfnlint.decode
from samtranslator.translator.transform import transform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.path.join(ROOT, "target", "debug", "tollgate")
failures = []


def check(name, condition, detail=""):
    print(("ok  " if condition else "FAIL"), name, "" if condition else detail)
    if not condition:
        failures.append(name)


class NoManagedPolicies:
    def load(self):
        return {}


def route_in_identity(template):
    """Per authorizer that invokes tollgate: whether API Gateway's cache key holds the route."""
    res = template["Resources"]
    keyed = {}
    for name, resource in res.items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Api":
            for auth_name, auth in props.get("Auth", {}).get("Authorizers", {}).items():
                if auth.get("FunctionPayloadType") == "REQUEST":
                    context = set(auth.get("Identity", {}).get("Context", []))
                    keyed[f"{name}.{auth_name}"] = {"httpMethod", "resourcePath"} <= context
                # TOKEN authorizers: the event says token scope by itself.
        elif resource.get("Type") == "AWS::Serverless::HttpApi":
            for auth_name, auth in props.get("Auth", {}).get("Authorizers", {}).items():
                context = set(auth.get("Identity", {}).get("Context", []))
                keyed[f"{name}.{auth_name}"] = "routeKey" in context
        # WebSocket authorizers only ever answer $connect: route scope by nature.
    return keyed


def scope_drift(template):
    """What is wrong between the declared cache scope and the identity sources, if anything."""
    env = template["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"]
    declared = env.get("TOLLGATE_AUTHORIZER_CACHE", "token")
    keyed = route_in_identity(template)
    unkeyed = sorted(name for name, has_route in keyed.items() if not has_route)
    if declared == "route" and unkeyed:
        return [f"route scope declared, but the route is not in the identity sources of {unkeyed}"]
    if declared == "token" and keyed and not unkeyed:
        return ["every authorizer keys on the route; declare TOLLGATE_AUTHORIZER_CACHE: route"]
    if declared not in ("token", "route", "off"):
        return [f"TOLLGATE_AUTHORIZER_CACHE {declared!r} is not token, route or off"]
    return []


def main():
    template, errors = cfnlint.decode.decode(os.path.join(ROOT, "template.yaml"))
    if errors or template is None:
        raise SystemExit(f"template.yaml does not parse: {errors}")
    template = json.loads(json.dumps(template))
    res = template["Resources"]

    fn = res["TollgateFunction"]
    props = fn["Properties"]
    check("authorizer runs on provided.al2023", props.get("Runtime") == "provided.al2023")
    check("authorizer is arm64", props.get("Architectures") == ["arm64"])
    check("authorizer is built by cargo-lambda", fn.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda")
    check("authorizer binary is tollgate", fn.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == "tollgate")
    env = props["Environment"]["Variables"]
    check("JWT_ISSUER comes from the JwtIssuer parameter", env.get("JWT_ISSUER") == {"Ref": "JwtIssuer"})
    check("JWT_AUDIENCE comes from the JwtAudience parameter", env.get("JWT_AUDIENCE") == {"Ref": "JwtAudience"})
    check("JWKS_URI is optional (discovery when empty)",
          env.get("JWKS_URI") == {"Fn::If": ["HasJwksUri", {"Ref": "JwksUri"}, {"Ref": "AWS::NoValue"}]})
    for p in ["JwtIssuer", "JwtAudience", "JwksUri", "AuthorizerCacheTtl", "LogRetentionDays"]:
        check(f"parameter {p} exists", p in template["Parameters"])

    rest = res["RestApi"]["Properties"]
    rest_auth = rest["Auth"]["Authorizers"]["Tollgate"]
    check("REST authorizer is a REQUEST authorizer", rest_auth.get("FunctionPayloadType") == "REQUEST")
    identity = rest_auth.get("Identity", {})
    check("REST identity sources include the Authorization header", "Authorization" in identity.get("Headers", []))
    check("REST identity sources include the route (method and resource path)",
          {"httpMethod", "resourcePath"} <= set(identity.get("Context", [])), identity)
    check("REST cache TTL comes from AuthorizerCacheTtl", identity.get("ReauthorizeEvery") == {"Ref": "AuthorizerCacheTtl"})
    check("REST API key source is AUTHORIZER", rest.get("ApiKeySourceType") == "AUTHORIZER")
    check("REST API has a usage plan", rest["Auth"].get("UsagePlan", {}).get("CreateUsagePlan") in ("PER_API", "SHARED"))

    http = res["HttpApi"]["Properties"]
    http_auth = http["Auth"]["Authorizers"]["Tollgate"]
    check("HTTP API authorizer uses payload 2.0", http_auth.get("AuthorizerPayloadFormatVersion") == "2.0")
    check("HTTP API authorizer uses simple responses", http_auth.get("EnableSimpleResponses") is True)
    check("tollgate answers HTTP API 2.0 with simple responses too",
          env.get("HTTP_API_SIMPLE_RESPONSES") == ("true" if http_auth.get("EnableSimpleResponses") else "false"))
    check("HTTP API identity includes Authorization and the route key",
          "Authorization" in http_auth.get("Identity", {}).get("Headers", [])
          and "routeKey" in http_auth.get("Identity", {}).get("Context", []))
    check("HTTP API may invoke the authorizer", http_auth.get("EnableFunctionDefaultPermissions") is True)

    ws_auth = res["WebSocketAuthorizer"]["Properties"]
    check("WebSocket authorizer is REQUEST", ws_auth.get("AuthorizerType") == "REQUEST")
    check("WebSocket token comes from the query string",
          ws_auth.get("IdentitySource") == ["route.request.querystring.token"])
    check("WebSocket authorizer is tollgate", "${TollgateFunction.Arn}" in json.dumps(ws_auth.get("AuthorizerUri")))
    connect = res["WebSocketConnectRoute"]["Properties"]
    check("$connect uses the tollgate authorizer",
          connect.get("RouteKey") == "$connect" and connect.get("AuthorizationType") == "CUSTOM"
          and connect.get("AuthorizerId") == {"Ref": "WebSocketAuthorizer"})

    drift = scope_drift(template)
    check("declared cache scope matches the identity sources", not drift, drift)
    check("the template declares route scope", env.get("TOLLGATE_AUTHORIZER_CACHE") == "route")
    # The check itself must catch a drift, both ways.
    no_route = copy.deepcopy(template)
    no_route["Resources"]["RestApi"]["Properties"]["Auth"]["Authorizers"]["Tollgate"]["Identity"]["Context"] = []
    check("dropping the REST route from the identity sources is caught", bool(scope_drift(no_route)))
    no_route_key = copy.deepcopy(template)
    no_route_key["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["Tollgate"]["Identity"]["Context"] = []
    check("dropping the HTTP route key from the identity sources is caught", bool(scope_drift(no_route_key)))
    token_declared = copy.deepcopy(template)
    token_declared["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"][
        "TOLLGATE_AUTHORIZER_CACHE"] = "token"
    check("declaring token scope with the route in every key is caught", bool(scope_drift(token_declared)))

    for out in ["RestApiEndpoint", "HttpApiEndpoint", "WebSocketEndpoint", "AuthorizerFunctionArn"]:
        check(f"output {out} exists", out in template["Outputs"])

    # The SAM translator's output: what CloudFormation really gets.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sam = copy.deepcopy(template)
    sam["Resources"]["TollgateFunction"]["Properties"]["CodeUri"] = "s3://bucket/tollgate.zip"
    cfn = transform(sam, {"JwtIssuer": "https://issuer.example", "JwtAudience": "client"}, NoManagedPolicies())
    rest_body = cfn["Resources"]["RestApi"]["Properties"]["Body"]
    rest_authorizer = rest_body["securityDefinitions"]["Tollgate"]["x-amazon-apigateway-authorizer"]
    sources = [s.strip() for s in rest_authorizer["identitySource"].split(",")]
    check("translated REST identity source has header, method and resource path",
          sources == ["method.request.header.Authorization", "context.httpMethod", "context.resourcePath"], sources)
    check("every REST method uses tollgate",
          all(op.get("security") == [{"Tollgate": []}] for path in rest_body["paths"].values() for op in path.values()))
    kinds = {r["Type"] for r in cfn["Resources"].values()}
    check("translated template has a usage plan and its key",
          {"AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey"} <= kinds)

    # Access logs: one JSON object per line with the cost context, readable by usage-report.
    formats = {
        "REST": rest["AccessLogSetting"]["Format"],
        "HTTP": http["AccessLogSettings"]["Format"],
        "WebSocket": res["WebSocketStage"]["Properties"]["AccessLogSettings"]["Format"],
    }
    sample = {
        "$context.requestId": "r-1", "$context.requestTimeEpoch": "1642240800000", "$context.httpMethod": "GET",
        "$context.path": "/api/user/profile", "$context.resourcePath": "/api/user/profile",
        "$context.routeKey": "GET /api/user/profile", "$context.status": "200", "$context.eventType": "CONNECT",
        "$context.connectionId": "c-1", "$context.authorizer.userId": "123456",
        "$context.authorizer.clientId": "client", "$context.authorizer.plan": "free",
        "$context.authorizer.tenantId": "-", "$context.authorizer.endpoint": "GET /api/user/profile",
        "$context.authorizer.costMicros": "100000", "$context.identity.apiKeyId": "-",
        "$context.authorizer.latency": "3", "$context.authorizer.error": "-",
    }
    required = {"userId": "$context.authorizer.userId", "endpoint": "$context.authorizer.endpoint",
                "costMicros": "$context.authorizer.costMicros", "plan": "$context.authorizer.plan",
                "status": "$context.status", "requestTimeEpoch": "$context.requestTimeEpoch"}
    for api, fmt in formats.items():
        try:
            fields = json.loads(fmt)
        except json.JSONDecodeError as e:
            check(f"{api} access-log format is one JSON object", False, str(e))
            continue
        check(f"{api} access-log format is one JSON object", isinstance(fields, dict))
        missing = {k: v for k, v in required.items() if fields.get(k) != v}
        check(f"{api} access log records the cost context", not missing, missing)
        unknown = set(re.findall(r"\$context\.[A-Za-z.]+", fmt)) - set(sample)
        check(f"{api} access-log variables are all known to this test", not unknown, unknown)
        line = fmt
        for var in sorted(sample, key=len, reverse=True):
            line = line.replace(var, sample[var])
        report = subprocess.run([TOLLGATE, "usage-report", "--format", "json", "-"], input=(line + "\n").encode(),
                                capture_output=True, timeout=30)
        doc = json.loads(report.stdout) if report.returncode == 0 else {}
        check(f"{api} access-log line is billed by usage-report",
              doc.get("total") == {"calls": 1, "costMicros": 100000, "cost": "0.10"}
              and doc.get("rows", [{}])[0].get("userId") == "123456", report.stderr.decode())

    if failures:
        raise SystemExit(f"{len(failures)} template checks failed")
    print("template: all checks passed")


if __name__ == "__main__":
    main()
