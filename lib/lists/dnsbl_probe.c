/* dnsbl_probe: the health probe of the lists (RFC 5782 section 5 test
   entries) and their statistics.  A list that lists its INVALID entry
   (127.0.0.1, or "invalid" for domain lists) lists everything: it is
   broken, or its domain expired and was taken over, and would reject (or
   allow-list) every client; a list that does not list its TEST entry
   (127.0.0.2, or "test") is dead.  Both are disabled, loudly, until a
   later probe finds them healthy.  Called from the daemon's timer thread;
   the flags and counters it touches are atomic. */
#include "lib/lists/dnsbl_impl.h"
#include "lib/core/log.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fl_dnsbl_status_name(enum fl_dnsbl_status status)
{
    switch (status) {
    case FL_DNSBL_NOT_LISTED:
        return "not_listed";
    case FL_DNSBL_LISTED:
        return "listed";
    case FL_DNSBL_ERROR_CODE:
        return "error_code";
    case FL_DNSBL_UNAVAILABLE:
        return "unavailable";
    case FL_DNSBL_DISABLED:
        return "disabled";
    }
    return "?";
}

const char *fl_dnsbl_identity_name(enum fl_dnsbl_identity id)
{
    switch (id) {
    case FL_DNSBL_ID_CLIENT:
        return "client";
    case FL_DNSBL_ID_MAILFROM:
        return "mailfrom";
    case FL_DNSBL_ID_FROM:
        return "from";
    case FL_DNSBL_ID_HELO:
        return "helo";
    case FL_DNSBL_ID_PTR:
        return "ptr";
    }
    return NULL;
}

const char *fl_dnsbl_health_name(enum fl_dnsbl_health health)
{
    switch (health) {
    case FL_DNSBL_HEALTHY:
        return "healthy";
    case FL_DNSBL_LISTS_EVERYTHING:
        return "lists_everything";
    case FL_DNSBL_LISTS_NOTHING:
        return "lists_nothing";
    case FL_DNSBL_REFUSING:
        return "refusing";
    case FL_DNSBL_UNREACHABLE:
        return "unreachable";
    }
    return "?";
}

/* What one probe answer says. */
struct probe_answer {
    bool unavailable, listed, error, foreign;
    char first[INET_ADDRSTRLEN]; /* first A record, or "" */
    const char *error_meaning;
};

static void read_probe(const struct fl_dnsbl_lists *lists, size_t l,
                       const struct fl_dns_answer *a, struct probe_answer *p)
{
    memset(p, 0, sizeof(*p));
    if (a->status == FL_DNS_NXDOMAIN || a->status == FL_DNS_NODATA)
        return;
    if (a->status != FL_DNS_OK) {
        p->unavailable = true;
        return;
    }
    for (size_t i = 0; i < a->count; i++) {
        const unsigned char *addr = a->records[i].addr;
        if (i == 0)
            snprintf(p->first, sizeof(p->first), "%u.%u.%u.%u", addr[0], addr[1], addr[2],
                     addr[3]);
        const char *e = fl_dnsbl_answer_error(lists, l, ~0u, addr);
        if (addr[0] != 127)
            p->foreign = true;
        else if (e != NULL) {
            p->error = true;
            p->error_meaning = e;
        } else
            p->listed = true;
    }
}

static void judge(const struct fl_dnsbl_list *l, const struct probe_answer *test,
                  const struct probe_answer *invalid, struct fl_dnsbl_list_health *h)
{
    const char *test_name = l->domain ? "TEST" : "127.0.0.2";
    const char *invalid_name = l->domain ? "INVALID" : "127.0.0.1";
    if (invalid->listed || invalid->foreign) {
        h->health = FL_DNSBL_LISTS_EVERYTHING;
        snprintf(
            h->detail, sizeof(h->detail),
            "%s is listed (answer %s): the list is broken or its domain was taken over",
            invalid_name, invalid->first);
    } else if (test->error || invalid->error) {
        const struct probe_answer *p = test->error ? test : invalid;
        h->health = FL_DNSBL_REFUSING;
        snprintf(h->detail, sizeof(h->detail), "answered %s: %s", p->first,
                 p->error_meaning);
    } else if (test->unavailable || invalid->unavailable) {
        h->health = FL_DNSBL_UNREACHABLE;
        snprintf(h->detail, sizeof(h->detail),
                 "the list did not answer its test entries");
    } else if (!test->listed) {
        h->health = FL_DNSBL_LISTS_NOTHING;
        snprintf(h->detail, sizeof(h->detail),
                 "its test entry %s is not listed: the list is dead or not a DNS list",
                 test_name);
    } else {
        h->health = FL_DNSBL_HEALTHY;
        snprintf(h->detail, sizeof(h->detail), "%s listed (%s), %s not listed", test_name,
                 test->first, invalid_name);
    }
}

size_t fl_dnsbl_probe_lists(struct fl_dnsbl_lists *lists, struct fl_dns *dns,
                            long long deadline_ms, struct fl_dnsbl_list_health *out,
                            size_t max)
{
    size_t n = lists->nlists;
    struct fl_dns_query **q = fl_calloc(2 * n + 1, sizeof(*q));
    for (size_t i = 0; i < n; i++) {
        const struct fl_dnsbl_list *l = &lists->lists[i];
        char name[512];
        /* RFC 5782 5: 127.0.0.2 / TEST listed, 127.0.0.1 / INVALID not. */
        snprintf(name, sizeof(name), "%s.%s", l->domain ? "test" : "2.0.0.127", l->zone);
        q[2 * i] = fl_dns_start(dns, name, FL_DNS_A, deadline_ms);
        snprintf(name, sizeof(name), "%s.%s", l->domain ? "invalid" : "1.0.0.127",
                 l->zone);
        q[2 * i + 1] = fl_dns_start(dns, name, FL_DNS_A, deadline_ms);
    }
    for (size_t i = 0; i < n; i++) {
        struct fl_dnsbl_list *l = &lists->lists[i];
        struct probe_answer test, invalid;
        read_probe(lists, i, fl_dns_wait(q[2 * i]), &test);
        read_probe(lists, i, fl_dns_wait(q[2 * i + 1]), &invalid);
        fl_dns_query_free(&q[2 * i]);
        fl_dns_query_free(&q[2 * i + 1]);
        struct fl_dnsbl_list_health h;
        memset(&h, 0, sizeof(h));
        h.zone = l->zone;
        h.domain_list = l->domain;
        judge(l, &test, &invalid, &h);
        int was = __atomic_load_n(&l->disabled, __ATOMIC_RELAXED);
        int now = was;
        if (h.health == FL_DNSBL_LISTS_EVERYTHING || h.health == FL_DNSBL_LISTS_NOTHING)
            now = 1;
        else if (h.health == FL_DNSBL_HEALTHY)
            now = 0;
        __atomic_store_n(&l->disabled, now, __ATOMIC_RELAXED);
        h.disabled = now != 0;
        const char *health = fl_dnsbl_health_name(h.health);
        if (now)
            fl_error(
                "dnsbl list=%s health=%s action=disabled fault=receiver: %s; the list is "
                "ignored until it answers its test entries correctly",
                l->zone, health, h.detail);
        else if (was)
            fl_info("dnsbl list=%s health=%s action=enabled: %s", l->zone, health,
                    h.detail);
        else if (h.health != FL_DNSBL_HEALTHY)
            fl_warn("dnsbl list=%s health=%s fault=receiver: %s", l->zone, health,
                    h.detail);
        if (i < max)
            out[i] = h;
    }
    free(q);
    return n;
}

size_t fl_dnsbl_stats(const struct fl_dnsbl_lists *lists, struct fl_dnsbl_list_stats *out,
                      size_t max)
{
    for (size_t i = 0; i < lists->nlists && i < max; i++) {
        const struct fl_dnsbl_list *l = &lists->lists[i];
        struct fl_dnsbl_list_stats *s = &out[i];
        s->zone = l->zone;
        s->domain_list = l->domain;
        s->disabled = __atomic_load_n(&l->disabled, __ATOMIC_RELAXED) != 0;
        s->queries = __atomic_load_n(&l->queries, __ATOMIC_RELAXED);
        s->listed = __atomic_load_n(&l->listed, __ATOMIC_RELAXED);
        s->not_listed = __atomic_load_n(&l->not_listed, __ATOMIC_RELAXED);
        s->error_codes = __atomic_load_n(&l->error_codes, __ATOMIC_RELAXED);
        s->timeouts = __atomic_load_n(&l->timeouts, __ATOMIC_RELAXED);
        s->failures = __atomic_load_n(&l->failures, __ATOMIC_RELAXED);
    }
    return lists->nlists;
}
