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
threads_objects|4|Thread objects: names, current_thread, active_count, a "subclass", a daemon, join
queue_threads|5|producer and consumer threads through a queue, ending with a sentinel
queue_file|5|the same through a durable queue on disk; a restart carries on where it stopped
threads_timer|6|a Timer fires once after 0.2 s; another is cancelled
thread_pool|7|a thread pool: submit work, collect results, measure the speed-up
process_basics|8|Process: start, join, names, pids, exit codes, daemon, terminate, spawn, Producer/Consumer
queue_bounded|9|a bounded Queue of 5: full, empty, get_nowait, a put that blocks, get with a timeout
queue_joinable|10|three cooks, two daemon eaters, a JoinableQueue and join()
queue_priority|11|a priority queue across processes
pipe_duplex|12|Pipe(duplex=True) both ways in parent and child, a simplex pipe, EOF
named_pipe|13|a named pipe (mkfifo) between two processes
shared_value_array|14|Value and Array written by one process, read by another; a Lock guarding a Value
shared_memory_ipc|15|a raw shared memory block guarded by a Semaphore: Hello, receiver!
sockets|16|TCP stream and UDP datagrams between processes on localhost
process_sync|17|Lock, RLock, Semaphore(2), Condition, Event and Barrier(3) across processes
process_pool|18|Pool map, apply_async, close/join; executor submit and as_completed; a worker killed mid-map
shared_dict_list|19|a Manager-style dict and list shared by 5 processes, no server process
process_errors|20|children that crash or fail are reported; 4 processes log 4000 whole lines
process_shutdown|21|SIGINT sets an Event; workers finish their item, exit 0, and are joined
queue_epoll|22|one epoll waiting on two queues and a pipe
python_server|-|a C Listener answering an unmodified Python multiprocessing Client'

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
