/* dmarc_check: DMARC as a check (lib/core/check.h).  The policy walk for
   the MAIL FROM domain starts at MAIL FROM (it is likely an identifier),
   the From domain's at end of headers; the evaluation at end of message
   reads SPF, DKIM and ARC through their accessors, so it sits below them
   in the table. */
#include "lib/arc/arc.h"
#include "lib/core/check.h"
#include "lib/core/xalloc.h"
#include "lib/dkim/dkim.h"
#include "lib/dmarc/dmarc.h"
#include "lib/spf/spf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dmarc_check {
    struct fl_dmarc *dmarc;
    bool evaluated; /* its report is valid */
};

static void *dmarc_start(struct fl_checks *cs)
{
    if (cs->skip != FL_SKIP_NONE || cs->svc.dns == NULL || !fl_dmarc_wanted(cs->cfg, false, false))
        return NULL;
    struct dmarc_check *d = fl_calloc(1, sizeof(*d));
    d->dmarc = fl_dmarc_new(cs->svc.dns, cs->cfg, cs->deadline);
    const char *dom = fl_addr_domain(cs->mail_from);
    if (dom != NULL)
        fl_dmarc_hint(d->dmarc, dom);
    return d;
}

static void dmarc_header(void *st, struct fl_checks *cs, const char *name, const char *value)
{
    (void)cs;
    if (strcasecmp(name, "From") == 0)
        fl_dmarc_from_header(((struct dmarc_check *)st)->dmarc, value);
}

static bool dmarc_eoh(void *st, struct fl_checks *cs)
{
    (void)cs;
    fl_dmarc_eoh(((struct dmarc_check *)st)->dmarc);
    return false;
}

static void dmarc_finish(void *st, struct fl_checks *cs)
{
    struct dmarc_check *d = st;
    struct fl_dmarc_inputs in = {0};
    in.spf_mailfrom = fl_spf_mailfrom_result(cs);
    in.mail_from_domain = fl_spf_mailfrom_domain(cs);
    in.nsigs = fl_dkim_check_signatures(cs, &in.sigs);
    in.arc = fl_arc_verified(cs);
    struct fl_result r;
    memset(&r, 0, sizeof(r));
    fl_dmarc_eom(d->dmarc, &in, &r);
    fl_checks_add_result(cs, &r);
    d->evaluated = true;
}

static bool dmarc_record(const void *st, struct fl_json_out *members)
{
    const struct dmarc_check *d = st;
    if (!d->evaluated)
        return false;
    fl_dmarc_report_json(fl_dmarc_report(d->dmarc), members);
    return true;
}

/* The header dmarc_add_header asks for (appended). */
static bool dmarc_add_header(const void *st, const struct fl_checks *cs, const char **name_r,
                             struct fl_buf *value, bool *at_top)
{
    (void)cs;
    const struct dmarc_check *d = st;
    const struct fl_dmarc_report *r = d->evaluated ? fl_dmarc_report(d->dmarc) : NULL;
    if (r == NULL || !r->add_header)
        return false;
    *name_r = r->header_name;
    fl_buf_puts(value, r->header_value);
    *at_top = false;
    return true;
}

static void dmarc_free(void *st)
{
    struct dmarc_check *d = st;
    fl_dmarc_free(&d->dmarc);
    free(d);
}

const struct fl_check fl_check_dmarc = {
    .name = "dmarc",
    .start = dmarc_start,
    .header = dmarc_header,
    .eoh = dmarc_eoh,
    .finish = dmarc_finish,
    .record = dmarc_record,
    .add_header = dmarc_add_header,
    .free = dmarc_free,
};
