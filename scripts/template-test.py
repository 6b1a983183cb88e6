#!/usr/bin/env python3
"""Reads template.yaml (with cfn-lint's CloudFormation-aware YAML loader), expands it with the
real SAM translator, and checks the wiring that matters, so that a later edit cannot break it
silently:
- the authorizer function: provided.al2023, arm64, built by cargo-lambda, configured from the
  parameters, simple responses on when the HTTP API uses them;
- REST API: REQUEST authorizer keyed on the Authorization header alone, a usage plan, API key
  source AUTHORIZER;
- HTTP API: Lambda authorizer with payload 2.0 answering IAM policies (a simple `true` under a
  token key would open every route), keyed on the Authorization header alone;
- WebSocket API: $connect authorized by tollgate with the token from the query string;
- the declared cache scope (TOLLGATE_AUTHORIZER_CACHE) is `token`, and it matches the identity
  sources (`route` exactly when every REQUEST authorizer's identity sources include the route;
  checked on mutated copies too);
- the declared route table (TOLLGATE_ROUTE_TABLE: declared) is config/tollgate.toml's
  [[routes]], and it equals the routes the template gives this authorizer (the SAM Api and
  HttpApi events on the APIs whose authorizer is tollgate, the WebSocket routes with a CUSTOM
  tollgate authorizer): a template route missing from the table, or a table route the template
  does not have, fails (checked on mutated copies too), and the SAM translator's output has
  the same routes behind tollgate;
- every access-log format is one JSON object carrying the cost context, and lines written in
  that format are billed by `tollgate usage-report` (the real binary);
- the route rules and prices travel with `sam build`: config/ is a layer built by its Makefile
  into tollgate.toml alone, at /opt/tollgate.toml where TOLLGATE_CONFIG points by default, and
  the real binary accepts that file with the function's own environment;
- the alarms watch tollgate's own EMF metrics (error decisions, failed JWKS fetches), exactly
  as the real binary writes them, and never Lambda's `Errors` (which counts every 401)."""

import copy
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

import cfnlint.decode
from samtranslator.translator.transform import transform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "debug", "tollgate")
failures = []
DEV_ENV = {"JWT_ISSUER": "https://dev-only.tollgate.invalid", "JWT_AUDIENCE": "tollgate-dev-client",
           "JWKS_URI": "file://events/jwks.json"}


passed = []


def check(name, condition, detail=""):
    """Records one check; prints only a failure (and the count at the end)."""
    if condition:
        passed.append(name)
    else:
        print("FAIL", name, detail)
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


def is_tollgate(value):
    """Whether a template value (an ARN, a URI) refers to the TollgateFunction."""
    return "TollgateFunction" in json.dumps(value)


def route_name(method, path):
    """A route as API Gateway names it and config/tollgate.toml writes it: `GET /a/{id}`; the
    method upper-cased (SAM's `any` is `ANY`), a last `*` as API Gateway's `{proxy+}`."""
    segments = [s for s in path.split("/") if s]
    if segments and segments[-1] == "*":
        segments[-1] = "{proxy+}"
    return f"{method.upper()} /" + "/".join(segments)


def template_routes(template):
    """Every route the template gives tollgate: the SAM `Api` and `HttpApi` events on an API
    whose authorizer for that event (the event's own `Auth.Authorizer`, else the API's
    `DefaultAuthorizer`) invokes the TollgateFunction, and the WebSocket routes authorized by a
    CUSTOM authorizer that does. (source, route) pairs."""
    res = template["Resources"]
    authorizers = {}  # API resource name -> (default authorizer, {name: invokes tollgate})
    for name, resource in res.items():
        if resource.get("Type") in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            auth = resource.get("Properties", {}).get("Auth", {})
            authorizers[name] = (auth.get("DefaultAuthorizer"),
                                 {a: is_tollgate(v.get("FunctionArn")) for a, v in auth.get("Authorizers", {}).items()})
    routes = set()
    for fn_name, resource in res.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            kind, props = event.get("Type"), event.get("Properties", {})
            if kind not in ("Api", "HttpApi"):
                continue
            api = props.get("RestApiId" if kind == "Api" else "ApiId", {})
            api = api.get("Ref") if isinstance(api, dict) else None
            if api not in authorizers:
                continue
            default, known = authorizers[api]
            chosen = props.get("Auth", {}).get("Authorizer", default)
            if not known.get(chosen, False):
                continue
            if kind == "HttpApi" and "Path" not in props and "Method" not in props:
                routes.add((f"{fn_name}.{event_name}", "$default"))
            else:
                routes.add((f"{fn_name}.{event_name}", route_name(props.get("Method", "any"), props.get("Path", "/"))))
    ws_authorizers = {name for name, r in res.items() if r.get("Type") == "AWS::ApiGatewayV2::Authorizer"
                      and is_tollgate(r.get("Properties", {}).get("AuthorizerUri"))}
    for name, resource in res.items():
        props = resource.get("Properties", {})
        if (resource.get("Type") == "AWS::ApiGatewayV2::Route" and props.get("AuthorizationType") == "CUSTOM"
                and props.get("AuthorizerId", {}).get("Ref") in ws_authorizers):
            routes.add((name, props.get("RouteKey")))
    return routes


def table_routes(config_text):
    """The route table a tollgate configuration declares: its [[routes]], named as
    `route_name` names them (a WebSocket route key as it is)."""
    table = set()
    for rule in tomllib.loads(config_text).get("routes", []):
        route = rule.get("route", "").strip()
        if route.startswith("$"):
            table.add(route)
        else:
            method, _, path = route.partition(" ")
            table.add(route_name(method, path.strip()))
    return table


def route_table_drift(template, config_text):
    """What differs between the template's routes behind tollgate and the declared table."""
    routes = template_routes(template)
    table = table_routes(config_text)
    named = {route for _, route in routes}
    problems = [f"{source}: {route} is not in config/tollgate.toml's [[routes]]"
                for source, route in sorted(routes) if route not in table]
    problems += [f"config/tollgate.toml routes {route}, which the template does not give tollgate"
                 for route in sorted(table - named)]
    return problems


def translated_routes(cfn):
    """The routes behind tollgate in the SAM translator's output: the REST and HTTP API
    bodies' operations whose security is the Tollgate authorizer (OpenAPI's
    `x-amazon-apigateway-any-method` is `ANY`)."""
    routes = set()
    for name in ("RestApi", "HttpApi"):
        body = cfn["Resources"][name]["Properties"]["Body"]
        for path, operations in body.get("paths", {}).items():
            for method, operation in operations.items():
                if isinstance(operation, dict) and {"Tollgate": []} in operation.get("security", []):
                    method = "ANY" if method == "x-amazon-apigateway-any-method" else method
                    routes.add("$default" if path == "$default" else route_name(method, path))
    return routes


def check_route_table(template, cfn):
    env = template["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"]
    check("the template declares its route table", env.get("TOLLGATE_ROUTE_TABLE") == "declared",
          env.get("TOLLGATE_ROUTE_TABLE"))
    config_text = open(os.path.join(ROOT, "config", "tollgate.toml"), encoding="utf-8").read()
    routes = template_routes(template)
    check("the template gives tollgate REST, HTTP API and WebSocket routes",
          {r for _, r in routes} >= {"GET /api/user/profile", "$connect"} and len(routes) >= 7, sorted(routes))
    drift = route_table_drift(template, config_text)
    check("config/tollgate.toml's [[routes]] are the template's routes behind tollgate, no more, no less",
          not drift, drift)
    # What CloudFormation gets has the same routes behind tollgate as the events say.
    websocket = {r for s, r in routes if template["Resources"].get(s, {}).get("Type") == "AWS::ApiGatewayV2::Route"}
    translated = translated_routes(cfn) | websocket
    check("the SAM translator's output routes the same requests to tollgate",
          translated == {r for _, r in routes}, sorted(translated ^ {r for _, r in routes}))

    # The check itself must catch a drift, both ways (mutated copies, never the files).
    added = copy.deepcopy(template)
    added["Resources"]["DemoFunction"]["Properties"]["Events"]["RestOrders"] = {
        "Type": "Api", "Properties": {"RestApiId": {"Ref": "RestApi"}, "Path": "/api/orders/{id}", "Method": "any"}}
    check("a REST route added to the template but not to the table is caught",
          any("ANY /api/orders/{id}" in p for p in route_table_drift(added, config_text)),
          route_table_drift(added, config_text))
    added_http = copy.deepcopy(template)
    added_http["Resources"]["DemoFunction"]["Properties"]["Events"]["HttpDefault"] = {
        "Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}}}
    check("an HTTP API $default route added to the template but not to the table is caught",
          any("$default" in p for p in route_table_drift(added_http, config_text)))
    public = copy.deepcopy(template)
    public["Resources"]["DemoFunction"]["Properties"]["Events"]["RestPublic"] = {
        "Type": "Api", "Properties": {"RestApiId": {"Ref": "RestApi"}, "Path": "/health", "Method": "get",
                                      "Auth": {"Authorizer": "NONE"}}}
    check("a route that does not use tollgate is no drift", not route_table_drift(public, config_text),
          route_table_drift(public, config_text))
    ws_route = copy.deepcopy(template)
    ws_route["Resources"]["WebSocketSendRoute"] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
        "ApiId": {"Ref": "WebSocketApi"}, "RouteKey": "send", "AuthorizationType": "CUSTOM",
        "AuthorizerId": {"Ref": "WebSocketAuthorizer"}}}
    check("a WebSocket route authorized by tollgate but not in the table is caught",
          any("send" in p for p in route_table_drift(ws_route, config_text)))
    removed = re.sub(r'\[\[routes\]\]\nroute = "POST /api/user/update"\n[^\[]*', "", config_text)
    check("the mutated table really lacks POST /api/user/update",
          "POST /api/user/update" not in table_routes(removed) and len(table_routes(removed)) == len(table_routes(config_text)) - 1)
    check("a route removed from the table but still in the template is caught",
          any("POST /api/user/update" in p for p in route_table_drift(template, removed)),
          route_table_drift(template, removed))
    extra = config_text + '\n[[routes]]\nroute = "DELETE /api/user/{id}"\nprice = "0.50"\n'
    check("a table route the template does not have is caught",
          any("DELETE /api/user/{id}" in p for p in route_table_drift(template, extra)),
          route_table_drift(template, extra))
    greedy = config_text + '\n[[routes]]\nroute = "ANY /files/*"\n'
    greedy_template = copy.deepcopy(template)
    greedy_template["Resources"]["DemoFunction"]["Properties"]["Events"]["RestFiles"] = {
        "Type": "Api", "Properties": {"RestApiId": {"Ref": "RestApi"}, "Path": "/files/{proxy+}", "Method": "ANY"}}
    check("a table's `ANY /files/*` is the template's ANY /files/{proxy+}",
          not route_table_drift(greedy_template, greedy), route_table_drift(greedy_template, greedy))


def invoke(event_file, env):
    """`tollgate invoke` with only `env`: (exit status, response, the JSON lines on stderr)."""
    run = subprocess.run([TOLLGATE, "invoke", event_file], cwd=ROOT, env=env, capture_output=True, timeout=30)
    lines = []
    for line in run.stderr.decode().splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            lines.append({"text": line})
    try:
        response = json.loads(run.stdout)
    except json.JSONDecodeError:
        response = None
    return run.returncode, response, lines


def function_env(template, config_path):
    """The authorizer's environment as the template sets it, with the development issuer and
    keys (the parameters' values) and TOLLGATE_CONFIG at `config_path`."""
    env = {}
    for name, value in template["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            env[name] = value
    env.update(DEV_ENV)
    env["TOLLGATE_CONFIG"] = config_path
    return env


def check_config_layer(template, cfn):
    res = template["Resources"]
    fn = res["TollgateFunction"]["Properties"]
    layer = res.get("TollgateConfigLayer", {})
    props = layer.get("Properties", {})
    check("the configuration layer is a SAM layer", layer.get("Type") == "AWS::Serverless::LayerVersion")
    check("the layer is the config/ folder", props.get("ContentUri") in ("config", "config/"), props.get("ContentUri"))
    check("the layer is built by config/Makefile", layer.get("Metadata", {}).get("BuildMethod") == "makefile")
    check("the layer fits the function",
          props.get("CompatibleRuntimes") == ["provided.al2023"] and props.get("CompatibleArchitectures") == ["arm64"])
    check("the function uses the layer", {"Ref": "TollgateConfigLayer"} in fn.get("Layers", []), fn.get("Layers"))
    env = fn["Environment"]["Variables"]
    check("TOLLGATE_CONFIG comes from the TollgateConfigPath parameter",
          env.get("TOLLGATE_CONFIG") == {"Fn::If": ["HasTollgateConfig", {"Ref": "TollgateConfigPath"}, {"Ref": "AWS::NoValue"}]})
    default = template["Parameters"]["TollgateConfigPath"].get("Default")
    check("TOLLGATE_CONFIG defaults to the layer's file (Lambda unpacks layers at /opt)",
          default == "/opt/tollgate.toml", default)
    makefile = open(os.path.join(ROOT, "config", "Makefile")).read()
    recipe = re.search(r"^build-TollgateConfigLayer:\n\t(.+)$", makefile, re.M)
    check("config/Makefile copies tollgate.toml to the layer's root",
          bool(recipe) and shlex.split(recipe.group(1)) == ["cp", "tollgate.toml", "$(ARTIFACTS_DIR)/tollgate.toml"],
          recipe.group(1) if recipe else makefile)
    translated = cfn["Resources"]
    layer_kinds = [r["Type"] for name, r in translated.items() if name.startswith("TollgateConfigLayer")]
    check("the translated template has a Lambda layer version", layer_kinds == ["AWS::Lambda::LayerVersion"], layer_kinds)
    # The file the layer ships works with the function's own environment (token scope, the
    # declared route table, IAM policies): the demo API's call is allowed by one policy exact
    # for every route of the table, with no per-route cost in the context (a cached context
    # would bill the caller's next routes at this one's price).
    env = function_env(template, "config/tollgate.toml")
    status, response, lines = invoke("events/rest-request.allow.json", env)
    context = (response or {}).get("context", {})
    statements = (response or {}).get("policyDocument", {}).get("Statement", [])
    allowed = sorted(r.split("/prod/", 1)[-1] for s in statements if s.get("Effect") == "Allow" for r in s.get("Resource", []))
    check("config/tollgate.toml with the template's environment allows every demo route in one policy",
          status == 0 and allowed == ["$connect", "GET/api/product/search", "GET/api/user/profile", "POST/api/user/update"]
          and not any(s.get("Effect") == "Deny" for s in statements), (status, response, lines))
    check("a token-keyed answer carries no per-route cost", "costMicros" not in context and "endpoint" not in context,
          context)
    status, response, lines = invoke("events/http-v2.allow.json", env)
    check("the HTTP API gets an IAM policy, not a simple response",
          status == 0 and "policyDocument" in (response or {}) and "isAuthorized" not in (response or {}),
          (status, response, lines))


def emf_metrics(line):
    """(namespace, metric, dimension names) declared by one EMF log line."""
    found = set()
    for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
        for metric in directive.get("Metrics", []):
            for dims in directive.get("Dimensions", []):
                found.add((directive.get("Namespace"), metric.get("Name"), tuple(dims)))
    return found


def check_alarms(template, cfn):
    alarms = {name: r["Properties"] for name, r in template["Resources"].items() if r.get("Type") == "AWS::CloudWatch::Alarm"}
    check("no alarm on Lambda's Errors (every 401 is one)",
          not any(a.get("Namespace") == "AWS/Lambda" and a.get("MetricName") == "Errors" for a in alarms.values()))

    def alarm_on(metric, dimension, value):
        return [name for name, a in alarms.items()
                if a.get("Namespace") == "tollgate" and a.get("MetricName") == metric
                and a.get("Dimensions") == [{"Name": dimension, "Value": value}]]

    # What the real binary writes: an error decision (an unknown event) and a failed JWKS fetch
    # (nothing listens on port 9 of 127.0.0.1).
    env = dict(DEV_ENV)
    _, _, error_lines = invoke("events/unknown-shape.json", env)
    decisions = [l for l in error_lines if l.get("event") == "decision"]
    check("an unknown event logs an error decision", [d.get("decision") for d in decisions] == ["error"], error_lines)
    env["JWKS_URI"] = "http://127.0.0.1:9/jwks.json"
    _, _, fetch_lines = invoke("events/rest-token.allow.json", env)
    fetches = [l for l in fetch_lines if l.get("event") == "jwks_fetch"]
    check("an unreachable JWKS logs a failed fetch", bool(fetches) and all(f.get("result") == "error" for f in fetches), fetch_lines)

    for metric, dimension, value, lines in [("decisions", "decision", "error", decisions),
                                             ("jwksFetches", "result", "error", fetches)]:
        names = alarm_on(metric, dimension, value)
        check(f"an alarm watches tollgate {metric} where {dimension} = {value}", len(names) == 1, sorted(alarms))
        emitted = set().union(*(emf_metrics(l) for l in lines)) if lines else set()
        check(f"tollgate writes {metric} by {dimension} as an EMF metric (what the alarm reads)",
              ("tollgate", metric, (dimension,)) in emitted and all(l.get(dimension) == value for l in lines), emitted)
        for name in names:
            a = alarms[name]
            check(f"{name} fires on the first one",
                  a.get("Statistic") == "Sum" and a.get("Threshold") == 1
                  and a.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold"
                  and a.get("TreatMissingData") == "notBreaching", a)
    translated = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    check("the translated template keeps both alarms", len(translated) == 2, len(translated))


GATEWAY_RESPONSES = ["UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "AUTHORIZER_FAILURE",
                     "AUTHORIZER_CONFIGURATION_ERROR", "DEFAULT_4XX", "DEFAULT_5XX"]
ORIGIN = {"Fn::Sub": "'${CorsAllowOrigin}'"}


def demo_answer(template, origin):
    """The demo backend's inline code, run as Lambda would, on a REST event from `origin`."""
    props = template["Resources"]["DemoFunction"]["Properties"]
    allowed = template["Parameters"]["CorsAllowOrigin"]["Default"]
    namespace = {}
    saved = os.environ.get("CORS_ALLOW_ORIGIN")
    os.environ["CORS_ALLOW_ORIGIN"] = allowed
    try:
        exec(compile(props["InlineCode"], "DemoFunction", "exec"), namespace)
        event = {"httpMethod": "GET", "resource": "/api/user/profile", "headers": {"Origin": origin},
                 "requestContext": {"authorizer": {"userId": "123456"}}}
        return namespace["handler"](event, None)
    finally:
        if saved is None:
            os.environ.pop("CORS_ALLOW_ORIGIN", None)
        else:
            os.environ["CORS_ALLOW_ORIGIN"] = saved


def check_cors(template, cfn):
    """Browsers: the allowed origin is a parameter; REST preflights skip the authorizer and
    answer with the CORS headers; every gateway response carries the origin (the 401 its
    challenge, exposed); the demo backend answers for CORS; the HTTP API has its
    CorsConfiguration. Compared with serve's own values in src/cors.rs."""
    source = open(os.path.join(ROOT, "src", "cors.rs"), encoding="utf-8").read()
    const = lambda name: re.search(rf'pub const {name}: &str = "((?:[^"\\]|\\.)*)";', source).group(1).replace('\\"', '"')
    array = lambda name: re.findall(r'"([^"]+)"', re.search(rf"pub const {name}: \[&str; \d+\] = \[([^\]]*)\]", source).group(1))
    max_age = re.search(r"pub const MAX_AGE_SECONDS: u64 = (\d+);", source).group(1)
    param = template["Parameters"].get("CorsAllowOrigin", {})
    check("the allowed origin is the CorsAllowOrigin parameter, defaulting to serve's",
          param.get("Default") == const("DEFAULT_ALLOW_ORIGIN"), param)
    pattern = re.compile(param.get("AllowedPattern", "$^"))
    good = ["http://localhost:8080", "https://app.example.com", "*", "http://127.0.0.1:5173"]
    bad = ["http://localhost:8080/", "localhost:8080", "https://a.example/app", "http://a.example,http://b.example"]
    check("CorsAllowOrigin takes one origin or *, and nothing else",
          all(pattern.fullmatch(o) for o in good) and not any(pattern.fullmatch(o) for o in bad))

    res = template["Resources"]
    rest = res["RestApi"]["Properties"]
    check("REST preflights do not run the authorizer",
          rest["Auth"].get("AddDefaultAuthorizerToCorsPreflight") is False)
    body = cfn["Resources"]["RestApi"]["Properties"]["Body"]
    headers = ",".join(array("ALLOW_HEADERS"))
    for path, item in body["paths"].items():
        options = item.get("options", {})
        integration = options.get("x-amazon-apigateway-integration", {})
        params = integration.get("responses", {}).get("default", {}).get("responseParameters", {})
        methods = ",".join(sorted({m.upper() for m in item} | {"OPTIONS"}))
        check(f"REST {path}: a mock OPTIONS method without the authorizer answers the preflight",
              integration.get("type") == "mock" and "security" not in options, options)
        check(f"REST {path}: the preflight names the origin, the methods, the headers and the max age",
              params.get("method.response.header.Access-Control-Allow-Origin") == ORIGIN
              and params.get("method.response.header.Access-Control-Allow-Methods") == f"'{methods}'"
              and params.get("method.response.header.Access-Control-Allow-Headers") == f"'{headers}'"
              and params.get("method.response.header.Access-Control-Max-Age") == f"'{max_age}'", params)
    responses = body.get("x-amazon-apigateway-gateway-responses", {})
    expose = ",".join(array("EXPOSE_HEADERS"))
    for kind in GATEWAY_RESPONSES:
        params = responses.get(kind, {}).get("responseParameters", {})
        check(f"REST gateway response {kind} carries the allowed origin and exposes WWW-Authenticate",
              params.get("gatewayresponse.header.Access-Control-Allow-Origin") == ORIGIN
              and params.get("gatewayresponse.header.Access-Control-Expose-Headers") == f"'{expose}'", params)
    challenge = responses.get("UNAUTHORIZED", {}).get("responseParameters", {}).get(
        "gatewayresponse.header.WWW-Authenticate")
    check("REST 401 carries serve's WWW-Authenticate: Bearer challenge",
          challenge == f"'{const('WWW_AUTHENTICATE')}'", challenge)
    check("no separate AWS::ApiGateway::GatewayResponse (a re-imported definition would drop it)",
          not any(r["Type"] == "AWS::ApiGateway::GatewayResponse" for r in cfn["Resources"].values()))

    demo_env = res["DemoFunction"]["Properties"].get("Environment", {}).get("Variables", {})
    check("the demo backend knows the allowed origin", demo_env.get("CORS_ALLOW_ORIGIN") == {"Ref": "CorsAllowOrigin"})
    allowed = demo_answer(template, param.get("Default"))["headers"]
    check("the demo backend echoes an allowed origin, with Vary and the exposed header",
          allowed.get("Access-Control-Allow-Origin") == param.get("Default") and allowed.get("Vary") == "Origin"
          and allowed.get("Access-Control-Expose-Headers") == expose, allowed)
    other = demo_answer(template, "https://evil.example")["headers"]
    check("the demo backend gives another origin no CORS header",
          not any(k.lower().startswith("access-control-") for k in other), other)

    http_cors = res["HttpApi"]["Properties"].get("CorsConfiguration", {})
    check("HTTP API CorsConfiguration: the allowed origin, serve's headers, methods, exposed headers and max age",
          http_cors.get("AllowOrigins") == [{"Ref": "CorsAllowOrigin"}]
          and http_cors.get("AllowHeaders") == array("ALLOW_HEADERS")
          and http_cors.get("AllowMethods") == array("HTTP_ALLOW_METHODS")
          and http_cors.get("ExposeHeaders") == array("EXPOSE_HEADERS")
          and str(http_cors.get("MaxAge")) == max_age, http_cors)
    translated = cfn["Resources"]["HttpApi"]["Properties"].get("Body", {}).get("x-amazon-apigateway-cors", {})
    check("the translated HTTP API carries the CORS configuration, Authorization allowed",
          "Authorization" in translated.get("allowHeaders", []) and translated.get("allowOrigins"), translated)


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
    check("authorizer binary is tollgate-lambda (Lambda mode alone)", fn.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == "tollgate-lambda")
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
    check("REST cache is keyed on the Authorization header alone (one invocation per caller per TTL)",
          identity.get("Headers") == ["Authorization"] and not identity.get("Context")
          and not identity.get("QueryStrings") and not identity.get("StageVariables"), identity)
    check("REST cache TTL comes from AuthorizerCacheTtl", identity.get("ReauthorizeEvery") == {"Ref": "AuthorizerCacheTtl"})
    check("REST API key source is AUTHORIZER", rest.get("ApiKeySourceType") == "AUTHORIZER")
    check("REST API has a usage plan", rest["Auth"].get("UsagePlan", {}).get("CreateUsagePlan") in ("PER_API", "SHARED"))

    http = res["HttpApi"]["Properties"]
    http_auth = http["Auth"]["Authorizers"]["Tollgate"]
    check("HTTP API authorizer uses payload 2.0", http_auth.get("AuthorizerPayloadFormatVersion") == "2.0")
    # Under a token key a simple `true` would serve every route the caller sends next.
    check("HTTP API authorizer answers IAM policies, not simple responses",
          http_auth.get("EnableSimpleResponses") is False, http_auth.get("EnableSimpleResponses"))
    check("tollgate answers HTTP API 2.0 as the authorizer expects",
          env.get("HTTP_API_SIMPLE_RESPONSES") == ("true" if http_auth.get("EnableSimpleResponses") else "false"),
          env.get("HTTP_API_SIMPLE_RESPONSES"))
    http_identity = http_auth.get("Identity", {})
    check("HTTP API cache is keyed on the Authorization header alone",
          http_identity.get("Headers") == ["Authorization"] and not http_identity.get("Context")
          and not http_identity.get("QueryStrings") and not http_identity.get("StageVariables"), http_identity)
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
    check("the template declares token scope", env.get("TOLLGATE_AUTHORIZER_CACHE") == "token",
          env.get("TOLLGATE_AUTHORIZER_CACHE"))
    check("no authorizer keys on the route", not any(route_in_identity(template).values()), route_in_identity(template))
    # The check itself must catch a drift, both ways.
    route_declared = copy.deepcopy(template)
    route_declared["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"][
        "TOLLGATE_AUTHORIZER_CACHE"] = "route"
    check("declaring route scope with token-only keys is caught", bool(scope_drift(route_declared)))
    route_keys = copy.deepcopy(template)
    route_keys["Resources"]["RestApi"]["Properties"]["Auth"]["Authorizers"]["Tollgate"]["Identity"]["Context"] = [
        "httpMethod", "resourcePath"]
    route_keys["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["Tollgate"]["Identity"]["Context"] = [
        "routeKey"]
    check("declaring token scope with the route in every key is caught", bool(scope_drift(route_keys)))
    route_declared_keys = copy.deepcopy(route_keys)
    route_declared_keys["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"][
        "TOLLGATE_AUTHORIZER_CACHE"] = "route"
    check("route scope with the route in every key (the way back) is no drift", not scope_drift(route_declared_keys),
          scope_drift(route_declared_keys))
    one_route_key = copy.deepcopy(route_declared_keys)
    one_route_key["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["Tollgate"]["Identity"]["Context"] = []
    check("route scope with one authorizer keyed on the token alone is caught", bool(scope_drift(one_route_key)))

    for out in ["RestApiEndpoint", "HttpApiEndpoint", "WebSocketEndpoint", "AuthorizerFunctionArn"]:
        check(f"output {out} exists", out in template["Outputs"])

    # The SAM translator's output: what CloudFormation really gets.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sam = copy.deepcopy(template)
    sam["Resources"]["TollgateFunction"]["Properties"]["CodeUri"] = "s3://bucket/tollgate.zip"
    sam["Resources"]["TollgateConfigLayer"]["Properties"]["ContentUri"] = "s3://bucket/tollgate-config.zip"
    cfn = transform(sam, {"JwtIssuer": "https://issuer.example", "JwtAudience": "client"}, NoManagedPolicies())
    rest_body = cfn["Resources"]["RestApi"]["Properties"]["Body"]
    rest_authorizer = rest_body["securityDefinitions"]["Tollgate"]["x-amazon-apigateway-authorizer"]
    sources = [s.strip() for s in rest_authorizer["identitySource"].split(",")]
    check("translated REST identity source is the Authorization header alone",
          sources == ["method.request.header.Authorization"], sources)
    http_body = cfn["Resources"]["HttpApi"]["Properties"]["Body"]
    http_authorizer = http_body["components"]["securitySchemes"]["Tollgate"]["x-amazon-apigateway-authorizer"]
    check("translated HTTP API identity source is the Authorization header alone, with IAM policies",
          http_authorizer.get("identitySource") == ["$request.header.Authorization"]
          and not http_authorizer.get("enableSimpleResponses"), http_authorizer)
    check("every REST method but the CORS preflight uses tollgate",
          all(op.get("security") == [{"Tollgate": []}] for path in rest_body["paths"].values()
              for method, op in path.items() if method != "options"))
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
        # The same call under the template's token-keyed cache: API Gateway writes `-` for
        # the context's missing endpoint and cost, and the shipped prices bill its route.
        route = {"REST": "GET /api/user/profile", "HTTP": "GET /api/user/profile", "WebSocket": "$connect"}[api]
        token_keyed = dict(sample, **{"$context.authorizer.endpoint": "-", "$context.authorizer.costMicros": "-",
                                      "$context.routeKey": route})
        line = fmt
        for var in sorted(token_keyed, key=len, reverse=True):
            line = line.replace(var, token_keyed[var])
        report = subprocess.run([TOLLGATE, "usage-report", "--pricing", "config/tollgate.toml", "--format", "json", "-"],
                                input=(line + "\n").encode(), capture_output=True, timeout=30, cwd=ROOT)
        doc = json.loads(report.stdout) if report.returncode == 0 else {}
        price = 0 if api == "WebSocket" else 100000
        check(f"{api} access-log line with no cost in its context is billed at its route's shipped price",
              doc.get("total", {}).get("costMicros") == price and doc.get("lines", {}).get("unpriced") == 0
              and [r.get("endpoint") for r in doc.get("rows", [])] == [route.replace("GET ", "")],
              (report.stderr.decode(), doc))

    check_route_table(template, cfn)
    check_config_layer(template, cfn)
    check_alarms(template, cfn)
    check_cors(template, cfn)

    if failures:
        raise SystemExit(f"{len(failures)} template checks failed")
    print(f"template: all {len(passed)} checks passed")


if __name__ == "__main__":
    main()
