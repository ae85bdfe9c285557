// SPDX-License-Identifier: MIT
// The error table: -errno values, library codes below -4096, names, messages.
#include <errno.h>
#include <string.h>

#include "support.h"

SH_TEST(error, errno_codes_are_negative_errno)
{
  cr_assert_eq(SHOAL_EAGAIN, -EAGAIN);
  cr_assert_eq(SHOAL_ETIMEDOUT, -ETIMEDOUT);
  cr_assert_eq(SHOAL_EOWNERDEAD, -EOWNERDEAD);
  cr_assert_eq(SHOAL_EINVAL, -EINVAL);
  cr_assert_str_eq(shoal_err_name(SHOAL_ETIMEDOUT), "SHOAL_ETIMEDOUT");
  cr_assert_str_eq(shoal_err_name(0), "SHOAL_OK");
  cr_assert_str_eq(shoal_strerror(SHOAL_ETIMEDOUT), "timed out");
}

SH_TEST(error, library_codes_below_4096)
{
  int codes[] = {SHOAL_ECLOSED,  SHOAL_EBROKEN, SHOAL_EWORKERDIED, SHOAL_EEOF,
                 SHOAL_EAUTH,    SHOAL_ETYPE,   SHOAL_ECORRUPT,    SHOAL_EVERSION,
                 SHOAL_ENOTLOCKED, SHOAL_EOVERRELEASE, SHOAL_ENOTSTARTED};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    cr_assert(codes[i] < -4096);
    cr_assert(strncmp(shoal_err_name(codes[i]), "SHOAL_E", 7) == 0);
    cr_assert_str_neq(shoal_err_name(codes[i]), "SHOAL_E?");
    for (size_t j = 0; j < i; j++)
      cr_assert_neq(codes[i], codes[j]);
  }
  cr_assert_str_eq(shoal_err_name(SHOAL_EBROKEN), "SHOAL_EBROKEN");
}

SH_TEST(error, unknown_codes_have_text)
{
  cr_assert_str_eq(shoal_err_name(-4999), "SHOAL_E?");
  cr_assert_not_null(shoal_strerror(-4999));
  cr_assert_not_null(shoal_strerror(-ENOTCONN)); /* errno not in the table */
  cr_assert_str_eq(shoal_strerror(-ENOTCONN), strerror(ENOTCONN));
  cr_assert_not_null(shoal_strerror(12345));
}
