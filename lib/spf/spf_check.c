/* spf_check: SPF as a check (lib/core/check.h).  libspf2 is synchronous,
   so each evaluation (MAIL FROM, and HELO with spf_check_helo) runs on the
   worker pool, started at MAIL FROM and joined at end of message; when
   every DNS answer it needs is cached it runs at once in the session's
   thread instead. */
#include "lib/core/check.h"
#include "lib/core/pooled.h"
#include "lib/core/xalloc.h"
#include "lib/dns/dns.h"
#include "lib/spf/spf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One evaluation, shared with the pool worker (fl_pooled). */
struct spf_eval {
    struct fl_config *cfg;
    struct fl_dns *dns;
    char *ip, *helo, *from;
    enum fl_spf_identity which;
    long long deadline;
    struct fl_spf_info info; /* read by the session after the join */
};

struct spf_job {
    struct fl_pooled *pooled;
    struct spf_eval *eval; /* valid while pooled is held */
};

struct spf_check {
    struct spf_job job[2];     /* MAIL FROM, HELO (pooled NULL: not run) */
    struct fl_result mailfrom; /* a copy of the MAIL FROM result, for DMARC */
    char mailfrom_domain[256]; /* the domain it checked, or "" */
    bool finished;
};

static void spf_work(void *arg, struct fl_result *out)
{
    struct spf_eval *e = arg;
    struct fl_spf_request req = {e->ip, e->helo, e->from};
    fl_spf_check(e->dns, e->cfg, &req, e->which, e->deadline, out, &e->info);
}

/* The evaluation from cached DNS answers only, in the session's thread:
   when every answer it needs is cached (the usual case for a sender seen
   before) no thread hand-off is needed at all; a miss leaves the work to
   the pool. */
static bool spf_quick(void *arg, struct fl_result *out)
{
    struct spf_eval *e = arg;
    fl_dns_cache_only_begin();
    spf_work(arg, out);
    if (fl_dns_cache_only_end() == 0)
        return true;
    fl_result_clear(out);
    memset(out, 0, sizeof(*out));
    memset(&e->info, 0, sizeof(e->info));
    return false;
}

static void spf_eval_free(void *arg)
{
    struct spf_eval *e = arg;
    fl_config_unref(&e->cfg);
    free(e->ip);
    free(e->helo);
    free(e->from);
    free(e);
}

static void job_start(struct spf_job *job, struct fl_checks *cs, enum fl_spf_identity which)
{
    struct spf_eval *e = fl_calloc(1, sizeof(*e));
    e->cfg = fl_config_ref(cs->cfg);
    e->dns = cs->svc.dns;
    e->ip = fl_strdup(cs->ip);
    e->helo = fl_strdup(cs->helo ? cs->helo : "");
    e->from = fl_strdup(cs->mail_from ? cs->mail_from : "");
    e->which = which;
    e->deadline = cs->deadline;
    job->eval = e;
    job->pooled = fl_pooled_start_quick(cs->svc.pool, spf_work, spf_quick, e, spf_eval_free);
}

static void *spf_start(struct fl_checks *cs)
{
    if (cs->skip != FL_SKIP_NONE || cs->svc.dns == NULL || !fl_spf_wanted(cs->cfg, false, false))
        return NULL;
    struct spf_check *s = fl_calloc(1, sizeof(*s));
    job_start(&s->job[0], cs, FL_SPF_MAILFROM);
    if (cs->cfg->spf_check_helo && cs->helo && *cs->helo)
        job_start(&s->job[1], cs, FL_SPF_HELO);
    return s;
}

/* Joins an evaluation into out; one that misses the message deadline is a
   temperror that says so. */
static void job_finish(struct spf_job *job, struct fl_checks *cs, struct fl_result *out,
                       char *domain, size_t domain_len)
{
    const struct spf_eval *e = job->eval;
    if (fl_pooled_finish(job->pooled, cs->deadline, out)) {
        /* the null sender's identity is postmaster@HELO (RFC 7208 2.4) */
        const char *d = fl_addr_domain(*e->from ? e->from : e->info.sender);
        snprintf(domain, domain_len, "%s", d ? d : "");
        return;
    }
    const char *d = fl_addr_domain(e->from);
    snprintf(domain, domain_len, "%s", d ? d : "");
    fl_result_init(out, "spf", FL_RES_TEMPERROR);
    /* whose side: the probe (lib/dns) asks with its own budget, so a
       message past its deadline can still be told apart */
    out->fault = fl_dns_fault(cs->svc.dns, NULL);
    if (out->fault == FL_FAULT_SENDER)
        fl_result_set_reason(out, "spf.dns_sender", "SPF evaluation timed out",
                             "the SPF evaluation did not finish within message_deadline: our "
                             "resolver works, the sender's name servers answer too slowly");
    else
        fl_result_set_reason(out, "dns.resolver_timeout", "SPF evaluation timed out",
                             "the SPF evaluation did not finish within message_deadline");
    fl_result_add_prop(out, "smtp", e->which == FL_SPF_HELO ? "helo" : "mailfrom",
                       e->which == FL_SPF_HELO ? e->helo : e->from);
    out->transient = true;
}

static void spf_finish(void *st, struct fl_checks *cs)
{
    struct spf_check *s = st;
    for (int i = 0; i < 2; i++) {
        if (s->job[i].pooled == NULL)
            continue;
        struct fl_result r;
        char domain[256];
        job_finish(&s->job[i], cs, &r, domain, sizeof(domain));
        if (i == 0) {
            fl_result_copy(&s->mailfrom, &r);
            snprintf(s->mailfrom_domain, sizeof(s->mailfrom_domain), "%s", domain);
        }
        fl_checks_add_result(cs, &r);
    }
    s->finished = true;
}

/* Received-SPF (RFC 7208 9.1) when spf_received_header asks for one. */
static bool spf_add_header(const void *st, const struct fl_checks *cs, const char **name_r,
                           struct fl_buf *value, bool *at_top)
{
    const struct spf_check *s = st;
    if (!cs->cfg->spf_received_header || s->job[0].eval->info.receiver[0] == '\0')
        return false;
    fl_spf_received_header(value, &s->job[0].eval->info);
    *name_r = "Received-SPF";
    *at_top = true;
    return true;
}

static void spf_free(void *st)
{
    struct spf_check *s = st;
    for (int i = 0; i < 2; i++)
        fl_pooled_free(&s->job[i].pooled);
    if (s->finished)
        fl_result_clear(&s->mailfrom);
    free(s);
}

const struct fl_check fl_check_spf = {
    .name = "spf",
    .start = spf_start,
    .finish = spf_finish,
    .add_header = spf_add_header,
    .free = spf_free,
};

const struct fl_result *fl_spf_mailfrom_result(const struct fl_checks *cs)
{
    const struct spf_check *s = fl_checks_state(cs, &fl_check_spf);
    return s != NULL && s->finished ? &s->mailfrom : NULL;
}

const char *fl_spf_mailfrom_domain(const struct fl_checks *cs)
{
    const struct spf_check *s = fl_checks_state(cs, &fl_check_spf);
    return s != NULL && s->finished && s->mailfrom_domain[0] ? s->mailfrom_domain : NULL;
}

const struct fl_result *fl_spf_mailfrom_peek(const struct fl_checks *cs)
{
    const struct spf_check *s = fl_checks_state(cs, &fl_check_spf);
    return s != NULL ? fl_pooled_peek(s->job[0].pooled, cs->deadline) : NULL;
}
