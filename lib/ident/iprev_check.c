/* iprev_check: iprev as a check (lib/core/check.h).  The PTR query starts
   at connect; each later phase lets the forward queries start as soon as
   the PTR answer is in; the result is joined at end of message. */
#include "lib/core/check.h"
#include "lib/core/clock.h"
#include "lib/ident/iprev.h"

static void *iprev_start(struct fl_checks *cs)
{
    if (cs->skip != FL_SKIP_NONE || cs->svc.dns == NULL || !cs->cfg->iprev_enable)
        return NULL;
    return fl_iprev_start(cs->svc.dns, cs->cfg, cs->ip,
                          fl_monotonic_ms() + cs->cfg->message_deadline);
}

static void iprev_advance(void *st, struct fl_checks *cs)
{
    (void)cs;
    fl_iprev_advance(st);
}

static bool iprev_rcpt(void *st, struct fl_checks *cs, const char *rcpt)
{
    (void)rcpt;
    iprev_advance(st, cs);
    return false;
}

static void iprev_finish(void *st, struct fl_checks *cs)
{
    struct fl_result r;
    fl_iprev_finish(st, cs->deadline, &r);
    if (r.result == FL_RES_FAIL && cs->cfg->iprev_action == FL_REJECT)
        r.action = FL_ACTION_REJECT;
    fl_checks_add_result(cs, &r);
}

static void iprev_free(void *st)
{
    struct fl_iprev *ip = st;
    fl_iprev_free(&ip);
}

const struct fl_check fl_check_iprev = {
    .name = "iprev",
    .per_connection = true,
    .start = iprev_start,
    .mail = iprev_advance,
    .rcpt = iprev_rcpt,
    .finish = iprev_finish,
    .free = iprev_free,
};

const char *fl_iprev_client_name(const struct fl_checks *cs)
{
    const struct fl_iprev *ip = fl_checks_state(cs, &fl_check_iprev);
    return ip != NULL ? fl_iprev_name(ip) : NULL;
}
