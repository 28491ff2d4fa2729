/* redis_server: runs a real redis-server for Check tests of the Redis
   greylist store, as tests/harness/dns_server.h does for the DNS server.  Each
   server gets its own temp directory (log, unix socket) and listens on
   127.0.0.1 on a free port (and on r->socket), with persistence off.

   Environment: $REDIS_SERVER (default /usr/bin/redis-server), $TMPDIR
   (default /tmp), $FL_REDISD_KEEP=1 to keep the temp dir (the server's
   log) for a look afterwards.

   Process: on Linux the server runs in its own process group and gets
   SIGTERM when the thread that started it exits (PR_SET_PDEATHSIG), so a
   failed test leaves no server behind; start it from the test's main
   thread.

   Thread-safety: none; use a struct fl_redisd from one thread. */
#ifndef FL_TESTS_REDIS_SERVER_H
#define FL_TESTS_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

struct fl_redisd {
    pid_t pid;        /* the server, or 0 when not running */
    int port;         /* its TCP port on 127.0.0.1 */
    char addr[32];    /* "127.0.0.1:PORT", greylist_redis_server's syntax */
    char dir[256];    /* the temp dir */
    char socket[320]; /* dir/redis.sock */
    char log[320];    /* dir/redis.log */
};

/* True if $REDIS_SERVER (or /usr/bin/redis-server) can be executed, so a
   test can skip instead of failing on a host without Redis. */
bool fl_redisd_available(void);

/* Starts a server on a free port.  Waits up to 10 s until it answers PING.
   Returns 0 with r filled in, or -1 (message on stderr, nothing left
   behind). */
int fl_redisd_start(struct fl_redisd *r);

/* Kills the server with SIGKILL (as a crash would) and reaps it; keeps the
   temp dir and the port for fl_redisd_restart. */
void fl_redisd_kill(struct fl_redisd *r);

/* Starts the server again on the same port and directory (after
   fl_redisd_kill) and waits until it answers.  Returns 0 or -1. */
int fl_redisd_restart(struct fl_redisd *r);

/* Stops the server (SIGTERM; SIGKILL after 5 s), reaps it and removes the
   temp dir.  Safe to call twice, or after a failed start. */
void fl_redisd_stop(struct fl_redisd *r);

#endif
