/* check_policy: the checks' policies through the real daemon -- greylisting, DKIM, SPF
   (reject on fail with 550 5.7.23, Received-SPF) and the DNS lists
   (554 at RCPT naming the list, an error-coded list ignored and blamed on
   our side, rejection at end of message) -- with the zones of the test
   DNS server (tests/dns/zones). */
#include "tests/harness/dns_server.h"
#include "tests/protocol/session.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *simple = "From: a@txt.dns.example\nSubject: s\nMessage-ID: <p@x>\n\nbody\n";

/* Starts a daemon with extra settings, runs one session, returns it. */
static void one_session(const char *extra, const struct fl_test_env *env,
                        struct fl_daemon *d, struct fl_mc_session *s)
{
    fl_daemon_prepare(d, NULL, extra);
    ck_assert(fl_daemon_start(d) == 0);
    fl_test_run(d, env, simple, s);
}

static void finish(struct fl_daemon *d, struct fl_mc_session *s)
{
    fl_mc_session_clear(s);
    ck_assert_int_eq(fl_daemon_stop(d), 0);
    fl_daemon_cleanup(d);
}

START_TEST(spf_fail_is_rejected_naming_domain_and_client)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "198.51.100.7", .sender = "a@txt.dns.example",
                              .queue_id = "4QSPFFAIL"};
    one_session(NULL, &env, &d, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.23 ", 11) == 0, "eom: %c %s",
                  eom->code, eom->text ? eom->text : "");
    ck_assert_msg(strstr(eom->text, "198.51.100.7") && strstr(eom->text, "txt.dns.example"),
                  "the reply names neither the client nor the domain: %s", eom->text);
    ck_assert(fl_daemon_wait_log(&d, "4QSPFFAIL: verdict action=reject code=550 dsn=5.7.23 "
                                     "fault=sender reason=spf.not_permitted",
                                 3000));
    finish(&d, &s);
}
END_TEST

START_TEST(spf_fail_can_be_only_marked)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "198.51.100.7", .sender = "a@txt.dns.example"};
    one_session("spf_fail_action = mark\n", &env, &d, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', &ins), 1);
    ck_assert_msg(strstr(ins->value, "spf=fail") &&
                      strstr(ins->value, "smtp.mailfrom=a@txt.dns.example"),
                  "%s", ins->value);
    finish(&d, &s);
}
END_TEST

START_TEST(received_spf_header_when_asked)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .sender = "a@txt.dns.example"};
    one_session("spf_received_header = yes\n", &env, &d, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    size_t n = 0;
    const struct fl_mc_mod *rspf = NULL, *ar = NULL;
    for (size_t i = 0; i < eom->nmods; i++) {
        if (eom->mods[i].type != 'i')
            continue;
        n++;
        if (strcmp(eom->mods[i].name, "Received-SPF") == 0)
            rspf = &eom->mods[i];
        else
            ar = &eom->mods[i];
    }
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_nonnull(rspf);
    ck_assert_msg(strncmp(rspf->value, "pass ", 5) == 0 &&
                      strstr(rspf->value, "client-ip=192.0.2.2;"),
                  "%s", rspf->value);
    /* both at the top; Authentication-Results sent last, so it ends up first */
    ck_assert(ar > rspf);
    finish(&d, &s);
}
END_TEST

START_TEST(listed_client_is_refused_at_rcpt_naming_the_list)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.7", .queue_id = "4QLISTED"};
    one_session("dnsbl_sites = zen.dnsbl.example\n", &env, &d, &s);
    const struct fl_mc_reply *rcpt = fl_test_reply(&s, FL_MC_STEP_RCPT);
    ck_assert_msg(rcpt->code == 'y' && strncmp(rcpt->text, "554 5.7.1 ", 10) == 0, "rcpt: %c %s",
                  rcpt->code, rcpt->text ? rcpt->text : "");
    ck_assert_msg(strstr(rcpt->text, "zen.dnsbl.example") && strstr(rcpt->text, "192.0.2.7") &&
                      strstr(rcpt->text, "Listed by ZEN-EXAMPLE"),
                  "%s", rcpt->text);
    ck_assert_ptr_null(fl_test_reply(&s, FL_MC_STEP_EOM));
    ck_assert(fl_daemon_wait_log(&d, "4QLISTED: verdict action=reject code=554 dsn=5.7.1 "
                                     "fault=sender reason=dnsbl.listed",
                                 3000));
    /* the admin tool shows the list's counters (stats_interval = 1s) */
    const char *top = getenv("top_builddir");
    char cmd[1024], out[4096] = "";
    snprintf(cmd, sizeof(cmd), "%s/milter/faultlinectl -c %s stats 2>&1", top ? top : ".",
             d.conf);
    bool seen = false;
    for (int i = 0; i < 40 && !seen; i++) {
        usleep(100 * 1000);
        FILE *p = popen(cmd, "r");
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        pclose(p);
        /* zone, kind ip, 1 query, 1 listing */
        seen = strstr(out, "zen.dnsbl.example") != NULL && strstr(out, " ip ") != NULL &&
               strstr(out, "        1        1 ") != NULL;
    }
    ck_assert_msg(seen, "faultlinectl stats:\n%s", out);
    finish(&d, &s);
}
END_TEST

/* 127.255.255.254: the list refuses our resolver.  Not a listing: the mail
   goes through, and the record blames our side. */
START_TEST(error_coded_list_is_ignored_and_blamed_on_us)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.21", .queue_id = "4QERRCODE"};
    one_session("dnsbl_sites = zen.dnsbl.example\n", &env, &d, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_ptr_nonnull(eom);
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', NULL), 1);
    ck_assert(fl_daemon_wait_log(&d, "4QERRCODE: verdict action=accept", 3000));
    char *text = fl_daemon_read(d.verdicts);
    json_t *v = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
    free(text);
    ck_assert_ptr_nonnull(v);
    json_t *checks = json_object_get(v, "checks");
    bool seen = false;
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        if (strcmp(json_string_value(json_object_get(c, "method")), "dnsbl") != 0)
            continue;
        seen = true;
        ck_assert_str_eq(json_string_value(json_object_get(c, "fault")), "receiver");
        ck_assert_str_eq(json_string_value(json_object_get(c, "reason")), "dnsbl.error_code");
    }
    ck_assert_msg(seen, "no dnsbl check in the record");
    json_decref(v);
    finish(&d, &s);
}
END_TEST

START_TEST(listing_can_be_rejected_at_end_of_message)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.7"};
    one_session("dnsbl_sites = zen.dnsbl.example\ndnsbl_reject_stage = eom\n"
                "dnsbl_reply_code = 550\n",
                &env, &d, &s);
    const struct fl_mc_reply *rcpt = fl_test_reply(&s, FL_MC_STEP_RCPT);
    ck_assert_int_eq(rcpt->code, 'c');
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "55", 2) == 0 &&
                      strstr(eom->text, "zen.dnsbl.example"),
                  "eom: %c %s", eom->code, eom->text ? eom->text : "");
    finish(&d, &s);
}
END_TEST

/* A message signed by dkimpy (an independent signer) with the key whose
   public half dns.example publishes (tests/dns/keys/sel1.private). */
static char *signed_message(bool tamper)
{
    const char *top = getenv("top_srcdir");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import dkim,sys\n"
             "msg=b\"From: Alice <alice@dns.example>\\r\\nTo: bob@example.net\\r\\n"
             "Subject: signed\\r\\nMessage-ID: <dkim-1@dns.example>\\r\\n\\r\\n"
             "Hello, signed world.\\r\\n\"\n"
             "key=open(sys.argv[1],\"rb\").read()\n"
             "sig=dkim.sign(msg,b\"sel1\",b\"dns.example\",key,"
             "include_headers=[b\"from\",b\"to\",b\"subject\",b\"message-id\"])\n"
             "out=sig+msg\n"
             "out=out.replace(b\"signed world\",b\"signed w0rld\") if sys.argv[2]==\"1\" else out\n"
             "sys.stdout.write(out.decode())' %s/tests/dns/keys/sel1.private %d",
             top ? top : ".", tamper ? 1 : 0);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(strncmp(buf, "DKIM-Signature:", 15) == 0, "signer said: %s", buf);
    return strdup(buf);
}

START_TEST(dkim_signature_verifies_and_tampering_is_caught)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    for (int tamper = 0; tamper < 2; tamper++) {
        char *msg = signed_message(tamper);
        struct fl_mc_session s;
        struct fl_test_env env = {.client_ip = "192.0.2.2", .sender = "alice@dns.example"};
        fl_test_run(&d, &env, msg, &s);
        free(msg);
        const struct fl_mc_mod *ins;
        ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ins), 1);
        const char *want = tamper ? "dkim=fail" : "dkim=pass";
        ck_assert_msg(strstr(ins->value, want) && strstr(ins->value, "header.d=dns.example") &&
                          strstr(ins->value, "header.s=sel1"),
                      "want %s: %s", want, ins->value);
        fl_mc_session_clear(&s);
    }
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* Greylisting through the daemon: the first attempt is deferred at RCPT
   with 451 4.7.1 and its verdict record; the retry after the (shortened)
   delay is accepted; another recipient is decided on its own. */
START_TEST(greylisting_defers_the_first_attempt_and_accepts_the_retry)
{
    struct fl_daemon d;
    char extra[512];
    fl_daemon_prepare(&d, NULL, NULL);
    snprintf(extra, sizeof(extra),
             "greylist_enable = yes\ngreylist_lmdb_dir = %s/greylist\ngreylist_delay = 1s\n",
             d.dir);
    fl_daemon_write_conf(&d, NULL, extra, true);
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = "4QGREY1"};
    struct fl_mc_session s;
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_reply *rcpt = fl_test_reply(&s, FL_MC_STEP_RCPT);
    ck_assert_msg(rcpt->code == 'y' && strncmp(rcpt->text, "451 4.7.1 ", 10) == 0 &&
                      strstr(rcpt->text, "greylisted, please retry in"),
                  "first attempt: %c %s", rcpt->code, rcpt->text ? rcpt->text : "");
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QGREY1: verdict action=tempfail code=451 dsn=4.7.1 "
                                     "fault=none",
                                 3000));
    usleep(1200 * 1000); /* the delay is 1 s */
    env.queue_id = "4QGREY2";
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom != NULL && fl_test_count_mods(eom, 'i', NULL) == 1, "retry not accepted");
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QGREY2: verdict action=accept", 3000));
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* The store cannot be opened (a file where its directory should be):
   greylisting fails open -- accepted, our fault logged -- never a 4xx. */
START_TEST(greylist_store_down_fails_open)
{
    struct fl_daemon d;
    char extra[512], path[400];
    fl_daemon_prepare(&d, NULL, NULL);
    snprintf(path, sizeof(path), "%s/notadir", d.dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(extra, sizeof(extra), "greylist_enable = yes\ngreylist_lmdb_dir = %s\n", path);
    fl_daemon_write_conf(&d, NULL, extra, true);
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = "4QGREYDOWN"};
    struct fl_mc_session s;
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom != NULL && fl_test_count_mods(eom, 'i', NULL) == 1,
                  "a store failure refused the message");
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QGREYDOWN: verdict action=accept", 3000));
    ck_assert(fl_daemon_wait_log(&d, "greylist:temperror", 100));
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* DMARC: an aligned SPF pass passes; a From domain with p=reject that
   neither SPF nor DKIM aligns with is refused with 550 5.7.26 naming it,
   and the verdict carries the aggregate-report data. */
START_TEST(dmarc_pass_and_reject)
{
    struct fl_daemon d;
    /* the default downgrades p=reject to a quarantine header */
    fl_daemon_prepare(&d, NULL, "dmarc_reject_action = reject\n");
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .sender = "x@aligned.dns.example",
                              .queue_id = "4QDMARCPASS"};
    fl_test_run(&d, &env, "From: x@aligned.dns.example\nSubject: s\n\nbody\n", &s);
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ins), 1);
    ck_assert_msg(strstr(ins->value, "dmarc=pass") &&
                      strstr(ins->value, "header.from=aligned.dns.example"),
                  "%s", ins->value);
    fl_mc_session_clear(&s);
    env.queue_id = "4QDMARCFAIL";
    fl_test_run(&d, &env, "From: x@reject.dmarc.example\nSubject: s\n\nbody\n", &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.26 ", 11) == 0 &&
                      strstr(eom->text, "reject.dmarc.example"),
                  "eom: %c %s", eom->code, eom->text ? eom->text : "");
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QDMARCFAIL: verdict action=reject code=550 dsn=5.7.26 "
                                     "fault=sender",
                                 3000));
    char *text = fl_daemon_read(d.verdicts);
    ck_assert_msg(strstr(text, "\"dmarc\":{") != NULL, "no DMARC report data: %s", text);
    free(text);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* By default p=reject is downgraded: accepted with a quarantine header. */
START_TEST(dmarc_reject_is_downgraded_by_default)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .sender = "x@aligned.dns.example"};
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    fl_test_run(&d, &env, "From: x@reject.dmarc.example\nSubject: s\n\nbody\n", &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    const struct fl_mc_mod *add;
    ck_assert_uint_eq(fl_test_count_mods(eom, 'h', &add), 1);
    ck_assert_str_eq(add->name, "X-Faultline-Quarantine");
    ck_assert_msg(strstr(add->value, "policy.dmarc=quarantine") != NULL, "%s", add->value);
    finish(&d, &s);
}
END_TEST

/* The known DMARC bypasses: no From header, or two of them, are refused
   (550 5.7.26) by default, naming the problem. */
START_TEST(missing_or_multiple_from_is_refused)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    static const struct {
        const char *label, *msg, *reason;
    } rows[] = {
        {"no From header", "Subject: s\n\nbody\n", "reason=dmarc.from_missing"},
        {"two From headers",
         "From: a@aligned.dns.example\nFrom: b@reject.dmarc.example\nSubject: s\n\nbody\n",
         "reason=dmarc.from_multiple"},
    };
    for (size_t i = 0; i < 2; i++) {
        struct fl_mc_session s;
        char qid[16];
        snprintf(qid, sizeof(qid), "4QFROM%zu", i);
        struct fl_test_env env = {.client_ip = "192.0.2.2", .sender = "x@aligned.dns.example",
                                  .queue_id = qid};
        fl_test_run(&d, &env, rows[i].msg, &s);
        const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
        ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.26 ", 11) == 0,
                      "%s: %c %s", rows[i].label, eom->code, eom->text ? eom->text : "");
        fl_mc_session_clear(&s);
        char want[128];
        snprintf(want, sizeof(want), "%s: verdict action=reject code=550 dsn=5.7.26", qid);
        ck_assert_msg(fl_daemon_wait_log(&d, want, 3000), "%s: no verdict line", rows[i].label);
        ck_assert_msg(fl_daemon_wait_log(&d, rows[i].reason, 100), "%s: %s not logged",
                      rows[i].label, rows[i].reason);
    }
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

static Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("spf and dns lists");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, spf_fail_is_rejected_naming_domain_and_client);
    tcase_add_test(tc, spf_fail_can_be_only_marked);
    tcase_add_test(tc, received_spf_header_when_asked);
    tcase_add_test(tc, listed_client_is_refused_at_rcpt_naming_the_list);
    tcase_add_test(tc, error_coded_list_is_ignored_and_blamed_on_us);
    tcase_add_test(tc, listing_can_be_rejected_at_end_of_message);
    tcase_add_test(tc, dkim_signature_verifies_and_tampering_is_caught);
    tcase_add_test(tc, greylisting_defers_the_first_attempt_and_accepts_the_retry);
    tcase_add_test(tc, greylist_store_down_fails_open);
    tcase_add_test(tc, dmarc_pass_and_reject);
    tcase_add_test(tc, dmarc_reject_is_downgraded_by_default);
    tcase_add_test(tc, missing_or_multiple_from_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_test_main(policy_suite(), NULL);
}
