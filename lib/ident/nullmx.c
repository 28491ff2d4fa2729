/* nullmx: see nullmx.h. */
#include "lib/ident/nullmx.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fl_nullmx {
    struct fl_dns_query *q;
    char *domain;
};

struct fl_nullmx *fl_nullmx_start(struct fl_dns *dns, const char *domain, long long deadline_ms)
{
    if (domain == NULL || *domain == '\0')
        return NULL;
    struct fl_nullmx *n = fl_calloc(1, sizeof(*n));
    n->domain = fl_strdup(domain);
    n->q = fl_dns_start(dns, domain, FL_DNS_MX, deadline_ms);
    return n;
}

int fl_nullmx_finish(struct fl_nullmx *n, const struct fl_config *cfg, struct fl_result *out)
{
    const struct fl_dns_answer *a = fl_dns_wait(n->q);
    /* RFC 7505 3: exactly one MX, preference 0, target the root. */
    if (a->status != FL_DNS_OK || a->count != 1 || a->records[0].pref != 0 ||
        strcmp(a->records[0].data, ".") != 0)
        return 0;
    char detail[400];
    snprintf(detail, sizeof(detail),
             "%s publishes a null MX (RFC 7505): it sends no mail, so a reply could not be "
             "delivered; the sender must use an address of a domain that accepts mail",
             n->domain);
    fl_result_init(out, "nullmx", FL_RES_FAIL);
    fl_result_set_reason(out, "nullmx", "sender domain publishes a null MX", detail);
    fl_result_add_prop(out, "smtp", "mailfrom", n->domain);
    out->in_header = false;
    out->fault = FL_FAULT_SENDER;
    out->action = cfg->nullmx_reject ? FL_ACTION_REJECT : FL_ACTION_ACCEPT;
    return 1;
}

void fl_nullmx_free(struct fl_nullmx **np)
{
    struct fl_nullmx *n = *np;
    if (n == NULL)
        return;
    *np = NULL;
    fl_dns_query_free(&n->q);
    free(n->domain);
    free(n);
}
