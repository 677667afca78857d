#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) and stops at the first crash.
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET]
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The machine's stable toolchain
# builds the sanitizer instrumentation with RUSTC_BOOTSTRAP=1; nothing here runs in the
# default test suite. A crash leaves its input in tests/fuzz/artifacts/<target>/: turn it into
# a regression test (see docs/FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_FUZZ_TARGET_DIR:-$HOME/.cache/greenos-fuzz-target}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
for target in trip_body artifact export_cursor; do
  mkdir -p "tests/fuzz/corpus/$target"
  echo "==> $target for ${seconds} s"
  cargo fuzz run --fuzz-dir tests/fuzz -O "$target" "tests/fuzz/corpus/$target" \
    -- -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*(DONE|pulse)|stat::|==[0-9]+==|SUMMARY|Done)' || true
  if compgen -G "tests/fuzz/artifacts/$target/*" >/dev/null; then
    echo "crash inputs in tests/fuzz/artifacts/$target" >&2
    exit 1
  fi
done
