#!/bin/sh
# tour.sh: runs the examples, one per scenario of SCENARIOS.md, in a fixed
# order, each under a banner; stops at the first one that fails.
#   scripts/tour.sh build/examples        (what `make run` does)
# Needs no terminal and reads no stdin.  Each example gets TOUR_TIMEOUT
# seconds (default 60) when timeout(1) is available.
set -u

dir=${1:?usage: tour.sh <examples build dir>}
limit=${TOUR_TIMEOUT:-60}

# program | scenario | what it shows
TOUR='threads_counter|1|two threads, one Lock, 2,000,000 increments
threads_decrement|2|100 threads decrement n = 100 under a Lock
threads_event|3|one thread waits on an Event, another sets it
shared_value_array|14|Value and Array written by one process, read by another; a Lock guarding a Value
shared_memory_ipc|15|a raw shared memory block guarded by a Semaphore: Hello, receiver!
process_sync|17|Lock, RLock, Semaphore(2), Condition, Event and Barrier(3) across processes
shared_dict_list|19|a Manager-style dict and list shared by 5 processes, no server process'

if [ ! -d "$dir" ]; then
  echo "tour: no such directory: $dir (build first: cmake --build build)" >&2
  exit 2
fi

run() {
  if command -v timeout >/dev/null 2>&1; then
    timeout "$limit" "$@" </dev/null
  else
    "$@" </dev/null
  fi
}

total=$(printf '%s\n' "$TOUR" | wc -l)
passed=0
start=$(date +%s)
# The list goes through a here-document, so the loop runs in this shell.
while IFS='|' read -r prog scenario what; do
  echo "== scenario $scenario: $what =="
  if [ ! -x "$dir/$prog" ]; then
    echo "tour: FAILED: $dir/$prog is missing ($passed of $total examples passed)"
    exit 1
  fi
  run "$dir/$prog"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "tour: $prog timed out after ${limit}s" >&2
    echo "tour: FAILED: $prog (scenario $scenario) exited with $rc ($passed of $total examples passed)"
    exit 1
  fi
  passed=$((passed + 1))
  echo
done <<LIST
$TOUR
LIST

echo "tour: all $passed of $total examples passed in $(($(date +%s) - start)) s"
