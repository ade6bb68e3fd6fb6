#!/usr/bin/env bash
# The documented fuzzing campaign: every target (or those named as arguments) for RUNS
# executions (default 1,000,000) with a 512 MB memory limit and a 2 s timeout per input, one
# process at a time. Prints per target the executions, time, rate, peak memory, new corpus
# units and the outcome (ok, crash, timeout or oom, with the input that caused it), and exits
# non-zero if any target failed.
#
#   fuzz/run-campaign.sh                  # every target, 1,000,000 runs each
#   RUNS=10000 fuzz/run-campaign.sh idx   # a quick look at one target
#   FUZZ_ARGS="-max_len=65536" fuzz/run-campaign.sh onnx   # more libFuzzer options
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Each
# target starts from its committed inputs (tests/fuzz/<target>/, read only) and its working
# corpus (fuzz/corpus/<target>/, where new inputs go); full logs go to fuzz/logs/<target>.log
# and crashing inputs to fuzz/artifacts/<target>/.
set -uo pipefail

FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
cd "$FUZZ_DIR"
RUNS="${RUNS:-1000000}"
LIMITS=(-rss_limit_mb=512 -timeout=2)
read -r -a EXTRA <<<"${FUZZ_ARGS:-}"

if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi

# Build once; `cargo fuzz run` with the same options then only checks that it is fresh.
cargo +nightly fuzz build || exit 2

mkdir -p logs
failed=0
printf '%-12s %12s %9s %9s %8s %6s  %s\n' target executions time_s exec/s rss_mb new outcome
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="logs/$target.log"
  start=$(date +%s.%N)
  cargo +nightly fuzz run "$target" "corpus/$target" "../tests/fuzz/$target" -- \
    -runs="$RUNS" "${LIMITS[@]}" -print_final_stats=1 "${EXTRA[@]}" >"$log" 2>&1
  status=$?
  end=$(date +%s.%N)
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  executions=$(stat number_of_executed_units)
  seconds=$(awk "BEGIN { print $end - $start }")
  rate=$(stat average_exec_per_sec)
  if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
    outcome=timeout
  elif grep -q -e 'ERROR: libFuzzer: out-of-memory' -e 'allocation-size-too-big' "$log"; then
    outcome=oom
  elif [ "$status" -ne 0 ]; then
    outcome=crash
  else
    outcome=ok
  fi
  if [ "$outcome" != ok ]; then
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    outcome="$outcome ${artifact:-(see $log)}"
  fi
  printf '%-12s %12s %9.1f %9s %8s %6s  %s\n' "$target" "${executions:-?}" "$seconds" \
    "${rate:-?}" "$(stat peak_rss_mb)" "$(stat new_units_added)" "$outcome"
done
exit "$failed"
