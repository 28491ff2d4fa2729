/* greylist_check: greylisting as a check (lib/core/check.h), decided per
   recipient.  A deferral refuses only that recipient (451 4.7.1); passes,
   exemptions and store errors are reported at end of message.  It runs
   for trusted and authenticated clients too: they are exempt, and the
   exemption is counted. */
#include "lib/core/check.h"
#include "lib/core/xalloc.h"
#include "lib/greylist/greylist.h"
#include "lib/ident/iprev.h"
#include "lib/lists/dnsbl.h"
#include "lib/metrics/metrics.h"
#include "lib/spf/spf.h"

#include <stdlib.h>

/* The transaction's view: the store it started with (a reload may open
   or replace the store; NULL when it could not be opened: fail open). */
struct greylist_check {
    struct fl_greylist *store;
};

static void *greylist_start(struct fl_checks *cs)
{
    if (!cs->cfg->greylist_enable)
        return NULL;
    struct greylist_check *g = fl_calloc(1, sizeof(*g));
    g->store = cs->svc.greylist;
    return g;
}

/* The SPF result of MAIL FROM as greylisting needs it, waiting for the
   evaluation only when a greylist exemption depends on it. */
static enum fl_greylist_spf spf_for_greylist(const struct fl_checks *cs)
{
    if (!cs->cfg->greylist_spf_pass_exempt && cs->cfg->greylist_allow_sender_domains.count == 0)
        return FL_GREYLIST_SPF_UNKNOWN;
    const struct fl_result *r = fl_spf_mailfrom_peek(cs);
    if (r == NULL)
        return FL_GREYLIST_SPF_UNKNOWN;
    return r->result == FL_RES_PASS ? FL_GREYLIST_SPF_PASS : FL_GREYLIST_SPF_NOT_PASS;
}

/* A pass, exemption or store error (fail open): one row per message; an
   observed deferral wins over a pass of another recipient. */
static void keep_row(struct fl_checks *cs, struct fl_result *r)
{
    struct fl_result *seen = fl_checks_find_result(cs, "greylist");
    if (seen == NULL) {
        fl_checks_add_result(cs, r);
    } else if (r->observe_action != FL_ACTION_ACCEPT &&
               seen->observe_action == FL_ACTION_ACCEPT) {
        fl_result_clear(seen);
        *seen = *r;
    } else {
        fl_result_clear(r);
    }
}

static bool greylist_rcpt(void *st, struct fl_checks *cs, const char *rcpt)
{
    const struct greylist_check *g = st;
    const struct fl_config *cfg = cs->cfg;
    const struct fl_dnsbl_outcome *lists = fl_lists_outcome(cs);
    struct fl_greylist_query q = {
        .client_ip = cs->ip,
        .client_name = fl_iprev_client_name(cs),
        .sender = cs->mail_from ? cs->mail_from : "",
        .rcpt = rcpt,
        .spf = spf_for_greylist(cs),
        .trusted = cs->skip == FL_SKIP_LOCAL || cs->skip == FL_SKIP_TRUSTED,
        .authenticated = cs->skip == FL_SKIP_AUTHENTICATED,
        .dnswl = lists != NULL && lists->allow_listed,
    };
    struct fl_greylist_decision d;
    int rc = fl_greylist_decide(g->store, cfg, &q, &d);
    fl_metrics_greylist(cs->svc.metrics, &d);
    if (d.outcome == FL_GREYLIST_EXEMPT && d.exemption == FL_GREYLIST_EX_DISABLED)
        return false;
    struct fl_result r;
    fl_greylist_result(&d, &r);
    char text[256];
    fl_greylist_reply(&d, text, sizeof(text));
    /* a deferred message may never reach its end: its record must still
       show every list asked */
    if (rc == 0 && lists != NULL)
        fl_lists_record(cs, lists, false);
    /* greylist_mode = observe: decided and recorded, nothing deferred */
    if (rc == 0 && cfg->greylist_mode == 1) {
        fl_result_observe(&r, 451, "4.7.1", text);
        rc = 1;
    }
    if (rc != 0) {
        keep_row(cs, &r);
        return false;
    }
    fl_checks_refuse(cs, &r, 451, "4.7.1", text, false);
    return true;
}


const struct fl_check fl_check_greylist = {
    .name = "greylist",
    .start = greylist_start,
    .rcpt = greylist_rcpt,
    .free = free,
};
