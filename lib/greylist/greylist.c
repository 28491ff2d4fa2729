/* greylist: the greylisting policy -- exemptions, the decision over the
   triplet, client and pair records (one atomic store update), and the
   fl_result built from it.  See greylist.h.  Administration lives in
   greylist_admin.c, the triplet's normalisation in greylist_triplet.c.
   Thread-safe: the handle is immutable after open but for the
   rate-limited error log, which has its own mutex. */
#include "lib/greylist/greylist.h"
#include "lib/greylist/greylist_store.h"
#include "lib/core/log.h"
#include "lib/core/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One "store failed" warning per this many seconds; the rest are counted. */
#define ERROR_LOG_INTERVAL 60

struct fl_greylist {
    const struct fl_greylist_ops *ops;
    void *be;
    struct fl_clock clock;
    pthread_mutex_t log_lock;
    time_t last_error_log;
    unsigned long suppressed;
};

static time_t real_now(void *ctx)
{
    (void)ctx;
    return time(NULL);
}

time_t fl_greylist_now(const struct fl_greylist *gl)
{
    return gl->clock.now(gl->clock.ctx);
}

const struct fl_greylist_ops *fl_greylist_backend(struct fl_greylist *gl, void **be_r)
{
    *be_r = gl->be;
    return gl->ops;
}

int fl_greylist_open(const struct fl_config *cfg, const struct fl_clock *clock,
                     unsigned int flags, struct fl_greylist **gl_r, struct fl_buf *error)
{
    const struct fl_greylist_ops *ops = cfg->greylist_store == FL_GREYLIST_STORE_REDIS
                                            ? &fl_greylist_redis_ops
                                            : &fl_greylist_lmdb_ops;
    struct fl_buf err;
    fl_buf_init(&err);
    void *be = NULL;
    int rc = ops->open(cfg, flags, &be, &err);
    fl_greylist_store_error(error, ops, rc, &err, "");
    if (rc < 0)
        return -1;
    struct fl_greylist *gl = fl_calloc(1, sizeof(*gl));
    gl->ops = ops;
    gl->be = be;
    if (clock != NULL && clock->now != NULL) {
        gl->clock = *clock;
    } else {
        gl->clock.now = real_now;
        gl->clock.ctx = NULL;
    }
    pthread_mutex_init(&gl->log_lock, NULL);
    *gl_r = gl;
    return 0;
}

void fl_greylist_close(struct fl_greylist **glp)
{
    struct fl_greylist *gl = *glp;
    if (gl == NULL)
        return;
    *glp = NULL;
    gl->ops->close(gl->be);
    pthread_mutex_destroy(&gl->log_lock);
    free(gl);
}

const char *fl_greylist_store_name(const struct fl_greylist *gl)
{
    return gl->ops->name;
}

const char *fl_greylist_exemption_name(enum fl_greylist_exemption ex)
{
    switch (ex) {
    case FL_GREYLIST_EX_NONE:
        return "none";
    case FL_GREYLIST_EX_DISABLED:
        return "disabled";
    case FL_GREYLIST_EX_TRUSTED:
        return "trusted_network";
    case FL_GREYLIST_EX_AUTHENTICATED:
        return "authenticated";
    case FL_GREYLIST_EX_NO_ADDRESS:
        return "no_client_address";
    case FL_GREYLIST_EX_CLIENT_NETWORK:
        return "client_network";
    case FL_GREYLIST_EX_CLIENT_NAME:
        return "client_name";
    case FL_GREYLIST_EX_DNSWL:
        return "dnswl";
    case FL_GREYLIST_EX_SENDER_DOMAIN:
        return "sender_domain";
    case FL_GREYLIST_EX_SPF_PASS:
        return "spf_pass";
    case FL_GREYLIST_EX_RECIPIENT:
        return "recipient";
    case FL_GREYLIST_EX_AUTO_ALLOWED:
        return "auto_allowed";
    case FL_GREYLIST_EX_ADMIN_ALLOWED:
        return "admin_allowed";
    }
    return "unknown";
}

const char *fl_greylist_outcome_name(enum fl_greylist_outcome o)
{
    switch (o) {
    case FL_GREYLIST_PASS:
        return "pass";
    case FL_GREYLIST_DEFER:
        return "defer";
    case FL_GREYLIST_EXEMPT:
        return "exempt";
    case FL_GREYLIST_STORE_ERROR:
        return "store_error";
    }
    return "unknown";
}

/* --- exemptions -------------------------------------------------------------- */

static bool list_match_domain(const struct fl_strlist *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (fl_greylist_domain_match(name, l->items[i]))
            return true;
    return false;
}

static bool list_match_rcpt(const struct fl_strlist *l, const char *rcpt)
{
    for (size_t i = 0; i < l->count; i++)
        if (fl_greylist_rcpt_match(rcpt, l->items[i]))
            return true;
    return false;
}

/* The domain of the raw MAIL FROM address ("" for the null sender). */
static const char *sender_domain(const char *sender)
{
    const char *at = sender ? strrchr(sender, '@') : NULL;
    return at ? at + 1 : "";
}

/* The exemption that applies before the store is asked, or EX_NONE.
   have_net: the client address parsed. */
static enum fl_greylist_exemption static_exemption(const struct fl_config *cfg,
                                                   const struct fl_greylist_query *q,
                                                   bool have_net)
{
    if (q->trusted && cfg->greylist_exempt_trusted)
        return FL_GREYLIST_EX_TRUSTED;
    if (q->authenticated && cfg->greylist_exempt_authenticated)
        return FL_GREYLIST_EX_AUTHENTICATED;
    if (!have_net)
        return FL_GREYLIST_EX_NO_ADDRESS;
    if (fl_cidr_list_match(&cfg->greylist_allow_clients, q->client_ip))
        return FL_GREYLIST_EX_CLIENT_NETWORK;
    if (q->client_name != NULL && q->client_name[0] != '\0' &&
        list_match_domain(&cfg->greylist_allow_client_names, q->client_name))
        return FL_GREYLIST_EX_CLIENT_NAME;
    if (q->dnswl && cfg->greylist_exempt_dnswl)
        return FL_GREYLIST_EX_DNSWL;
    if (q->rcpt != NULL && list_match_rcpt(&cfg->greylist_allow_recipients, q->rcpt))
        return FL_GREYLIST_EX_RECIPIENT;
    const char *dom = sender_domain(q->sender);
    if (q->spf == FL_GREYLIST_SPF_PASS && dom[0] != '\0' &&
        list_match_domain(&cfg->greylist_allow_sender_domains, dom))
        return FL_GREYLIST_EX_SENDER_DOMAIN;
    if (q->spf == FL_GREYLIST_SPF_PASS && cfg->greylist_spf_pass_exempt)
        return FL_GREYLIST_EX_SPF_PASS;
    return FL_GREYLIST_EX_NONE;
}

/* --- the decision ------------------------------------------------------------ */

struct decide_ctx {
    time_t now;
    long delay, window, lifetime;
    unsigned long auto_allow;
    struct fl_greylist_decision *d;
};

/* A record counts only until its expiry; an expired one not yet swept is
   treated as absent. */
static bool live(const struct fl_greylist_txn *t, size_t i, time_t now)
{
    return t->found[i] && (t->rec[i].expires == 0 || t->rec[i].expires > now);
}

static void copy_triplet_times(struct fl_greylist_decision *d,
                               const struct fl_greylist_record *r)
{
    d->first_seen = r->first_seen;
    d->passed_at = r->passed_at;
    d->expires = r->expires;
    d->attempts = r->deferred;
    d->early = r->early;
    d->accepted = r->passed;
}

/* keys: 0 triplet, 1 client, 2 pair.  Runs inside the store's transaction
   (maybe more than once): every output is recomputed from t. */
static void apply_decide(struct fl_greylist_txn *t, void *arg)
{
    struct decide_ctx *c = arg;
    struct fl_greylist_decision *d = c->d;
    struct fl_greylist_record *tr = &t->rec[0], *cl = &t->rec[1], *pr = &t->rec[2];
    time_t now = c->now;
    d->exemption = FL_GREYLIST_EX_NONE;
    d->reason_code = NULL;
    d->retry_after = 0;
    d->first_seen = d->passed_at = d->expires = 0;
    d->attempts = d->early = d->accepted = 0;
    d->retry_accepted = d->client_now_allowed = false;
    d->other_net[0] = '\0';
    d->other_net_age = 0;

    if (live(t, 1, now) && (cl->admin || cl->passed_at != 0)) {
        d->outcome = FL_GREYLIST_EXEMPT;
        d->exemption =
            cl->admin ? FL_GREYLIST_EX_ADMIN_ALLOWED : FL_GREYLIST_EX_AUTO_ALLOWED;
        cl->last_seen = now;
        if (!cl->admin)
            cl->expires = now + c->lifetime;
        t->write[1] = true;
        return;
    }
    if (live(t, 0, now) && (tr->passed_at != 0 || tr->admin)) {
        d->outcome = FL_GREYLIST_PASS;
        tr->last_seen = now;
        tr->passed++;
        if (!tr->admin)
            tr->expires = now + c->lifetime;
        t->write[0] = true;
        copy_triplet_times(d, tr);
        return;
    }
    if (live(t, 0, now)) {
        long waited = (long)(now - tr->first_seen);
        if (waited >= c->delay) {
            /* The retry after the delay: pass, and count it for the client. */
            d->outcome = FL_GREYLIST_PASS;
            d->retry_accepted = true;
            tr->passed_at = now;
            tr->passed++;
            tr->last_seen = now;
            tr->expires = now + c->lifetime;
            t->write[0] = true;
            if (!live(t, 1, now)) {
                memset(cl, 0, sizeof(*cl));
                cl->first_seen = now;
            }
            cl->last_seen = now;
            cl->passed++;
            if (!cl->admin)
                cl->expires = now + c->lifetime;
            if (c->auto_allow > 0 && cl->passed >= c->auto_allow && cl->passed_at == 0) {
                cl->passed_at = now;
                d->client_now_allowed = true;
            }
            t->write[1] = true;
        } else {
            d->outcome = FL_GREYLIST_DEFER;
            d->reason_code = "greylist.too_early";
            d->retry_after = c->delay - waited;
            tr->deferred++;
            tr->early++;
            tr->last_seen = now;
            t->write[0] = true;
        }
        copy_triplet_times(d, tr);
        return;
    }
    /* First attempt (or the first after the retry window closed). */
    memset(tr, 0, sizeof(*tr));
    tr->first_seen = tr->last_seen = now;
    tr->deferred = 1;
    tr->expires = now + c->window;
    t->write[0] = true;
    d->outcome = FL_GREYLIST_DEFER;
    d->reason_code = "greylist.first_seen";
    d->retry_after = c->delay;
    copy_triplet_times(d, tr);
    /* Same sender and recipient deferred from another network lately: a
       provider retrying from its pool.  Reported, not acted on. */
    time_t pair_first = now;
    if (live(t, 2, now)) {
        pair_first = pr->first_seen;
        if (pr->net[0] != '\0' && strcmp(pr->net, d->net) != 0) {
            snprintf(d->other_net, sizeof(d->other_net), "%s", pr->net);
            d->other_net_age = (long)(now - pr->last_seen);
        }
    }
    memset(pr, 0, sizeof(*pr));
    pr->first_seen = pair_first;
    pr->last_seen = now;
    pr->expires = now + c->window;
    snprintf(pr->net, sizeof(pr->net), "%s", d->net);
    t->write[2] = true;
}

static void log_store_error(struct fl_greylist *gl, const struct fl_greylist_decision *d)
{
    pthread_mutex_lock(&gl->log_lock);
    time_t now = time(NULL);
    if (gl->last_error_log != 0 && now - gl->last_error_log < ERROR_LOG_INTERVAL) {
        gl->suppressed++;
        pthread_mutex_unlock(&gl->log_lock);
        return;
    }
    unsigned long suppressed = gl->suppressed;
    gl->suppressed = 0;
    gl->last_error_log = now;
    pthread_mutex_unlock(&gl->log_lock);
    fl_warn(
        "greylist result=temperror reason=greylist.store_down fault=receiver store=%s "
        "action=accept error=\"%s\" suppressed=%lu",
        d->store, d->error, suppressed);
}

int fl_greylist_decide(struct fl_greylist *gl, const struct fl_config *cfg,
                       const struct fl_greylist_query *q, struct fl_greylist_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->delay = (long)(cfg->greylist_delay / 1000);
    if (!cfg->greylist_enable) {
        d->outcome = FL_GREYLIST_EXEMPT;
        d->exemption = FL_GREYLIST_EX_DISABLED;
        return 1;
    }
    d->now = gl != NULL ? fl_greylist_now(gl) : time(NULL);
    bool have_net =
        fl_greylist_network(q->client_ip, (int)cfg->greylist_ipv4_prefix,
                            (int)cfg->greylist_ipv6_prefix, d->net, sizeof(d->net)) == 0;
    if (!have_net)
        d->net[0] = '\0';
    fl_greylist_normalize_sender(q->sender, d->sender, sizeof(d->sender));
    fl_greylist_normalize_rcpt(q->rcpt, d->rcpt, sizeof(d->rcpt));
    d->exemption = static_exemption(cfg, q, have_net);
    if (d->exemption != FL_GREYLIST_EX_NONE) {
        d->outcome = FL_GREYLIST_EXEMPT;
        return 1;
    }

    if (gl == NULL) {
        /* Enabled, but the daemon could not open the store (it logged
           why): fail open, quietly. */
        d->outcome = FL_GREYLIST_STORE_ERROR;
        d->reason_code = "greylist.store_down";
        snprintf(d->error, sizeof(d->error), "the greylist store is not open");
        return -1;
    }
    snprintf(d->store, sizeof(d->store), "%s", gl->ops->name);
    struct fl_greylist_txn t;
    memset(&t, 0, sizeof(t));
    t.n = 3;
    snprintf(t.keys[0], sizeof(t.keys[0]), "t %s %s %s", d->net, d->sender, d->rcpt);
    snprintf(t.keys[1], sizeof(t.keys[1]), "c %s", d->net);
    snprintf(t.keys[2], sizeof(t.keys[2]), "p %s %s", d->sender, d->rcpt);
    struct decide_ctx c = {
        .now = d->now,
        .delay = d->delay,
        .window = (long)(cfg->greylist_retry_window / 1000),
        .lifetime = (long)(cfg->greylist_lifetime / 1000),
        .auto_allow = (unsigned long)cfg->greylist_auto_allow,
        .d = d,
    };
    struct fl_buf err;
    fl_buf_init(&err);
    int rc = gl->ops->update(gl->be, &t, apply_decide, &c, d->now, &err);
    if (rc < 0)
        snprintf(d->error, sizeof(d->error), "%s", err.data);
    fl_buf_free(&err);
    if (rc < 0) {
        d->outcome = FL_GREYLIST_STORE_ERROR;
        d->exemption = FL_GREYLIST_EX_NONE;
        d->reason_code = "greylist.store_down";
        d->retry_after = 0;
        log_store_error(gl, d);
        return -1;
    }
    if (d->client_now_allowed)
        fl_info("greylist client network %s auto-allowed after %lld successful retries",
                d->net, cfg->greylist_auto_allow);
    return d->outcome == FL_GREYLIST_DEFER ? 0 : 1;
}

/* --- the result -------------------------------------------------------------- */

void fl_greylist_reply(const struct fl_greylist_decision *d, char *out, size_t outlen)
{
    snprintf(out, outlen, "greylisted, please retry in %ld seconds", d->retry_after);
}

static void add_time_prop(struct fl_result *r, const char *property, time_t t)
{
    char text[32];
    struct tm tm;
    if (t == 0 || gmtime_r(&t, &tm) == NULL)
        return;
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fl_result_add_prop(r, "policy", property, text);
}

static void add_num_prop(struct fl_result *r, const char *property, long long v)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld", v);
    fl_result_add_prop(r, "policy", property, text);
}

static void add_triplet_props(struct fl_result *r, const struct fl_greylist_decision *d)
{
    if (d->net[0] != '\0')
        fl_result_add_prop(r, "policy", "client-net", d->net);
    if (d->sender[0] != '\0')
        fl_result_add_prop(r, "smtp", "mailfrom", d->sender);
    if (d->rcpt[0] != '\0')
        fl_result_add_prop(r, "smtp", "rcptto", d->rcpt);
}

static const char *exemption_text(enum fl_greylist_exemption ex)
{
    switch (ex) {
    case FL_GREYLIST_EX_DISABLED:
        return "greylisting is disabled";
    case FL_GREYLIST_EX_TRUSTED:
        return "the client is in trusted_networks";
    case FL_GREYLIST_EX_AUTHENTICATED:
        return "the client authenticated";
    case FL_GREYLIST_EX_NO_ADDRESS:
        return "the client has no IP address (local submission)";
    case FL_GREYLIST_EX_CLIENT_NETWORK:
        return "the client is in greylist_allow_clients";
    case FL_GREYLIST_EX_CLIENT_NAME:
        return "the client's verified host name is in greylist_allow_client_names";
    case FL_GREYLIST_EX_DNSWL:
        return "the client is allow-listed by a DNSWL";
    case FL_GREYLIST_EX_SENDER_DOMAIN:
        return "the sender domain passes SPF and is in greylist_allow_sender_domains";
    case FL_GREYLIST_EX_SPF_PASS:
        return "the sender domain passes SPF (greylist_spf_pass_exempt)";
    case FL_GREYLIST_EX_RECIPIENT:
        return "the recipient is in greylist_allow_recipients";
    case FL_GREYLIST_EX_AUTO_ALLOWED:
        return "the client network retried successfully often enough to be auto-allowed";
    case FL_GREYLIST_EX_ADMIN_ALLOWED:
        return "the client network was allowed with faultlinectl";
    case FL_GREYLIST_EX_NONE:
        break;
    }
    return "not greylisted";
}

static void defer_result(const struct fl_greylist_decision *d, struct fl_result *out)
{
    char reply[80];
    fl_greylist_reply(d, reply, sizeof(reply));
    struct fl_buf detail;
    fl_buf_init(&detail);
    /* The verdict's reply is "<attribution text>: <detail>", and the
       attribution text already says "greylisted", so the detail starts
       with what to do. */
    fl_buf_printf(&detail, "please retry in %ld seconds", d->retry_after);
    bool early =
        d->reason_code != NULL && strcmp(d->reason_code, "greylist.too_early") == 0;
    if (early)
        fl_buf_printf(&detail,
                      " (retried too early: after %ld of %ld seconds, early retries %lu; "
                      "the sending server retries by itself)",
                      (long)(d->now - d->first_seen), d->delay, d->early);
    else
        fl_buf_printf(&detail,
                      " (first attempt from %s, deferred on purpose; the sending server "
                      "retries by itself)",
                      d->net);
    if (d->other_net[0] != '\0')
        fl_buf_printf(&detail,
                      "; the same sender and recipient were deferred from %s %ld "
                      "seconds ago: the sender's provider retries from another network "
                      "of its pool (greylist_allow_client_names can exempt it)",
                      d->other_net, d->other_net_age);
    fl_result_init(out, "greylist", FL_RES_POLICY);
    fl_result_set_reason(out, d->reason_code, reply, detail.data);
    fl_buf_free(&detail);
    out->fault = FL_FAULT_NONE;
    out->transient = true;
    out->action = FL_ACTION_TEMPFAIL;
    add_triplet_props(out, d);
    add_time_prop(out, "first-seen", d->first_seen);
    add_num_prop(out, "delay", d->delay);
    add_num_prop(out, "retry-after", d->retry_after);
    add_num_prop(out, "attempts", (long long)d->attempts);
    if (d->other_net[0] != '\0')
        fl_result_add_prop(out, "policy", "other-net", d->other_net);
}

static void pass_result(const struct fl_greylist_decision *d, struct fl_result *out)
{
    struct fl_buf detail;
    fl_buf_init(&detail);
    char reason[96];
    if (d->retry_accepted) {
        snprintf(reason, sizeof(reason), "retry accepted after %ld seconds",
                 (long)(d->now - d->first_seen));
        fl_buf_printf(&detail, "%s (%lu deferred attempts, %lu too early)", reason,
                      d->attempts, d->early);
        if (d->client_now_allowed)
            fl_buf_printf(&detail, "; client network %s is now auto-allowed", d->net);
    } else {
        snprintf(reason, sizeof(reason), "known sender and recipient from this network");
        fl_buf_printf(&detail, "%s (accepted %lu times)", reason, d->accepted);
    }
    fl_result_init(out, "greylist", FL_RES_PASS);
    fl_result_set_reason(out, NULL, reason, detail.data);
    fl_buf_free(&detail);
    add_triplet_props(out, d);
    add_time_prop(out, "first-seen", d->first_seen);
    add_time_prop(out, "passed", d->passed_at);
    add_time_prop(out, "expires", d->expires);
    if (d->retry_accepted)
        add_num_prop(out, "waited", (long long)(d->now - d->first_seen));
    add_num_prop(out, "accepted", (long long)d->accepted);
}

void fl_greylist_result(const struct fl_greylist_decision *d, struct fl_result *out)
{
    switch (d->outcome) {
    case FL_GREYLIST_DEFER:
        defer_result(d, out);
        break;
    case FL_GREYLIST_PASS:
        pass_result(d, out);
        break;
    case FL_GREYLIST_EXEMPT: {
        char reason[160];
        snprintf(reason, sizeof(reason), "not greylisted: %s",
                 exemption_text(d->exemption));
        fl_result_init(out, "greylist", FL_RES_SKIPPED);
        fl_result_set_reason(out, NULL, reason, NULL);
        fl_result_add_prop(out, "policy", "exempt",
                           fl_greylist_exemption_name(d->exemption));
        add_triplet_props(out, d);
        break;
    }
    case FL_GREYLIST_STORE_ERROR: {
        struct fl_buf detail;
        fl_buf_init(&detail);
        fl_buf_printf(
            &detail,
            "the greylist store (%s) failed: %s; the message was accepted without "
            "greylisting (fail-open) and the receiving site must repair its store",
            d->store, d->error);
        fl_result_init(out, "greylist", FL_RES_TEMPERROR);
        fl_result_set_reason(out, "greylist.store_down", "greylist store unavailable",
                             detail.data);
        fl_buf_free(&detail);
        out->fault = FL_FAULT_RECEIVER;
        out->transient = true;
        out->action = FL_ACTION_ACCEPT;
        fl_result_add_prop(out, "policy", "store", d->store);
        add_triplet_props(out, d);
        break;
    }
    }
    out->in_header = false;
}

/* --- the sweep --------------------------------------------------------------- */

int fl_greylist_sweep(struct fl_greylist *gl, size_t *removed_r, struct fl_buf *error)
{
    struct fl_buf err;
    fl_buf_init(&err);
    *removed_r = 0;
    time_t cutoff = fl_greylist_now(gl) - FL_GREYLIST_KEEP_EXPIRED;
    int rc = gl->ops->sweep(gl->be, cutoff, true, removed_r, &err);
    fl_greylist_store_error(error, gl->ops, rc, &err, "sweep: ");
    return rc < 0 ? -1 : 0;
}

void fl_greylist_store_error(struct fl_buf *error, const struct fl_greylist_ops *ops,
                             int rc, struct fl_buf *err, const char *what)
{
    if (rc < 0 && error != NULL)
        fl_buf_printf(error, "greylist store %s: %s%s", ops->name, what, err->data);
    fl_buf_free(err);
}
