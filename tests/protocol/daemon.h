/* daemon: starts and stops the real faultline daemon for protocol tests.
   Each daemon gets its own temp directory (socket, config, log, verdict
   log, pid file).  $FAULTLINE names the binary; $FL_DAEMON_WRAPPER, if set,
   is a command prefix (e.g. "valgrind --leak-check=full --error-exitcode=99")
   so the same tests run the daemon under memcheck. */
#ifndef FL_TESTS_PROTOCOL_DAEMON_H
#define FL_TESTS_PROTOCOL_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

struct fl_daemon {
    pid_t pid;
    char dir[256];
    char conf[320];
    char socket[320]; /* spec: unix:... or inet:... */
    char log[320];
    char verdicts[320];
    char pidfile[320];
};

/* In the test runner's process, before the tests: every daemon dir is made
   inside one directory from now on, which fl_daemon_end removes -- with
   the dirs of tests that failed (a failed test exits at once) and whose
   daemons were stopped by the death of their test process.  Returns 0 or
   -1. */
int fl_daemon_begin(void);
void fl_daemon_end(void);
/* Makes every daemon prepared from now on resolve through the test DNS
   server at addr ("127.0.0.1@PORT"); NULL: no forwarder. */
void fl_daemon_use_dns(const char *addr);
/* The configuration lines that do so ("" when none), for tests that write
   a whole configuration themselves. */
const char *fl_daemon_dns_conf(void);

/* Creates the temp dir and writes the config: the base settings (unix
   socket in the dir, user empty, log stderr, debug level, authserv_id
   mx.faultline.example, verdict log, pid file) followed by extra (may be
   NULL; later lines may not repeat a base key -- use socket_spec for the
   socket).  socket_spec NULL means a unix socket in the dir. */
void fl_daemon_prepare(struct fl_daemon *d, const char *socket_spec, const char *extra);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int fl_daemon_free_port(void);
/* Rewrites the config (for reload tests). */
void fl_daemon_write_conf(struct fl_daemon *d, const char *socket_spec, const char *extra,
                          bool with_base);
/* Starts the daemon in the foreground and waits (up to 20 s) until its
   socket accepts connections.  Returns 0, or -1 (the log is printed). */
int fl_daemon_start(struct fl_daemon *d);
/* For a test that wants the daemon to refuse to start: returns 0 if it
   exited without listening (its log is printed, marked as an expected
   error), -1 if it started. */
int fl_daemon_start_expect_failure(struct fl_daemon *d);
/* Sends SIGTERM, waits up to 30 s, returns the exit status (or -1 if it
   had to be killed or died of a signal). */
int fl_daemon_stop(struct fl_daemon *d);
/* Sends sig to the daemon. */
void fl_daemon_signal(struct fl_daemon *d, int sig);
/* True while the daemon process runs. */
bool fl_daemon_alive(struct fl_daemon *d);
/* The whole log / verdict file as a malloc'd string ("" if absent). */
char *fl_daemon_read(const char *path);
/* Waits up to timeout_ms until the log contains needle. */
bool fl_daemon_wait_log(struct fl_daemon *d, const char *needle, int timeout_ms);
/* Removes the temp dir. */
void fl_daemon_cleanup(struct fl_daemon *d);

#endif
