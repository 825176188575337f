#!/usr/bin/env bash
# Runs every fuzz target for a fixed time (default 60 s each) and prints libFuzzer's figures.
#   fuzz/run.sh [seconds] [target...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain it sets RUSTC_BOOTSTRAP=1,
# because cargo-fuzz builds with -Z flags (sanitizers, coverage instrumentation).
# The corpus in fuzz/corpus/<target> is read and grown in a scratch copy; the committed seeds stay
# small (copy an interesting new input in by hand). A crash stops the script with exit 1 and leaves
# the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(config token_cache role_cache service_error api_responses sts_answer)
fi
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi
command -v cargo-fuzz >/dev/null 2>&1 || { echo "fuzz/run.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 1; }

for t in "${targets[@]}"; do cargo fuzz build --release "$t" >/dev/null; done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "artifacts/$t"
    cp corpus/"$t"/* "$scratch/$t/" 2>/dev/null || true
    log="$scratch/$t.log"
    if cargo fuzz run --release "$t" "$scratch/$t" corpus/"$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
    fi
    # The last status line (#runs cov: ft: corp: exec/s) and the final stats.
    line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    runs=$(grep -E 'stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    echo "$t: $result; executions ${runs:-?}; last status: ${line:-none}"
    if [ $result = CRASH ]; then
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -10
    fi
done
exit $status
