#!/usr/bin/env bash
# The deploy path, offline: the SAM template lints clean three ways, its wiring is checked by
# scripts/template-test.py, the authorizer cross-compiles to an arm64 `bootstrap` (the
# tollgate-lambda binary: Lambda mode alone), and `sam build` packs it with the configuration
# layer (config/tollgate.toml, at /opt/tollgate.toml).
# Needs what scripts/setup installs: cfn-lint, aws-sam-cli and cargo-lambda (in .venv), make,
# and the aarch64-unknown-linux-gnu target (rust-toolchain.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing here calls AWS; SAM and cfn-lint only want a region and some credentials.
export AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0
# cargo, cargo-lambda and `sam build` (through `cargo metadata`) all honour CARGO_TARGET_DIR.
target_dir=${CARGO_TARGET_DIR:-target}

cfn-lint template.yaml
sam validate --lint --region us-east-1
sam validate --region us-east-1
cargo build --quiet
python3 scripts/template-test.py

start=$(date +%s)
cargo lambda build --release --arm64 --bin tollgate-lambda --quiet
elapsed=$(( $(date +%s) - start ))
python3 - "$elapsed" "$target_dir" <<'PY'
import os, sys
path = os.path.join(sys.argv[2], "lambda", "tollgate-lambda", "bootstrap")
with open(path, "rb") as f:
    header = f.read(20)
machine = int.from_bytes(header[18:20], "little")
assert header[:4] == b"\x7fELF" and machine == 183, f"{path} is not an arm64 (aarch64) ELF binary"
# Lambda mode alone: the authorizer's own words are there, and none of the command line's
# (clap's help), serve's (API Gateway's gateway responses) or the report's.
with open(path, "rb") as f:
    binary = f.read()
assert b"tollgate cannot decide" in binary, "the bootstrap lacks the authorizer"
for marker in [b"Print help", b"Missing Authentication Token", b"usage-report"]:
    assert marker not in binary, f"the bootstrap holds {marker!r}: more than Lambda mode"
print(f"arm64 bootstrap: {os.path.getsize(path)} bytes, Lambda mode alone, ready {sys.argv[1]} s after this stage began")
PY

# `sam build` without Docker: the rust-cargolambda build method (a SAM beta feature) runs
# cargo-lambda in the source tree, so it reuses the build above.
build_dir=$(mktemp -d)
trap 'rm -rf "$build_dir"' EXIT
start=$(date +%s)
sam build --beta-features --build-dir "$build_dir/out" >"$build_dir/log" 2>&1 || { cat "$build_dir/log" >&2; exit 1; }
test -x "$build_dir/out/TollgateFunction/bootstrap"
cmp -s "$build_dir/out/TollgateFunction/bootstrap" "$target_dir/lambda/tollgate-lambda/bootstrap"
# The layer is config/tollgate.toml alone, so Lambda unpacks it at /opt/tollgate.toml.
layer=$(cd "$build_dir/out/TollgateConfigLayer" && find . -mindepth 1 | sort | tr '\n' ' ')
[ "$layer" = "./tollgate.toml " ] || { echo "the configuration layer holds: $layer" >&2; exit 1; }
cmp -s "$build_dir/out/TollgateConfigLayer/tollgate.toml" config/tollgate.toml
echo "sam build: ok in $(( $(date +%s) - start )) s (after the cargo lambda build): bootstrap and the tollgate.toml layer"
