#!/usr/bin/env bash
# Runs every benchmark executable (bench_*) in a bench build directory, one
# after the other, and tees their output to <dir>/bench.log.
#   scripts/bench.sh build-bench/bench [args passed to every benchmark]
# Exits non-zero if any benchmark failed (a goal MISS is not a failure).
set -uo pipefail

dir=${1:?usage: scripts/bench.sh BENCH_BUILD_DIR [ARGS...]}
shift
[ -d "$dir" ] || { echo "bench.sh: no such directory: $dir" >&2; exit 2; }

log="$dir/bench.log"
: >"$log"
{
  echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(uname -srm)  $(nproc) CPUs"
  echo "# $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
} | tee -a "$log"

found=0
failed=""
for b in "$dir"/bench_*; do
  if [ ! -f "$b" ] || [ ! -x "$b" ]; then continue; fi
  found=$((found + 1))
  name=$(basename "$b")
  echo "## $name" | tee -a "$log"
  start=$(date +%s)
  "$b" "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  echo "## $name: exit $rc, $(( $(date +%s) - start ))s" | tee -a "$log"
  [ "$rc" -eq 0 ] || failed="$failed $name"
done

if [ "$found" -eq 0 ]; then
  echo "bench.sh: no bench_* executables in $dir" >&2
  exit 2
fi
if [ -n "$failed" ]; then
  echo "bench.sh: FAILED:$failed (log: $log)" >&2
  exit 1
fi
echo "bench.sh: $found benchmark(s) done; log: $log"
