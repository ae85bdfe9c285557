// SPDX-License-Identifier: MIT
// Scenario 17: multiprocessing's synchronisation primitives across processes.
// Every object is made before fork(), so the children share it; plain data the
// processes share lives in one MAP_SHARED mapping.
//
//   lock   = Lock();        rlock = RLock()
//   sem    = Semaphore(2);  cond  = Condition()
//   event  = Event();       barrier = Barrier(3)
//   Process(target=worker, args=(lock, ...)).start() ...
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal.h>

/* Memory every process sees: data the primitives protect or report on. */
struct shared {
  long counter;           /* Lock / RLock parts */
  _Atomic int inside;     /* Semaphore part: processes inside right now */
  _Atomic int max_inside; /* ... and the most ever seen at once */
  int ready;              /* Condition part: the flag a child waits for */
  _Atomic int past_event; /* Event/Barrier part: children past event.wait() */
  _Atomic int at_barrier; /* ... children that reached the barrier */
  _Atomic int zero_index; /* ... children that got arrival index 0 */
};
static struct shared *sh;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "FAIL: " __VA_ARGS__);                                                       \
      fputc('\n', stderr);                                                                         \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

static void sleep_ms(long ms)
{
  nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000}, NULL);
}

/* Runs fn(arg) in a child process whose exit status is fn's result. */
static pid_t spawn(int (*fn)(void *), void *arg)
{
  pid_t pid = fork();
  if (pid == 0)
    _exit(fn(arg));
  return pid;
}

/* Waits for n children; returns how many failed (nonzero exit or a signal). */
static int join_all(const pid_t *pids, int n)
{
  int failed = 0;
  for (int i = 0; i < n; i++) {
    int status;
    if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      failed++;
  }
  return failed;
}

/* ---- Lock: four processes add to one counter under a Lock. ---- */

#define LOCK_PROCS 4
#define LOCK_ROUNDS 100000

static int lock_worker(void *arg)
{
  shoal_lock *lock = arg;
  for (int i = 0; i < LOCK_ROUNDS; i++) {
    if (shoal_lock_acquire(lock, SHOAL_SEC(5)) != 0)
      return 1;
    sh->counter++;
    shoal_lock_release(lock);
  }
  return 0;
}

static int part_lock(void)
{
  shoal_lock *lock;
  pid_t pids[LOCK_PROCS];
  CHECK(shoal_lock_create(&lock) == 0, "shoal_lock_create");
  sh->counter = 0;
  for (int i = 0; i < LOCK_PROCS; i++)
    pids[i] = spawn(lock_worker, lock);
  int failed = join_all(pids, LOCK_PROCS);
  shoal_lock_destroy(lock);
  printf("lock: %d processes x %d increments = %ld\n", LOCK_PROCS, LOCK_ROUNDS, sh->counter);
  CHECK(failed == 0 && sh->counter == (long)LOCK_PROCS * LOCK_ROUNDS, "lock: counter %ld",
        sh->counter);
  return 0;
}

/* ---- RLock: the holder re-enters it; another process is kept out. ---- */

static int rlock_outsider(void *arg)
{
  shoal_rlock *rlock = arg;
  int try_rc = shoal_rlock_acquire(rlock, SHOAL_NOWAIT);
  int release_rc = shoal_rlock_release(rlock);
  printf("rlock: child: acquire(block=False) -> %s, release -> %s\n", shoal_err_name(try_rc),
         shoal_err_name(release_rc));
  return try_rc == SHOAL_EAGAIN && release_rc == SHOAL_EPERM ? 0 : 1;
}

/* Takes the RLock, then calls a function that takes it again. */
static int add_one(shoal_rlock *rlock)
{
  if (shoal_rlock_acquire(rlock, SHOAL_SEC(5)) != 0)
    return 1;
  int level = shoal_rlock_count(rlock);
  sh->counter++;
  shoal_rlock_release(rlock);
  return level == 2 ? 0 : 1;
}

static int rlock_nester(void *arg)
{
  shoal_rlock *rlock = arg;
  if (shoal_rlock_acquire(rlock, SHOAL_SEC(5)) != 0)
    return 1;
  int rc = add_one(rlock) | add_one(rlock);
  shoal_rlock_release(rlock);
  return rc || shoal_rlock_is_owned(rlock) != 0;
}

static int part_rlock(void)
{
  shoal_rlock *rlock;
  pid_t pids[3];
  CHECK(shoal_rlock_create(&rlock) == 0, "shoal_rlock_create");

  /* The parent holds it twice; a child can neither take nor release it. */
  shoal_rlock_acquire(rlock, SHOAL_FOREVER);
  shoal_rlock_acquire(rlock, SHOAL_FOREVER);
  printf("rlock: parent holds it at level %d\n", shoal_rlock_count(rlock));
  pids[0] = spawn(rlock_outsider, rlock);
  int failed = join_all(pids, 1);
  shoal_rlock_release(rlock);
  shoal_rlock_release(rlock);
  CHECK(failed == 0 && shoal_rlock_is_owned(rlock) == 0, "rlock: outsider or release");

  /* Three children each take it, then take it again inside add_one(). */
  sh->counter = 0;
  for (int i = 0; i < 3; i++)
    pids[i] = spawn(rlock_nester, rlock);
  failed = join_all(pids, 3);
  shoal_rlock_destroy(rlock);
  printf("rlock: 3 processes re-entered it twice each, counter = %ld\n", sh->counter);
  CHECK(failed == 0 && sh->counter == 6, "rlock: counter %ld, %d children failed", sh->counter,
        failed);
  return 0;
}

/* ---- Semaphore(2): five processes, never more than two inside. ---- */

#define SEM_PROCS 5

static int sem_worker(void *arg)
{
  shoal_semaphore *sem = arg;
  if (shoal_semaphore_acquire(sem, SHOAL_SEC(5)) != 0)
    return 1;
  int now = atomic_fetch_add(&sh->inside, 1) + 1;
  int max = atomic_load(&sh->max_inside);
  while (now > max && !atomic_compare_exchange_weak(&sh->max_inside, &max, now))
    ;
  sleep_ms(50); /* hold the unit a while, so the others pile up */
  atomic_fetch_sub(&sh->inside, 1);
  shoal_semaphore_release(sem, 1);
  return 0;
}

static int part_semaphore(void)
{
  shoal_semaphore *sem;
  pid_t pids[SEM_PROCS];
  CHECK(shoal_semaphore_create(&sem, 2) == 0, "shoal_semaphore_create");
  for (int i = 0; i < SEM_PROCS; i++)
    pids[i] = spawn(sem_worker, sem);
  int failed = join_all(pids, SEM_PROCS);
  int left = shoal_semaphore_value(sem);
  shoal_semaphore_destroy(sem);
  printf("semaphore: %d processes, at most %d inside at once, %d units free at the end\n",
         SEM_PROCS, atomic_load(&sh->max_inside), left);
  CHECK(failed == 0 && atomic_load(&sh->max_inside) <= 2 && left == 2,
        "semaphore: max inside %d, %d units left", atomic_load(&sh->max_inside), left);
  return 0;
}

/* ---- Condition: a child waits for `ready`; the parent sets it and notifies. ---- */

static int is_ready(void *arg)
{
  (void)arg;
  return sh->ready;
}

static int cond_waiter(void *arg)
{
  shoal_condition *cond = arg;
  shoal_condition_acquire(cond, SHOAL_FOREVER);
  printf("condition: child waits for ready\n");
  int rc = shoal_condition_wait_for(cond, is_ready, NULL, SHOAL_SEC(5));
  printf("condition: child woke, ready = %d (%s)\n", sh->ready, rc > 0 ? "ok" : shoal_err_name(rc));
  shoal_condition_release(cond);
  return rc > 0 ? 0 : 1;
}

static int part_condition(void)
{
  shoal_condition *cond;
  CHECK(shoal_condition_create(&cond, NULL, NULL) == 0, "shoal_condition_create");
  sh->ready = 0;
  pid_t pid = spawn(cond_waiter, cond);
  sleep_ms(100); /* let the child start waiting (wait_for works either way) */
  shoal_condition_acquire(cond, SHOAL_FOREVER);
  sh->ready = 1;
  int woken = shoal_condition_notify_all(cond);
  shoal_condition_release(cond);
  printf("condition: parent set ready and notified (woke %d waiter)\n", woken);
  int failed = join_all(&pid, 1);
  shoal_condition_destroy(cond);
  CHECK(failed == 0, "condition: the child did not see ready");
  return 0;
}

/* ---- Event and Barrier(3): three processes start together, meet, go on. ---- */

struct meet {
  shoal_event *start;
  shoal_barrier *barrier;
  int id;
};

static int meet_worker(void *arg)
{
  struct meet *m = arg;
  if (shoal_event_wait(m->start, SHOAL_SEC(5)) != 0)
    return 1;
  atomic_fetch_add(&sh->past_event, 1);
  sleep_ms(20L * m->id); /* arrive one after another */
  atomic_fetch_add(&sh->at_barrier, 1);
  int index = shoal_barrier_wait(m->barrier, SHOAL_SEC(5));
  if (index < 0) {
    printf("barrier: process %d: %s\n", m->id, shoal_err_name(index));
    return 1;
  }
  /* Nobody gets past the barrier before all three reached it. */
  int arrived = atomic_load(&sh->at_barrier);
  if (index == 0)
    atomic_fetch_add(&sh->zero_index, 1);
  printf("barrier: process %d passed (arrival index %d, %d arrived)\n", m->id, index, arrived);
  return arrived == 3 ? 0 : 1;
}

static int part_event_barrier(void)
{
  struct meet m[3];
  pid_t pids[3];
  shoal_event *start;
  shoal_barrier *barrier;
  CHECK(shoal_event_create(&start) == 0, "shoal_event_create");
  CHECK(shoal_barrier_create(&barrier, 3, NULL) == 0, "shoal_barrier_create");
  for (int i = 0; i < 3; i++) {
    m[i] = (struct meet){start, barrier, i + 1};
    pids[i] = spawn(meet_worker, &m[i]);
  }
  sleep_ms(100);
  int early = atomic_load(&sh->past_event);
  printf("event: 3 processes wait for the start signal (%d got past it early)\n", early);
  shoal_event_set(start);
  int failed = join_all(pids, 3);
  int broken = shoal_barrier_broken(barrier);
  shoal_barrier_destroy(barrier);
  shoal_event_destroy(start);
  CHECK(early == 0, "event: %d processes did not wait", early);
  CHECK(failed == 0 && broken == 0 && atomic_load(&sh->zero_index) == 1,
        "barrier: %d children failed, broken=%d, %d got index 0", failed, broken,
        atomic_load(&sh->zero_index));
  printf("event + barrier: all 3 processes met\n");
  return 0;
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0); /* one write a line: children's lines do not mix */
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  int failed =
      part_lock() || part_rlock() || part_semaphore() || part_condition() || part_event_barrier();
  munmap(sh, sizeof *sh);
  return failed;
}
