/* dnsbl: see dnsbl.h.  The lists (shared, built once per configuration)
   and the per-connection handle: starting the queries, waiting for them
   and scoring their answers.  The outcome (result, reply, props) is
   written by dnsbl_result.c; the probe and statistics live in
   dnsbl_probe.c.  RFC 5782 (DNSxL), postscreen_dnsbl_sites semantics. */
#include "lib/lists/dnsbl.h"
#include "lib/core/clock.h"
#include "lib/lists/dnsbl_impl.h"
#include "lib/core/log.h"
#include "lib/core/sanitize.h"
#include "lib/core/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- lists ---------------------------------------------------------------- */

static size_t find_or_add_list(struct fl_dnsbl_lists *lists, const char *zone,
                               bool domain)
{
    for (size_t i = 0; i < lists->nlists; i++)
        if (lists->lists[i].domain == domain && strcmp(lists->lists[i].zone, zone) == 0)
            return i;
    lists->lists = fl_realloc(lists->lists, (lists->nlists + 1) * sizeof(*lists->lists));
    struct fl_dnsbl_list *l = &lists->lists[lists->nlists];
    memset(l, 0, sizeof(*l));
    l->zone = fl_strdup(zone);
    l->domain = domain;
    return lists->nlists++;
}

static int add_entries(struct fl_dnsbl_lists *lists, const struct fl_strlist *items,
                       enum fl_dnsbl_spec_kind kind, const char *setting,
                       struct fl_buf *errors)
{
    int rc = 0;
    struct fl_buf why;
    fl_buf_init(&why);
    for (size_t i = 0; i < items->count; i++) {
        struct fl_dnsbl_spec spec;
        fl_buf_reset(&why);
        if (fl_dnsbl_spec_parse(items->items[i], kind, &spec, &why) < 0) {
            fl_buf_printf(errors, "error: %s: \"%s\": %s\n", setting, items->items[i],
                          why.data);
            rc = -1;
            continue;
        }
        if (kind == FL_DNSBL_SPEC_ERROR) {
            lists->errcodes = fl_realloc(lists->errcodes, (lists->nerrcodes + 1) *
                                                              sizeof(*lists->errcodes));
            lists->errcodes[lists->nerrcodes++] = spec;
            continue;
        }
        size_t l = find_or_add_list(lists, spec.zone, kind == FL_DNSBL_SPEC_DOMAIN);
        lists->lists[l].identities |= spec.identities;
        lists->entries =
            fl_realloc(lists->entries, (lists->nentries + 1) * sizeof(*lists->entries));
        lists->entries[lists->nentries].spec = spec;
        lists->entries[lists->nentries].list = l;
        lists->nentries++;
    }
    fl_buf_free(&why);
    return rc;
}

int fl_dnsbl_lists_create(const struct fl_config *cfg, struct fl_dnsbl_lists **lists_r,
                          struct fl_buf *errors)
{
    struct fl_dnsbl_lists *lists = fl_calloc(1, sizeof(*lists));
    lists->refcount = 1;
    int rc = 0;
    rc |= add_entries(lists, &cfg->dnsbl_sites, FL_DNSBL_SPEC_IP, "dnsbl_sites", errors);
    rc |= add_entries(lists, &cfg->rhsbl_sites, FL_DNSBL_SPEC_DOMAIN, "rhsbl_sites",
                      errors);
    rc |= add_entries(lists, &cfg->dnsbl_error_codes, FL_DNSBL_SPEC_ERROR,
                      "dnsbl_error_codes", errors);
    lists->threshold = (int)cfg->dnsbl_threshold;
    /* checked by the settings table: "-1000".."-1" */
    lists->allow_threshold = (int)strtol(cfg->dnsbl_allow_threshold, NULL, 10);
    lists->fetch_txt = cfg->dnsbl_fetch_txt;
    lists->reject_at_eom = cfg->dnsbl_reject_stage == FL_DNSBL_STAGE_EOM;
    lists->observe_all = cfg->dnsbl_mode == 1;
    lists->reply_code = cfg->dnsbl_reply_code == FL_DNSBL_REPLY_550 ? 550 : 554;
    lists->validating = cfg->dns_trust_anchor_file && *cfg->dns_trust_anchor_file;
    if (rc < 0) {
        fl_dnsbl_lists_unref(&lists);
        return -1;
    }
    *lists_r = lists;
    return 0;
}

struct fl_dnsbl_lists *fl_dnsbl_lists_ref(struct fl_dnsbl_lists *lists)
{
    __atomic_add_fetch(&lists->refcount, 1, __ATOMIC_RELAXED);
    return lists;
}

void fl_dnsbl_lists_unref(struct fl_dnsbl_lists **listsp)
{
    struct fl_dnsbl_lists *lists = *listsp;
    if (lists == NULL)
        return;
    *listsp = NULL;
    if (__atomic_sub_fetch(&lists->refcount, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t i = 0; i < lists->nlists; i++)
        free(lists->lists[i].zone);
    free(lists->lists);
    free(lists->entries);
    free(lists->errcodes);
    free(lists);
}

bool fl_dnsbl_lists_empty(const struct fl_dnsbl_lists *lists)
{
    return lists->nlists == 0;
}

static bool list_disabled(const struct fl_dnsbl_list *l)
{
    return __atomic_load_n(&l->disabled, __ATOMIC_RELAXED) != 0;
}

/* --- starting queries ----------------------------------------------------- */

static void add_query(struct fl_dnsbl *bl, size_t list, unsigned int ids,
                      const char *name, const char *qname, long long deadline_ms)
{
    struct fl_dnsbl_list *l = &bl->lists->lists[list];
    if (bl->nq == bl->capq) {
        bl->capq = bl->capq ? bl->capq * 2 : 8;
        bl->qs = fl_realloc(bl->qs, bl->capq * sizeof(*bl->qs));
    }
    struct fl_dnsbl_q *q = &bl->qs[bl->nq++];
    memset(q, 0, sizeof(*q));
    q->list = list;
    q->ids = ids;
    q->name = fl_strdup(name);
    if (list_disabled(l)) {
        q->disabled = true;
        return;
    }
    __atomic_add_fetch(&l->queries, 1, __ATOMIC_RELAXED);
    /* Both at once: the reject text then needs no extra round trip. */
    q->a = fl_dns_start(bl->dns, qname, FL_DNS_A, deadline_ms);
    if (bl->lists->fetch_txt)
        q->txt = fl_dns_start(bl->dns, qname, FL_DNS_TXT, deadline_ms);
}

/* The client address in canonical text form, IPv4-mapped IPv6 as IPv4. */
static bool canonical_ip(const char *in, char *out, size_t outlen)
{
    unsigned char a[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (in == NULL)
        return false;
    if (inet_pton(AF_INET, in, a) == 1)
        return inet_ntop(AF_INET, a, out, (socklen_t)outlen) != NULL;
    if (inet_pton(AF_INET6, in, a) != 1)
        return false;
    if (memcmp(a, mapped, 12) == 0)
        return inet_ntop(AF_INET, a + 12, out, (socklen_t)outlen) != NULL;
    return inet_ntop(AF_INET6, a, out, (socklen_t)outlen) != NULL;
}

struct fl_dnsbl *fl_dnsbl_start(struct fl_dnsbl_lists *lists, struct fl_dns *dns,
                                const char *client_ip, long long deadline_ms)
{
    struct fl_dnsbl *bl = fl_calloc(1, sizeof(*bl));
    bl->lists = fl_dnsbl_lists_ref(lists);
    bl->dns = dns;
    bl->deadline_ms = deadline_ms;
    bl->has_ip = canonical_ip(client_ip, bl->ip, sizeof(bl->ip));
    char qname[512];
    for (size_t i = 0; bl->has_ip && i < lists->nlists; i++) {
        if (lists->lists[i].domain)
            continue;
        if (fl_dnsbl_reverse_name(bl->ip, lists->lists[i].zone, qname, sizeof(qname)) !=
            0)
            add_query(bl, i, FL_DNSBL_ID_CLIENT, bl->ip, qname, deadline_ms);
    }
    return bl;
}

int fl_dnsbl_check_domain(struct fl_dnsbl *bl, enum fl_dnsbl_identity id,
                          const char *name, long long deadline_ms)
{
    char domain[256];
    if (id == FL_DNSBL_ID_CLIENT || fl_dnsbl_identity_name(id) == NULL)
        return 0;
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_dnsbl_domain_normalise(name, domain, sizeof(domain), &why);
    if (rc < 0)
        fl_debug("dnsbl identity=%s name not checked: %s", fl_dnsbl_identity_name(id),
                 why.data);
    fl_buf_free(&why);
    if (rc < 0)
        return 0;
    int started = 0;
    for (size_t i = 0; i < bl->lists->nlists; i++) {
        const struct fl_dnsbl_list *l = &bl->lists->lists[i];
        if (!l->domain || !(l->identities & (unsigned int)id))
            continue;
        bool seen = false;
        for (size_t k = 0; k < bl->nq && !seen; k++) {
            if (bl->qs[k].list == i && strcmp(bl->qs[k].name, domain) == 0) {
                bl->qs[k].ids |= (unsigned int)id;
                seen = true;
            }
        }
        char qname[512];
        int n = snprintf(qname, sizeof(qname), "%s.%s", domain, l->zone);
        if (seen || n < 0 || n > 253)
            continue;
        add_query(bl, i, (unsigned int)id, domain, qname,
                  deadline_ms > 0 ? deadline_ms : bl->deadline_ms);
        started++;
    }
    return started;
}

static void free_query(struct fl_dnsbl_q *q)
{
    fl_dns_query_free(&q->a);
    fl_dns_query_free(&q->txt);
    free(q->name);
}

void fl_dnsbl_new_message(struct fl_dnsbl *bl)
{
    const unsigned int message_ids = FL_DNSBL_ID_MAILFROM | FL_DNSBL_ID_FROM;
    size_t keep = 0;
    fl_dnsbl_clear_outcome(bl); /* its rows point at names freed here */
    for (size_t i = 0; i < bl->nq; i++) {
        struct fl_dnsbl_q *q = &bl->qs[i];
        q->ids &= ~message_ids;
        if (q->ids == 0) {
            free_query(q);
            continue;
        }
        bl->qs[keep++] = *q;
    }
    bl->nq = keep;
}

/* --- scoring -------------------------------------------------------------- */

const char *fl_dnsbl_answer_error(const struct fl_dnsbl_lists *lists, size_t l,
                                  unsigned int ids, const unsigned char addr[4])
{
    const char *zone = lists->lists[l].zone;
    if (addr[0] != 127)
        return fl_dnsbl_not_a_code;
    for (size_t i = 0; i < lists->nerrcodes; i++)
        if (fl_dnsbl_zone_under(zone, lists->errcodes[i].zone) &&
            fl_dnsbl_filter_match(&lists->errcodes[i].filter, addr))
            return fl_dnsbl_operator_code;
    const char *builtin = fl_dnsbl_builtin_error(zone, addr);
    if (builtin != NULL)
        return builtin;
    if (addr[1] == 255 && addr[2] == 255) {
        /* Reserved for errors, unless an entry asks for this net by name. */
        for (size_t i = 0; i < lists->nentries; i++) {
            const struct fl_dnsbl_entry *e = &lists->entries[i];
            if (e->list == l && (e->spec.identities & ids) && e->spec.filter_names_net &&
                fl_dnsbl_filter_match(&e->spec.filter, addr))
                return NULL;
        }
        return fl_dnsbl_generic_error(addr);
    }
    return NULL;
}

static void warn_limited(struct fl_dnsbl_list *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn_limited(struct fl_dnsbl_list *l, const char *fmt, ...)
{
    long long now = fl_monotonic_ms();
    long long last = __atomic_load_n(&l->last_warn_ms, __ATOMIC_RELAXED);
    if (last != 0 && now - last < FL_DNSBL_WARN_EVERY_MS)
        return;
    if (!__atomic_compare_exchange_n(&l->last_warn_ms, &last, now, false,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return; /* another thread just logged it */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fl_warn("%s", msg);
}

static const struct fl_dns_answer *wait_for(struct fl_dns_query *q, long long deadline_ms)
{
    return deadline_ms > 0 ? fl_dns_wait_until(q, deadline_ms) : fl_dns_wait(q);
}

/* Evaluates one query into its row; weights of entries already counted
   (counted[e]) are not added again. */
static void evaluate(struct fl_dnsbl *bl, struct fl_dnsbl_q *q, long long deadline_ms,
                     bool *counted, struct fl_dnsbl_check *c, struct fl_dnsbl_eval *ev)
{
    const struct fl_dnsbl_lists *lists = bl->lists;
    struct fl_dnsbl_list *l = &lists->lists[q->list];
    c->zone = l->zone;
    c->domain_list = l->domain;
    c->identities = q->ids;
    c->name = q->name;
    c->ms = -1;
    c->dns_status = FL_DNS_LOCAL;
    for (size_t e = 0; e < lists->nentries; e++)
        c->observed |= lists->entries[e].list == q->list &&
                       (lists->entries[e].spec.identities & q->ids) &&
                       (lists->entries[e].spec.observe || lists->observe_all);
    if (q->disabled) {
        c->status = FL_DNSBL_DISABLED;
        return;
    }
    const struct fl_dns_answer *a = wait_for(q->a, deadline_ms);
    if (a == NULL) {
        c->status = FL_DNSBL_UNAVAILABLE;
        c->dns_status = FL_DNS_TIMEOUT;
    } else {
        c->dns_status = a->status;
        c->ms = a->elapsed_ms;
        ev->dnssec = a->dnssec;
        if (a->status == FL_DNS_NXDOMAIN || a->status == FL_DNS_NODATA)
            c->status = FL_DNSBL_NOT_LISTED;
        else if (a->status != FL_DNS_OK)
            c->status = FL_DNSBL_UNAVAILABLE;
    }
    if (a != NULL && a->status == FL_DNS_OK) {
        struct fl_buf answers;
        fl_buf_init(&answers);
        const char *error = NULL;
        for (size_t i = 0; i < a->count; i++) {
            const unsigned char *addr = a->records[i].addr;
            if (a->records[i].type != FL_DNS_A)
                continue;
            if (i < 8)
                fl_buf_printf(&answers, "%s%u.%u.%u.%u", answers.len ? " " : "", addr[0],
                              addr[1], addr[2], addr[3]);
            else if (i == 8)
                fl_buf_puts(&answers, " ...");
            const char *e = fl_dnsbl_answer_error(lists, q->list, q->ids, addr);
            if (e != NULL && error == NULL) {
                error = e;
                char text[INET_ADDRSTRLEN];
                snprintf(text, sizeof(text), "%u.%u.%u.%u", addr[0], addr[1], addr[2],
                         addr[3]);
                ev->error_addr = fl_strdup(text);
                c->error_answer = ev->error_addr;
            }
        }
        ev->answers = fl_buf_steal(&answers);
        fl_buf_free(&answers);
        c->status = FL_DNSBL_NOT_LISTED;
        if (error != NULL) {
            /* One error code makes the whole answer untrustworthy. */
            c->status = FL_DNSBL_ERROR_CODE;
            c->error = error;
        }
        for (size_t e = 0; error == NULL && e < lists->nentries; e++) {
            const struct fl_dnsbl_entry *en = &lists->entries[e];
            if (en->list != q->list || !(en->spec.identities & q->ids))
                continue;
            bool match = false;
            for (size_t i = 0; i < a->count && !match; i++)
                match = a->records[i].type == FL_DNS_A &&
                        (!en->spec.has_filter ||
                         fl_dnsbl_filter_match(&en->spec.filter, a->records[i].addr));
            if (!match)
                continue;
            c->status = FL_DNSBL_LISTED;
            if (!counted[e]) {
                counted[e] = true;
                if (en->spec.observe || lists->observe_all)
                    c->observe_weight += en->spec.weight;
                else
                    c->weight += en->spec.weight;
            }
        }
    }
    c->answers = ev->answers ? ev->answers : "";
    if (c->status == FL_DNSBL_LISTED && q->txt != NULL) {
        const struct fl_dns_answer *t = wait_for(q->txt, deadline_ms);
        if (t != NULL && t->status == FL_DNS_OK && t->count > 0) {
            struct fl_buf txt;
            fl_buf_init(&txt);
            fl_sanitize_ascii_n(&txt, t->records[0].data, t->records[0].len,
                                FL_DNSBL_TXT_MAX);
            ev->txt = fl_buf_steal(&txt);
            fl_buf_free(&txt);
            c->txt = ev->txt;
        }
    }
    if (!q->counted) {
        q->counted = true;
        unsigned long *n = c->status == FL_DNSBL_LISTED       ? &l->listed
                           : c->status == FL_DNSBL_NOT_LISTED ? &l->not_listed
                           : c->status == FL_DNSBL_ERROR_CODE ? &l->error_codes
                           : c->dns_status == FL_DNS_TIMEOUT  ? &l->timeouts
                                                              : &l->failures;
        __atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
    }
    if (c->status == FL_DNSBL_ERROR_CODE)
        warn_limited(l, "dnsbl list=%s answer=%s fault=receiver: %s; the list is ignored",
                     l->zone, ev->error_addr, c->error);
    else if (c->status == FL_DNSBL_UNAVAILABLE)
        warn_limited(
            l,
            "dnsbl list=%s status=%s fault=receiver: the list did not answer; it is "
            "ignored",
            l->zone, fl_dns_status_name(c->dns_status));
}

const struct fl_dnsbl_outcome *fl_dnsbl_finish(struct fl_dnsbl *bl, long long deadline_ms)
{
    fl_dnsbl_clear_outcome(bl);
    size_t n = bl->nq;
    bl->checks = fl_calloc(n ? n : 1, sizeof(*bl->checks));
    bl->evals = fl_calloc(n ? n : 1, sizeof(*bl->evals));
    bool *counted = fl_calloc(bl->lists->nentries + 1, sizeof(*counted));
    int score = 0, observed = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        evaluate(bl, &bl->qs[i], deadline_ms, counted, &bl->checks[i], &bl->evals[i]);
        score += bl->checks[i].weight;
        observed += bl->checks[i].observe_weight;
        failed |= bl->checks[i].status == FL_DNSBL_UNAVAILABLE;
    }
    free(counted);
    bl->out.score = score;
    bl->out.observe_score = score + observed;
    bl->out.checks = bl->checks;
    bl->out.nchecks = n;
    /* Whose fault is a list that did not answer: the list's, or our
       resolver's?  Asked only then (lib/dns decides, and caches). */
    int probe_ok = -1;
    if (failed)
        probe_ok = fl_dns_fault(bl->dns, NULL) == FL_FAULT_SENDER;
    fl_dnsbl_build_outcome(bl, probe_ok);
    bl->have_outcome = true;
    return &bl->out;
}

void fl_dnsbl_free(struct fl_dnsbl **blp)
{
    struct fl_dnsbl *bl = *blp;
    if (bl == NULL)
        return;
    *blp = NULL;
    fl_dnsbl_clear_outcome(bl);
    for (size_t i = 0; i < bl->nq; i++)
        free_query(&bl->qs[i]);
    free(bl->qs);
    fl_dnsbl_lists_unref(&bl->lists);
    free(bl);
}
