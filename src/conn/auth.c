// SPDX-License-Identifier: MIT
// The authentication handshake of multiprocessing.connection, byte for byte.
//
// Listener.accept() runs deliver then answer; Client() answer then deliver.
// deliver: send "#CHALLENGE#" + "{sha256}" + 40 random bytes; read a reply of
// at most 256 bytes; a reply of 16 or 20 bytes is a raw HMAC-MD5 (Python <=
// 3.11, whose answer covers the whole message after #CHALLENGE#, prefix
// included), anything else must be "{digest}" + HMAC(key, message) with an
// allowed digest; send #WELCOME# or #FAILURE#.  answer: read the challenge,
// reply raw HMAC-MD5 to a 20-byte legacy message, else "{digest}" + the HMAC
// of the whole message with the digest it names; expect #WELCOME#.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "conn/internal.h"

#define CHALLENGE "#CHALLENGE#"
#define CHALLENGE_LEN 11
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define MARKER_LEN 9
#define MESSAGE_LENGTH 40   /* random bytes of a modern challenge */
#define MD5ONLY_LENGTH 20   /* a legacy challenge */
#define MD5_LEN 16
#define MAX_DIGEST_NAME 8   /* "sha3_256" */
#define READ_LIMIT 256      /* Python: recv_bytes(256), "reject large message" */

struct digest {
  const char *name;
  const EVP_MD *(*md)(void);
};

static const struct digest digests[] = {
    {"md5", EVP_md5},           {"sha256", EVP_sha256},     {"sha384", EVP_sha384},
    {"sha3_256", EVP_sha3_256}, {"sha3_384", EVP_sha3_384},
};

static const struct digest *digest_named(const uint8_t *name, size_t len)
{
  for (size_t i = 0; i < sizeof digests / sizeof digests[0]; i++)
    if (strlen(digests[i].name) == len && memcmp(digests[i].name, name, len) == 0)
      return &digests[i];
  return NULL;
}

/* Python's _get_digest_name_and_payload: NULL name for a legacy (16 or 20
 * byte) message, else the {digest} prefix's entry and the payload after it.
 * Returns false for a message that is neither. */
static bool split_digest(const uint8_t *m, size_t len, const struct digest **d, size_t *prefix)
{
  *d = NULL;
  *prefix = 0;
  if (len == MD5_LEN || len == MD5ONLY_LENGTH)
    return true;
  if (len == 0 || m[0] != '{')
    return false;
  for (size_t i = 1; i < len && i < MAX_DIGEST_NAME + 2; i++) {
    if (m[i] == '}') {
      *d = digest_named(m + 1, i - 1);
      *prefix = i + 1;
      return *d != NULL;
    }
  }
  return false;
}

/* HMAC of msg under key with d; returns the MAC's length, 0 on failure. */
static unsigned mac(const struct digest *d, const void *key, size_t key_len, const uint8_t *msg,
                    size_t len, uint8_t out[EVP_MAX_MD_SIZE])
{
  static const uint8_t empty[1];
  unsigned out_len = 0;
  if (key_len > INT32_MAX)
    return 0;
  /* A NULL key means "keep the previous key" to OpenSSL: pass a real one. */
  if (!HMAC(d->md(), key_len ? key : empty, (int)key_len, msg, len, out, &out_len))
    return 0;
  return out_len;
}

/* Errors of the exchange: the deadline and our own failures pass through,
 * everything the peer did (closed, garbage, too long) is SHOAL_EAUTH. */
static int auth_err(int rc)
{
  if (rc == SHOAL_ETIMEDOUT || rc == SHOAL_EAGAIN || rc == SHOAL_ENOMEM || rc == SHOAL_EINVAL)
    return rc;
  return SHOAL_EAUTH;
}

static int check_args(shoal_conn *c, const void *key, size_t key_len, shoal__deadline *d,
                      shoal_duration timeout)
{
  if (!c || (!key && key_len) || key_len > INT32_MAX)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(d, timeout);
  if (rc)
    return rc;
  if ((c->flags & (CONN_READABLE | CONN_WRITABLE)) != (CONN_READABLE | CONN_WRITABLE))
    return SHOAL_EBADF;
  return 0;
}

int shoal__auth_deliver(shoal_conn *c, const void *key, size_t key_len, unsigned flags,
                        const shoal__deadline *d)
{
  static const char prefix[] = CHALLENGE "{sha256}";
  uint8_t msg[sizeof prefix - 1 + MESSAGE_LENGTH];
  memcpy(msg, prefix, sizeof prefix - 1);
  int rc = shoal__plat_random(msg + sizeof prefix - 1, MESSAGE_LENGTH);
  if (rc)
    return rc;
  if ((rc = shoal__conn_send(c, msg, sizeof msg, d)) != 0)
    return auth_err(rc);
  uint8_t reply[READ_LIMIT];
  size_t len;
  if ((rc = shoal__conn_recv_into(c, reply, sizeof reply, &len, d)) != 0)
    return auth_err(rc);

  const uint8_t *signed_part = msg + CHALLENGE_LEN;
  size_t signed_len = sizeof msg - CHALLENGE_LEN;
  const struct digest *dg;
  size_t skip;
  bool ok = split_digest(reply, len, &dg, &skip);
  if (ok && !dg)
    dg = &digests[0]; /* legacy raw HMAC-MD5 */
  if (ok && (flags & SHOAL_CONN_AUTH_NO_MD5) && dg == &digests[0])
    ok = false;
  uint8_t want[EVP_MAX_MD_SIZE];
  unsigned want_len = ok ? mac(dg, key, key_len, signed_part, signed_len, want) : 0;
  ok = want_len > 0 && want_len == len - skip && CRYPTO_memcmp(want, reply + skip, want_len) == 0;
  rc = shoal__conn_send(c, ok ? WELCOME : FAILURE, MARKER_LEN, d);
  if (!ok)
    return SHOAL_EAUTH;
  return rc ? auth_err(rc) : 0;
}

int shoal__auth_answer(shoal_conn *c, const void *key, size_t key_len, const shoal__deadline *d)
{
  uint8_t msg[READ_LIMIT];
  size_t len;
  int rc = shoal__conn_recv_into(c, msg, sizeof msg, &len, d);
  if (rc)
    return auth_err(rc);
  if (len < CHALLENGE_LEN || memcmp(msg, CHALLENGE, CHALLENGE_LEN) != 0)
    return SHOAL_EAUTH;
  const uint8_t *m = msg + CHALLENGE_LEN;
  size_t mlen = len - CHALLENGE_LEN;
  if (mlen < MD5ONLY_LENGTH)
    return SHOAL_EAUTH; /* "challenge too short" */
  const struct digest *dg;
  size_t skip;
  if (!split_digest(m, mlen, &dg, &skip))
    return SHOAL_EAUTH;
  uint8_t reply[MAX_DIGEST_NAME + 2 + EVP_MAX_MD_SIZE];
  size_t rlen = 0;
  if (dg) {
    /* "{digest}" + HMAC(key, whole message, prefix included). */
    reply[rlen++] = '{';
    memcpy(reply + rlen, dg->name, strlen(dg->name));
    rlen += strlen(dg->name);
    reply[rlen++] = '}';
  } else {
    dg = &digests[0];
  }
  unsigned n = mac(dg, key, key_len, m, mlen, reply + rlen);
  if (n == 0)
    return SHOAL_EAUTH;
  rlen += n;
  if ((rc = shoal__conn_send(c, reply, rlen, d)) != 0)
    return auth_err(rc);
  uint8_t welcome[READ_LIMIT];
  if ((rc = shoal__conn_recv_into(c, welcome, sizeof welcome, &len, d)) != 0)
    return auth_err(rc);
  if (len != MARKER_LEN || memcmp(welcome, WELCOME, MARKER_LEN) != 0)
    return SHOAL_EAUTH;
  return 0;
}

int shoal_conn_deliver_challenge(shoal_conn *c, const void *key, size_t key_len, unsigned flags,
                                 shoal_duration timeout)
{
  shoal__deadline d;
  int rc = check_args(c, key, key_len, &d, timeout);
  if (!rc && (flags & ~(unsigned)SHOAL_CONN_AUTH_NO_MD5))
    rc = SHOAL_EINVAL;
  return rc ? rc : shoal__auth_deliver(c, key, key_len, flags, &d);
}

int shoal_conn_answer_challenge(shoal_conn *c, const void *key, size_t key_len,
                                shoal_duration timeout)
{
  shoal__deadline d;
  int rc = check_args(c, key, key_len, &d, timeout);
  return rc ? rc : shoal__auth_answer(c, key, key_len, &d);
}
