/* ctl_report: `faultlinectl report [--since T] [--until T] [FILES...]` --
   what a day of verdict records says, for the people who tune the MX.

   Over the verdict logs of one or several MX hosts (milter/ctl_vlog.c):
   - sender-side faults by sender domain and cause, with the fix and the
     number of messages (and how many were refused for it);
   - receiver-side faults by cause (our resolver, a list refusing us, the
     greylist store), with a health line;
   - DNS lists: queries, listings, listings only this list made, overlap
     between lists, listings of mail that passed DKIM or DMARC for its own
     domain (the false-positive signal), error codes, timeouts, observed
     listings;
   - greylisting: deferred triplets, the share retried and passed (on any
     of the hosts read), retry delay percentiles, never retried,
     exemptions, observed deferrals, store errors.
   Text tables by default, --json for scripts.  One pass, no record kept:
   a million records take seconds (tests/bench/bench_report.sh).
   Single-threaded. */
#include "milter/ctl.h"
#include "milter/ctl_vlog.h"
#include "lib/xalloc.h"

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TOP 25
#define MAX_ZONES   64 /* lists tracked one by one (overlap matrix) */

/* --- a string-keyed hash map: key -> index into the caller's array ------- */

struct slot {
    char *key;
    uint64_t hash;
    size_t val;
};

struct smap {
    struct slot *slots;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void smap_grow(struct smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 256;
    struct slot *ns = fl_calloc(ncap, sizeof(*ns));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == NULL)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
}

/* Returns the value of key; when absent, stores next (the caller's new
   index) and sets *added. */
static size_t smap_get(struct smap *m, const char *key, size_t next, bool *added)
{
    if ((m->n + 1) * 2 > m->cap)
        smap_grow(m);
    uint64_t h = hash_str(key);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key != NULL) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
            *added = false;
            return m->slots[j].val;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j].key = fl_strdup(key);
    m->slots[j].hash = h;
    m->slots[j].val = next;
    m->n++;
    *added = true;
    return next;
}

static void smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* --- the aggregates ----------------------------------------------------------- */

struct fault_row {
    char *domain; /* sender faults only */
    char *method, *result, *reason;
    char *detail; /* the latest: the fix */
    unsigned long messages, refused;
    bool transient;
};

struct zone_row {
    char *zone;
    unsigned long queries, listed, only, fp_signal, auth_known, observed, errors, unavailable,
        disabled, refused;
    struct smap codes; /* error code -> index into code_counts */
    unsigned long *code_counts;
    size_t ncodes;
};

struct triplet {
    unsigned int deferrals;
    bool passed;
};

struct report {
    size_t top;
    unsigned long records, accepted, refused, deferred, quarantined;
    unsigned long fault_sender, fault_receiver, observed_refuse, observed_defer;
    unsigned long receiver_refused; /* deferred or refused with fault=receiver */
    char first[32], last[32];
    /* per input file */
    char **file_names;
    unsigned long *file_records;
    size_t nfiles;
    const char *cur_file;
    /* sender and receiver faults */
    struct smap sender_map, receiver_map;
    struct fault_row *sender, *receiver;
    size_t nsender, nreceiver;
    /* DNS lists */
    struct smap zone_map;
    struct zone_row *zones;
    size_t nzones;
    unsigned long overlap[MAX_ZONES][MAX_ZONES];
    unsigned long list_records, listed_records;
    /* greylisting */
    struct smap trip_map;
    struct triplet *trips;
    size_t ntrips, captrips;
    long *waits;
    size_t nwaits, capwaits;
    struct smap exempt_map;
    unsigned long *exempt_counts;
    size_t nexempt;
    unsigned long grey_store_errors, grey_observed, grey_passes;
};

#define GROW(arr, n, extra)                                                     \
    do {                                                                        \
        (arr) = fl_realloc((arr), ((n) + (extra)) * sizeof(*(arr)));           \
    } while (0)

static bool str_is(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

static char *dup_or(const char *s, const char *def)
{
    return fl_strdup(s ? s : def);
}

static const char *prop(const struct fl_cj *cj, const struct fl_cj_node *c, const char *key)
{
    return fl_cj_gets(cj, fl_cj_get(cj, c, "props"), key);
}

/* The sender domain a sender-side fault is filed under. */
static const char *fault_domain(const struct fl_cj *cj, const struct fl_cj_node *rec,
                                const struct fl_cj_node *c, const char *method)
{
    const char *d = NULL;
    if (str_is(method, "dkim"))
        d = prop(cj, c, "header.d");
    else if (str_is(method, "dmarc"))
        d = prop(cj, c, "header.from");
    else if (str_is(method, "spf"))
        d = fl_vlog_domain(prop(cj, c, "smtp.mailfrom"));
    if (d == NULL)
        d = fl_vlog_domain(fl_cj_gets(cj, rec, "mail_from"));
    if (d == NULL) {
        const struct fl_cj_node *client = fl_cj_get(cj, rec, "client");
        d = fl_cj_gets(cj, client, "helo");
    }
    return d ? d : "(none)";
}

static void count_fault(struct report *r, bool sender, const char *domain, const char *method,
                        const char *result, const char *reason, const char *detail,
                        bool transient, bool refused)
{
    struct fl_buf key;
    fl_buf_init(&key);
    fl_buf_printf(&key, "%s\t%s\t%s", domain ? domain : "", method ? method : "?",
                  reason ? reason : (result ? result : "?"));
    struct smap *m = sender ? &r->sender_map : &r->receiver_map;
    struct fault_row **rows = sender ? &r->sender : &r->receiver;
    size_t *n = sender ? &r->nsender : &r->nreceiver;
    bool added;
    size_t i = smap_get(m, key.data, *n, &added);
    fl_buf_free(&key);
    if (added) {
        GROW(*rows, *n, 1);
        struct fault_row *f = &(*rows)[(*n)++];
        memset(f, 0, sizeof(*f));
        f->domain = dup_or(domain, "");
        f->method = dup_or(method, "?");
        f->result = dup_or(result, "?");
        f->reason = dup_or(reason, "");
    }
    struct fault_row *f = &(*rows)[i];
    f->messages++;
    f->refused += refused;
    f->transient |= transient;
    if (detail != NULL && (f->detail == NULL || strcmp(f->detail, detail) != 0)) {
        free(f->detail);
        f->detail = fl_strdup(detail);
    }
}

static size_t zone_index(struct report *r, const char *zone)
{
    bool added;
    size_t i = smap_get(&r->zone_map, zone, r->nzones, &added);
    if (added) {
        GROW(r->zones, r->nzones, 1);
        memset(&r->zones[r->nzones], 0, sizeof(r->zones[0]));
        r->zones[r->nzones++].zone = fl_strdup(zone);
    }
    return i;
}

/* Passed DKIM or DMARC for its own domain: a listing of it is suspect. */
static bool authenticated_for_own_domain(const struct fl_cj *cj, const struct fl_cj_node *rec,
                                         bool *known)
{
    const char *from = fl_vlog_domain(fl_cj_gets(cj, rec, "mail_from"));
    const char *hfrom = NULL;
    bool pass = false;
    const struct fl_cj_node *checks = fl_cj_get(cj, rec, "checks");
    for (const struct fl_cj_node *c = fl_cj_first(cj, checks); c; c = fl_cj_next(cj, c)) {
        const char *m = fl_cj_gets(cj, c, "method");
        if (str_is(m, "dmarc")) {
            *known = true;
            hfrom = prop(cj, c, "header.from");
            pass |= str_is(fl_cj_gets(cj, c, "result"), "pass");
        }
    }
    for (const struct fl_cj_node *c = fl_cj_first(cj, checks); c && !pass;
         c = fl_cj_next(cj, c)) {
        if (!str_is(fl_cj_gets(cj, c, "method"), "dkim"))
            continue;
        *known = true;
        const char *d = prop(cj, c, "header.d");
        if (!str_is(fl_cj_gets(cj, c, "result"), "pass") || d == NULL)
            continue;
        const char *own[2] = {from, hfrom};
        for (int k = 0; k < 2; k++) {
            if (own[k] == NULL)
                continue;
            size_t ld = strlen(d), lo = strlen(own[k]);
            /* the same domain, or one under the other (relaxed alignment) */
            if (strcasecmp(d, own[k]) == 0 ||
                (lo > ld && own[k][lo - ld - 1] == '.' && strcasecmp(own[k] + lo - ld, d) == 0) ||
                (ld > lo && d[ld - lo - 1] == '.' && strcasecmp(d + ld - lo, own[k]) == 0))
                pass = true;
        }
    }
    return pass;
}

static void count_lists(struct report *r, const struct fl_cj *cj, const struct fl_cj_node *rec,
                        const struct fl_cj_node *c, bool refused_by_lists)
{
    size_t listed[MAX_ZONES], nlisted = 0;
    const struct fl_cj_node *lists = fl_cj_get(cj, c, "lists");
    if (lists == NULL)
        return;
    r->list_records++;
    for (const struct fl_cj_node *l = fl_cj_first(cj, lists); l; l = fl_cj_next(cj, l)) {
        const char *zone = fl_cj_gets(cj, l, "list");
        const char *status = fl_cj_gets(cj, l, "status");
        if (zone == NULL || status == NULL)
            continue;
        size_t z = zone_index(r, zone);
        struct zone_row *zr = &r->zones[z];
        if (str_is(status, "disabled")) {
            zr->disabled++;
            continue;
        }
        zr->queries++;
        if (str_is(status, "listed")) {
            bool observed = fl_cj_true(fl_cj_get(cj, l, "observe")) &&
                            fl_cj_num(fl_cj_get(cj, l, "weight"), 0) == 0;
            zr->listed++;
            zr->observed += observed;
            zr->refused += refused_by_lists && !observed;
            bool seen = false;
            for (size_t k = 0; k < nlisted; k++)
                seen |= listed[k] == z;
            if (!seen && nlisted < MAX_ZONES)
                listed[nlisted++] = z;
        } else if (str_is(status, "error_code")) {
            zr->errors++;
            const char *code = fl_cj_gets(cj, l, "error_code");
            bool added;
            size_t k = smap_get(&zr->codes, code ? code : "?", zr->ncodes, &added);
            if (added) {
                GROW(zr->code_counts, zr->ncodes, 1);
                zr->code_counts[zr->ncodes++] = 0;
            }
            zr->code_counts[k]++;
        } else if (str_is(status, "unavailable")) {
            zr->unavailable++;
        }
    }
    if (nlisted == 0)
        return;
    r->listed_records++;
    bool known = false;
    bool fp = authenticated_for_own_domain(cj, rec, &known);
    for (size_t a = 0; a < nlisted; a++) {
        struct zone_row *zr = &r->zones[listed[a]];
        zr->only += nlisted == 1;
        zr->fp_signal += fp;
        zr->auth_known += known;
        for (size_t b = 0; b < nlisted; b++)
            if (a != b && listed[a] < MAX_ZONES && listed[b] < MAX_ZONES)
                r->overlap[listed[a]][listed[b]]++;
    }
}

static void count_greylist(struct report *r, const struct fl_cj *cj, const struct fl_cj_node *c)
{
    const char *result = fl_cj_gets(cj, c, "result");
    const char *reason = fl_cj_gets(cj, c, "reason");
    const struct fl_cj_node *ob = fl_cj_get(cj, c, "observe");
    if (str_is(reason, "greylist.store_down")) {
        r->grey_store_errors++;
        return;
    }
    const char *ex = prop(cj, c, "policy.exempt");
    if (str_is(result, "skipped") && ex != NULL) {
        bool added;
        size_t k = smap_get(&r->exempt_map, ex, r->nexempt, &added);
        if (added) {
            GROW(r->exempt_counts, r->nexempt, 1);
            r->exempt_counts[r->nexempt++] = 0;
        }
        r->exempt_counts[k]++;
        return;
    }
    const char *net = prop(cj, c, "policy.client-net");
    const char *from = prop(cj, c, "smtp.mailfrom");
    const char *to = prop(cj, c, "smtp.rcptto");
    bool defer = str_is(result, "policy");
    bool pass = str_is(result, "pass");
    if (ob != NULL && defer)
        r->grey_observed++;
    const char *waited = prop(cj, c, "policy.waited");
    if (pass && waited != NULL) {
        r->grey_passes++;
        if (r->nwaits == r->capwaits) {
            r->capwaits = r->capwaits ? r->capwaits * 2 : 1024;
            r->waits = fl_realloc(r->waits, r->capwaits * sizeof(*r->waits));
        }
        r->waits[r->nwaits++] = strtol(waited, NULL, 10);
    }
    if (net == NULL || (!defer && !(pass && waited != NULL)))
        return;
    struct fl_buf key;
    fl_buf_init(&key);
    fl_buf_printf(&key, "%s|%s|%s", net, from ? from : "", to ? to : "");
    bool added;
    size_t i = smap_get(&r->trip_map, key.data, r->ntrips, &added);
    fl_buf_free(&key);
    if (added) {
        if (r->ntrips == r->captrips) {
            r->captrips = r->captrips ? r->captrips * 2 : 1024;
            r->trips = fl_realloc(r->trips, r->captrips * sizeof(*r->trips));
        }
        memset(&r->trips[r->ntrips++], 0, sizeof(*r->trips));
    }
    if (defer)
        r->trips[i].deferrals++;
    else
        r->trips[i].passed = true;
}

static int on_record(const struct fl_cj *cj, const struct fl_cj_node *rec, const char *file,
                     unsigned long line, void *arg)
{
    (void)line;
    struct report *r = arg;
    if (r->cur_file != file) {
        r->cur_file = file;
        GROW(r->file_names, r->nfiles, 1);
        GROW(r->file_records, r->nfiles, 1);
        r->file_names[r->nfiles] = fl_strdup(file);
        r->file_records[r->nfiles++] = 0;
    }
    r->file_records[r->nfiles - 1]++;
    r->records++;
    const char *t = fl_cj_gets(cj, rec, "time");
    if (t != NULL && (r->first[0] == '\0' || strcmp(t, r->first) < 0))
        snprintf(r->first, sizeof(r->first), "%s", t);
    if (t != NULL && strcmp(t, r->last) > 0)
        snprintf(r->last, sizeof(r->last), "%s", t);
    const char *action = fl_cj_gets(cj, rec, "action");
    bool refused = str_is(action, "reject"), deferred = str_is(action, "tempfail");
    r->refused += refused;
    r->deferred += deferred;
    r->quarantined += str_is(action, "quarantine");
    r->accepted += !refused && !deferred && !str_is(action, "quarantine");
    const char *vfault = fl_cj_gets(cj, rec, "fault");
    r->fault_sender += str_is(vfault, "sender");
    r->fault_receiver += str_is(vfault, "receiver");
    r->receiver_refused += str_is(vfault, "receiver") && (refused || deferred);
    const char *vreason = fl_cj_gets(cj, rec, "reason");
    const struct fl_cj_node *checks = fl_cj_get(cj, rec, "checks");
    for (const struct fl_cj_node *c = fl_cj_first(cj, checks); c; c = fl_cj_next(cj, c)) {
        const char *method = fl_cj_gets(cj, c, "method");
        const char *fault = fl_cj_gets(cj, c, "fault");
        const char *reason = fl_cj_gets(cj, c, "reason");
        const struct fl_cj_node *ob = fl_cj_get(cj, c, "observe");
        if (ob != NULL) {
            const char *oa = fl_cj_gets(cj, ob, "action");
            r->observed_refuse += str_is(oa, "reject");
            r->observed_defer += str_is(oa, "tempfail");
        }
        bool decided = (refused || deferred) && reason != NULL && str_is(vreason, reason);
        if (str_is(fault, "sender") || str_is(fault, "receiver")) {
            bool sender = str_is(fault, "sender");
            char cause[128];
            snprintf(cause, sizeof(cause), "%s%s", reason ? reason : "",
                     ob != NULL ? " (observed)" : "");
            count_fault(r, sender, sender ? fault_domain(cj, rec, c, method) : NULL, method,
                        fl_cj_gets(cj, c, "result"), cause, fl_cj_gets(cj, c, "detail"),
                        fl_cj_true(fl_cj_get(cj, c, "transient")), decided);
        }
        if (str_is(method, "dnsbl"))
            count_lists(r, cj, rec, c, decided);
        else if (str_is(method, "greylist"))
            count_greylist(r, cj, c);
    }
    return 0;
}

/* --- output -------------------------------------------------------------------- */

static int by_messages(const void *a, const void *b)
{
    const struct fault_row *x = a, *y = b;
    if (x->messages != y->messages)
        return x->messages > y->messages ? -1 : 1;
    int d = strcmp(x->domain, y->domain);
    return d ? d : strcmp(x->reason, y->reason);
}

static int by_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long percentile(const long *v, size_t n, int p)
{
    if (n == 0)
        return 0;
    /* nearest rank: the smallest value with at least p% at or below it */
    size_t rank = (size_t)((p * n + 99) / 100);
    return v[rank > 0 ? rank - 1 : 0];
}

static double pct(unsigned long part, unsigned long whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

struct grey_summary {
    unsigned long triplets, passed, retried_not_passed, never_retried;
    long p50, p90, p99, max;
};

static void grey_summary(struct report *r, struct grey_summary *g)
{
    memset(g, 0, sizeof(*g));
    for (size_t i = 0; i < r->ntrips; i++) {
        const struct triplet *t = &r->trips[i];
        if (t->deferrals == 0)
            continue; /* a pass whose deferral is outside what was read */
        g->triplets++;
        if (t->passed)
            g->passed++;
        else if (t->deferrals > 1)
            g->retried_not_passed++;
        else
            g->never_retried++;
    }
    qsort(r->waits, r->nwaits, sizeof(*r->waits), by_long);
    g->p50 = percentile(r->waits, r->nwaits, 50);
    g->p90 = percentile(r->waits, r->nwaits, 90);
    g->p99 = percentile(r->waits, r->nwaits, 99);
    g->max = r->nwaits ? r->waits[r->nwaits - 1] : 0;
}

static const char *health_word(unsigned long faults, unsigned long records)
{
    if (faults == 0)
        return "healthy";
    return pct(faults, records) < 1.0 ? "minor faults" : "needs attention";
}

static unsigned long receiver_messages(const struct report *r)
{
    /* one message may have several receiver-side faults: the verdict's
       fault counts it once, the rows count causes */
    unsigned long n = 0;
    for (size_t i = 0; i < r->nreceiver; i++)
        n += r->receiver[i].messages;
    return n;
}

static void print_text(struct report *r, const struct fl_vlog_stats *st, FILE *out)
{
    fprintf(out, "faultline report: %lu records from %lu files", r->records, st->files);
    if (r->records)
        fprintf(out, ", %s .. %s", r->first, r->last);
    fputc('\n', out);
    for (size_t i = 0; i < r->nfiles; i++)
        fprintf(out, "  %s: %lu records\n", r->file_names[i], r->file_records[i]);
    if (st->skipped || st->nproblems)
        fprintf(out, "  %lu lines skipped (each reported on stderr with file:line)\n",
                st->skipped);
    fprintf(out,
            "  accepted %lu, refused %lu, deferred %lu, quarantined %lu; "
            "fault=sender %lu, fault=receiver %lu\n",
            r->accepted, r->refused, r->deferred, r->quarantined, r->fault_sender,
            r->fault_receiver);
    if (r->observed_refuse || r->observed_defer)
        fprintf(out, "  observe mode: would have refused %lu, would have deferred %lu\n",
                r->observed_refuse, r->observed_defer);

    fputs("\nSender-side faults (the sender must fix them), by sender domain and cause\n", out);
    if (r->nsender == 0)
        fputs("  none\n", out);
    else
        fprintf(out, "  %-28s %-8s %-10s %-26s %8s %8s\n", "DOMAIN", "CHECK", "RESULT",
                "CAUSE", "MESSAGES", "REFUSED");
    qsort(r->sender, r->nsender, sizeof(*r->sender), by_messages);
    for (size_t i = 0; i < r->nsender && i < r->top; i++) {
        const struct fault_row *f = &r->sender[i];
        fprintf(out, "  %-28s %-8s %-10s %-26s %8lu %8lu\n", f->domain, f->method, f->result,
                f->reason, f->messages, f->refused);
        if (f->detail)
            fprintf(out, "      fix: %s\n", f->detail);
    }
    if (r->nsender > r->top)
        fprintf(out, "  ... %zu more (--top)\n", r->nsender - r->top);

    fputs("\nReceiver-side faults (ours to fix), by cause\n", out);
    if (r->nreceiver == 0)
        fputs("  none\n", out);
    else
        fprintf(out, "  %-28s %-8s %-10s %8s %8s\n", "CAUSE", "CHECK", "RESULT", "MESSAGES",
                "DEFERRED");
    qsort(r->receiver, r->nreceiver, sizeof(*r->receiver), by_messages);
    for (size_t i = 0; i < r->nreceiver; i++) {
        const struct fault_row *f = &r->receiver[i];
        fprintf(out, "  %-28s %-8s %-10s %8lu %8lu\n", f->reason, f->method, f->result,
                f->messages, f->refused);
        if (f->detail)
            fprintf(out, "      latest: %s\n", f->detail);
    }
    unsigned long rm = receiver_messages(r);
    fprintf(out,
            "  Health: %s -- %lu faults on our side in %lu messages (%.2f%%); %lu messages "
            "deferred or refused because of us\n",
            health_word(rm, r->records), rm, r->records, pct(rm, r->records),
            r->receiver_refused);

    fputs("\nDNS lists\n", out);
    if (r->nzones == 0) {
        fputs("  no list was asked\n", out);
    } else {
        fprintf(out, "  %-24s %8s %7s %6s %9s %8s %7s %7s %8s\n", "LIST", "QUERIES", "LISTED",
                "ONLY", "FP-SIGNAL", "OBSERVED", "ERRORS", "NO-ANS", "REFUSED");
        for (size_t i = 0; i < r->nzones; i++) {
            const struct zone_row *z = &r->zones[i];
            fprintf(out, "  %-24s %8lu %7lu %6lu %9lu %8lu %7lu %7lu %8lu\n", z->zone,
                    z->queries, z->listed, z->only, z->fp_signal, z->observed, z->errors,
                    z->unavailable, z->refused);
        }
        fputs("  ONLY: listings no other list made; FP-SIGNAL: listings of mail that passed "
              "DKIM or\n  DMARC for its own domain (check these); NO-ANS: timeouts and "
              "SERVFAILs\n",
              out);
        for (size_t i = 0; i < r->nzones; i++) {
            const struct zone_row *z = &r->zones[i];
            for (size_t k = 0; k < z->codes.cap; k++)
                if (z->codes.slots[k].key != NULL)
                    fprintf(out, "  error code: %s answered %s %lu times (not a listing; "
                                 "ours to fix)\n",
                            z->zone, z->codes.slots[k].key,
                            z->code_counts[z->codes.slots[k].val]);
        }
        bool any = false;
        for (size_t a = 0; a < r->nzones && a < MAX_ZONES; a++)
            for (size_t b = a + 1; b < r->nzones && b < MAX_ZONES; b++)
                if (r->overlap[a][b]) {
                    if (!any)
                        fputs("  overlap (messages listed by both):\n", out);
                    any = true;
                    fprintf(out, "    %s + %s: %lu\n", r->zones[a].zone, r->zones[b].zone,
                            r->overlap[a][b]);
                }
    }

    struct grey_summary g;
    grey_summary(r, &g);
    fputs("\nGreylisting\n", out);
    fprintf(out,
            "  deferred triplets %lu: retried and passed %lu (%.1f%%), retried but not "
            "passed %lu, never retried %lu\n",
            g.triplets, g.passed, pct(g.passed, g.triplets), g.retried_not_passed,
            g.never_retried);
    if (r->nwaits)
        fprintf(out, "  retry delay: p50 %lds, p90 %lds, p99 %lds, max %lds (%zu retries)\n",
                g.p50, g.p90, g.p99, g.max, r->nwaits);
    fputs("  exemptions:", out);
    if (r->nexempt == 0)
        fputs(" none", out);
    for (size_t k = 0; k < r->exempt_map.cap; k++)
        if (r->exempt_map.slots[k].key != NULL)
            fprintf(out, " %s %lu", r->exempt_map.slots[k].key,
                    r->exempt_counts[r->exempt_map.slots[k].val]);
    fputc('\n', out);
    fprintf(out, "  observe mode, would have deferred: %lu; store errors: %lu\n",
            r->grey_observed, r->grey_store_errors);
}

static json_t *fault_rows_json(const struct fault_row *rows, size_t n, size_t top, bool sender)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && i < top; i++) {
        const struct fault_row *f = &rows[i];
        json_t *o = json_object();
        if (sender)
            json_object_set_new(o, "domain", json_string(f->domain));
        json_object_set_new(o, "check", json_string(f->method));
        json_object_set_new(o, "result", json_string(f->result));
        json_object_set_new(o, "cause", json_string(f->reason));
        json_object_set_new(o, "messages", json_integer((json_int_t)f->messages));
        json_object_set_new(o, sender ? "refused" : "deferred_or_refused",
                            json_integer((json_int_t)f->refused));
        json_object_set_new(o, sender ? "fix" : "latest",
                            f->detail ? json_string(f->detail) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *to_json(struct report *r, const struct fl_vlog_stats *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "records", json_integer((json_int_t)r->records));
    json_object_set_new(o, "first", r->records ? json_string(r->first) : json_null());
    json_object_set_new(o, "last", r->records ? json_string(r->last) : json_null());
    json_t *files = json_array();
    for (size_t i = 0; i < r->nfiles; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "file", json_string(r->file_names[i]));
        json_object_set_new(f, "records", json_integer((json_int_t)r->file_records[i]));
        json_array_append_new(files, f);
    }
    json_object_set_new(o, "files", files);
    json_object_set_new(o, "skipped_lines", json_integer((json_int_t)st->skipped));
    json_t *act = json_object();
    json_object_set_new(act, "accepted", json_integer((json_int_t)r->accepted));
    json_object_set_new(act, "refused", json_integer((json_int_t)r->refused));
    json_object_set_new(act, "deferred", json_integer((json_int_t)r->deferred));
    json_object_set_new(act, "quarantined", json_integer((json_int_t)r->quarantined));
    json_object_set_new(act, "observe_would_refuse", json_integer((json_int_t)r->observed_refuse));
    json_object_set_new(act, "observe_would_defer", json_integer((json_int_t)r->observed_defer));
    json_object_set_new(o, "actions", act);
    qsort(r->sender, r->nsender, sizeof(*r->sender), by_messages);
    qsort(r->receiver, r->nreceiver, sizeof(*r->receiver), by_messages);
    json_object_set_new(o, "sender_faults", fault_rows_json(r->sender, r->nsender, r->top, true));
    json_object_set_new(o, "sender_fault_groups", json_integer((json_int_t)r->nsender));
    json_object_set_new(o, "receiver_faults",
                        fault_rows_json(r->receiver, r->nreceiver, (size_t)-1, false));
    unsigned long rm = receiver_messages(r);
    json_t *h = json_object();
    json_object_set_new(h, "status", json_string(health_word(rm, r->records)));
    json_object_set_new(h, "faults", json_integer((json_int_t)rm));
    json_object_set_new(h, "percent", json_real(pct(rm, r->records)));
    json_object_set_new(o, "receiver_health", h);
    json_t *lists = json_array();
    for (size_t i = 0; i < r->nzones; i++) {
        const struct zone_row *z = &r->zones[i];
        json_t *l = json_object();
        json_object_set_new(l, "list", json_string(z->zone));
        json_object_set_new(l, "queries", json_integer((json_int_t)z->queries));
        json_object_set_new(l, "listed", json_integer((json_int_t)z->listed));
        json_object_set_new(l, "listed_only_here", json_integer((json_int_t)z->only));
        json_object_set_new(l, "listed_but_authenticated", json_integer((json_int_t)z->fp_signal));
        json_object_set_new(l, "listed_with_auth_known", json_integer((json_int_t)z->auth_known));
        json_object_set_new(l, "observed", json_integer((json_int_t)z->observed));
        json_object_set_new(l, "refused", json_integer((json_int_t)z->refused));
        json_object_set_new(l, "unavailable", json_integer((json_int_t)z->unavailable));
        json_object_set_new(l, "disabled", json_integer((json_int_t)z->disabled));
        json_t *codes = json_object();
        for (size_t k = 0; k < z->codes.cap; k++)
            if (z->codes.slots[k].key != NULL)
                json_object_set_new(codes, z->codes.slots[k].key,
                                    json_integer((json_int_t)z->code_counts[z->codes.slots[k].val]));
        json_object_set_new(l, "error_codes", codes);
        json_t *ov = json_object();
        for (size_t b = 0; b < r->nzones && i < MAX_ZONES && b < MAX_ZONES; b++)
            if (r->overlap[i][b])
                json_object_set_new(ov, r->zones[b].zone,
                                    json_integer((json_int_t)r->overlap[i][b]));
        json_object_set_new(l, "overlap", ov);
        json_array_append_new(lists, l);
    }
    json_object_set_new(o, "dns_lists", lists);
    struct grey_summary g;
    grey_summary(r, &g);
    json_t *gl = json_object();
    json_object_set_new(gl, "deferred_triplets", json_integer((json_int_t)g.triplets));
    json_object_set_new(gl, "retried_and_passed", json_integer((json_int_t)g.passed));
    json_object_set_new(gl, "retried_not_passed", json_integer((json_int_t)g.retried_not_passed));
    json_object_set_new(gl, "never_retried", json_integer((json_int_t)g.never_retried));
    json_object_set_new(gl, "passed_percent", json_real(pct(g.passed, g.triplets)));
    json_t *d = json_object();
    json_object_set_new(d, "retries", json_integer((json_int_t)r->nwaits));
    json_object_set_new(d, "p50", json_integer(g.p50));
    json_object_set_new(d, "p90", json_integer(g.p90));
    json_object_set_new(d, "p99", json_integer(g.p99));
    json_object_set_new(d, "max", json_integer(g.max));
    json_object_set_new(gl, "retry_delay_seconds", d);
    json_t *ex = json_object();
    for (size_t k = 0; k < r->exempt_map.cap; k++)
        if (r->exempt_map.slots[k].key != NULL)
            json_object_set_new(ex, r->exempt_map.slots[k].key,
                                json_integer((json_int_t)r->exempt_counts[r->exempt_map.slots[k].val]));
    json_object_set_new(gl, "exemptions", ex);
    json_object_set_new(gl, "observe_would_defer", json_integer((json_int_t)r->grey_observed));
    json_object_set_new(gl, "store_errors", json_integer((json_int_t)r->grey_store_errors));
    json_object_set_new(o, "greylisting", gl);
    json_object_set_new(o, "problems", fl_vlog_problems_json(st));
    return o;
}

static void free_rows(struct fault_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].domain);
        free(rows[i].method);
        free(rows[i].result);
        free(rows[i].reason);
        free(rows[i].detail);
    }
    free(rows);
}

static void report_free(struct report *r)
{
    free_rows(r->sender, r->nsender);
    free_rows(r->receiver, r->nreceiver);
    smap_free(&r->sender_map);
    smap_free(&r->receiver_map);
    for (size_t i = 0; i < r->nzones; i++) {
        free(r->zones[i].zone);
        smap_free(&r->zones[i].codes);
        free(r->zones[i].code_counts);
    }
    free(r->zones);
    smap_free(&r->zone_map);
    smap_free(&r->trip_map);
    free(r->trips);
    free(r->waits);
    smap_free(&r->exempt_map);
    free(r->exempt_counts);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->file_names[i]);
    free(r->file_names);
    free(r->file_records);
}

static void usage(FILE *out)
{
    fputs("usage: faultlinectl [-c FILE] report [--json] [--since T] [--until T] [--top N]\n"
          "                    [VERDICT-LOG...]\n"
          "  Verdict logs of one or several MX hosts (.gz too); without files,\n"
          "  verdict_log and its rotations.  T: 2026-12-01, 2026-12-01T10:00[:00]\n"
          "  (UTC), or 90m/24h/7d ago.  --top: sender-fault rows shown (25).\n"
          "exit status: 0, 64 usage, 66 no log readable, 78 configuration errors\n",
          out);
}

int fl_ctl_report(const struct fl_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"since", required_argument, NULL, 's'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"top", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct fl_vlog_window win = {{0}, {0}};
    bool json = false;
    struct report *r = fl_calloc(1, sizeof(*r));
    r->top = DEFAULT_TOP;
    int opt;
    optind = 0; /* glibc: a full re-initialisation after main's getopt */
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = true;
            break;
        case 's':
        case 'u':
            if (fl_vlog_parse_time(optarg, opt == 'u', opt == 's' ? win.since : win.until) <
                0) {
                fprintf(stderr, "faultlinectl: report: bad time \"%s\"\n", optarg);
                usage(stderr);
                free(r);
                return FL_CTL_USAGE;
            }
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 1) {
                fprintf(stderr, "faultlinectl: report: bad --top \"%s\"\n", optarg);
                free(r);
                return FL_CTL_USAGE;
            }
            r->top = (size_t)n;
            break;
        }
        case 'h':
            usage(stdout);
            free(r);
            return FL_CTL_OK;
        default:
            usage(stderr);
            free(r);
            return FL_CTL_USAGE;
        }
    }
    char **files = NULL;
    size_t nfiles;
    bool own_files = optind >= argc;
    if (!own_files) {
        files = argv + optind;
        nfiles = (size_t)(argc - optind);
    } else {
        const char *why;
        int n = fl_vlog_default_files(cfg, &files, &why);
        if (n < 0) {
            fprintf(stderr, "faultlinectl: report: %s\n", why);
            free(r);
            return FL_CTL_USAGE;
        }
        nfiles = (size_t)n;
    }
    struct fl_vlog_stats st = {0};
    int rc = fl_vlog_read(files, nfiles, &win, json, on_record, r, &st);
    if (own_files)
        fl_vlog_free_files(files);
    if (json) {
        json_t *o = to_json(r, &st);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4));
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        print_text(r, &st, stdout);
    }
    report_free(r);
    free(r);
    fl_vlog_stats_free(&st);
    return rc < 0 ? FL_CTL_NOINPUT : FL_CTL_OK;
}
