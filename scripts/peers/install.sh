#!/usr/bin/env bash
# Installs the peer verifiers' node packages under target/peers/node (npm registry only).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=target/peers/node
if [[ ! -d "$dir/node_modules/aws-jwt-verify" ]]; then
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" aws-jwt-verify@5 >/dev/null
fi
cp scripts/peers/*.mjs "$dir/"
echo "$dir"
