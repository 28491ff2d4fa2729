/* check_ops: the operator surfaces through the real daemon.
   - Observe mode: with dnsbl_mode = observe, an /observe list, or
     greylist_mode = observe, the decision is made and recorded -- the
     verdict record's "observed" sentence with the reply that would have
     been given, the syslog summary's observe= -- and the SMTP session goes
     on as if the policy were off.
   - Complete records: the reply names every list that counted, the record
     keeps every list asked, Authentication-Results names the published and
     applied DMARC policy.
   - faultlinectl why and report read the verdict log the daemon wrote (not
     a fixture), so the reader and the writer cannot drift apart. */
#include "tests/harness/dns_server.h"
#include "tests/protocol/session.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *simple = "From: a@txt.dns.example\nSubject: s\nMessage-ID: <o@x>\n\nbody\n";

/* The first verdict record of d whose queue_id is qid, waiting up to 20 s
   for it: a transaction refused at RCPT is recorded when the MTA ends it,
   after the client has its reply (slow under valgrind on a busy machine). */
static json_t *record_of(struct fl_daemon *d, const char *qid)
{
    json_t *found = NULL;
    for (int tries = 0; tries < 200 && found == NULL; tries++) {
        if (tries > 0)
            usleep(100000);
        char *text = fl_daemon_read(d->verdicts);
        ck_assert_ptr_nonnull(text);
        for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
            json_t *j = json_loads(line, 0, NULL);
            const char *q = json_string_value(json_object_get(j, "queue_id"));
            if (q != NULL && strcmp(q, qid) == 0)
                found = j;
            else
                json_decref(j);
        }
        free(text);
    }
    ck_assert_msg(found != NULL, "no verdict record for %s", qid);
    return found;
}

static json_t *check_of(json_t *rec, const char *method)
{
    json_t *checks = json_object_get(rec, "checks");
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        if (strcmp(json_string_value(json_object_get(c, "method")), method) == 0)
            return c;
    }
    ck_abort_msg("no %s check in the record", method);
    return NULL;
}

/* Runs one session of a prepared daemon; the session goes on past RCPT
   and is accepted at end of message. */
static void run_accepted(struct fl_daemon *d, const struct fl_test_env *env)
{
    ck_assert(fl_daemon_start(d) == 0);
    struct fl_mc_session s;
    fl_test_run(d, env, simple, &s);
    const struct fl_mc_reply *rcpt = fl_test_reply(&s, FL_MC_STEP_RCPT);
    ck_assert_msg(rcpt != NULL && rcpt->code == 'c', "rcpt: %c %s", rcpt ? rcpt->code : '-',
                  rcpt && rcpt->text ? rcpt->text : "");
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom != NULL && (eom->code == 'a' || eom->code == 'c'), "eom: %c %s",
                  eom ? eom->code : '-', eom && eom->text ? eom->text : "");
    fl_mc_session_clear(&s);
}

/* Runs faultlinectl with args (shell words) and returns its stdout. */
static char *ctl(const char *args)
{
    const char *top = getenv("top_builddir");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s/milter/faultlinectl %s 2>&1", top ? top : ".", args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    static char out[65536];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

static void stop(struct fl_daemon *d)
{
    ck_assert_int_eq(fl_daemon_stop(d), 0);
    fl_daemon_cleanup(d);
}

START_TEST(dnsbl_observe_mode_records_the_refusal_and_accepts)
{
    struct fl_daemon d;
    struct fl_test_env env = {.client_ip = "192.0.2.7", .queue_id = "4QOBSBL"};
    fl_daemon_prepare(&d, NULL,
                      "dnsbl_sites = zen.dnsbl.example*2, dead.dnsbl.example\n"
                      "dnsbl_mode = observe\n");
    run_accepted(&d, &env);
    ck_assert(fl_daemon_wait_log(&d, "4QOBSBL: verdict action=accept fault=none", 3000));
    ck_assert(fl_daemon_wait_log(&d, "observe=dnsbl:reject:554", 100));
    ck_assert(fl_daemon_wait_log(&d, "4QOBSBL: observe check=dnsbl would=reject code=554 "
                                     "dsn=5.7.1 reply=\"client address is blocklisted: "
                                     "192.0.2.7 is listed on zen.dnsbl.example",
                                 100));
    json_t *rec = record_of(&d, "4QOBSBL");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "action")), "accept");
    const char *obs = json_string_value(json_array_get(json_object_get(rec, "observed"), 0));
    ck_assert_msg(obs != NULL && strncmp(obs, "dnsbl: would have refused with 554 5.7.1 ",
                                         41) == 0 &&
                      strstr(obs, "192.0.2.7 is listed on zen.dnsbl.example"),
                  "observed: %s", obs ? obs : "(none)");
    json_t *c = check_of(rec, "dnsbl");
    ck_assert_str_eq(json_string_value(json_object_get(c, "result")), "fail");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "observe"), "action")),
                     "reject");
    json_t *lists = json_object_get(c, "lists");
    ck_assert_uint_eq(json_array_size(lists), 2);
    ck_assert(json_is_true(json_object_get(json_array_get(lists, 0), "observe")));
    json_decref(rec);
    stop(&d);
}
END_TEST

START_TEST(one_observed_list_beside_an_enforced_one)
{
    struct fl_daemon d;
    struct fl_test_env env = {.client_ip = "192.0.2.7", .queue_id = "4QOBSONE"};
    fl_daemon_prepare(&d, NULL, "dnsbl_sites = zen.dnsbl.example*3/observe, dead.dnsbl.example\n");
    run_accepted(&d, &env);
    ck_assert(fl_daemon_wait_log(&d, "4QOBSONE: verdict action=accept", 3000));
    json_t *rec = record_of(&d, "4QOBSONE");
    json_t *lists = json_object_get(check_of(rec, "dnsbl"), "lists");
    json_t *zen = json_array_get(lists, 0), *dead = json_array_get(lists, 1);
    ck_assert_str_eq(json_string_value(json_object_get(zen, "status")), "listed");
    ck_assert(json_is_true(json_object_get(zen, "observe")));
    ck_assert_int_eq(json_integer_value(json_object_get(zen, "observe_weight")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(zen, "weight")), 0);
    ck_assert_ptr_null(json_object_get(dead, "observe"));
    ck_assert_uint_eq(json_array_size(json_object_get(rec, "observed")), 1);
    json_decref(rec);
    stop(&d);
}
END_TEST

START_TEST(greylist_observe_mode_records_the_deferral_and_accepts)
{
    struct fl_daemon d;
    char extra[512];
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = "4QOBSGREY"};
    fl_daemon_prepare(&d, NULL, NULL);
    snprintf(extra, sizeof(extra),
             "greylist_enable = yes\ngreylist_mode = observe\ngreylist_lmdb_dir = %s/gl\n",
             d.dir);
    fl_daemon_write_conf(&d, NULL, extra, true);
    run_accepted(&d, &env);
    ck_assert(fl_daemon_wait_log(&d, "4QOBSGREY: verdict action=accept fault=none", 3000));
    ck_assert(fl_daemon_wait_log(&d, "observe=greylist:tempfail:451", 100));
    ck_assert(fl_daemon_wait_log(&d, "4QOBSGREY: observe check=greylist would=tempfail "
                                     "code=451 dsn=4.7.1 reply=\"greylisted, please retry in",
                                 100));
    json_t *rec = record_of(&d, "4QOBSGREY");
    const char *obs = json_string_value(json_array_get(json_object_get(rec, "observed"), 0));
    ck_assert_msg(obs != NULL && strncmp(obs, "greylist: would have deferred with 451 4.7.1 "
                                              "greylisted, please retry in",
                                         72) == 0,
                  "observed: %s", obs ? obs : "(none)");
    ck_assert_str_eq(json_string_value(json_object_get(check_of(rec, "greylist"), "reason")),
                     "greylist.first_seen");
    json_decref(rec);
    stop(&d);
}
END_TEST

/* A message deferred by greylisting at RCPT never reaches its end; its
   record still keeps every DNS list asked. */
START_TEST(a_greylisted_message_records_the_lists_asked)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    char extra[512];
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = "4QGREYBL"};
    fl_daemon_prepare(&d, NULL, NULL);
    snprintf(extra, sizeof(extra),
             "greylist_enable = yes\ngreylist_lmdb_dir = %s/gl\n"
             "dnsbl_sites = zen.dnsbl.example, dead.dnsbl.example\n",
             d.dir);
    fl_daemon_write_conf(&d, NULL, extra, true);
    ck_assert(fl_daemon_start(&d) == 0);
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_reply *rcpt = fl_test_reply(&s, FL_MC_STEP_RCPT);
    ck_assert_msg(rcpt->code == 'y' && strncmp(rcpt->text, "451 4.7.1 ", 10) == 0,
                  "rcpt: %c %s", rcpt->code, rcpt->text ? rcpt->text : "");
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QGREYBL: verdict action=tempfail", 3000));
    json_t *rec = record_of(&d, "4QGREYBL");
    json_t *c = check_of(rec, "dnsbl");
    ck_assert_str_eq(json_string_value(json_object_get(c, "action")), "accept");
    json_t *lists = json_object_get(c, "lists");
    ck_assert_uint_eq(json_array_size(lists), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lists, 1), "list")),
                     "dead.dnsbl.example");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "action")), "tempfail");
    json_decref(rec);
    stop(&d);
}
END_TEST

START_TEST(every_list_that_counted_is_named_and_why_explains_it)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.7", .queue_id = "4QWHYBL"};
    fl_daemon_prepare(&d, NULL, "dnsbl_sites = zen.dnsbl.example*2, bl2.dnsbl.example\n");
    ck_assert(fl_daemon_start(&d) == 0);
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_reply *rcpt = fl_test_reply(&s, FL_MC_STEP_RCPT);
    ck_assert_msg(rcpt->code == 'y' && strncmp(rcpt->text, "554 5.7.1 ", 10) == 0 &&
                      strstr(rcpt->text, "is listed on zen.dnsbl.example and bl2.dnsbl.example"),
                  "rcpt: %c %s", rcpt->code, rcpt->text ? rcpt->text : "");
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QWHYBL: verdict action=reject code=554", 3000));
    json_t *rec = record_of(&d, "4QWHYBL");
    json_t *lists = json_object_get(check_of(rec, "dnsbl"), "lists");
    ck_assert_uint_eq(json_array_size(lists), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *l = json_array_get(lists, i);
        ck_assert_str_eq(json_string_value(json_object_get(l, "status")), "listed");
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(l, "answers"), 0)),
                         "127.0.0.2");
        ck_assert_int_eq(json_integer_value(json_object_get(l, "weight")), i == 0 ? 2 : 1);
    }
    json_decref(rec);
    char args[1024];
    snprintf(args, sizeof(args), "why --json 4QWHYBL %s", d.verdicts);
    const char *why = ctl(args);
    ck_assert_msg(strstr(why, "The message was refused with 554 5.7.1 because of the DNS lists "
                              "check (dnsbl.listed). The sender's side must act") &&
                      strstr(why, "zen.dnsbl.example asked about 192.0.2.7: listed "
                                  "(answer 127.0.0.2, weight 2") &&
                      strstr(why, "bl2.dnsbl.example asked about 192.0.2.7: listed"),
                  "faultlinectl why: %s", why);
    snprintf(args, sizeof(args), "report %s", d.verdicts);
    const char *report = ctl(args);
    ck_assert_msg(strstr(report, "refused 1,") &&
                      strstr(report, "zen.dnsbl.example + bl2.dnsbl.example: 1"),
                  "faultlinectl report: %s", report);
    stop(&d);
}
END_TEST

START_TEST(dmarc_published_and_applied_policy_in_the_header_and_in_why)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .sender = "x@aligned.dns.example",
                              .queue_id = "4QWHYDMARC"};
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    fl_test_run(&d, &env, "From: x@reject.dmarc.example\nSubject: s\n\nbody\n", &s);
    const struct fl_mc_mod *ar = NULL;
    ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ar), 1);
    static const char *const want[] = {
        "policy.dmarc=quarantine", "policy.published-domain-policy=reject",
        "policy.applied-disposition=quarantine", "policy.evaluated-disposition=reject",
        "policy.policy-from=p", "policy.policy-domain=reject.dmarc.example"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(strstr(ar->value, want[i]) != NULL, "%s not in %s", want[i], ar->value);
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QWHYDMARC: verdict", 3000));
    char args[1024];
    snprintf(args, sizeof(args), "why --json 4QWHYDMARC %s", d.verdicts);
    const char *why = ctl(args);
    ck_assert_msg(strstr(why, "DMARC record at _dmarc.reject.dmarc.example: p=reject; the p= "
                              "policy applies; DMARC asked for reject, we applied quarantine "
                              "(our local policy)"),
                  "faultlinectl why: %s", why);
    stop(&d);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("operator surfaces");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, dnsbl_observe_mode_records_the_refusal_and_accepts);
    tcase_add_test(tc, one_observed_list_beside_an_enforced_one);
    tcase_add_test(tc, greylist_observe_mode_records_the_deferral_and_accepts);
    tcase_add_test(tc, a_greylisted_message_records_the_lists_asked);
    tcase_add_test(tc, every_list_that_counted_is_named_and_why_explains_it);
    tcase_add_test(tc, dmarc_published_and_applied_policy_in_the_header_and_in_why);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_test_main(ops_suite(), NULL);
}
