/* checks: see checks.h. */
#include "milter/checks.h"
#include "milter/pooled.h"
#include "milter/server.h"
#include "lib/core/clock.h"
#include "lib/lists/dnsbl.h"
#include "lib/greylist/greylist.h"
#include "lib/core/log.h"
#include "lib/spf/spf.h"
#include "lib/core/verdict.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The domain of an envelope address, or NULL (null sender, no @). */
static const char *addr_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] ? at + 1 : NULL;
}

/* --- SPF: libspf2 is synchronous, so each evaluation runs on the pool,
   started at MAIL FROM and joined at end of message. */

struct spf_ctx {
    struct fl_config *cfg;
    char *ip, *helo, *from;
    enum fl_spf_identity which;
    long long deadline;
    struct fl_spf_info info; /* read by the session after the join */
};

struct fl_spf_job {
    struct fl_pooled *pooled;
    struct spf_ctx *ctx; /* valid while pooled is held */
};

static void spf_work(void *arg, struct fl_result *out)
{
    struct spf_ctx *c = arg;
    struct fl_spf_request req = {c->ip, c->helo, c->from};
    fl_spf_check(fl_srv.dns, c->cfg, &req, c->which, c->deadline, out, &c->info);
}

/* The evaluation from cached DNS answers only, in the session's thread:
   when every answer it needs is cached (the usual case for a sender seen
   before) no thread hand-off is needed at all; a miss leaves the work to
   the pool. */
static bool spf_quick(void *arg, struct fl_result *out)
{
    struct spf_ctx *c = arg;
    fl_dns_cache_only_begin();
    spf_work(arg, out);
    if (fl_dns_cache_only_end() == 0)
        return true;
    fl_result_clear(out);
    memset(out, 0, sizeof(*out));
    memset(&c->info, 0, sizeof(c->info));
    return false;
}

static void spf_ctx_free(void *arg)
{
    struct spf_ctx *c = arg;
    fl_config_unref(&c->cfg);
    free(c->ip);
    free(c->helo);
    free(c->from);
    free(c);
}

static struct fl_spf_job *spf_start(struct fl_conn *conn, enum fl_spf_identity which)
{
    struct spf_ctx *c = fl_calloc(1, sizeof(*c));
    c->cfg = fl_config_ref(conn->cfg);
    c->ip = fl_strdup(conn->ip);
    c->helo = fl_strdup(conn->helo ? conn->helo : "");
    c->from = fl_strdup(conn->msg->mail_from ? conn->msg->mail_from : "");
    c->which = which;
    c->deadline = conn->msg->deadline;
    struct fl_spf_job *job = fl_calloc(1, sizeof(*job));
    job->ctx = c;
    job->pooled = fl_pooled_start_quick(fl_srv.pool, spf_work, spf_quick, c, spf_ctx_free);
    return job;
}

void fl_spf_job_free(struct fl_spf_job **jobp)
{
    struct fl_spf_job *job = *jobp;
    if (job == NULL)
        return;
    *jobp = NULL;
    fl_pooled_free(&job->pooled);
    free(job);
}

/* Joins an SPF evaluation into out; one that misses the message deadline
   is a temperror that says so. */
static void spf_finish(struct fl_conn *conn, struct fl_spf_job *job, struct fl_result *out)
{
    if (fl_pooled_finish(job->pooled, conn->msg->deadline, out))
        return;
    fl_result_init(out, "spf", FL_RES_TEMPERROR);
    fl_result_set_reason(out, "dns.resolver_timeout", "SPF evaluation timed out",
                         "the SPF evaluation did not finish within message_deadline");
    fl_result_add_prop(out, "smtp", job->ctx->which == FL_SPF_HELO ? "helo" : "mailfrom",
                       job->ctx->which == FL_SPF_HELO ? job->ctx->helo : job->ctx->from);
    out->fault = fl_dns_probe(fl_srv.dns, conn->msg->deadline) ? FL_FAULT_SENDER
                                                               : FL_FAULT_RECEIVER;
    out->transient = true;
}

bool fl_checks_received_spf(struct fl_conn *conn, struct fl_buf *out)
{
    struct fl_spf_job *job = conn->msg->spf[0];
    if (job == NULL || !conn->cfg->spf_received_header || job->ctx->info.receiver[0] == '\0')
        return false;
    fl_spf_received_header(out, &job->ctx->info);
    return true;
}

void fl_checks_on_connect(struct fl_conn *conn)
{
    if (conn->skipped != NULL || fl_srv.dns == NULL)
        return;
    long long deadline = fl_monotonic_ms() + conn->cfg->message_deadline;
    if (conn->cfg->iprev_enable)
        conn->iprev = fl_iprev_start(fl_srv.dns, conn->cfg, conn->ip, deadline);
    struct fl_dnsbl_lists *lists = fl_server_dnsbl_lists();
    if (lists != NULL && !fl_dnsbl_lists_empty(lists))
        conn->dnsbl = fl_dnsbl_start(lists, fl_srv.dns, conn->ip, deadline);
    fl_dnsbl_lists_unref(&lists);
}

void fl_checks_on_helo(struct fl_conn *conn)
{
    if (conn->dnsbl != NULL && conn->helo != NULL)
        fl_dnsbl_check_domain(conn->dnsbl, FL_DNSBL_ID_HELO, conn->helo, 0);
}

/* Refuses the recipients of conn->msg with result r (taken over) and the
   reply given (code 0: the attribution table's). */
static const struct fl_result *refuse(struct fl_msg *msg, struct fl_result *r, int code,
                                      const char *dsn, const char *text)
{
    if (msg->rcpt_result != NULL) { /* an earlier recipient's (greylisting) */
        fl_result_clear(msg->rcpt_result);
        fl_verdict_clear(msg->rcpt_verdict);
    } else {
        msg->rcpt_result = fl_malloc(sizeof(*msg->rcpt_result));
        msg->rcpt_verdict = fl_malloc(sizeof(*msg->rcpt_verdict));
    }
    *msg->rcpt_result = *r;
    memset(r, 0, sizeof(*r));
    fl_verdict_decide(msg->rcpt_verdict, msg->rcpt_result, 1, NULL, false);
    if (code != 0 && dsn != NULL && text != NULL) {
        msg->rcpt_verdict->code = code;
        snprintf(msg->rcpt_verdict->dsn, sizeof(msg->rcpt_verdict->dsn), "%s", dsn);
        free(msg->rcpt_verdict->text);
        msg->rcpt_verdict->text = fl_strdup(text);
    }
    return msg->rcpt_result;
}

/* The DNS lists' rows of the verdict record (dnsbl, and dnswl when a
   list allow-lists the client), replacing earlier ones.  Written when
   greylisting defers at RCPT too -- that message may never reach its end,
   and its record must still show every list asked.  at_eom: the end of
   message, where a listing with dnsbl_reject_stage = eom is enforced. */
static void record_dnsbl(struct fl_msg *msg, const struct fl_dnsbl_outcome *o, bool at_eom)
{
    for (size_t i = 0; i < msg->nresults;) {
        const char *m = msg->results[i].method;
        if (strcmp(m, "dnsbl") != 0 && strcmp(m, "dnswl") != 0) {
            i++;
            continue;
        }
        fl_result_clear(&msg->results[i]);
        memmove(&msg->results[i], &msg->results[i + 1],
                (msg->nresults - i - 1) * sizeof(*msg->results));
        msg->nresults--;
    }
    struct fl_result r;
    if (o->has_dnswl) {
        fl_result_copy(&r, &o->dnswl);
        fl_msg_add_result(msg, &r);
    }
    fl_result_copy(&r, &o->result);
    if (!(at_eom && o->listed && o->reject_at_eom))
        r.action = FL_ACTION_ACCEPT; /* a listing at RCPT was refused there */
    fl_msg_add_result(msg, &r);
}

/* The DNS lists' decision at RCPT (dnsbl_reject_stage = rcpt). */
static const struct fl_result *dnsbl_at_rcpt(struct fl_conn *conn)
{
    if (conn->dnsbl == NULL)
        return NULL;
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(conn->dnsbl, conn->msg->deadline);
    if (!o->listed || o->reject_at_eom)
        return NULL;
    struct fl_result r;
    fl_result_copy(&r, &o->result);
    r.action = FL_ACTION_REJECT;
    conn->msg->refuse_all = true;
    return refuse(conn->msg, &r, o->reply_code, o->reply_dsn, o->reply_text);
}

/* The SPF result of MAIL FROM as greylisting needs it, waiting for the
   evaluation only when a greylist exemption depends on it. */
static enum fl_greylist_spf spf_for_greylist(struct fl_conn *conn)
{
    const struct fl_config *cfg = conn->cfg;
    struct fl_spf_job *job = conn->msg->spf[0];
    if (job == NULL || (!cfg->greylist_spf_pass_exempt &&
                        cfg->greylist_allow_sender_domains.count == 0))
        return FL_GREYLIST_SPF_UNKNOWN;
    const struct fl_result *r = fl_pooled_peek(job->pooled, conn->msg->deadline);
    if (r == NULL)
        return FL_GREYLIST_SPF_UNKNOWN;
    return r->result == FL_RES_PASS ? FL_GREYLIST_SPF_PASS : FL_GREYLIST_SPF_NOT_PASS;
}

/* Greylisting of one recipient.  A deferral refuses only this recipient
   (451 4.7.1); passes and store errors are reported at end of message. */
static const struct fl_result *greylist_at_rcpt(struct fl_conn *conn, const char *rcpt)
{
    const struct fl_config *cfg = conn->cfg;
    struct fl_msg *msg = conn->msg;
    if (!cfg->greylist_enable)
        return NULL;
    const struct fl_dnsbl_outcome *lists =
        conn->dnsbl != NULL ? fl_dnsbl_finish(conn->dnsbl, msg->deadline) : NULL;
    bool dnswl = lists != NULL && lists->allow_listed;
    struct fl_greylist_query q = {
        .client_ip = conn->ip,
        .client_name = conn->iprev ? fl_iprev_name(conn->iprev) : NULL,
        .sender = msg->mail_from ? msg->mail_from : "",
        .rcpt = rcpt,
        .spf = spf_for_greylist(conn),
        .trusted = conn->skipped != NULL && strcmp(conn->skipped, "authenticated") != 0,
        .authenticated = conn->skipped != NULL && strcmp(conn->skipped, "authenticated") == 0,
        .dnswl = dnswl,
    };
    struct fl_greylist_decision d;
    /* the store may be opened later by a reload (milter/server.c) */
    struct fl_greylist *gl = __atomic_load_n(&fl_srv.greylist, __ATOMIC_ACQUIRE);
    int rc = fl_greylist_decide(gl, cfg, &q, &d);
    fl_metrics_greylist(fl_srv.metrics, &d);
    if (d.outcome == FL_GREYLIST_EXEMPT && d.exemption == FL_GREYLIST_EX_DISABLED)
        return NULL;
    struct fl_result r;
    fl_greylist_result(&d, &r);
    char text[256];
    fl_greylist_reply(&d, text, sizeof(text));
    if (rc == 0 && lists != NULL)
        record_dnsbl(msg, lists, false);
    /* greylist_mode = observe: decided and recorded, nothing deferred */
    if (rc == 0 && cfg->greylist_mode == 1) {
        fl_result_observe(&r, 451, "4.7.1", text);
        rc = 1;
    }
    if (rc != 0) {
        /* pass, exemption or store error (fail open): one row per message;
           an observed deferral wins over a pass of another recipient */
        struct fl_result *seen = NULL;
        for (size_t i = 0; i < msg->nresults; i++)
            if (strcmp(msg->results[i].method, "greylist") == 0)
                seen = &msg->results[i];
        if (seen == NULL) {
            fl_msg_add_result(msg, &r);
        } else if (r.observe_action != FL_ACTION_ACCEPT &&
                   seen->observe_action == FL_ACTION_ACCEPT) {
            fl_result_clear(seen);
            *seen = r;
        } else {
            fl_result_clear(&r);
        }
        return NULL;
    }
    return refuse(msg, &r, 451, "4.7.1", text);
}

/* DKIM for clients whose other checks are skipped (trusted networks,
   SMTP AUTH) when dkim_skip_trusted / dkim_skip_authenticated say so. */
static void dkim_for_skipped(struct fl_conn *conn)
{
    const struct fl_config *cfg = conn->cfg;
    bool auth = strcmp(conn->skipped, "authenticated") == 0;
    if (!cfg->dkim_enable || fl_srv.dkim == NULL ||
        (auth ? cfg->dkim_skip_authenticated : cfg->dkim_skip_trusted))
        return;
    conn->msg->dkim = fl_dkim_new(fl_srv.dkim, cfg, conn->msg->deadline);
}

void fl_checks_on_mail(struct fl_conn *conn)
{
    struct fl_msg *msg = conn->msg;
    if (fl_srv.dns == NULL)
        return;
    if (conn->skipped != NULL) {
        dkim_for_skipped(conn);
        return;
    }
    if (conn->iprev != NULL)
        fl_iprev_advance(conn->iprev);
    if (conn->dnsbl != NULL) {
        fl_dnsbl_new_message(conn->dnsbl);
        if (msg->mail_from && *msg->mail_from)
            fl_dnsbl_check_domain(conn->dnsbl, FL_DNSBL_ID_MAILFROM, msg->mail_from, 0);
    }
    msg->nullmx = fl_nullmx_start(fl_srv.dns, addr_domain(msg->mail_from), msg->deadline);
    if (conn->cfg->dkim_enable && fl_srv.dkim != NULL)
        msg->dkim = fl_dkim_new(fl_srv.dkim, conn->cfg, msg->deadline);
    if (fl_dmarc_wanted(conn->cfg, false, false)) {
        msg->dmarc = fl_dmarc_new(fl_srv.dns, conn->cfg, msg->deadline);
        /* the MAIL FROM domain is likely an identifier: its walk can start */
        const char *dom = addr_domain(msg->mail_from);
        if (dom != NULL)
            fl_dmarc_hint(msg->dmarc, dom);
        if (conn->cfg->arc_enable)
            msg->arc = fl_arc_new(fl_srv.dns, msg->deadline,
                                  (size_t)conn->cfg->message_memory_limit);
    }
    if (fl_spf_wanted(conn->cfg, false, false)) {
        msg->spf[0] = spf_start(conn, FL_SPF_MAILFROM);
        if (conn->cfg->spf_check_helo && conn->helo && *conn->helo)
            msg->spf[1] = spf_start(conn, FL_SPF_HELO);
    }
}

const struct fl_result *fl_checks_on_rcpt(struct fl_conn *conn, const char *rcpt)
{
    struct fl_msg *msg = conn->msg;
    if (msg->refuse_all)
        return msg->rcpt_result; /* decided at an earlier RCPT */
    if (conn->skipped != NULL)
        return greylist_at_rcpt(conn, rcpt);
    if (conn->iprev != NULL)
        fl_iprev_advance(conn->iprev);
    const struct fl_result *refused = dnsbl_at_rcpt(conn);
    if (refused != NULL)
        return refused;
    if (msg->nullmx != NULL) {
        struct fl_result r;
        if (fl_nullmx_finish(msg->nullmx, conn->cfg, &r) == 1) {
            fl_nullmx_free(&msg->nullmx);
            if (r.action == FL_ACTION_REJECT) {
                msg->refuse_all = true;
                return refuse(msg, &r, 0, NULL, NULL);
            }
            fl_msg_add_result(msg, &r); /* marked: reported at end of message */
        } else {
            fl_nullmx_free(&msg->nullmx);
        }
    }
    return greylist_at_rcpt(conn, rcpt);
}

void fl_checks_on_header(struct fl_conn *conn, const char *name, const char *value)
{
    struct fl_msg *msg = conn->msg;
    if (msg->dkim != NULL)
        fl_dkim_header(msg->dkim, name, value);
    if (msg->arc != NULL)
        fl_arc_header(msg->arc, name, value);
    if (strcasecmp(name, "From") == 0) {
        if (msg->dmarc != NULL)
            fl_dmarc_from_header(msg->dmarc, value);
        /* the From domain for the domain lists (RHSBL "from" identity) */
        if (conn->dnsbl != NULL) {
            const char *vals[1] = {value};
            char domain[256];
            if (fl_dmarc_from_parse(vals, 1, domain, sizeof(domain), NULL, NULL) ==
                FL_DMARC_FROM_OK)
                fl_dnsbl_check_domain(conn->dnsbl, FL_DNSBL_ID_FROM, domain, msg->deadline);
        }
    }
}

void fl_checks_on_eoh(struct fl_conn *conn)
{
    if (conn->msg->dmarc != NULL)
        fl_dmarc_eoh(conn->msg->dmarc);
    /* 1: the signatures need the body; 0: nothing to hash (unsigned) */
    if (conn->msg->dkim != NULL)
        conn->msg->body_wanted = fl_dkim_eoh(conn->msg->dkim) == 1;
    if (conn->msg->arc != NULL && fl_arc_eoh(conn->msg->arc) == 1)
        conn->msg->body_wanted = true;
}

bool fl_checks_on_body(struct fl_conn *conn, const unsigned char *chunk, size_t len)
{
    if (conn->msg == NULL || !conn->msg->body_wanted)
        return false;
    if (conn->msg->dkim != NULL)
        fl_dkim_body(conn->msg->dkim, chunk, len);
    if (conn->msg->arc != NULL)
        fl_arc_body(conn->msg->arc, chunk, len);
    return true;
}

/* DKIM results, in message order. */
static void dkim_at_eom(struct fl_msg *msg)
{
    const struct fl_result *res;
    size_t n;
    fl_dkim_eom(msg->dkim, &res, &n);
    for (size_t i = 0; i < n; i++) {
        struct fl_result r;
        fl_result_copy(&r, &res[i]);
        fl_msg_add_result(msg, &r);
    }
}

/* DMARC from the SPF (MAIL FROM) and DKIM results already collected. */
static void dmarc_at_eom(struct fl_msg *msg)
{
    struct fl_dmarc_inputs in = {0};
    for (size_t i = 0; i < msg->nresults; i++) {
        const struct fl_result *r = &msg->results[i];
        if (strcmp(r->method, "spf") != 0)
            continue;
        for (size_t j = 0; j < r->nprops; j++) {
            if (strcmp(r->props[j].property, "mailfrom") == 0) {
                in.spf_mailfrom = r;
                in.mail_from_domain = addr_domain(r->props[j].value);
            }
        }
    }
    if (msg->dkim != NULL)
        in.nsigs = fl_dkim_signatures(msg->dkim, &in.sigs);
    in.arc = msg->arc_done ? msg->arc : NULL;
    struct fl_result r;
    memset(&r, 0, sizeof(r));
    fl_dmarc_eom(msg->dmarc, &in, &r);
    fl_msg_add_result(msg, &r);
    msg->dmarc_done = true;
}

void fl_checks_on_eom(struct fl_conn *conn)
{
    struct fl_msg *msg = conn->msg;
    if (conn->skipped != NULL) {
        if (msg->dkim != NULL)
            dkim_at_eom(msg);
        return;
    }
    if (conn->iprev != NULL) {
        struct fl_result r;
        fl_iprev_finish(conn->iprev, msg->deadline, &r);
        if (r.result == FL_RES_FAIL && conn->cfg->iprev_action == FL_REJECT)
            r.action = FL_ACTION_REJECT;
        fl_msg_add_result(msg, &r);
        const char *name = fl_iprev_name(conn->iprev);
        if (conn->dnsbl != NULL && name != NULL)
            fl_dnsbl_check_domain(conn->dnsbl, FL_DNSBL_ID_PTR, name, 0);
    }
    if (conn->dnsbl != NULL) {
        record_dnsbl(msg, fl_dnsbl_finish(conn->dnsbl, msg->deadline), true);
    }
    for (int i = 0; i < 2; i++) {
        if (msg->spf[i] == NULL)
            continue;
        struct fl_result r;
        spf_finish(conn, msg->spf[i], &r);
        fl_msg_add_result(msg, &r);
    }
    if (msg->dkim != NULL)
        dkim_at_eom(msg);
    if (msg->arc != NULL) {
        struct fl_result r;
        fl_arc_eom(msg->arc, conn->ip, &r);
        /* an unsealed message: nothing to report (no arc=none item) */
        msg->arc_done = r.result != FL_RES_NONE;
        if (msg->arc_done)
            fl_msg_add_result(msg, &r);
        else
            fl_result_clear(&r);
    }
    if (msg->dmarc != NULL)
        dmarc_at_eom(msg);
    if (msg->nullmx != NULL) {
        /* no RCPT consulted it (the MTA skipped the step): decide now */
        struct fl_result r;
        if (fl_nullmx_finish(msg->nullmx, conn->cfg, &r) == 1)
            fl_msg_add_result(msg, &r);
        fl_nullmx_free(&msg->nullmx);
    }
}
