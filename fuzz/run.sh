#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/libfuzzer for SECONDS each (default 60), one after the
# other on one core, growing fuzz/corpus/<target>/, and prints the executions of each target.
#   fuzz/run.sh [seconds] [target...]
# Installs cargo-fuzz 0.13 into ~/.cache/weft-tools (WEFT_TOOLS_DIR) if missing. Builds without
# a sanitizer (`-s none`), so stable Rust does; debug assertions and overflow checks are on.
# Crashes are written to fuzz/libfuzzer/artifacts/<target>/ and stop that target's run; the
# script then goes on and exits non-zero at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
tools="${WEFT_TOOLS_DIR:-$HOME/.cache/weft-tools}"
export PATH="$tools/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz 0.13.2 into $tools"
  cargo install cargo-fuzz@0.13.2 --locked --root "$tools"
fi
fuzz_dir=fuzz/libfuzzer
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list --fuzz-dir "$fuzz_dir")
fi
cargo fuzz build -s none --fuzz-dir "$fuzz_dir"
status=0
total=0
summary=""
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  log="$fuzz_dir/target/$target.log"
  echo "== $target for ${seconds}s"
  if ! cargo fuzz run -s none --fuzz-dir "$fuzz_dir" "$target" "$corpus" -- \
      -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 -timeout=10 \
      -rss_limit_mb=4096 >"$log" 2>&1; then
    status=1
    echo "!! $target failed; see $log and $fuzz_dir/artifacts/$target/"
    tail -n 30 "$log"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
  runs="${runs:-0}"
  total=$((total + runs))
  summary+=$(printf '%-18s %12s executions\n' "$target" "$runs")$'\n'
done
echo "== executions per target"
printf '%s' "$summary"
printf '%-18s %12s executions\n' total "$total"
exit "$status"
