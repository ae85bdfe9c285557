// SPDX-License-Identifier: MIT
// CRC-32C (Castagnoli, the polynomial of iSCSI, ext4 and SSE4.2's crc32
// instruction): the instruction when the CPU has it, eight tables otherwise
// ("slicing by 8").  Both give the same value; test_fileq_format checks them
// against each other and against the standard check value.
#include <stdatomic.h>
#include <string.h>

#include "backend/file/format.h"

#define POLY 0x82f63b78u /* reflected 0x1edc6f41 */

static uint32_t table[8][256];
static atomic_int tables_ready;

static void build_tables(void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
    table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t shoal__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
  if (!atomic_load_explicit(&tables_ready, memory_order_acquire)) {
    /* Idempotent: racing threads write the same values. */
    build_tables();
    atomic_store_explicit(&tables_ready, 1, memory_order_release);
  }
  const unsigned char *p = buf;
  crc = ~crc;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    w ^= crc;
    crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
          table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
          table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    p += 8;
    len -= 8;
  }
  while (len--)
    crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
                                                            size_t len)
{
  const unsigned char *p = buf;
  uint64_t c = ~crc;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
    p += 8;
    len -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (len--)
    c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}

static int have_hw = -1;

uint32_t shoal__crc32c(uint32_t crc, const void *buf, size_t len)
{
  int hw = __atomic_load_n(&have_hw, __ATOMIC_RELAXED);
  if (hw < 0) {
    __builtin_cpu_init();
    hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    __atomic_store_n(&have_hw, hw, __ATOMIC_RELAXED);
  }
  return hw ? crc32c_hw(crc, buf, len) : shoal__crc32c_sw(crc, buf, len);
}
#else
uint32_t shoal__crc32c(uint32_t crc, const void *buf, size_t len)
{
  return shoal__crc32c_sw(crc, buf, len);
}
#endif
