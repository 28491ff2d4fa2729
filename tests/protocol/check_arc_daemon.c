/* check_arc_daemon: ARC (RFC 8617) and the DMARC override for trusted
   forwarders through the real daemon, with chains dkimpy seals at test
   time (tests/arc/make_vectors.py) served by the test DNS server.

   The mailing-list case: alice@author.arc.example (p=reject, DKIM-signed)
   posts to a list that tags the Subject and appends a footer -- the
   author's signature breaks, SPF is the list's, DMARC fails -- and the
   list seals the message it sends.  With the list among
   dmarc_arc_trusted_sealers the failure is overridden (accepted,
   dmarc=fail policy.override=arc, trusted_forwarder in the verdict); the
   same message sealed by an untrusted sealer is refused. */
#include "tests/dkim/corpus.h"
#include "tests/harness/dns_server.h"
#include "tests/protocol/session.h"

#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char vectors[PATH_MAX];

static void run(struct fl_daemon *d, const char *name, const char *qid,
                struct fl_mc_session *s)
{
    size_t len;
    char *msg = fl_dkim_corpus_read(vectors, name, &len);
    ck_assert_msg(msg != NULL, "no vector %s", name);
    struct fl_test_env env = {
        .client_ip = "192.0.2.2", .sender = "list-bounces@lists.arc.example", .queue_id = qid};
    fl_test_run(d, &env, msg, s);
    free(msg);
}

/* The verdict record of queue id qid (malloc'd). */
static char *record(struct fl_daemon *d, const char *qid)
{
    char *all = fl_daemon_read(d->verdicts), key[64];
    snprintf(key, sizeof(key), "\"queue_id\":\"%s\"", qid);
    const char *line = strstr(all, key);
    ck_assert_msg(line != NULL, "no verdict record for %s", qid);
    while (line > all && line[-1] != '\n')
        line--;
    const char *end = strchr(line, '\n');
    char *one = strndup(line, end ? (size_t)(end - line) : strlen(line));
    free(all);
    return one;
}

static const char *ar_of(const struct fl_mc_session *s)
{
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(s, FL_MC_STEP_EOM), 'i', &ins), 1);
    return ins->value;
}

START_TEST(trusted_sealer_overrides_dmarc_reject)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL,
                      "dmarc_reject_action = reject\n"
                      "dmarc_arc_trusted_sealers = lists.arc.example\n");
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;

    run(&d, "list_trusted", "4QARCTRUST", &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code != 'y', "refused: %s", eom->text ? eom->text : "");
    const char *ar = ar_of(&s);
    ck_assert_msg(strstr(ar, "dmarc=fail") && strstr(ar, "policy.override=arc") &&
                      strstr(ar, "policy.dmarc=none"),
                  "AR: %s", ar);
    ck_assert_msg(strstr(ar, "arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.2"),
                  "AR: %s", ar);
    fl_mc_session_clear(&s);

    run(&d, "list_untrusted", "4QARCUNTRUST", &s);
    eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.26 ", 11) == 0,
                  "untrusted sealer: %c %s", eom->code, eom->text ? eom->text : "");
    fl_mc_session_clear(&s);

    /* a broken chain vouches for nothing: the body changed after the
       last seal (the author's DKIM signature breaks too) */
    run(&d, "body_changed_after_seal", "4QARCBROKEN", &s);
    eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.26 ", 11) == 0,
                  "broken chain: %c %s", eom->code, eom->text ? eom->text : "");
    fl_mc_session_clear(&s);

    /* the trusted list sealed, then an untrusted hop changed the body and
       sealed: the list's set is older than oldest-pass and vouches for
       nothing */
    run(&d, "list_then_changed", "4QARCCHANGED", &s);
    eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.26 ", 11) == 0,
                  "changed after the trusted seal: %c %s", eom->code, eom->text ? eom->text : "");
    fl_mc_session_clear(&s);

    ck_assert(fl_daemon_wait_log(&d, "4QARCUNTRUST: verdict action=reject code=550", 3000));
    ck_assert(fl_daemon_wait_log(&d, "4QARCBROKEN: verdict action=reject code=550", 3000));
    ck_assert(fl_daemon_wait_log(&d, "4QARCTRUST: verdict action=accept", 3000));
    char *rec = record(&d, "4QARCTRUST");
    ck_assert_msg(strstr(rec, "\"disposition\":\"none\",\"dkim\":\"fail\",\"spf\":\"fail\","
                              "\"reason\":{\"type\":\"trusted_forwarder\",\"comment\":"
                              "\"arc=pass; ARC set i=1 sealed by lists.arc.example "
                              "(dmarc_arc_trusted_sealers) saw dmarc=pass "
                              "header.from=author.arc.example\"}"),
                  "%s", rec);
    ck_assert_msg(strstr(rec, "\"arc\":{\"result\":\"pass\",\"oldest_pass\":0,"
                              "\"chain\":[\"lists.arc.example\"]"),
                  "%s", rec);
    free(rec);
    rec = record(&d, "4QARCUNTRUST");
    ck_assert_msg(strstr(rec, "trusted_forwarder") == NULL, "%s", rec);
    ck_assert_msg(strstr(rec, "\"chain\":[\"untrusted.arc.example\"]"), "%s", rec);
    free(rec);
    rec = record(&d, "4QARCBROKEN");
    ck_assert_msg(strstr(rec, "{\"method\":\"arc\",\"result\":\"fail\",\"reason\":"
                              "\"arc.signature\",\"fault\":\"sender\""),
                  "%s", rec);
    ck_assert_msg(strstr(rec, "\"failed\":{\"instance\":2,\"signature\":\"AMS\",\"why\":"
                              "\"ARC-Message-Signature i=2 (d=hop2.arc.example s=sel) failed: "
                              "body hash"),
                  "%s", rec);
    ck_assert_msg(strstr(rec, "trusted_forwarder") == NULL, "%s", rec);
    free(rec);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* What the trusted sealer saw decides: an aligned SPF or DKIM pass
   vouches, a DMARC pass for another From domain or failures do not. */
START_TEST(only_an_aligned_claim_vouches)
{
    static const struct {
        const char *msg;
        const char *saw; /* in the override comment, NULL: refused */
    } cases[] = {
        {"list_claims_spf", "saw spf=pass smtp.mailfrom=author.arc.example"},
        {"list_claims_dkim", "saw dkim=pass header.d=author.arc.example"},
        {"list_claims_other_from", NULL},
        {"list_claims_fail", NULL},
    };
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL,
                      "dmarc_reject_action = reject\n"
                      "dmarc_arc_trusted_sealers = arc.example\n"); /* a parent domain */
    ck_assert(fl_daemon_start(&d) == 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char qid[32];
        snprintf(qid, sizeof(qid), "4QCLAIM%zu", i);
        struct fl_mc_session s;
        run(&d, cases[i].msg, qid, &s);
        const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
        bool refused = eom->code == 'y' && strncmp(eom->text, "550 5.7.26 ", 11) == 0;
        ck_assert_msg(refused == (cases[i].saw == NULL), "%s: %c %s", cases[i].msg, eom->code,
                      eom->text ? eom->text : "");
        fl_mc_session_clear(&s);
        char want[64];
        snprintf(want, sizeof(want), "%s: verdict action=%s", qid,
                 cases[i].saw ? "accept" : "reject");
        ck_assert_msg(fl_daemon_wait_log(&d, want, 3000), "%s: no \"%s\"", cases[i].msg, want);
        char *rec = record(&d, qid);
        if (cases[i].saw != NULL)
            ck_assert_msg(strstr(rec, "trusted_forwarder") && strstr(rec, cases[i].saw),
                          "%s: %s", cases[i].msg, rec);
        else
            ck_assert_msg(strstr(rec, "trusted_forwarder") == NULL, "%s: %s", cases[i].msg, rec);
        free(rec);
    }
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* Without the setting nothing is overridden, and arc_enable = no turns
   ARC off. */
START_TEST(no_trusted_sealers_no_override)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "dmarc_reject_action = reject\narc_enable = no\n");
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;
    run(&d, "list_trusted", "4QARCOFF", &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.26 ", 11) == 0,
                  "%c %s", eom->code, eom->text ? eom->text : "");
    fl_mc_session_clear(&s);
    run(&d, "one_hop", "4QARCOFF2", &s);
    ck_assert_msg(strstr(ar_of(&s), "\tarc=") == NULL && strstr(ar_of(&s), " arc=") == NULL,
                  "AR: %s", ar_of(&s));
    fl_mc_session_clear(&s);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

static Suite *arc_daemon_suite(void)
{
    Suite *s = suite_create("arc through the daemon");
    TCase *tc = tcase_create("dmarc override");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, trusted_sealer_overrides_dmarc_reject);
    tcase_add_test(tc, only_an_aligned_claim_vouches);
    tcase_add_test(tc, no_trusted_sealers_no_override);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    struct fl_dnsd dnsd;
    char zones[PATH_MAX + 64];
    int failed = 1;
    if (fl_test_corpus_make("tests/arc/make_vectors.py", vectors, sizeof(vectors)) == 0) {
        snprintf(zones, sizeof(zones), "dns.example.zone example.zone 2.0.192.in-addr.arpa.zone %s/zones", vectors);
        if (fl_dnsd_start(&dnsd, zones, NULL) == 0) {
            fl_daemon_use_dns(dnsd.addr);
            SRunner *sr = srunner_create(arc_daemon_suite());
            srunner_run_all(sr, CK_NORMAL);
            failed = srunner_ntests_failed(sr);
            srunner_free(sr);
            fl_dnsd_stop(&dnsd);
        }
    }
    fl_dkim_corpus_remove(vectors);
    return failed == 0 ? 0 : 1;
}
