// Event-loop integration: one epoll waits on two queues and a pipe at once.
// Children feed each source; the loop handles whichever is ready.
#include <shoal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
  shoal_queue *jobs, *alerts;
  int pipefd[2];
  if (shoal_queue_create(&jobs, NULL) || shoal_queue_create(&alerts, NULL) || pipe(pipefd))
    return 1;
  if (fork() == 0) {
    for (int i = 0; i < 3; i++)
      shoal_queue_put(jobs, "job", 3, SHOAL_FOREVER);
    shoal_queue_put(alerts, "alert", 5, SHOAL_FOREVER);
    if (write(pipefd[1], "bytes", 5) != 5)
      _exit(1);
    _exit(0);
  }
  close(pipefd[1]);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.ptr = jobs;
  epoll_ctl(ep, EPOLL_CTL_ADD, shoal_queue_fd(jobs, SHOAL_QUEUE_READABLE), &ev);
  ev.data.ptr = alerts;
  epoll_ctl(ep, EPOLL_CTL_ADD, shoal_queue_fd(alerts, SHOAL_QUEUE_READABLE), &ev);
  ev.data.ptr = NULL;
  epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev);

  int jobs_seen = 0, alerts_seen = 0, pipe_bytes = 0;
  while (jobs_seen < 3 || alerts_seen < 1 || pipe_bytes < 5) {
    struct epoll_event out[3];
    int n = epoll_wait(ep, out, 3, 5000);
    if (n <= 0)
      break;
    for (int i = 0; i < n; i++) {
      if (!out[i].data.ptr) {
        char b[16];
        ssize_t r = read(pipefd[0], b, sizeof b);
        pipe_bytes += r > 0 ? (int)r : 0;
        printf("pipe: %zd bytes\n", r);
        continue;
      }
      shoal_queue *q = out[i].data.ptr;
      char msg[16];
      size_t len = sizeof msg;
      /* Take everything there is; SHOAL_EAGAIN re-arms the fd. */
      while (shoal_queue_get(q, msg, &len, SHOAL_NOWAIT) == 0) {
        printf("%s queue: %.*s\n", q == jobs ? "jobs" : "alerts", (int)len, msg);
        *(q == jobs ? &jobs_seen : &alerts_seen) += 1;
        len = sizeof msg;
      }
    }
  }
  wait(NULL);
  printf("handled %d jobs, %d alert, %d pipe bytes from one epoll\n", jobs_seen, alerts_seen,
         pipe_bytes);
  shoal_queue_destroy(jobs);
  shoal_queue_destroy(alerts);
  return jobs_seen == 3 && alerts_seen == 1 && pipe_bytes == 5 ? 0 : 1;
}
