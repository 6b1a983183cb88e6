#!/usr/bin/env bash
# Fuzzes tollgate with cargo fuzz (libFuzzer + AddressSanitizer): the token parser/verifier
# (`token`), the whole handler from raw event bytes (`event`), the zero-copy event view against
# the aws_lambda_events parse (`event_view`) and usage-report on access-log
# lines (`access_log`), each for SECONDS (default 30),
# from the seeds in fuzz/seeds/ plus the corpus grown by earlier runs. Every input that ever
# crashed is kept in fuzz/regressions/<target>/ and replayed first.
# Needs what scripts/setup installs: cargo-fuzz and the dated nightly of fuzz/rust-toolchain.toml.
# Without that nightly, it fuzzes with the pinned stable toolchain and RUSTC_BOOTSTRAP=1 (which
# lets stable take cargo fuzz's -Z flags; its sanitizer runtimes ship with stable's std).
#   scripts/fuzz.sh [SECONDS]       build the targets, replay the regressions, fuzz each target
#   scripts/fuzz.sh --build-only    only build them (scripts/test does it in the background)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
build_only=""
if [[ "${1:-}" == "--build-only" ]]; then
  build_only=1
  shift
fi
seconds=${1:-30}

toolchain_of() { sed -n 's/^channel = "\(.*\)"$/\1/p' "$1"; }
nightly=$(toolchain_of rust-toolchain.toml)
if rustup run "$nightly" rustc --version >/dev/null 2>&1; then
  cargo=(cargo "+$nightly")
else
  stable=$(toolchain_of ../rust-toolchain.toml)
  echo "fuzz: $nightly is not installed: fuzzing with $stable and RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo "+$stable")
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The fuzz workspace has its own lock: a build must not quietly rewrite it.
"${cargo[@]}" metadata --locked --format-version 1 >/dev/null 2>"$log" ||
  { cat "$log" >&2; echo "fuzz/Cargo.lock is out of date: run cargo update -p tollgate in fuzz/ and commit it" >&2; exit 1; }
"${cargo[@]}" fuzz build >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
echo "fuzz: built with $(rustc "${cargo[1]}" --version)${RUSTC_BOOTSTRAP:+ and RUSTC_BOOTSTRAP=1}"
[[ -z "$build_only" ]] || exit 0
for target in token event event_view access_log; do
  mkdir -p "corpus/$target"
  if compgen -G "regressions/$target/*" >/dev/null; then
    "${cargo[@]}" fuzz run "$target" regressions/"$target"/* -- -close_fd_mask=2 >"$log" 2>&1 ||
      { cat "$log" >&2; echo "fuzz target $target fails a regression input" >&2; exit 1; }
    echo "$target: $(ls regressions/"$target" | wc -l) regression inputs pass"
  fi
  # close_fd_mask=2: the handler logs a line per decision to stderr; libFuzzer keeps its own.
  if ! "${cargo[@]}" fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -close_fd_mask=2 -print_final_stats=1 >"$log" 2>&1; then
    grep -E "panicked|ERROR|SUMMARY|Test unit written" -A3 "$log" >&2 || tail -40 "$log" >&2
    echo "fuzz target $target failed" >&2
    exit 1
  fi
  echo "$target: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions in ${seconds} s, no crash"
done
