#!/bin/sh
# Run every libFuzzer target in BUILD_DIR/tests/fuzz for SECONDS each,
# starting from the seed corpus in tests/fuzz/corpus/NAME (copied, so the
# tree is never modified).  Fails on the first crash, leak or timeout.
#   scripts/run-fuzzers.sh BUILD_DIR SECONDS
set -eu
build=${1:?build dir}
secs=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
found=0
for bin in "$build"/tests/fuzz/fuzz-*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    found=$((found + 1))
    mkdir -p "$work/$name"
    if [ -d "$src/tests/fuzz/corpus/${name#fuzz-}" ]; then
        cp "$src/tests/fuzz/corpus/${name#fuzz-}"/* "$work/$name/" 2>/dev/null || true
    fi
    echo "fuzz: $name for ${secs}s"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 "$work/$name" \
        > "$work/$name.log" 2>&1 || {
            tail -n 60 "$work/$name.log"
            echo "fuzz: $name FAILED" >&2
            exit 1
        }
    grep -E "stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" \
        "$work/$name.log" |
        sed "s/^/fuzz: $name: /"
done
[ "$found" -gt 0 ] || { echo "fuzz: no targets in $build" >&2; exit 1; }
echo "fuzz: $found targets passed"
