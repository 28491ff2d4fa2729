/* checks: see checks.h. */
#include "milter/checks.h"
#include "milter/server.h"
#include "lib/clock.h"
#include "lib/verdict.h"
#include "lib/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* The domain of an envelope address, or NULL (null sender, no @). */
static const char *addr_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] ? at + 1 : NULL;
}

void fl_checks_on_connect(struct fl_conn *conn)
{
    if (conn->skipped != NULL || !conn->cfg->iprev_enable || fl_srv.dns == NULL)
        return;
    conn->iprev = fl_iprev_start(fl_srv.dns, conn->cfg, conn->ip,
                                 fl_monotonic_ms() + conn->cfg->message_deadline);
}

void fl_checks_on_mail(struct fl_conn *conn)
{
    struct fl_msg *msg = conn->msg;
    if (conn->skipped != NULL || fl_srv.dns == NULL)
        return;
    if (conn->iprev != NULL)
        fl_iprev_advance(conn->iprev);
    msg->nullmx = fl_nullmx_start(fl_srv.dns, addr_domain(msg->mail_from), msg->deadline);
}

const struct fl_result *fl_checks_on_rcpt(struct fl_conn *conn)
{
    struct fl_msg *msg = conn->msg;
    if (msg->rcpt_result != NULL)
        return msg->rcpt_result; /* decided at an earlier RCPT */
    if (conn->iprev != NULL)
        fl_iprev_advance(conn->iprev);
    if (msg->nullmx == NULL)
        return NULL;
    struct fl_result r;
    if (fl_nullmx_finish(msg->nullmx, conn->cfg, &r) == 0)
        return NULL;
    if (r.action != FL_ACTION_REJECT) {
        fl_msg_add_result(msg, &r); /* marked: reported at end of message */
        fl_nullmx_free(&msg->nullmx);
        return NULL;
    }
    fl_nullmx_free(&msg->nullmx);
    msg->rcpt_result = fl_malloc(sizeof(*msg->rcpt_result));
    *msg->rcpt_result = r;
    msg->rcpt_verdict = fl_malloc(sizeof(*msg->rcpt_verdict));
    fl_verdict_decide(msg->rcpt_verdict, msg->rcpt_result, 1, NULL, false);
    return msg->rcpt_result;
}

void fl_checks_on_eom(struct fl_conn *conn)
{
    struct fl_msg *msg = conn->msg;
    if (conn->skipped != NULL)
        return;
    if (conn->iprev != NULL) {
        struct fl_result r;
        fl_iprev_finish(conn->iprev, msg->deadline, &r);
        if (r.result == FL_RES_FAIL && conn->cfg->iprev_action == FL_REJECT)
            r.action = FL_ACTION_REJECT;
        fl_msg_add_result(msg, &r);
    }
    if (msg->nullmx != NULL) {
        /* no RCPT consulted it (the MTA skipped the step): decide now */
        struct fl_result r;
        if (fl_nullmx_finish(msg->nullmx, conn->cfg, &r) == 1)
            fl_msg_add_result(msg, &r);
        fl_nullmx_free(&msg->nullmx);
    }
}
