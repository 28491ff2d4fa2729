/* test_util: small helpers shared by the test harnesses (the DNS and Redis
   test servers, the daemon harness).  Thread-safe. */
#ifndef FL_TESTS_TEST_UTIL_H
#define FL_TESTS_TEST_UTIL_H

/* Sleeps ms milliseconds, resuming after signals. */
void fl_test_msleep(int ms);
/* The environment variable name, or dflt when it is unset or empty. */
const char *fl_test_env_or(const char *name, const char *dflt);

/* Sends SIGTERM to child pid and reaps it, waiting up to timeout_ms, then
   SIGKILL.  Returns 0 if it ended on SIGTERM, -1 if it had to be killed. */
int fl_test_stop_child(int pid, int timeout_ms);

#include <stddef.h>

/* Splits the message m[0..len) into header fields as libmilter passes
   them -- the name, the value without the whitespace after the colon,
   folds joined by "\n" (CRLF or LF line ends) -- and calls fn for each.
   Returns the offset of the body (len when there is no empty line). */
size_t fl_test_headers(const char *m, size_t len,
                       void (*fn)(void *arg, const char *name, const char *value), void *arg);

#endif
