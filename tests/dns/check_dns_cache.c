/* check_dns_cache: unit tests for lib/dns_cache, the answer cache in front
   of libunbound -- what it keeps and for how long (the TTL, the 2 s of a
   diagnosed SERVFAIL, never a timeout), how it matches names (case and
   trailing dot do not matter, the type does), that a hit is a copy the
   caller owns, and that it stays within its byte bound, least recently
   used out first.  Time is passed in, so no test sleeps.
   Run by `make check`. */
#include "lib/dns/dns_cache.h"
#include "lib/dns/dns_parse.h"
#include "lib/core/xalloc.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* An answer with one TXT record. */
static void make_answer(struct fl_dns_answer *a, const char *name, uint16_t type,
                        enum fl_dns_status status, uint32_t ttl, const char *txt)
{
    memset(a, 0, sizeof(*a));
    a->qname = fl_strdup(name);
    a->qtype = type;
    a->status = status;
    a->rcode = status == FL_DNS_NXDOMAIN ? 3 : 0;
    a->ttl = ttl;
    a->ede_code = -1;
    if (txt != NULL) {
        a->records = fl_calloc(1, sizeof(*a->records));
        a->records[0].type = type;
        a->records[0].ttl = ttl;
        a->records[0].data = fl_strdup(txt);
        a->records[0].len = strlen(txt);
        a->count = 1;
    }
}

struct keep_row {
    const char *label;
    enum fl_dns_status status;
    uint32_t ttl;
    bool failure_put; /* through fl_dns_cache_put_failure */
    long long ask_after_ms;
    bool want_hit;
};

/* clang-format off */
static const struct keep_row keep_rows[] = {
    {"an answer is served within its TTL", FL_DNS_OK, 300, false, 299000, true},
    {"an answer is gone when its TTL is over", FL_DNS_OK, 300, false, 300000, false},
    {"NXDOMAIN is kept for its (negative) TTL", FL_DNS_NXDOMAIN, 60, false, 59000, true},
    {"NODATA is kept for its TTL", FL_DNS_NODATA, 60, false, 1000, true},
    {"a TTL of 0 is not kept", FL_DNS_OK, 0, false, 0, false},
    {"a SERVFAIL is not kept as an answer", FL_DNS_SERVFAIL, 300, false, 0, false},
    {"a timeout is never kept", FL_DNS_TIMEOUT, 300, true, 0, false},
    {"a diagnosed SERVFAIL is kept for 2 s", FL_DNS_SERVFAIL, 300, true, 1999, true},
    {"a diagnosed SERVFAIL is gone after 2 s", FL_DNS_SERVFAIL, 300, true, 2000, false},
    {"a TTL above a day is kept for a day", FL_DNS_OK, 10 * 86400, false, 86400000, false},
};
/* clang-format on */

START_TEST(test_what_is_kept)
{
    const struct keep_row *row = &keep_rows[_i];
    struct fl_dns_cache *c = fl_dns_cache_new(1 << 20);
    struct fl_dns_answer a, got;
    make_answer(&a, "x.example", FL_DNS_TXT, row->status, row->ttl, "v=spf1 -all");
    if (row->failure_put)
        fl_dns_cache_put_failure(c, &a, 1000);
    else
        fl_dns_cache_put(c, &a, 1000);
    bool hit = fl_dns_cache_get(c, "x.example", FL_DNS_TXT, 1000 + row->ask_after_ms, &got);
    ck_assert_msg(hit == row->want_hit, "%s: got %s, want %s", row->label,
                  hit ? "a hit" : "a miss", row->want_hit ? "a hit" : "a miss");
    if (hit) {
        ck_assert_msg(got.status == row->status, "%s: status %d, want %d", row->label,
                      got.status, row->status);
        fl_dns_answer_clear(&got);
    }
    fl_dns_answer_clear(&a);
    fl_dns_cache_free(&c);
    ck_assert(c == NULL);
}
END_TEST

struct match_row {
    const char *label;
    const char *ask;
    uint16_t type;
    bool want_hit;
};

/* clang-format off */
static const struct match_row match_rows[] = {
    {"the same name and type", "Mail.Example", FL_DNS_TXT, true},
    {"another case", "mail.EXAMPLE", FL_DNS_TXT, true},
    {"with a trailing dot", "mail.example.", FL_DNS_TXT, true},
    {"another type", "mail.example", FL_DNS_A, false},
    {"another name", "mail2.example", FL_DNS_TXT, false},
    {"a parent name", "example", FL_DNS_TXT, false},
};
/* clang-format on */

START_TEST(test_how_names_match)
{
    const struct match_row *row = &match_rows[_i];
    struct fl_dns_cache *c = fl_dns_cache_new(1 << 20);
    struct fl_dns_answer a, got;
    make_answer(&a, "Mail.Example", FL_DNS_TXT, FL_DNS_OK, 300, "hello");
    fl_dns_cache_put(c, &a, 0);
    bool hit = fl_dns_cache_get(c, row->ask, row->type, 1, &got);
    ck_assert_msg(hit == row->want_hit, "%s (%s): got %s, want %s", row->label, row->ask,
                  hit ? "a hit" : "a miss", row->want_hit ? "a hit" : "a miss");
    if (hit) {
        ck_assert_msg(strcmp(got.qname, row->ask) == 0,
                      "%s: the copy's qname is \"%s\", want the caller's \"%s\"", row->label,
                      got.qname, row->ask);
        fl_dns_answer_clear(&got);
    }
    fl_dns_answer_clear(&a);
    fl_dns_cache_free(&c);
}
END_TEST

/* A hit is a deep copy: changing or freeing it leaves the cache intact;
   its TTL is what is left, its elapsed time 0. */
START_TEST(test_hit_is_a_copy)
{
    struct fl_dns_cache *c = fl_dns_cache_new(1 << 20);
    struct fl_dns_answer a, got, again;
    make_answer(&a, "copy.example", FL_DNS_TXT, FL_DNS_OK, 100, "original");
    a.elapsed_ms = 40;
    fl_dns_cache_put(c, &a, 0);
    fl_dns_answer_clear(&a); /* the cache has its own */
    ck_assert(fl_dns_cache_get(c, "copy.example", FL_DNS_TXT, 30000, &got));
    ck_assert_msg(got.ttl == 70, "TTL left: got %u, want 70", got.ttl);
    ck_assert_msg(got.elapsed_ms == 0, "elapsed: got %ld, want 0", got.elapsed_ms);
    ck_assert_uint_eq(got.count, 1);
    ck_assert_str_eq(got.records[0].data, "original");
    got.records[0].data[0] = 'X';
    fl_dns_answer_clear(&got);
    ck_assert(fl_dns_cache_get(c, "copy.example", FL_DNS_TXT, 30000, &again));
    ck_assert_str_eq(again.records[0].data, "original");
    fl_dns_answer_clear(&again);
    fl_dns_cache_free(&c);
}
END_TEST

/* Within the bound, the least recently used entries go first; a cache of
   0 bytes keeps nothing. */
START_TEST(test_bounded_lru)
{
    struct fl_dns_cache *none = fl_dns_cache_new(0);
    struct fl_dns_answer a, got;
    make_answer(&a, "zero.example", FL_DNS_TXT, FL_DNS_OK, 300, "x");
    fl_dns_cache_put(none, &a, 0);
    ck_assert_msg(!fl_dns_cache_get(none, "zero.example", FL_DNS_TXT, 1, &got),
                  "a cache of 0 bytes kept an answer");
    fl_dns_answer_clear(&a);
    fl_dns_cache_free(&none);

    /* 1 MB in 64 shards: 16 KB per shard, a few dozen of these entries */
    struct fl_dns_cache *c = fl_dns_cache_new(1024 * 1024);
    char name[64], big[200];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    make_answer(&a, "keep.example", FL_DNS_TXT, FL_DNS_OK, 300, big);
    fl_dns_cache_put(c, &a, 0);
    fl_dns_answer_clear(&a);
    int kept = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "n%d.example", i);
        make_answer(&a, name, FL_DNS_TXT, FL_DNS_OK, 300, big);
        fl_dns_cache_put(c, &a, 0);
        fl_dns_answer_clear(&a);
        /* keep.example is used all the time: it stays */
        ck_assert_msg(fl_dns_cache_get(c, "keep.example", FL_DNS_TXT, 1, &got),
                      "an entry used before every insert was evicted (insert %d)", i);
        fl_dns_answer_clear(&got);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "n%d.example", i);
        if (fl_dns_cache_get(c, name, FL_DNS_TXT, 1, &got)) {
            kept++;
            fl_dns_answer_clear(&got);
        }
    }
    ck_assert_msg(kept > 500 && kept < 4000, "entries kept of 5000 in 1 MB: %d", kept);
    snprintf(name, sizeof(name), "n%d.example", 4999);
    ck_assert_msg(fl_dns_cache_get(c, name, FL_DNS_TXT, 1, &got),
                  "the newest entry was evicted");
    fl_dns_answer_clear(&got);
    snprintf(name, sizeof(name), "n%d.example", 0);
    ck_assert_msg(!fl_dns_cache_get(c, name, FL_DNS_TXT, 1, &got),
                  "the oldest entry survived 5000 newer ones in 1 MB");
    fl_dns_cache_clear(c);
    ck_assert_msg(!fl_dns_cache_get(c, "keep.example", FL_DNS_TXT, 1, &got),
                  "an entry survived fl_dns_cache_clear");
    fl_dns_cache_free(&c);
}
END_TEST

static Suite *dns_cache_suite(void)
{
    Suite *s = suite_create("dns_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_loop_test(tc, test_what_is_kept, 0, (int)NELEMS(keep_rows));
    tcase_add_loop_test(tc, test_how_names_match, 0, (int)NELEMS(match_rows));
    tcase_add_test(tc, test_hit_is_a_copy);
    tcase_add_test(tc, test_bounded_lru);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dns_cache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
