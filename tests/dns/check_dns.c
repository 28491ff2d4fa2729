/* check_dns: lib/dns against the hermetic test DNS server
   (tests/dns/fakedns.py): every status reached on purpose, record parsing
   per type, CNAME chains, long and big TXT (TCP fallback), the cache,
   deadlines, 1,000 concurrent queries, the resolver probe, and the libspf2
   and libopendkim adapters answering through lib/dns. */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/dkim/dns_dkim.h"
#include "lib/dns/dns_parse.h"
#include "lib/spf/dns_spf.h"
#include "tests/harness/dns_server.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>

static struct fl_dnsd dnsd;
static struct fl_dns *dns;

/* A resolver forwarding to the test server, with extra settings. */
static struct fl_dns *make_resolver(const char *extra)
{
    char path[] = "/tmp/fl-dns-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns_forwarders = %s\ndns_probe_domain = dns.example\n%s", dnsd.addr,
            extra ? extra : "dns_timeout = 2s\n");
    fclose(f);
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_msg(fl_config_load(path, &cfg, &errors) == 0, "%s", errors.data);
    fl_buf_free(&errors);
    unlink(path);
    struct fl_dns *r;
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dns_create(cfg, &r, &why) == 0, "fl_dns_create: %s", why.data);
    fl_buf_free(&why);
    fl_config_unref(&cfg);
    return r;
}

static void setup(void)
{
    ck_assert_msg(fl_dnsd_start(&dnsd, NULL, NULL) == 0, "test DNS server did not start");
    dns = make_resolver(NULL);
}

static void teardown(void)
{
    fl_dns_destroy(&dns);
    fl_dnsd_stop(&dnsd);
}

/* Runs one query and copies what the tests look at. */
struct got {
    enum fl_dns_status status;
    size_t count;
    char data[8][512];
    uint16_t pref[8];
    char canon[256];
    long ms;
    int rcode;
    int ede;
};

static struct got ask(struct fl_dns *r, const char *name, uint16_t type, long long deadline)
{
    struct got g;
    memset(&g, 0, sizeof(g));
    struct fl_dns_query *q = fl_dns_start(r, name, type, deadline);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    g.status = a->status;
    g.count = a->count;
    for (size_t i = 0; i < a->count && i < 8; i++) {
        snprintf(g.data[i], sizeof(g.data[i]), "%s", a->records[i].data);
        g.pref[i] = a->records[i].pref;
    }
    snprintf(g.canon, sizeof(g.canon), "%s", a->canonname ? a->canonname : "");
    g.ms = a->elapsed_ms;
    g.rcode = a->rcode;
    g.ede = a->ede_code;
    fl_dns_query_free(&q);
    return g;
}

static int has(const struct got *g, const char *want)
{
    for (size_t i = 0; i < g->count && i < 8; i++)
        if (strcmp(g->data[i], want) == 0)
            return 1;
    return 0;
}

struct record_row {
    const char *label;
    const char *name;
    uint16_t type;
    enum fl_dns_status want_status;
    size_t want_count;
    const char *want_data; /* one of the records, or NULL */
};

static const struct record_row record_rows[] = {
    {"an A record is returned as text", "host.dns.example", FL_DNS_A, FL_DNS_OK, 1, "192.0.2.2"},
    {"an AAAA record is returned as text", "host.dns.example", FL_DNS_AAAA, FL_DNS_OK, 1,
     "2001:db8::2"},
    {"MX records come with their targets", "dns.example", FL_DNS_MX, FL_DNS_OK, 2,
     "mx1.dns.example"},
    {"a PTR record names its host", "2.2.0.192.in-addr.arpa", FL_DNS_PTR, FL_DNS_OK, 1,
     "host.dns.example"},
    {"two PTRs for one address are both returned", "50.2.0.192.in-addr.arpa", FL_DNS_PTR,
     FL_DNS_OK, 2, "dual2.dns.example"},
    {"a TXT of three strings is joined without separators (RFC 7208 3.3)",
     "split.dns.example", FL_DNS_TXT, FL_DNS_OK, 1, "v=spf1 ip4:192.0.2.0/24 -all"},
    {"a TXT RRset of two records gives two records", "multi.dns.example", FL_DNS_TXT, FL_DNS_OK,
     2, "second record"},
    {"an empty TXT string is a record of length 0", "empty.dns.example", FL_DNS_TXT, FL_DNS_OK,
     1, ""},
    {"a name with only TXT answers NODATA for A", "txt.dns.example", FL_DNS_A, FL_DNS_NODATA, 0,
     NULL},
    {"an empty non-terminal is NODATA, not NXDOMAIN", "ent.dns.example", FL_DNS_A,
     FL_DNS_NODATA, 0, NULL},
    {"a name that does not exist is NXDOMAIN", "nope.dns.example", FL_DNS_A, FL_DNS_NXDOMAIN, 0,
     NULL},
    {"a CNAME chain of three is followed to its A record", "cname1.dns.example", FL_DNS_A,
     FL_DNS_OK, 1, "192.0.2.33"},
    {"a CNAME chain is followed for TXT too", "cname1.dns.example", FL_DNS_TXT, FL_DNS_OK, 1,
     "end of chain"},
    {"a CNAME to a missing name is NXDOMAIN", "dangling.dns.example", FL_DNS_A, FL_DNS_NXDOMAIN,
     0, NULL},
    {"an empty label never reaches the network", "a..dns.example", FL_DNS_A, FL_DNS_LOCAL, 0,
     NULL},
    {"a label over 63 characters never reaches the network",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.dns.example", FL_DNS_A,
     FL_DNS_LOCAL, 0, NULL},
};

START_TEST(records_and_statuses_per_type)
{
    const struct record_row *row = &record_rows[_i];
    struct got g = ask(dns, row->name, row->type, 0);
    ck_assert_msg(g.status == row->want_status, "%s: status got %s, want %s", row->label,
                  fl_dns_status_name(g.status), fl_dns_status_name(row->want_status));
    ck_assert_msg(g.count == row->want_count, "%s: got %zu records, want %zu", row->label,
                  g.count, row->want_count);
    if (row->want_data)
        ck_assert_msg(has(&g, row->want_data), "%s: no record \"%s\" (first: \"%s\")",
                      row->label, row->want_data, g.data[0]);
}
END_TEST

START_TEST(mx_preference_and_cname_target)
{
    struct got g = ask(dns, "dns.example", FL_DNS_MX, 0);
    ck_assert_uint_eq(g.count, 2);
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(g.data[i], "mx1.dns.example") == 0)
            ck_assert_uint_eq(g.pref[i], 10);
        else
            ck_assert_uint_eq(g.pref[i], 20);
    }
    g = ask(dns, "cname1.dns.example", FL_DNS_A, 0);
    ck_assert_str_eq(g.canon, "chain-end.dns.example");
}
END_TEST

START_TEST(long_txt_is_joined_and_big_rrset_comes_over_tcp)
{
    struct fl_dns_query *q = fl_dns_start(dns, "long.dns.example", FL_DNS_TXT, 0);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    ck_assert_int_eq(a->status, FL_DNS_OK);
    ck_assert_uint_eq(a->records[0].len, 600);
    ck_assert_uint_eq(strlen(a->records[0].data), 600);
    fl_dns_query_free(&q);
    q = fl_dns_start(dns, "big.dns.example", FL_DNS_TXT, 0);
    a = fl_dns_wait(q);
    ck_assert_msg(a->status == FL_DNS_OK, "big TXT: %s", fl_dns_status_name(a->status));
    ck_assert_uint_eq(a->count, 40);
    fl_dns_query_free(&q);
    ck_assert_msg(fl_dnsd_count_proto(&dnsd, "tcp", "big.dns.example", "TXT") >= 1,
                  "the 8 KB TXT RRset did not come over TCP");
}
END_TEST

START_TEST(servfail_refused_and_truncation_faults)
{
    fl_dnsd_set_faults(&dnsd, "fail.dns.example ANY servfail\n"
                              "refused.dns.example ANY refused\n"
                              "host.dns.example TXT truncate\n");
    struct got g = ask(dns, "fail.dns.example", FL_DNS_A, 0);
    ck_assert_msg(g.status == FL_DNS_SERVFAIL, "servfail: got %s", fl_dns_status_name(g.status));
    g = ask(dns, "refused.dns.example", FL_DNS_A, 0);
    ck_assert_msg(g.status == FL_DNS_SERVFAIL, "refused: got %s", fl_dns_status_name(g.status));
    /* TC over UDP, then the full answer over TCP */
    g = ask(dns, "host.dns.example", FL_DNS_TXT, 0);
    ck_assert_msg(g.status == FL_DNS_NODATA, "truncate: got %s", fl_dns_status_name(g.status));
    ck_assert_int_ge(fl_dnsd_count_proto(&dnsd, "tcp", "host.dns.example", "TXT"), 1);
}
END_TEST

START_TEST(no_answer_is_a_timeout_within_the_deadline)
{
    fl_dnsd_set_faults(&dnsd, "dead.dns.example ANY drop\nslow.dns.example ANY delay 800\n");
    long long t0 = fl_monotonic_ms();
    struct got g = ask(dns, "dead.dns.example", FL_DNS_A, t0 + 400);
    long long took = fl_monotonic_ms() - t0;
    ck_assert_msg(g.status == FL_DNS_TIMEOUT, "drop: got %s", fl_dns_status_name(g.status));
    ck_assert_msg(took >= 400 && took <= 400 + 40 + 50, "deadline 400 ms honoured in %lld ms",
                  took);
    /* dns_timeout (2 s) bounds a query without a deadline */
    t0 = fl_monotonic_ms();
    g = ask(dns, "dead.dns.example", FL_DNS_TXT, 0);
    took = fl_monotonic_ms() - t0;
    ck_assert_msg(g.status == FL_DNS_TIMEOUT || g.status == FL_DNS_SERVFAIL, "got %s",
                  fl_dns_status_name(g.status));
    ck_assert_msg(took <= 2000 + 200 + 50, "dns_timeout 2 s honoured in %lld ms", took);
    /* a slow answer inside the deadline arrives */
    struct fl_dns_stats before, after;
    fl_dns_stats(dns, &before);
    g = ask(dns, "slow.dns.example", FL_DNS_A, fl_monotonic_ms() + 3000);
    ck_assert_msg(g.status == FL_DNS_NXDOMAIN || g.status == FL_DNS_OK, "slow: got %s",
                  fl_dns_status_name(g.status));
    ck_assert_msg(g.ms >= 800, "slow answer after %ld ms", g.ms);
    /* its time is in the latency sum (the metrics' DNS histogram _sum) */
    fl_dns_stats(dns, &after);
    ck_assert_msg(after.latency_ms_sum - before.latency_ms_sum >= (unsigned long)g.ms,
                  "latency sum grew by %lu ms, the answer took %ld ms",
                  after.latency_ms_sum - before.latency_ms_sum, g.ms);
}
END_TEST

START_TEST(a_repeated_query_is_answered_from_the_cache)
{
    struct got g = ask(dns, "mx1.dns.example", FL_DNS_A, 0);
    ck_assert_int_eq(g.status, FL_DNS_OK);
    int before = fl_dnsd_count(&dnsd, "mx1.dns.example", "A");
    ck_assert_int_eq(before, 1);
    for (int i = 0; i < 5; i++) {
        g = ask(dns, "mx1.dns.example", FL_DNS_A, 0);
        ck_assert_int_eq(g.status, FL_DNS_OK);
    }
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "mx1.dns.example", "A"), before);
    /* negative answers are cached too (RFC 2308) */
    ask(dns, "nope2.dns.example", FL_DNS_A, 0);
    ask(dns, "nope2.dns.example", FL_DNS_A, 0);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "nope2.dns.example", "A"), 1);
    struct fl_dns_stats st;
    fl_dns_stats(dns, &st);
    ck_assert_uint_eq(st.queries, 8);
    ck_assert_uint_eq(st.status[FL_DNS_OK], 6);
    ck_assert_uint_eq(st.status[FL_DNS_NXDOMAIN], 2);
}
END_TEST

struct storm {
    int ok, n;
};

static void *storm_thread(void *p)
{
    struct storm *s = p;
    static const char *const names[] = {"host.dns.example", "mx1.dns.example",
                                        "dual.dns.example", "probe.dns.example"};
    struct fl_dns_query *qs[100];
    for (int i = 0; i < s->n; i++) {
        char name[64];
        /* half the names are unique (misses), half repeat (hits) */
        if (i % 2)
            snprintf(name, sizeof(name), "%s", names[i % 4]);
        else
            snprintf(name, sizeof(name), "u%d-%p.dns.example", i, (void *)s);
        qs[i] = fl_dns_start(dns, name, FL_DNS_A, fl_monotonic_ms() + 10000);
    }
    for (int i = 0; i < s->n; i++) {
        const struct fl_dns_answer *a = fl_dns_wait(qs[i]);
        if ((i % 2 && a->status == FL_DNS_OK && a->count >= 1) ||
            (!(i % 2) && a->status == FL_DNS_NXDOMAIN))
            s->ok++;
        fl_dns_query_free(&qs[i]);
    }
    return NULL;
}

START_TEST(a_thousand_queries_in_flight_from_many_threads)
{
    enum { THREADS = 10, PER = 100 };
    pthread_t t[THREADS];
    struct storm s[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (struct storm){0, PER};
        pthread_create(&t[i], NULL, storm_thread, &s[i]);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += s[i].ok;
    }
    ck_assert_int_eq(ok, THREADS * PER);
}
END_TEST

START_TEST(queries_run_concurrently_not_one_after_another)
{
    fl_dnsd_set_faults(&dnsd, "*.slow.dns.example ANY delay 300\n");
    long long t0 = fl_monotonic_ms();
    struct fl_dns_query *q[5];
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof(name), "n%d.slow.dns.example", i);
        q[i] = fl_dns_start(dns, name, FL_DNS_A, 0);
    }
    for (int i = 0; i < 5; i++) {
        fl_dns_wait(q[i]);
        fl_dns_query_free(&q[i]);
    }
    long long took = fl_monotonic_ms() - t0;
    ck_assert_msg(took >= 300 && took < 300 * 2, "5 queries of 300 ms took %lld ms", took);
}
END_TEST

START_TEST(freeing_a_pending_query_is_safe)
{
    fl_dnsd_set_faults(&dnsd, "slow.dns.example ANY delay 300\n");
    for (int i = 0; i < 50; i++) {
        struct fl_dns_query *q = fl_dns_start(dns, "slow.dns.example", FL_DNS_A, 0);
        fl_dns_query_free(&q);
    }
    usleep(400 * 1000); /* late answers arrive for freed handles */
    struct got g = ask(dns, "host.dns.example", FL_DNS_A, 0);
    ck_assert_int_eq(g.status, FL_DNS_OK);
}
END_TEST

START_TEST(probe_tells_whether_our_resolver_works)
{
    ck_assert_int_eq(fl_dns_probe(dns), 1);
    int first = fl_dnsd_count(&dnsd, NULL, NULL);
    ck_assert_int_eq(fl_dns_probe(dns), 1); /* cached for dns_probe_cache */
    ck_assert_int_eq(fl_dnsd_count(&dnsd, NULL, NULL), first);
    struct fl_dns *nocache = make_resolver("dns_probe_cache = 0s\ndns_timeout = 500ms\n");
    ck_assert_int_eq(fl_dns_probe(nocache), 1);
    fl_dnsd_set_faults(&dnsd, "*.dns.example ANY drop\n");
    ck_assert_int_eq(fl_dns_probe(nocache), 0);
    fl_dns_destroy(&nocache);
}
END_TEST

/* Issue 13: a probe asked after the message deadline once ran out of time
   at once and was cached as "our resolver is down" for dns_probe_cache,
   blaming us for other messages' failures.  The probe has its own budget
   now, and a lookup our deadline cut short is ours without asking. */
START_TEST(attribution_is_not_bound_to_the_message_deadline)
{
    struct fl_dns *r = make_resolver("dns_probe_cache = 0s\ndns_timeout = 2s\n");
    fl_dnsd_set_faults(&dnsd, "slowkey.dns.example TXT delay 1500\n");
    /* the message has 100 ms left: the lookup ends as a TIMEOUT it caused */
    struct fl_dns_query *q =
        fl_dns_start(r, "slowkey.dns.example", FL_DNS_TXT, fl_monotonic_ms() + 100);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    ck_assert_int_eq(a->status, FL_DNS_TIMEOUT);
    ck_assert(a->deadline_cut);
    int asked = fl_dnsd_count(&dnsd, NULL, NULL);
    ck_assert_int_eq(fl_dns_fault(r, a), FL_FAULT_RECEIVER);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, NULL, NULL), asked); /* no probe */
    fl_dns_query_free(&q);
    /* past any message deadline, the probe still runs on its own budget
       and finds our resolver working: the failure is the sender's */
    ck_assert_int_eq(fl_dns_fault(r, NULL), FL_FAULT_SENDER);
    ck_assert_int_gt(fl_dnsd_count(&dnsd, NULL, NULL), asked);
    /* a resolver that really does not answer within dns_probe_timeout */
    fl_dnsd_set_faults(&dnsd, "*.dns.example ANY drop\n");
    ck_assert_int_eq(fl_dns_fault(r, NULL), FL_FAULT_RECEIVER);
    fl_dnsd_set_faults(&dnsd, "");
    fl_dns_destroy(&r);
}
END_TEST

START_TEST(malformed_packets_give_malformed_not_a_crash)
{
    struct fl_dns_query *q = fl_dns_start(dns, "dns.example", FL_DNS_MX, 0);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    ck_assert_int_eq(a->status, FL_DNS_OK);
    ck_assert_ptr_nonnull(a->packet);
    /* every truncation of a real answer either parses or is refused */
    for (size_t cut = 0; cut < a->packet_len; cut++) {
        struct fl_dns_answer b;
        memset(&b, 0, sizeof(b));
        int rc = fl_dns_parse_packet(&b, a->packet, cut, FL_DNS_MX);
        ck_assert(rc == 0 || rc == -1);
        fl_dns_answer_clear(&b);
    }
    fl_dns_query_free(&q);
    /* a garbage answer from the server never reaches us as data */
    fl_dnsd_set_faults(&dnsd, "garbage.dns.example ANY malformed\n");
    struct got g = ask(dns, "garbage.dns.example", FL_DNS_A, fl_monotonic_ms() + 1000);
    ck_assert_msg(g.status == FL_DNS_SERVFAIL || g.status == FL_DNS_TIMEOUT ||
                      g.status == FL_DNS_MALFORMED,
                  "garbage: got %s", fl_dns_status_name(g.status));
}
END_TEST

/* A trust anchor for dns.example that its (unsigned) zone cannot satisfy:
   every answer from it fails DNSSEC validation. */
START_TEST(a_broken_chain_of_trust_is_bogus)
{
    char path[] = "/tmp/fl-dns-ta-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns.example. IN DS 12345 8 2 "
               "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE4A1D44B3AE05C0E0B2B9A2E1\n");
    fclose(f);
    char extra[256];
    snprintf(extra, sizeof(extra), "dns_timeout = 2s\ndns_trust_anchor_file = %s\n", path);
    struct fl_dns *r = make_resolver(extra);
    struct fl_dns_query *q = fl_dns_start(r, "host.dns.example", FL_DNS_A, 0);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    ck_assert_msg(a->status == FL_DNS_BOGUS, "got %s", fl_dns_status_name(a->status));
    ck_assert_int_eq(a->dnssec, FL_DNSSEC_BOGUS);
    fl_dns_query_free(&q);
    /* names outside the anchored zone stay insecure, not bogus */
    q = fl_dns_start(r, "www.other.example", FL_DNS_A, 0);
    a = fl_dns_wait(q);
    ck_assert_int_ne(a->status, FL_DNS_BOGUS);
    ck_assert_int_eq(a->dnssec, FL_DNSSEC_INSECURE);
    fl_dns_query_free(&q);
    fl_dns_destroy(&r);
    unlink(path);
}
END_TEST

/* RFC 8914: the Extended DNS Error an upstream resolver sends stays with
   the answer (22: No Reachable Authority). */
START_TEST(extended_dns_errors_are_kept_with_the_answer)
{
    fl_dnsd_set_faults(&dnsd, "ede.dns.example ANY servfail\n"
                              "ede.dns.example ANY ede 22 no reachable authority\n");
    struct fl_dns_query *q = fl_dns_start(dns, "ede.dns.example", FL_DNS_A, 0);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    ck_assert_int_eq(a->status, FL_DNS_SERVFAIL);
    ck_assert_msg(a->ede_code == 22, "EDE: got %d", a->ede_code);
    fl_dns_query_free(&q);
}
END_TEST

/* A TXT RRset too big for UDP from a server that refuses TCP: not an
   anonymous SERVFAIL, but tcp_refused with the server named. */
START_TEST(a_server_refusing_tcp_is_named)
{
    fl_dnsd_set_faults(&dnsd, "big.dns.example TXT notcp\n");
    struct fl_dns_query *q = fl_dns_start(dns, "big.dns.example", FL_DNS_TXT, 0);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    ck_assert_msg(a->status == FL_DNS_SERVFAIL, "got %s", fl_dns_status_name(a->status));
    ck_assert_msg(a->tcp_refused, "tcp_refused not set (why: %s)", a->why ? a->why : "");
    ck_assert_str_eq(a->nameserver, dnsd.addr);
    fl_dns_query_free(&q);
    /* an ordinary SERVFAIL is not mistaken for it */
    fl_dnsd_set_faults(&dnsd, "fail.dns.example ANY servfail\n");
    q = fl_dns_start(dns, "fail.dns.example", FL_DNS_TXT, 0);
    a = fl_dns_wait(q);
    ck_assert_int_eq(a->status, FL_DNS_SERVFAIL);
    ck_assert(!a->tcp_refused);
    fl_dns_query_free(&q);
}
END_TEST

START_TEST(spf_adapter_answers_through_lib_dns_and_counts)
{
    SPF_dns_server_t *layer = fl_spf_dns_new(dns, 0);
    SPF_dns_rr_t *rr = SPF_dns_lookup(layer, "split.dns.example", ns_t_txt, 1);
    ck_assert_ptr_nonnull(rr);
    ck_assert_int_eq(rr->herrno, NETDB_SUCCESS);
    ck_assert_int_eq(rr->num_rr, 1);
    ck_assert_str_eq(rr->rr[0]->txt, "v=spf1 ip4:192.0.2.0/24 -all");
    SPF_dns_rr_free(rr);
    rr = SPF_dns_lookup(layer, "host.dns.example", ns_t_a, 1);
    ck_assert_int_eq(rr->num_rr, 1);
    ck_assert_uint_eq(ntohl(rr->rr[0]->a.s_addr), 0xc0000202u);
    SPF_dns_rr_free(rr);
    rr = SPF_dns_lookup(layer, "nope.dns.example", ns_t_a, 1);
    ck_assert_int_eq(rr->herrno, HOST_NOT_FOUND);
    SPF_dns_rr_free(rr);
    rr = SPF_dns_lookup(layer, "txt.dns.example", ns_t_a, 1);
    ck_assert_int_eq(rr->herrno, NO_DATA);
    SPF_dns_rr_free(rr);
    fl_dnsd_set_faults(&dnsd, "fail.dns.example ANY servfail\n");
    rr = SPF_dns_lookup(layer, "fail.dns.example", ns_t_txt, 1);
    ck_assert_int_eq(rr->herrno, TRY_AGAIN);
    SPF_dns_rr_free(rr);
    const struct fl_spf_dns_counts *c = fl_spf_dns_counts(layer);
    ck_assert_uint_eq(c->queries, 5);
    ck_assert_uint_eq(c->txt, 2);
    ck_assert_uint_eq(c->a, 3);
    ck_assert_uint_eq(c->void_lookups, 2);
    ck_assert_uint_eq(c->temp_errors, 1);
    ck_assert_int_eq(c->worst, FL_DNS_SERVFAIL);
    ck_assert_str_eq(c->worst_name, "fail.dns.example");
    ck_assert_int_ge(fl_dnsd_count(&dnsd, "split.dns.example", "TXT"), 1);
    fl_spf_dns_free(layer);
}
END_TEST

START_TEST(dkim_adapter_answers_key_queries_through_lib_dns)
{
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    ck_assert_ptr_nonnull(lib);
    fl_dkim_dns_install(lib, dns);
    fl_dkim_dns_set_deadline(fl_monotonic_ms() + 3000);
    const char *top = getenv("top_srcdir");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/dns/keys/sel1.private", top ? top : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char key[8192];
    size_t n = fread(key, 1, sizeof(key) - 1, f);
    key[n] = '\0';
    fclose(f);
    char err[256] = "";
    int dnssec = 0;
    int rc = dkim_test_key(lib, "sel1", "dns.example", key, n, &dnssec, err, sizeof(err));
    ck_assert_msg(rc == 0, "dkim_test_key: %d %s", rc, err);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "sel1._domainkey.dns.example", "TXT"), 1);
    /* a missing key is reported as such */
    rc = dkim_test_key(lib, "nosuch", "dns.example", key, n, &dnssec, err, sizeof(err));
    ck_assert_msg(rc != 0, "a missing key passed");
    dkim_close(lib);
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("resolver");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, records_and_statuses_per_type, 0,
                        (int)(sizeof(record_rows) / sizeof(record_rows[0])));
    tcase_add_test(tc, mx_preference_and_cname_target);
    tcase_add_test(tc, long_txt_is_joined_and_big_rrset_comes_over_tcp);
    tcase_add_test(tc, servfail_refused_and_truncation_faults);
    tcase_add_test(tc, no_answer_is_a_timeout_within_the_deadline);
    tcase_add_test(tc, a_repeated_query_is_answered_from_the_cache);
    tcase_add_test(tc, a_thousand_queries_in_flight_from_many_threads);
    tcase_add_test(tc, queries_run_concurrently_not_one_after_another);
    tcase_add_test(tc, freeing_a_pending_query_is_safe);
    tcase_add_test(tc, probe_tells_whether_our_resolver_works);
    tcase_add_test(tc, attribution_is_not_bound_to_the_message_deadline);
    tcase_add_test(tc, malformed_packets_give_malformed_not_a_crash);
    tcase_add_test(tc, a_broken_chain_of_trust_is_bogus);
    tcase_add_test(tc, extended_dns_errors_are_kept_with_the_answer);
    tcase_add_test(tc, a_server_refusing_tcp_is_named);
    tcase_add_test(tc, spf_adapter_answers_through_lib_dns_and_counts);
    tcase_add_test(tc, dkim_adapter_answers_key_queries_through_lib_dns);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dns_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
