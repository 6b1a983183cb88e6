#!/usr/bin/env bash
# The deploy path, offline: the SAM template lints clean three ways, its wiring is checked by
# scripts/template-test.py, and the authorizer cross-compiles to an arm64 `bootstrap`.
# Needs: pip install cfn-lint aws-sam-cli cargo-lambda; rustup target add aarch64-unknown-linux-gnu
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing here calls AWS; SAM and cfn-lint only want a region and some credentials.
export AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0

cfn-lint template.yaml
sam validate --lint --region us-east-1
sam validate --region us-east-1
cargo build --quiet
python3 scripts/template-test.py

start=$(date +%s)
cargo lambda build --release --arm64 --quiet
elapsed=$(( $(date +%s) - start ))
python3 - "$elapsed" <<'PY'
import os, sys
path = "target/lambda/tollgate/bootstrap"
with open(path, "rb") as f:
    header = f.read(20)
machine = int.from_bytes(header[18:20], "little")
assert header[:4] == b"\x7fELF" and machine == 183, f"{path} is not an arm64 (aarch64) ELF binary"
print(f"arm64 bootstrap: {os.path.getsize(path)} bytes, built in {sys.argv[1]} s")
PY

# `sam build` without Docker: the rust-cargolambda build method (a SAM beta feature) runs
# cargo-lambda in the source tree, so it reuses the build above.
build_dir=$(mktemp -d)
trap 'rm -rf "$build_dir"' EXIT
start=$(date +%s)
sam build --beta-features --build-dir "$build_dir" >/dev/null
test -x "$build_dir/TollgateFunction/bootstrap"
cmp -s "$build_dir/TollgateFunction/bootstrap" target/lambda/tollgate/bootstrap
echo "sam build: ok in $(( $(date +%s) - start )) s (after the cargo lambda build)"
