/* dns_server: runs tests/dns/fakedns.py, the hermetic test DNS server, for
   Check tests.  Each server gets its own temp directory (fault file, query
   log, ready file, pid file) and listens on 127.0.0.1, UDP and TCP, on a
   free port; d->addr is the forwarder spec faultline's dns_forwarders takes
   ("127.0.0.1@PORT").  See tests/dns/README for the zone and fault formats.

   Environment: $PYTHON3 (default /usr/bin/python3, which must have Debian's
   python3-dnspython), $top_srcdir (default "."; set by `make check`) to find
   tests/dns/fakedns.py and tests/dns/zones, $TMPDIR (default /tmp),
   $FL_DNSD_KEEP=1 to keep the temp dirs (query logs) for a look afterwards.

   Process: on Linux the server runs in its own process group and gets
   SIGTERM when the process that started it dies (PR_SET_PDEATHSIG), so a
   test that fails before fl_dnsd_stop leaves no server and no temp dir.
   PR_SET_PDEATHSIG follows the calling *thread*: call fl_dnsd_start from a
   thread that outlives the server (normally the test's main thread).

   Thread-safety: none; use a struct fl_dnsd from one thread.  Errors while
   running (writing files, a server that will not reload) print a message and
   abort(): this is test tooling and a Check test should fail loudly. */
#ifndef FL_TESTS_DNS_SERVER_H
#define FL_TESTS_DNS_SERVER_H

#include <sys/types.h>

struct fl_dnsd {
    pid_t pid;         /* the server, or 0 when not running */
    int port;          /* its UDP and TCP port */
    char addr[32];     /* "127.0.0.1@PORT" */
    char dir[256];     /* the temp dir; tests may put their own zone files here */
    char faults[320];  /* dir/faults */
    char log[320];     /* dir/queries.log */
    char ready[320];   /* dir/ready */
    char pidfile[320]; /* dir/fakedns.pid */
    char *zones;       /* the zone paths it was started with (for a restart) */
};

/* Starts a server.  zone_paths is a space-separated list of zone files or
   directories of *.zone files; a relative path names a file under
   $top_srcdir/tests/dns/zones when one exists there, else is taken relative
   to the current directory; NULL or "" means the whole zones directory.
   faults_text is the initial fault file (NULL: no faults).  Waits up to 10 s
   for the server to listen.  Returns 0 with d filled in, or -1 (message on
   stderr, temp dir removed, d->pid 0). */
int fl_dnsd_start(struct fl_dnsd *d, const char *zone_paths, const char *faults_text);

/* Replaces the fault file with faults_text (NULL: none), sends SIGHUP and
   waits (up to 10 s) until the server has loaded it; zones are reloaded too.
   Aborts (after stopping the server) if it rejects the text or does not
   reload. */
void fl_dnsd_set_faults(struct fl_dnsd *d, const char *faults_text);

/* Reloads zones and faults from their files (SIGHUP) and waits until done,
   for tests that rewrite their own zone files under d->dir. */
void fl_dnsd_reload(struct fl_dnsd *d);

/* The number of queries that reached the server for qname (trailing dot
   optional, case-insensitive) and qtype ("A", "TXT", ...; case-insensitive).
   NULL for either matches any.  Queries over UDP and TCP both count. */
int fl_dnsd_count(struct fl_dnsd *d, const char *qname, const char *qtype);

/* As fl_dnsd_count, for one transport: proto "udp" or "tcp" (NULL: both). */
int fl_dnsd_count_proto(struct fl_dnsd *d, const char *proto, const char *qname,
                        const char *qtype);

/* Kills the server with SIGKILL (as a crash would) and reaps it; keeps the
   temp dir and the port for fl_dnsd_restart.  Queries meanwhile meet a
   closed port. */
void fl_dnsd_kill(struct fl_dnsd *d);

/* Starts the server again on the same port, zones and query log, with
   faults_text as its fault file (NULL: none), after fl_dnsd_kill (a running
   server is killed first), and waits until it listens.  Returns 0, or -1
   (server stopped as by fl_dnsd_stop). */
int fl_dnsd_restart(struct fl_dnsd *d, const char *faults_text);

/* Stops the server (SIGTERM; SIGKILL after 5 s), reaps it and removes the
   temp dir.  Safe to call twice, or after a failed fl_dnsd_start. */
void fl_dnsd_stop(struct fl_dnsd *d);

#endif
