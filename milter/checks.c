/* checks: see checks.h. */
#include "milter/checks.h"
#include "milter/server.h"
#include "lib/arc/arc.h"
#include "lib/dkim/dkim.h"
#include "lib/dmarc/dmarc.h"
#include "lib/greylist/greylist.h"
#include "lib/ident/iprev.h"
#include "lib/ident/nullmx.h"
#include "lib/lists/dnsbl.h"
#include "lib/spf/spf.h"

/* Connection checks first (their lookups start at connect), then the
   message's in the order their results are needed: greylisting reads the
   lists, iprev and SPF; DMARC reads SPF, DKIM and ARC. */
static const struct fl_check *const table[] = {
    &fl_check_iprev, &fl_check_lists, &fl_check_nullmx, &fl_check_spf,
    &fl_check_greylist, &fl_check_dkim, &fl_check_arc, &fl_check_dmarc,
};

void fl_conn_checks_start(struct fl_conn *conn, enum fl_skip skip)
{
    conn->lists = fl_server_dnsbl_lists();
    struct fl_check_services svc = {
        .dns = fl_srv.dns,
        .dkim = fl_srv.dkim,
        .arc_keys = fl_srv.arc_keys,
        .pool = fl_srv.pool,
        .metrics = fl_srv.metrics,
        .lists = conn->lists,
    };
    fl_checks_init(&conn->checks, table, sizeof(table) / sizeof(table[0]), conn->cfg, &svc,
                   conn->ip, skip);
    fl_checks_connect(&conn->checks);
}

void fl_conn_checks_mail(struct fl_conn *conn, bool authenticated)
{
    struct fl_checks *cs = &conn->checks;
    if (authenticated && conn->cfg->trust_authenticated && cs->skip == FL_SKIP_NONE)
        cs->skip = FL_SKIP_AUTHENTICATED;
    /* the store may be opened later by a reload (milter/server.c) */
    cs->svc.greylist = __atomic_load_n(&fl_srv.greylist, __ATOMIC_ACQUIRE);
    fl_checks_mail(cs, conn->msg->mail_from, conn->msg->deadline);
}
