// SPDX-License-Identifier: MIT
// Scenario 19: data sharing through a Manager's dict and list — here without
// the Manager's server process: the dict and list live in shared memory.
//
//   def worker(d, l, i):
//       d[str(i)] = str(i * i)
//       l.append(f"worker {i} was here")
//   with Manager() as m:
//       d = m.dict(); l = m.list()
//       ps = [Process(target=worker, args=(d, l, i)) for i in range(5)]
//       for p in ps: p.start()
//       for p in ps: p.join()
//       print(d, l)
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal.h>

#define WORKERS 5

static int worker(shoal_dict *d, shoal_list *l, int i)
{
  char key[16], value[16], note[32];
  int kl = snprintf(key, sizeof key, "%d", i);
  int vl = snprintf(value, sizeof value, "%d", i * i);
  int nl = snprintf(note, sizeof note, "worker %d was here", i);
  return shoal_dict_set(d, key, (size_t)kl, value, (size_t)vl) != 0 ||
         shoal_list_append(l, note, (size_t)nl) != 0;
}

int main(void)
{
  shoal_dict *d;
  shoal_list *l;
  if (shoal_dict_create(&d, NULL) != 0 || shoal_list_create(&l, NULL) != 0) {
    fprintf(stderr, "FAIL: create\n");
    return 1;
  }
  pid_t pids[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    pids[i] = fork();
    if (pids[i] == 0)
      _exit(worker(d, l, i));
  }
  int failed = 0;
  for (int i = 0; i < WORKERS; i++) {
    int status;
    if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status))
      failed++;
  }

  /* print(d): iterate over the items */
  printf("dict (%zu keys):", shoal_dict_len(d));
  shoal_dict_iter it = SHOAL_DICT_ITER_INIT;
  char key[16], value[16];
  size_t kl = sizeof key - 1, vl = sizeof value - 1;
  int squares_ok = 0;
  while (shoal_dict_next(d, &it, key, &kl, value, &vl) == 1) {
    key[kl] = value[vl] = '\0';
    int k, v;
    sscanf(key, "%d", &k);
    sscanf(value, "%d", &v);
    squares_ok += v == k * k;
    printf(" '%s': '%s'", key, value);
    kl = sizeof key - 1, vl = sizeof value - 1;
  }
  printf("\nlist (%zu items):\n", shoal_list_len(l));
  for (size_t i = 0; i < shoal_list_len(l); i++) {
    char note[32];
    size_t n = sizeof note - 1;
    if (shoal_list_get(l, i, note, &n) == 0) {
      note[n] = '\0';
      printf("  %s\n", note);
    }
  }

  /* The dict also answers single lookups from any process. */
  char nine[16];
  size_t nl = sizeof nine;
  int rc = shoal_dict_get(d, "3", 1, nine, &nl);
  int ok = !failed && squares_ok == WORKERS && shoal_list_len(l) == WORKERS && rc == 0 && nl == 1 &&
           nine[0] == '9';
  shoal_dict_destroy(d);
  shoal_list_destroy(l);
  if (!ok) {
    fprintf(stderr, "FAIL: %d workers failed, %d squares right\n", failed, squares_ok);
    return 1;
  }
  return 0;
}
