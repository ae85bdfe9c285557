// Scenario 10: three cooks put dishes into a JoinableQueue; two daemon eaters
// take them and call task_done(); the main process's join() returns when every
// dish was eaten.  Then the eaters (daemons) are stopped.
#include <shoal.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static shoal_queue *dishes;

static void cook(int id)
{
  for (int i = 0; i < 4; i++) {
    char dish[32];
    int n = snprintf(dish, sizeof dish, "dish %d from cook %d", i, id);
    shoal_queue_put(dishes, dish, (size_t)n, SHOAL_FOREVER);
  }
  _exit(0);
}

static void eater(int id)
{
  for (;;) {
    char dish[32];
    size_t len = sizeof dish;
    if (shoal_queue_get(dishes, dish, &len, SHOAL_FOREVER) != 0)
      _exit(1);
    printf("eater %d ate %.*s\n", id, (int)len, dish);
    fflush(stdout);
    usleep(2000);
    shoal_queue_task_done(dishes);
  }
}

int main(void)
{
  pid_t eaters[2], cooks[3];
  if (shoal_queue_create(&dishes, &(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE}) != 0)
    return 1;
  for (int i = 0; i < 2; i++)
    if ((eaters[i] = fork()) == 0)
      eater(i);
  for (int i = 0; i < 3; i++)
    if ((cooks[i] = fork()) == 0)
      cook(i);
  for (int i = 0; i < 3; i++)
    waitpid(cooks[i], NULL, 0);
  int rc = shoal_queue_join(dishes, SHOAL_SEC(10));
  printf("join: %s — every dish eaten\n", shoal_err_name(rc));
  for (int i = 0; i < 2; i++) { /* daemons end with the main process */
    kill(eaters[i], SIGTERM);
    waitpid(eaters[i], NULL, 0);
  }
  shoal_queue_destroy(dishes);
  return rc == 0 ? 0 : 1;
}
