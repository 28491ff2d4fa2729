/* checks: the registered checks of the daemon -- one table row each, in
   the order the runner (lib/core/check.h) asks them, so that a check that
   reads another's result comes after it -- and the daemon's services they
   share.  Runs on the libmilter thread of the connection. */
#ifndef FL_MILTER_CHECKS_H
#define FL_MILTER_CHECKS_H

#include "milter/msg.h"

/* At connect: sets up conn->checks with the daemon's services and starts
   the per-connection checks (skip: why the client's checks are skipped). */
void fl_conn_checks_start(struct fl_conn *conn, enum fl_skip skip);
/* At MAIL FROM (conn->msg is the new transaction): starts the per-message
   checks.  authenticated: the client used SMTP AUTH. */
void fl_conn_checks_mail(struct fl_conn *conn, bool authenticated);

#endif
