// SPDX-License-Identifier: MIT
// Scenario 15: "manual" IPC — a raw shared memory block and a Semaphore
// guarding it.  The sender writes "Hello, receiver!" into the block and
// releases the semaphore; the receiver, another process that attaches the
// block by name, acquires the semaphore and reads the message.
//
//   shm = shared_memory.SharedMemory(create=True, size=1024)
//   sem = Semaphore(0)
//   receiver:  sem.acquire(); print(bytes(SharedMemory(name).buf[:n]))
//   sender:    shm.buf[:n] = b"Hello, receiver!"; sem.release()
//
// The same block is open to Python: SharedMemory(name) attaches to it.
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal.h>

static const char message[] = "Hello, receiver!";

struct channel {
  const char *name; /* the block's name: all a receiver needs to attach */
  shoal_semaphore *ready;
};

static int receiver(void *arg)
{
  struct channel *ch = arg;
  shoal_shm *shm;
  if (shoal_shm_attach(&shm, ch->name, NULL) != 0)
    return 1;
  if (shoal_semaphore_acquire(ch->ready, SHOAL_SEC(10)) != 0) /* wait for the sender */
    return 1;
  char got[64];
  memcpy(got, shoal_shm_buf(shm), sizeof message);
  got[sizeof message - 1] = '\0';
  printf("receiver (pid %d) read from /%s: %s\n", (int)getpid(), ch->name, got);
  fflush(stdout); /* the child leaves through _exit */
  shoal_shm_close(shm);
  return strcmp(got, message) != 0;
}

int main(void)
{
  shoal_shm *shm;
  shoal_semaphore *ready;
  if (shoal_shm_create(&shm, NULL, 1024, NULL) != 0 || shoal_semaphore_create(&ready, 0) != 0) {
    fprintf(stderr, "FAIL: create\n");
    return 1;
  }
  struct channel ch = {shoal_shm_name(shm), ready};
  printf("sender: block /%s of %zu bytes\n", shoal_shm_name(shm), shoal_shm_size(shm));

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(receiver(&ch));

  memcpy(shoal_shm_buf(shm), message, sizeof message); /* write, then signal */
  printf("sender wrote: %s\n", message);
  fflush(stdout);
  shoal_semaphore_release(ready, 1);

  int status;
  waitpid(pid, &status, 0);
  shoal_shm_unlink(shm); /* the sender owns the block: remove its name */
  shoal_shm_close(shm);
  shoal_semaphore_destroy(ready);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "FAIL: the receiver did not read the message\n");
    return 1;
  }
  return 0;
}
