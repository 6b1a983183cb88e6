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
  as the real binary writes them, and never Lambda's `Errors` (which counts every 401);
- revocation (EnableRevocation, with its conditions evaluated for true and false): a retained
  on-demand table with pk/sk string keys, TTL on expires_at and point-in-time recovery; the
  authorizer may only Query its `revocations` partition (in the template and in the role the
  SAM translator makes); its environment is set exactly when revocation is on; the two alarms
  read revocationRefreshes (result = error, over_bound) as the interface writes it; the
  revoker's managed policy and the outputs; refresh + AuthorizerCacheTtl within 65 s. Each of
  these checks is also run on altered copies of the template, which it must fail."""

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
    check("the translated template keeps all four alarms", len(translated) == 4, len(translated))


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


# Revocation (issue 22): the table, the authorizer's access to it, its environment, its alarms
# and the bound, each as "problems" of a template, so that altered copies can prove every check
# bites. Conditions are evaluated as CloudFormation would, for both values of EnableRevocation.
REVOCATION_ON, REVOCATION_OFF = {"EnableRevocation": "true"}, {"EnableRevocation": "false"}
TABLE_ARN = {"Fn::GetAtt": ["RevocationTable", "Arn"]}
REVOCATIONS_PARTITION = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["revocations"]}}
REVOCATION_ALARMS = {"RevocationRefreshFailuresAlarm": "error", "RevocationOverBoundAlarm": "over_bound"}
REVOCATION_RESOURCES = {"RevocationTable", "RevokerPolicy", *REVOCATION_ALARMS}
REVOCATION_OUTPUTS = {"RevocationTableName": {"Ref": "RevocationTable"},
                      "RevokerPolicyArn": {"Ref": "RevokerPolicy"},
                      "RevocationRefreshFailuresAlarmName": {"Ref": "RevocationRefreshFailuresAlarm"},
                      "RevocationOverBoundAlarmName": {"Ref": "RevocationOverBoundAlarm"}}
# The revocation bound the README states: refresh interval + API Gateway's cache TTL.
REVOCATION_BOUND_SECONDS = 65
NO_VALUE = object()


def condition_values(template, values):
    """Each condition's truth with the parameters at `values` (the others at their defaults)."""
    params = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    params.update(values)
    conditions = template.get("Conditions", {})

    def operand(value):
        return params[value["Ref"]] if isinstance(value, dict) and set(value) == {"Ref"} else value

    def holds(expr):
        (fn, args), = expr.items()
        if fn == "Fn::Equals":
            return str(operand(args[0])) == str(operand(args[1]))
        if fn == "Fn::Not":
            return not holds(args[0])
        if fn == "Fn::And":
            return all(holds(a) for a in args)
        if fn == "Fn::Or":
            return any(holds(a) for a in args)
        if fn == "Condition":
            return holds(conditions[args])
        raise ValueError(f"a condition this test cannot evaluate: {expr}")

    return {name: holds(expr) for name, expr in conditions.items()}


def resolve(value, truth):
    """`value` as CloudFormation sees it: each Fn::If chosen by `truth`, AWS::NoValue removed."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, yes, no = value["Fn::If"]
            return resolve(yes if truth[name] else no, truth)
        if value == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        resolved = {k: resolve(v, truth) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [v for v in (resolve(v, truth) for v in value) if v is not NO_VALUE]
    return value


def deployed(template, values):
    """The resources and outputs CloudFormation creates with the parameters at `values`: those
    whose Condition is false left out, the rest resolved."""
    truth = condition_values(template, values)
    kept = lambda section: {name: resolve(item, truth) for name, item in template.get(section, {}).items()
                            if item.get("Condition") is None or truth[item["Condition"]]}
    return {"Resources": kept("Resources"), "Outputs": kept("Outputs")}


def statements(policies):
    """The statements of a list of policy documents, each with Action and Resource as sorted
    lists and without its Sid (a policy that is no inline document, like a managed policy's
    name or a SAM policy template, is given as {"not a document": ...})."""
    found = []
    for policy in policies if isinstance(policies, list) else [policies]:
        policy = policy.get("PolicyDocument", policy) if isinstance(policy, dict) and "PolicyName" in policy else policy
        if not isinstance(policy, dict) or set(policy) - {"Version", "Statement"}:
            found.append({"not a document": policy})
            continue
        listed = policy.get("Statement", [])
        for statement in listed if isinstance(listed, list) else [listed]:
            statement = {k: v for k, v in statement.items() if k != "Sid"}
            for key in ("Action", "Resource"):
                if key in statement:
                    value = statement[key] if isinstance(statement[key], list) else [statement[key]]
                    statement[key] = sorted(value, key=json.dumps)
            found.append(statement)
    return found


def refers_to(value, resource):
    """Whether a template value names `resource` (Ref, Fn::GetAtt, ${...} in Fn::Sub, DependsOn)."""
    if isinstance(value, dict):
        attribute = value.get("Fn::GetAtt")
        sub = value.get("Fn::Sub")
        sub = sub[0] if isinstance(sub, list) else sub
        depends = value.get("DependsOn")
        if (value.get("Ref") == resource
                or (attribute is not None and (attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0]) == resource)
                or (isinstance(sub, str) and re.search(r"\$\{" + re.escape(resource) + r"[.}]", sub))
                or depends == resource or (isinstance(depends, list) and resource in depends)):
            return True
        return any(refers_to(v, resource) for v in value.values())
    if isinstance(value, list):
        return any(refers_to(v, resource) for v in value)
    return False


def revocation_query_only():
    return [{"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [TABLE_ARN], "Condition": REVOCATIONS_PARTITION}]


def table_problems(template):
    table = template["Resources"].get("RevocationTable")
    if table is None:
        return ["no RevocationTable"]
    props = table.get("Properties", {})
    problems = [f"{key} is {table.get(key)!r}, not {want!r}" for key, want in [
        ("Type", "AWS::DynamoDB::Table"), ("Condition", "RevocationOn"),
        # A revocation list must not vanish with a stack deletion or a replacing update.
        ("DeletionPolicy", "Retain"), ("UpdateReplacePolicy", "Retain")] if table.get(key) != want]
    if props.get("KeySchema") != [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]:
        problems.append(f"key schema {props.get('KeySchema')}, not pk (HASH), sk (RANGE)")
    attributes = sorted((a.get("AttributeName"), a.get("AttributeType")) for a in props.get("AttributeDefinitions", []))
    if attributes != [("pk", "S"), ("sk", "S")]:
        problems.append(f"attributes {attributes}, not pk and sk strings")
    if props.get("BillingMode") != "PAY_PER_REQUEST" or "ProvisionedThroughput" in props:
        problems.append(f"billing {props.get('BillingMode')}, not on demand")
    if props.get("TimeToLiveSpecification") != {"AttributeName": "expires_at", "Enabled": True}:
        problems.append(f"TTL {props.get('TimeToLiveSpecification')}, not on expires_at")
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
        problems.append("no point-in-time recovery")
    # An index would be read without the authorizer's Query permission (or need a wider one);
    # a fixed name would collide with the retained table when the stack is deployed again.
    unknown = set(props) - {"BillingMode", "AttributeDefinitions", "KeySchema", "TimeToLiveSpecification",
                            "PointInTimeRecoverySpecification", "SSESpecification", "Tags", "DeletionProtectionEnabled"}
    if unknown:
        problems.append(f"properties this design does not have: {sorted(unknown)}")
    return problems


def function_policy_problems(template):
    """What the authorizer may do beyond Query on the revocations partition of the table with
    revocation on, and anything at all with it off."""
    problems = []
    for values, want in [(REVOCATION_ON, revocation_query_only()), (REVOCATION_OFF, [])]:
        props = deployed(template, values)["Resources"]["TollgateFunction"]["Properties"]
        if "Role" in props:
            problems.append(f"{values}: a role of its own, not the one SAM makes from Policies")
        got = statements(props.get("Policies", []))
        if got != want:
            problems.append(f"{values}: the function's policies are {got}, not {want}")
    return problems


def translated_policy_problems(cfn):
    """The same on the SAM translator's output: the role CloudFormation really creates."""
    problems = []
    for values, want in [(REVOCATION_ON, revocation_query_only()), (REVOCATION_OFF, [])]:
        role = deployed(cfn, values)["Resources"].get("TollgateFunctionRole", {}).get("Properties", {})
        got = statements(role.get("Policies", []))
        if got != want:
            problems.append(f"{values}: the role's inline policies are {got}, not {want}")
        managed = role.get("ManagedPolicyArns")
        if managed != ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]:
            problems.append(f"{values}: managed policies {managed}")
    return problems


def revocation_env_problems(template):
    """The revocation variables: there exactly when revocation is on, the table's name and the
    interface's ranges (refresh 1..=300 s, maximum staleness from the refresh to 86400 s)."""
    problems = []
    for values in (REVOCATION_ON, REVOCATION_OFF):
        env = deployed(template, values)["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"]
        got = {k: v for k, v in env.items() if k.startswith("TOLLGATE_REVOCATION_")}
        if values is REVOCATION_OFF:
            if got:
                problems.append(f"revocation off, yet {sorted(got)}")
            continue
        required = {"TOLLGATE_REVOCATION_TABLE", "TOLLGATE_REVOCATION_REFRESH_SECONDS", "TOLLGATE_REVOCATION_MAX_STALE_SECONDS"}
        unknown = set(got) - required - {"TOLLGATE_REVOCATION_MAX_ENTRIES"}
        if not required <= set(got) or unknown:
            problems.append(f"revocation on: {sorted(got)}, not {sorted(required)}")
            continue
        if got["TOLLGATE_REVOCATION_TABLE"] != {"Ref": "RevocationTable"}:
            problems.append(f"TOLLGATE_REVOCATION_TABLE is {got['TOLLGATE_REVOCATION_TABLE']}, not the table's name")
        refresh, stale = got["TOLLGATE_REVOCATION_REFRESH_SECONDS"], got["TOLLGATE_REVOCATION_MAX_STALE_SECONDS"]
        if not (isinstance(refresh, str) and refresh.isdigit() and 1 <= int(refresh) <= 300):
            problems.append(f"refresh {refresh!r} s is not 1 to 300")
        elif not (isinstance(stale, str) and stale.isdigit() and int(refresh) <= int(stale) <= 86400):
            problems.append(f"maximum staleness {stale!r} s is not from the refresh ({refresh} s) to 86400")
    return problems


def bound_problems(template):
    """A revoked token is refused at most the refresh interval + the authorizer cache TTL after
    `tollgate revoke` returns: at most 65 s with the defaults, on every API's authorizer."""
    problems = []
    ttl = template["Parameters"].get("AuthorizerCacheTtl", {}).get("Default")
    env = deployed(template, REVOCATION_ON)["Resources"]["TollgateFunction"]["Properties"]["Environment"]["Variables"]
    refresh = env.get("TOLLGATE_REVOCATION_REFRESH_SECONDS", "")
    if (not isinstance(ttl, int) or not isinstance(refresh, str) or not refresh.isdigit()
            or ttl + int(refresh) > REVOCATION_BOUND_SECONDS):
        problems.append(f"AuthorizerCacheTtl {ttl!r} + refresh {refresh!r} is over {REVOCATION_BOUND_SECONDS} s")
    for name, resource in template["Resources"].items():
        if resource.get("Type") in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            for auth_name, auth in resource["Properties"].get("Auth", {}).get("Authorizers", {}).items():
                every = auth.get("Identity", {}).get("ReauthorizeEvery")
                if is_tollgate(auth.get("FunctionArn")) and every != {"Ref": "AuthorizerCacheTtl"}:
                    problems.append(f"{name}.{auth_name} caches for {every!r}, not AuthorizerCacheTtl")
    return problems


def revocation_alarm_problems(template):
    """The two alarms read revocationRefreshes exactly as the interface writes it (namespace
    tollgate, dimension set [[result]]), fire on the first one, exist only with revocation on
    and notify AlarmTopicArn like the others."""
    problems = []
    actions = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for name, result in REVOCATION_ALARMS.items():
        alarm = template["Resources"].get(name, {})
        a = alarm.get("Properties", {})
        if alarm.get("Type") != "AWS::CloudWatch::Alarm" or alarm.get("Condition") != "RevocationOn":
            problems.append(f"{name}: {alarm.get('Type')} under {alarm.get('Condition')}, not an alarm under RevocationOn")
        if (a.get("Namespace"), a.get("MetricName"), a.get("Dimensions")) != (
                "tollgate", "revocationRefreshes", [{"Name": "result", "Value": result}]):
            problems.append(f"{name} reads {a.get('Namespace')}/{a.get('MetricName')} {a.get('Dimensions')}, "
                            f"not tollgate/revocationRefreshes where result = {result}")
        if not (a.get("Statistic") == "Sum" and a.get("Threshold") == 1 and a.get("EvaluationPeriods") == 1
                and a.get("ComparisonOperator") == "GreaterThanOrEqualToThreshold"
                and a.get("TreatMissingData") == "notBreaching" and a.get("Period", 3600) <= 300):
            problems.append(f"{name} does not fire on the first one within 5 minutes: {a}")
        if a.get("AlarmActions") != actions or a.get("OKActions") != actions:
            problems.append(f"{name} does not notify AlarmTopicArn: {a.get('AlarmActions')}, {a.get('OKActions')}")
    return problems


def revocation_resource_problems(template):
    """With revocation off, none of its resources and outputs, and nothing left that names
    them; with it on, all of them, the outputs naming the table, the revoker policy and the
    alarms, and the revoker policy granting PutItem and Query on the revocations partition."""
    on, off = deployed(template, REVOCATION_ON), deployed(template, REVOCATION_OFF)
    problems = []
    added = set(on["Resources"]) - set(off["Resources"])
    if added != REVOCATION_RESOURCES or set(off["Resources"]) - set(on["Resources"]):
        problems.append(f"revocation on adds {sorted(added)}, not {sorted(REVOCATION_RESOURCES)}")
    added = set(on["Outputs"]) - set(off["Outputs"])
    if added != set(REVOCATION_OUTPUTS):
        problems.append(f"revocation on adds the outputs {sorted(added)}, not {sorted(REVOCATION_OUTPUTS)}")
    for name, value in REVOCATION_OUTPUTS.items():
        if on["Outputs"].get(name, {}).get("Value") != value:
            problems.append(f"output {name} is {on['Outputs'].get(name)}, not {value}")
    dangling = sorted(r for r in REVOCATION_RESOURCES if refers_to(off, r))
    if dangling:
        problems.append(f"revocation off, yet the template still names {dangling}")
    policy = on["Resources"].get("RevokerPolicy", {})
    want = [{"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:Query"], "Resource": [TABLE_ARN],
             "Condition": REVOCATIONS_PARTITION}]
    got = statements(policy.get("Properties", {}).get("PolicyDocument", {}))
    if policy.get("Type") != "AWS::IAM::ManagedPolicy" or got != want:
        problems.append(f"RevokerPolicy is a {policy.get('Type')} granting {got}, not a managed policy granting {want}")
    return problems


def revocation_problems(template):
    """Everything wrong with the template's revocation wiring, by part."""
    param = template["Parameters"].get("EnableRevocation", {})
    truth = {v: condition_values(template, {"EnableRevocation": v}).get("RevocationOn") for v in ("true", "false")}
    return {
        "parameter": ([] if param.get("Type") == "String" and param.get("AllowedValues") == ["true", "false"]
                      and param.get("Default") == "true" and truth == {"true": True, "false": False}
                      else [f"EnableRevocation {param}, RevocationOn {truth}"]),
        "table": table_problems(template),
        "function policy": function_policy_problems(template),
        "environment": revocation_env_problems(template),
        "bound": bound_problems(template),
        "alarms": revocation_alarm_problems(template),
        "resources and outputs": revocation_resource_problems(template),
    }


def altered(template, change):
    """A deep copy of `template` with `change` applied to it (the files stay as they are)."""
    copied = copy.deepcopy(template)
    change(copied["Resources"], copied)
    return copied


def revocation_alterations():
    """(part, what the copy changes, the change): each must make that part's check fail."""
    table = lambda r: r["RevocationTable"]
    tprops = lambda r: r["RevocationTable"]["Properties"]
    fenv = lambda r: r["TollgateFunction"]["Properties"]["Environment"]["Variables"]
    # The function's policy document (under its Fn::If), and its one statement.
    fdoc = lambda r: r["TollgateFunction"]["Properties"]["Policies"][0]["Fn::If"][1]
    fstatement = lambda r: fdoc(r)["Statement"][0]
    alarm = lambda name: lambda r: r[name]["Properties"]
    refresh_alarm, over_bound_alarm = alarm("RevocationRefreshFailuresAlarm"), alarm("RevocationOverBoundAlarm")
    revoker = lambda r: r["RevokerPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]

    def without(get, key):
        return lambda r, t: get(r).pop(key)

    def setting(get, key, value):
        return lambda r, t: get(r).__setitem__(key, value)

    return [
        ("parameter", "EnableRevocation defaulting to false", lambda r, t: t["Parameters"]["EnableRevocation"].__setitem__("Default", "false")),
        ("parameter", "RevocationOn true whatever EnableRevocation says",
         lambda r, t: t["Conditions"].__setitem__("RevocationOn", {"Fn::Equals": ["true", "true"]})),
        ("table", "a table deleted with the stack", setting(table, "DeletionPolicy", "Delete")),
        ("table", "a table deleted by a replacing update", without(table, "UpdateReplacePolicy")),
        ("table", "a table without the RevocationOn condition", without(table, "Condition")),
        ("table", "provisioned billing",
         lambda r, t: tprops(r).update(BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})),
        ("table", "a numeric sort key",
         lambda r, t: tprops(r)["AttributeDefinitions"][1].__setitem__("AttributeType", "N")),
        ("table", "no sort key", lambda r, t: tprops(r).update(
            KeySchema=tprops(r)["KeySchema"][:1], AttributeDefinitions=tprops(r)["AttributeDefinitions"][:1])),
        ("table", "TTL on another attribute", lambda r, t: tprops(r)["TimeToLiveSpecification"].__setitem__("AttributeName", "ttl")),
        ("table", "TTL disabled", lambda r, t: tprops(r)["TimeToLiveSpecification"].__setitem__("Enabled", False)),
        ("table", "no point-in-time recovery", without(tprops, "PointInTimeRecoverySpecification")),
        ("table", "a fixed table name", setting(tprops, "TableName", "tollgate-revocations")),
        ("function policy", "Scan besides Query", setting(fstatement, "Action", ["dynamodb:Query", "dynamodb:Scan"])),
        ("function policy", "every DynamoDB action", setting(fstatement, "Action", "dynamodb:*")),
        ("function policy", "PutItem in a second statement", lambda r, t: fdoc(r)["Statement"].append(
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE_ARN})),
        ("function policy", "any resource", setting(fstatement, "Resource", "*")),
        ("function policy", "the table's indexes too",
         setting(fstatement, "Resource", [TABLE_ARN, {"Fn::Sub": "${RevocationTable.Arn}/index/*"}])),
        ("function policy", "no LeadingKeys condition", without(fstatement, "Condition")),
        ("function policy", "another partition",
         setting(fstatement, "Condition", {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["revocations", "other"]}})),
        ("function policy", "a managed policy besides",
         lambda r, t: r["TollgateFunction"]["Properties"]["Policies"].append("AmazonDynamoDBReadOnlyAccess")),
        ("function policy", "the policy with revocation off too",
         lambda r, t: r["TollgateFunction"]["Properties"].__setitem__("Policies", [fdoc(r)])),
        ("environment", "TOLLGATE_REVOCATION_TABLE with revocation off too",
         setting(fenv, "TOLLGATE_REVOCATION_TABLE", {"Ref": "RevocationTable"})),
        ("environment", "no maximum staleness", without(fenv, "TOLLGATE_REVOCATION_MAX_STALE_SECONDS")),
        ("environment", "a fixed table name", setting(fenv, "TOLLGATE_REVOCATION_TABLE",
                                                      {"Fn::If": ["RevocationOn", "tollgate-revocations", {"Ref": "AWS::NoValue"}]})),
        ("environment", "a refresh of 0 s", setting(fenv, "TOLLGATE_REVOCATION_REFRESH_SECONDS",
                                                    {"Fn::If": ["RevocationOn", "0", {"Ref": "AWS::NoValue"}]})),
        ("environment", "a maximum staleness under the refresh", setting(fenv, "TOLLGATE_REVOCATION_MAX_STALE_SECONDS",
                                                                          {"Fn::If": ["RevocationOn", "3", {"Ref": "AWS::NoValue"}]})),
        ("bound", "the old 300 s cache TTL", lambda r, t: t["Parameters"]["AuthorizerCacheTtl"].__setitem__("Default", 300)),
        ("bound", "a 30 s refresh", setting(fenv, "TOLLGATE_REVOCATION_REFRESH_SECONDS",
                                            {"Fn::If": ["RevocationOn", "30", {"Ref": "AWS::NoValue"}]})),
        ("bound", "the HTTP API caching for a fixed 300 s",
         lambda r, t: r["HttpApi"]["Properties"]["Auth"]["Authorizers"]["Tollgate"]["Identity"].__setitem__("ReauthorizeEvery", 300)),
        ("alarms", "another metric name", setting(refresh_alarm, "MetricName", "revocationRefresh")),
        ("alarms", "another namespace", setting(over_bound_alarm, "Namespace", "Tollgate")),
        ("alarms", "another result", setting(refresh_alarm, "Dimensions", [{"Name": "result", "Value": "errors"}])),
        ("alarms", "the over_bound alarm on errors", setting(over_bound_alarm, "Dimensions", [{"Name": "result", "Value": "error"}])),
        ("alarms", "a dimension the metric does not have", setting(over_bound_alarm, "Dimensions", [
            {"Name": "result", "Value": "over_bound"}, {"Name": "entries", "Value": "1"}])),
        ("alarms", "missing data breaching", setting(refresh_alarm, "TreatMissingData", "breaching")),
        ("alarms", "an alarm without AlarmTopicArn", without(over_bound_alarm, "AlarmActions")),
        ("alarms", "an alarm without the RevocationOn condition", lambda r, t: r["RevocationOverBoundAlarm"].pop("Condition")),
        ("resources and outputs", "no RevocationTableName output", lambda r, t: t["Outputs"].pop("RevocationTableName")),
        ("resources and outputs", "an output naming the table with revocation off",
         lambda r, t: t["Outputs"]["RevocationTableName"].pop("Condition")),
        ("resources and outputs", "a revoker policy with revocation off too", lambda r, t: r["RevokerPolicy"].pop("Condition")),
        ("resources and outputs", "a revoker that may delete",
         setting(revoker, "Action", ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"])),
        ("resources and outputs", "a revoker on any table", setting(revoker, "Resource", "*")),
        ("resources and outputs", "a revoker on any partition", without(revoker, "Condition")),
    ]


def check_revocation(template, cfn):
    problems = revocation_problems(template)
    descriptions = {
        "parameter": "EnableRevocation is true or false, true by default, and RevocationOn follows it",
        "table": "the revocation table: pk/sk string keys, on demand, TTL on expires_at, point-in-time recovery, retained",
        "function policy": "the authorizer may Query the revocations partition of the table and nothing else new; with revocation off, nothing",
        "environment": "the revocation variables are set exactly when revocation is on, with the table's name and valid intervals",
        "bound": "a revoked token is refused within 65 s (refresh + AuthorizerCacheTtl's default), on every API",
        "alarms": "the revocation alarms read revocationRefreshes (namespace tollgate) where result = error and over_bound",
        "resources and outputs": "revocation adds the table, the revoker policy, the alarms and their outputs, and only then",
    }
    for part, description in descriptions.items():
        check(description, not problems[part], problems[part])
    # Each check bites: an altered copy of the template fails it.
    for part, what, change in revocation_alterations():
        found = revocation_problems(altered(template, change))[part]
        check(f"{part}: {what} is caught", bool(found))

    # What CloudFormation gets: the SAM translator makes the role from Policies, and passes the
    # table, the revoker policy and the alarms through as they are.
    found = translated_policy_problems(cfn)
    check("the translated role may Query the revocations partition of the table and nothing else new; with revocation off, nothing",
          not found, found)
    check("the translated template keeps the table, its retention and the revoker policy as written",
          all(cfn["Resources"].get(name) == template["Resources"][name] for name in ("RevocationTable", "RevokerPolicy")))
    loose = copy.deepcopy(cfn)
    loose["Resources"]["TollgateFunctionRole"]["Properties"]["Policies"][0]["Fn::If"][1]["PolicyDocument"]["Statement"][0][
        "Action"] = "dynamodb:*"
    check("translated role: every DynamoDB action is caught", bool(translated_policy_problems(loose)))
    unconditional = copy.deepcopy(cfn)
    unconditional["Resources"]["TollgateFunctionRole"]["Properties"]["Policies"] = [
        cfn["Resources"]["TollgateFunctionRole"]["Properties"]["Policies"][0]["Fn::If"][1]]
    check("translated role: the policy with revocation off too is caught", bool(translated_policy_problems(unconditional)))

    # The real binary's line, once src/ writes it: a table it cannot reach is a failed refresh,
    # written as the metric the alarm reads.
    sources = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(ROOT, "src")) for f in files if f.endswith(".rs")]
    if any("revocationRefreshes" in open(path, encoding="utf-8").read() for path in sources):
        env = dict(DEV_ENV, TOLLGATE_REVOCATION_TABLE="tollgate-revocations", TOLLGATE_REVOCATION_REFRESH_SECONDS="5",
                   TOLLGATE_REVOCATION_MAX_STALE_SECONDS="300", AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:9",
                   AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="offline", AWS_SECRET_ACCESS_KEY="offline")
        _, _, lines = invoke("events/rest-token.allow.json", env)
        refreshes = [l for l in lines if l.get("event") == "revocation_refresh"]
        check("an unreachable revocation table logs a failed refresh",
              bool(refreshes) and all(l.get("result") == "error" for l in refreshes), lines)
        emitted = set().union(*(emf_metrics(l) for l in refreshes)) if refreshes else set()
        check("tollgate writes revocationRefreshes by result as an EMF metric (what the revocation alarms read)",
              ("tollgate", "revocationRefreshes", ("result",)) in emitted, emitted)
    else:
        print("template: src/ writes no revocationRefreshes yet: the revocation alarms are checked against the interface alone")


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
    check_revocation(template, cfn)

    if failures:
        raise SystemExit(f"{len(failures)} template checks failed")
    print(f"template: all {len(passed)} checks passed")


if __name__ == "__main__":
    main()
