/* checks: when each check starts and when its result is collected
   (DESIGN.md "Data flow of one message").  Every lookup starts as soon as
   its inputs are known -- iprev at connect, null MX at MAIL FROM -- and is
   joined only when its answer is needed, bounded by the message deadline.
   Runs on the libmilter thread of the connection. */
#ifndef FL_MILTER_CHECKS_H
#define FL_MILTER_CHECKS_H

#include "milter/msg.h"

void fl_checks_on_connect(struct fl_conn *conn);
void fl_checks_on_helo(struct fl_conn *conn);
void fl_checks_on_mail(struct fl_conn *conn);
/* Decides what happens to recipient rcpt.  Returns NULL to go on, or the
   result that refuses it now (owned by conn->msg; its verdict is in
   conn->msg->rcpt_verdict): a DNS listing or null MX refuses every
   recipient, a greylist deferral only this one. */
const struct fl_result *fl_checks_on_rcpt(struct fl_conn *conn, const char *rcpt);
/* Header fields, end of headers and body chunks, as the MTA sends them
   (DKIM is fed while the message streams in). */
void fl_checks_on_header(struct fl_conn *conn, const char *name, const char *value);
void fl_checks_on_eoh(struct fl_conn *conn);
/* Returns false when no check needs the body (the MTA may skip it). */
bool fl_checks_on_body(struct fl_conn *conn, const unsigned char *chunk, size_t len);
/* Joins every started check and appends the results to conn->msg. */
void fl_checks_on_eom(struct fl_conn *conn);
/* After fl_checks_on_eom: appends the Received-SPF header value (RFC 7208
   9.1) and returns true when spf_received_header asks for one. */
bool fl_checks_received_spf(struct fl_conn *conn, struct fl_buf *out);

#endif
