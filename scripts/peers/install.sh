#!/usr/bin/env bash
# Installs the peer verifiers' node packages under target/peers/node from package-lock.json
# (npm ci: exactly the locked versions), and prints that folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=target/peers/node
mkdir -p "$dir"
if ! cmp -s scripts/peers/package-lock.json "$dir/package-lock.json" ||
  [[ ! -d "$dir/node_modules/aws-jwt-verify" ]]; then
  cp scripts/peers/package.json scripts/peers/package-lock.json "$dir/"
  (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
cp scripts/peers/*.mjs "$dir/"
echo "$dir"
