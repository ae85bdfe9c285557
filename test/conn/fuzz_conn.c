// SPDX-License-Identifier: MIT
// Fuzz entry points for the conn module: the frame decoder and the two
// halves of the handshake, fed through a real socket as a peer would.
//   fuzz_conn_frame(data, size)      data[0] picks max_msg, buffer size and
//                                    receive call; the rest is what the peer
//                                    sent.  Every message received is echoed
//                                    and the echo's frame checked byte for byte.
//   fuzz_conn_handshake(data, size)  data[0] picks deliver or answer and the
//                                    key; the rest is the peer's side.
// Both abort() when an invariant breaks.  `make fuzz` builds them with
// libFuzzer (clang, -DSHOAL_FUZZ_TARGET=frame|handshake); test_fuzz_replay.c
// includes this file and replays test/conn/corpus/ in `make test`.
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <shoal.h>

#define FUZZ_MAX_INPUT 60000

static void check(bool ok)
{
  if (!ok)
    abort();
}

/* A connection on one end of a socketpair whose other end (*peer) has sent
 * data[0..size) and then shut down its sending side. */
static shoal_conn *feed(const uint8_t *data, size_t size, const shoal_conn_opts *o, int *peer)
{
  int sv[2];
  check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  shoal_conn *c;
  check(shoal_conn_from_fd(&c, sv[0], 1, 1, o) == 0);
  if (size > FUZZ_MAX_INPUT)
    size = FUZZ_MAX_INPUT;
  check(size == 0 || write(sv[1], data, size) == (ssize_t)size);
  check(shutdown(sv[1], SHUT_WR) == 0);
  *peer = sv[1];
  return c;
}

static void read_exact(int fd, uint8_t *p, size_t n)
{
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    check(r > 0);
    p += r;
    n -= (size_t)r;
  }
}

/* The echo of a message must be its short-form frame, byte for byte. */
static void check_echo(shoal_conn *c, int peer, const uint8_t *m, size_t n)
{
  static uint8_t back[4 + FUZZ_MAX_INPUT];
  check(n <= FUZZ_MAX_INPUT);
  check(shoal_conn_send_bytes(c, m, n, SHOAL_SEC(1)) == 0);
  read_exact(peer, back, 4 + n);
  check(back[0] == (uint8_t)(n >> 24) && back[1] == (uint8_t)(n >> 16) &&
        back[2] == (uint8_t)(n >> 8) && back[3] == (uint8_t)n);
  check(n == 0 || memcmp(back + 4, m, n) == 0);
}

int fuzz_conn_frame(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t cfg = data[0];
  static const uint64_t maxes[4] = {0, 256, 4096, 65536}; /* 0: the 1 GiB default */
  static const size_t caps[4] = {0, 16, 512, 4096};
  shoal_conn_opts o = {.max_msg = maxes[cfg & 3]};
  size_t cap = caps[(cfg >> 2) & 3];
  bool alloc = cfg & 16;
  int peer;
  shoal_conn *c = feed(data + 1, size - 1, &o, &peer);
  static uint8_t buf[4096];
  for (;;) {
    size_t n = 12345;
    void *m = NULL;
    int rc = alloc ? shoal_conn_recv_bytes(c, &m, &n, SHOAL_SEC(1))
                   : shoal_conn_recv_bytes_into(c, buf, cap, 0, &n, SHOAL_SEC(1));
    if (rc == 0) {
      check(alloc || n <= cap);
      check_echo(c, peer, alloc ? m : buf, n);
      free(m);
      continue;
    }
    if (rc == SHOAL_EMSGSIZE && !alloc && n > 0) {
      /* Buffer too small: the message was kept; take it whole now. */
      check(n > cap);
      alloc = true;
      continue;
    }
    /* The end: the peer's data ran out, or it broke the framing. */
    check(rc == SHOAL_EEOF || rc == SHOAL_EMSGSIZE || rc == SHOAL_EPROTO);
    int again = alloc ? shoal_conn_recv_bytes(c, &m, &n, SHOAL_NOWAIT)
                      : shoal_conn_recv_bytes_into(c, buf, cap, 0, &n, SHOAL_NOWAIT);
    check(again == (rc == SHOAL_EEOF ? SHOAL_EEOF : SHOAL_EBROKEN));
    check(shoal_conn_poll(c, SHOAL_NOWAIT) == 0);
    break;
  }
  shoal_conn_close(c);
  close(peer);
  return 0;
}

int fuzz_conn_handshake(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t cfg = data[0];
  static const char *const keys[4] = {"", "key", "a much longer key than the others", "k"};
  const char *key = keys[(cfg >> 2) & 3];
  int peer;
  shoal_conn *c = feed(data + 1, size - 1, NULL, &peer);
  int rc;
  switch (cfg & 3) {
  case 0:
  case 1:
    /* Nobody but the key's holder can answer a fresh random challenge. */
    rc = shoal_conn_deliver_challenge(c, key, strlen(key), cfg & 1 ? SHOAL_CONN_AUTH_NO_MD5 : 0,
                                      SHOAL_SEC(1));
    check(rc == SHOAL_EAUTH);
    break;
  default:
    /* A challenge followed by #WELCOME# is accepted with any key. */
    rc = shoal_conn_answer_challenge(c, key, strlen(key), SHOAL_SEC(1));
    check(rc == 0 || rc == SHOAL_EAUTH);
    break;
  }
  shoal_conn_close(c);
  close(peer);
  return 0;
}

#ifdef SHOAL_FUZZ_TARGET
#define FUZZ_CAT2(a, b) a##b
#define FUZZ_CAT(a, b) FUZZ_CAT2(a, b)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  return FUZZ_CAT(fuzz_conn_, SHOAL_FUZZ_TARGET)(data, size);
}
#endif
