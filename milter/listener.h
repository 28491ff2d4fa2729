/* listener: opens the milter socket through libmilter, with what libmilter
   leaves out: a stale unix socket is removed only if it is a socket nobody
   listens on, the unix socket gets the configured mode and owner, and a TCP
   listening socket gets TCP_NODELAY (inherited by accepted sockets on
   Linux; libmilter's accept() is interposed to set it on a connection
   that completed before, while the daemon started), so replies are not held back by Nagle's algorithm against the
   MTA's delayed ACKs.  Called once at startup, before privileges drop. */
#ifndef FL_MILTER_LISTENER_H
#define FL_MILTER_LISTENER_H

#include "lib/core/config.h"

#include <sys/socket.h>

/* Returns 0, or -1 with a message on stderr/log. */
int fl_listener_open(const struct fl_config *cfg);
/* The listening address, kept by fl_listener_stop_accepting so the drain
   can find the connections accepted from it. */
struct fl_listener_drain {
    struct sockaddr_storage addr;
    socklen_t addr_len; /* 0: unknown */
};

/* Stops accepting connections (SIGTERM) without disturbing libmilter's
   sessions in flight (libmilter's own smfi_stop ends them).  A unix
   socket's name is removed first and its queued connections are left to
   libmilter to accept, so they are served, not reset.  Returns 0 or -1
   (logged). */
int fl_listener_stop_accepting(const struct fl_config *cfg, struct fl_listener_drain *drain);
/* Connections accepted from the listener and still open -- including
   those the MTA has not negotiated on yet, which no session counts. */
int fl_listener_connections(const struct fl_listener_drain *drain);
/* Removes the unix socket file (at exit). */
void fl_listener_cleanup(const struct fl_config *cfg);

#endif
