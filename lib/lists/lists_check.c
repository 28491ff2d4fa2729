/* lists_check: the DNS lists (DNSBL, DNSWL, RHSBL) as a check
   (lib/core/check.h).  The client's address is looked up at connect; the
   HELO name, the MAIL FROM domain, the From domain and the client's
   confirmed name as each becomes known.  A listing refuses at RCPT (or at
   end of message with dnsbl_reject_stage = eom). */
#include "lib/core/check.h"
#include "lib/core/clock.h"
#include "lib/dmarc/dmarc.h"
#include "lib/ident/iprev.h"
#include "lib/lists/dnsbl.h"

#include <strings.h>

static void *lists_start(struct fl_checks *cs)
{
    if (cs->skip != FL_SKIP_NONE || cs->svc.dns == NULL || cs->svc.lists == NULL ||
        fl_dnsbl_lists_empty(cs->svc.lists))
        return NULL;
    return fl_dnsbl_start(cs->svc.lists, cs->svc.dns, cs->ip,
                          fl_monotonic_ms() + cs->cfg->message_deadline);
}

static void lists_helo(void *st, struct fl_checks *cs)
{
    if (cs->helo != NULL)
        fl_dnsbl_check_domain(st, FL_DNSBL_ID_HELO, cs->helo, 0);
}

static void lists_mail(void *st, struct fl_checks *cs)
{
    fl_dnsbl_new_message(st);
    if (cs->mail_from != NULL && *cs->mail_from)
        fl_dnsbl_check_domain(st, FL_DNSBL_ID_MAILFROM, cs->mail_from, 0);
}

static bool lists_rcpt(void *st, struct fl_checks *cs, const char *rcpt)
{
    (void)rcpt;
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(st, cs->deadline);
    if (!o->listed || o->reject_at_eom)
        return false;
    struct fl_result r;
    fl_result_copy(&r, &o->result);
    r.action = FL_ACTION_REJECT;
    fl_checks_refuse(cs, &r, o->reply_code, o->reply_dsn, o->reply_text, true);
    return true;
}

/* The From domain, for the domain lists' "from" identity. */
static void lists_header(void *st, struct fl_checks *cs, const char *name, const char *value)
{
    if (strcasecmp(name, "From") != 0)
        return;
    const char *vals[1] = {value};
    char domain[256];
    if (fl_dmarc_from_parse(vals, 1, domain, sizeof(domain), NULL, NULL) == FL_DMARC_FROM_OK)
        fl_dnsbl_check_domain(st, FL_DNSBL_ID_FROM, domain, cs->deadline);
}

void fl_lists_record(struct fl_checks *cs, const struct fl_dnsbl_outcome *o, bool at_eom)
{
    fl_checks_remove_results(cs, "dnsbl");
    fl_checks_remove_results(cs, "dnswl");
    struct fl_result r;
    if (o->has_dnswl) {
        fl_result_copy(&r, &o->dnswl);
        fl_checks_add_result(cs, &r);
    }
    fl_result_copy(&r, &o->result);
    if (!(at_eom && o->listed && o->reject_at_eom))
        r.action = FL_ACTION_ACCEPT; /* a listing at RCPT was refused there */
    fl_checks_add_result(cs, &r);
}

static void lists_finish(void *st, struct fl_checks *cs)
{
    const char *name = fl_iprev_client_name(cs);
    if (name != NULL)
        fl_dnsbl_check_domain(st, FL_DNSBL_ID_PTR, name, 0);
    fl_lists_record(cs, fl_dnsbl_finish(st, cs->deadline), true);
}

static void lists_free(void *st)
{
    struct fl_dnsbl *bl = st;
    fl_dnsbl_free(&bl);
}

const struct fl_check fl_check_lists = {
    .name = "dnsbl",
    .per_connection = true,
    .start = lists_start,
    .helo = lists_helo,
    .mail = lists_mail,
    .rcpt = lists_rcpt,
    .header = lists_header,
    .finish = lists_finish,
    .free = lists_free,
};

const struct fl_dnsbl_outcome *fl_lists_outcome(const struct fl_checks *cs)
{
    struct fl_dnsbl *bl = fl_checks_state(cs, &fl_check_lists);
    return bl != NULL ? fl_dnsbl_finish(bl, cs->deadline) : NULL;
}
