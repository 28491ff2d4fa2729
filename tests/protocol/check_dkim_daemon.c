/* check_dkim_daemon: DKIM as strict as RFC 6376 through the real daemon,
   with the corpus dkimpy signs at test time (tests/dkim/make_corpus.py)
   served by the test DNS server: key records and signature tag-lists that
   libopendkim would accept are permerror with the tag named in the
   Authentication-Results reason; their neighbours (FWS inside p=, unknown
   tags, k= absent) and an RSA-8192 key pass; policy names its rule. */
#include "tests/dkim/corpus.h"
#include "tests/harness/dns_server.h"
#include "tests/protocol/session.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char corpus[PATH_MAX];

/* clang-format off */
static const struct {
    const char *msg;
    const char *want[3]; /* in the Authentication-Results header */
    const char *record;  /* the dkim check in the verdict record, or NULL */
} cases[] = {
    {"key_star", {"dkim=permerror", "reason=\"key syntax error: tag p= is not base64", "header.s=star"}, "permerror\",\"reason\":\"dkim.key_syntax\",\"fault\":\"sender\""},
    {"key_dupk", {"dkim=permerror", "duplicate tag k=", NULL}, "permerror\",\"reason\":\"dkim.key_syntax\",\"fault\":\"sender\""},
    {"sig_duplicate_tag", {"dkim=permerror", "signature syntax error: duplicate tag d=", NULL}, "permerror\",\"reason\":\"dkim.signature_syntax\",\"fault\":\"sender\""},
    {"from_not_signed", {"dkim=permerror", "From field not signed", NULL}, "permerror\",\"reason\":\"dkim.from_not_signed\",\"fault\":\"sender\""},
    {"key_sha1only", {"dkim=permerror", "inappropriate hash algorithm: its h=", NULL}, "permerror\",\"reason\":\"dkim.key_hash_not_allowed\",\"fault\":\"sender\""},
    {"key_strict_subdomain", {"dkim=permerror", "t=s", NULL}, "permerror\",\"reason\":\"dkim.key_subdomain\",\"fault\":\"sender\""},
    {"rsa_sha1", {"dkim=policy", "RFC 8301", NULL}, "policy\",\"reason\":\"dkim.algorithm_not_allowed\",\"fault\":\"sender\""},
    {"key_fwsp", {"dkim=pass", "header.s=fwsp", NULL}, NULL},
    {"key_unknowntags", {"dkim=pass", NULL, NULL}, NULL},
    {"key_nok", {"dkim=pass", NULL, NULL}, NULL},
    {"sig_unknown_tags", {"dkim=pass", NULL, NULL}, NULL},
    {"rsa8192", {"dkim=pass", "header.s=s8192", NULL}, NULL},
    {"rsa8192_tampered", {"dkim=fail", "body hash did not verify", NULL}, "fail\",\"reason\":\"dkim.body_hash_mismatch\",\"fault\":\"sender\""},
};
/* clang-format on */

START_TEST(strict_dkim_results_reach_authentication_results)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *msg = fl_dkim_corpus_read(corpus, cases[i].msg, &len);
        ck_assert_msg(msg != NULL, "no corpus message %s", cases[i].msg);
        char qid[32];
        snprintf(qid, sizeof(qid), "4QDKIM%zu", i);
        struct fl_test_env env = {
            .client_ip = "192.0.2.2", .sender = "alice@signer.example", .queue_id = qid};
        struct fl_mc_session s;
        fl_test_run(&d, &env, msg, &s);
        free(msg);
        const struct fl_mc_mod *ins;
        ck_assert_uint_eq(
            fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ins), 1);
        for (int j = 0; j < 3 && cases[i].want[j] != NULL; j++)
            ck_assert_msg(strstr(ins->value, cases[i].want[j]) != NULL,
                          "%s: want %s in: %s", cases[i].msg, cases[i].want[j],
                          ins->value);
        fl_mc_session_clear(&s);
    }
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    /* The verdict record of each message: the dkim check and its fault. */
    char *records = fl_daemon_read(d.verdicts);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].record == NULL)
            continue;
        char qid[64], want[256];
        snprintf(qid, sizeof(qid), "\"queue_id\":\"4QDKIM%zu\"", i);
        snprintf(want, sizeof(want), "{\"method\":\"dkim\",\"result\":\"%s",
                 cases[i].record);
        const char *line = strstr(records, qid);
        ck_assert_msg(line != NULL, "%s: no verdict record", cases[i].msg);
        while (line > records && line[-1] != '\n')
            line--;
        const char *end = strchr(line, '\n');
        char *one = strndup(line, end ? (size_t)(end - line) : strlen(line));
        ck_assert_msg(strstr(one, want) != NULL, "%s: want %s in: %s", cases[i].msg, want,
                      one);
        free(one);
    }
    free(records);
    fl_daemon_cleanup(&d);
}
END_TEST

static Suite *dkim_daemon_suite(void)
{
    Suite *s = suite_create("dkim through the daemon");
    TCase *tc = tcase_create("strict");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, strict_dkim_results_reach_authentication_results);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    struct fl_dnsd dnsd;
    char zones[PATH_MAX + 64];
    int failed = 1;
    if (fl_dkim_corpus_make(corpus, sizeof(corpus)) == 0) {
        fl_dkim_corpus_zones(corpus, zones, sizeof(zones));
        if (fl_dnsd_start(&dnsd, zones, NULL) == 0) {
            fl_daemon_use_dns(dnsd.addr);
            SRunner *sr = srunner_create(dkim_daemon_suite());
            srunner_run_all(sr, CK_NORMAL);
            failed = srunner_ntests_failed(sr);
            srunner_free(sr);
            fl_dnsd_stop(&dnsd);
        }
    }
    fl_dkim_corpus_remove(corpus);
    return failed == 0 ? 0 : 1;
}
