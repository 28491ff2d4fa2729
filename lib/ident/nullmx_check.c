/* nullmx_check: null MX as a check (lib/core/check.h).  The MX query
   starts at MAIL FROM and is decided at the first recipient (a null MX
   refuses every recipient), or at end of message when the MTA sent none. */
#include "lib/core/check.h"
#include "lib/core/xalloc.h"
#include "lib/ident/nullmx.h"

#include <stdlib.h>

struct nullmx_check {
    struct fl_nullmx *query; /* NULL once decided */
};

static void *nullmx_start(struct fl_checks *cs)
{
    if (cs->skip != FL_SKIP_NONE || cs->svc.dns == NULL)
        return NULL;
    struct nullmx_check *n = fl_calloc(1, sizeof(*n));
    n->query = fl_nullmx_start(cs->svc.dns, fl_addr_domain(cs->mail_from), cs->deadline);
    return n;
}

/* Returns 1 with out filled when the domain publishes a null MX. */
static int decide(struct nullmx_check *n, struct fl_checks *cs, struct fl_result *out)
{
    if (n->query == NULL)
        return 0;
    int listed = fl_nullmx_finish(n->query, cs->cfg, out);
    fl_nullmx_free(&n->query);
    return listed;
}

static bool nullmx_rcpt(void *st, struct fl_checks *cs, const char *rcpt)
{
    (void)rcpt;
    struct fl_result r;
    if (decide(st, cs, &r) != 1)
        return false;
    if (r.action == FL_ACTION_REJECT) {
        fl_checks_refuse(cs, &r, 0, NULL, NULL, true);
        return true;
    }
    fl_checks_add_result(cs, &r); /* marked: reported at end of message */
    return false;
}

static void nullmx_finish(void *st, struct fl_checks *cs)
{
    struct fl_result r;
    if (decide(st, cs, &r) == 1)
        fl_checks_add_result(cs, &r);
}

static void nullmx_free(void *st)
{
    struct nullmx_check *n = st;
    fl_nullmx_free(&n->query);
    free(n);
}

const struct fl_check fl_check_nullmx = {
    .name = "nullmx",
    .start = nullmx_start,
    .rcpt = nullmx_rcpt,
    .finish = nullmx_finish,
    .free = nullmx_free,
};
