/* outcome: what the MTA and the postmaster get once a decision is taken --
   the SMTP reply (smfi_setreply) and the verdict records (syslog summary
   line and JSON record).  Runs on the libmilter thread of the connection. */
#ifndef FL_MILTER_OUTCOME_H
#define FL_MILTER_OUTCOME_H

#include <libmilter/mfapi.h>

#include "milter/msg.h"
#include "lib/core/verdict.h"

/* Remembers the MTA's queue id (macro i) once it is known. */
void fl_outcome_note_queue_id(SMFICTX *ctx, struct fl_msg *msg);
/* Sets the SMTP reply of a reject or tempfail verdict. */
void fl_outcome_reply(SMFICTX *ctx, const struct fl_verdict *v);
/* Writes the verdict records of conn->msg (once per message). */
void fl_outcome_record(struct fl_conn *conn, const struct fl_verdict *v);

#endif
