/* check_protocol: the real daemon over its milter socket -- the
   Authentication-Results header, forged-header removal, trusted and
   authenticated clients, the verdict line and JSON record, the memory
   budget, hostile envelopes and dropped sessions. */
#include "tests/harness/dns_server.h"
#include "tests/protocol/session.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fl_daemon shared;
static struct fl_dnsd dnsd; /* the test DNS server every daemon uses */

static void shared_start(void)
{
    fl_daemon_prepare(&shared, NULL, NULL);
    if (fl_daemon_start(&shared) < 0)
        abort();
}

static void shared_stop(void)
{
    int status = fl_daemon_stop(&shared);
    if (status != 0) {
        char *log = fl_daemon_read(shared.log);
        fprintf(stderr, "daemon exit status %d; log:\n%s\n", status, log);
        free(log);
        abort(); /* a leak under valgrind/ASan, or a crash, fails the suite */
    }
    fl_daemon_cleanup(&shared);
}

/* The last JSON record in the verdict log whose queue_id is qid (the
   record follows the log line by a moment: wait up to 3 s for it). */
static json_t *verdict_for(struct fl_daemon *d, const char *qid)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "\"queue_id\":\"%s\"", qid);
    for (int i = 0; i < 150; i++) {
        char *t = fl_daemon_read(d->verdicts);
        bool found = strstr(t, needle) != NULL;
        free(t);
        if (found)
            break;
        usleep(20000);
    }
    char *text = fl_daemon_read(d->verdicts);
    json_t *found = NULL;
    char *save, *line = strtok_r(text, "\n", &save);
    for (; line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        ck_assert_msg(o != NULL, "verdict line is not JSON (%s): %s", err.text, line);
        const char *q = json_string_value(json_object_get(o, "queue_id"));
        if (q && strcmp(q, qid) == 0) {
            json_decref(found);
            found = o;
        } else {
            json_decref(o);
        }
    }
    free(text);
    ck_assert_msg(found != NULL, "no verdict record for %s", qid);
    return found;
}

static const char *simple =
    "From: Alice <alice@dns.example>\nTo: bob@example.net\nSubject: hi\n"
    "Message-ID: <m1@example.com>\n\nHello.\n";

START_TEST(ar_header_inserted_first_with_our_id)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QAR1"};
    fl_test_run(&shared, &env, simple, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_ptr_nonnull(eom);
    ck_assert_msg(eom->code == 'a' || eom->code == 'c', "eom verdict %c", eom->code);
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', &ins), 1);
    ck_assert_uint_eq(ins->index, 0);
    ck_assert_str_eq(ins->name, "Authentication-Results");
    /* 192.0.2.7 has no PTR record in the test zones */
    ck_assert_str_eq(ins->value, "mx.faultline.example;\n\tiprev=fail reason=\"no PTR record\" "
                                 "policy.iprev=192.0.2.7;\n"
                                 "\tspf=pass smtp.mailfrom=sender@txt.dns.example;\n"
                                 "\tspf=none reason=\"no SPF record\" smtp.helo=host.dns.example;\n\tdkim=none;\n\tarc=none;\n"
                                 "\tdmarc=none reason=\"no DMARC record for dns.example\"\n"
                                 "\theader.from=dns.example");
    ck_assert_uint_eq(fl_test_count_mods(eom, 'm', NULL), 0);
    fl_mc_session_clear(&s);
}
END_TEST

START_TEST(verdict_line_and_record_written)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QVERDICT1", .client_name = "mail.example.org",
                              .helo = "host.dns.example", .sender = "alice@txt.dns.example"};
    fl_test_run(&shared, &env, simple, &s);
    fl_mc_session_clear(&s);
    ck_assert_msg(fl_daemon_wait_log(&shared,
                                     "4QVERDICT1: verdict action=accept fault=none "
                                     "client=[192.0.2.7] from=<alice@txt.dns.example> "
                                     "checks=iprev:fail,spf:pass,spf:none,dkim:none,arc:none,dmarc:none",
                                     3000),
                  "no verdict line in the log");
    json_t *v = verdict_for(&shared, "4QVERDICT1");
    json_t *client = json_object_get(v, "client");
    ck_assert_str_eq(json_string_value(json_object_get(client, "ip")), "192.0.2.7");
    ck_assert_int_eq(json_integer_value(json_object_get(client, "port")), 41000);
    ck_assert_str_eq(json_string_value(json_object_get(client, "ptr")), "mail.example.org");
    ck_assert_str_eq(json_string_value(json_object_get(client, "helo")), "host.dns.example");
    ck_assert_str_eq(json_string_value(json_object_get(v, "mail_from")), "alice@txt.dns.example");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(v, "rcpts"), 0)),
                     "rcpt@example.net");
    ck_assert_str_eq(json_string_value(json_object_get(v, "message_id")), "<m1@example.com>");
    ck_assert_str_eq(json_string_value(json_object_get(v, "action")), "accept");
    ck_assert_str_eq(json_string_value(json_object_get(v, "fault")), "none");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "reply"), "code")), 250);
    json_t *el = json_object_get(v, "elapsed_ms");
    ck_assert_msg(json_object_get(el, "mail") && json_object_get(el, "rcpt") &&
                      json_object_get(el, "eoh") && json_object_get(el, "eom"),
                  "elapsed_ms lacks a stage");
    ck_assert_msg(json_integer_value(json_object_get(el, "eom")) >=
                      json_integer_value(json_object_get(el, "mail")),
                  "stages out of order");
    json_decref(v);
}
END_TEST

/* forged-ar.eml: AR headers 1 (ours), 2 (other.example), 3 (ours, folded),
   4 (malformed), 5 (comment, then ours on a continuation line). */
START_TEST(forged_headers_removed_highest_index_first)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QFORGED"};
    fl_test_run_file(&shared, &env, "forged-ar.eml", &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_ptr_nonnull(eom);
    const unsigned int want[] = {5, 4, 3, 1};
    size_t k = 0;
    for (size_t i = 0; i < eom->nmods; i++) {
        const struct fl_mc_mod *m = &eom->mods[i];
        if (m->type != 'm')
            continue;
        ck_assert_msg(k < 4, "more than 4 headers changed");
        ck_assert_str_eq(m->name, "Authentication-Results");
        ck_assert_msg(m->value[0] == '\0', "header %u changed, not deleted", m->index);
        ck_assert_msg(m->index == want[k], "deletion %zu: got index %u, want %u", k, m->index,
                      want[k]);
        k++;
    }
    ck_assert_uint_eq(k, 4);
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', &ins), 1);
    ck_assert_uint_eq(ins->index, 0);
    fl_mc_session_clear(&s);
}
END_TEST

START_TEST(trusted_client_gets_no_header_but_forgeries_go)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "127.0.0.1", .queue_id = "4QTRUSTED"};
    fl_test_run_file(&shared, &env, "forged-ar.eml", &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', NULL), 0);
    ck_assert_uint_eq(fl_test_count_mods(eom, 'm', NULL), 4);
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&shared, "4QTRUSTED: verdict action=accept fault=none "
                                          "client=[127.0.0.1]", 3000));
    ck_assert(fl_daemon_wait_log(&shared, "checks=skipped:trusted_network", 3000));
}
END_TEST

START_TEST(authenticated_submission_skips_checks)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QAUTH", .auth = "alice"};
    fl_test_run(&shared, &env, simple, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', NULL), 0);
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&shared, "checks=skipped:authenticated", 3000));
}
END_TEST

START_TEST(hostile_envelope_cannot_break_log_or_record)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QHOSTILE",
                              .sender = "evil\r\n4QFAKE: verdict action=reject@example.com",
                              .helo = "helo\nX-Injected: yes",
                              .client_name = "ptr\xff\xfe.example"};
    fl_test_run(&shared, &env,
                "From: x@example.com\nSubject: \xc3\xa9t\xe9\n"
                "Message-ID: <\xff\x01id@example.com>\n\nbody\n",
                &s);
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&shared, "4QHOSTILE: verdict", 3000));
    char *log = fl_daemon_read(shared.log);
    ck_assert_msg(strstr(log, "\n4QFAKE") == NULL && strstr(log, "\nX-Injected") == NULL,
                  "sender text started a log line");
    free(log);
    json_t *v = verdict_for(&shared, "4QHOSTILE"); /* parses: valid JSON and UTF-8 */
    const char *helo = json_string_value(json_object_get(json_object_get(v, "client"), "helo"));
    ck_assert_ptr_nonnull(helo);
    ck_assert_msg(strchr(helo, '\n') == NULL, "raw LF in JSON value");
    json_decref(v);
}
END_TEST

START_TEST(aborted_and_dropped_sessions_leave_daemon_serving)
{
    const char *err;
    for (int i = 0; i < 20; i++) {
        struct fl_mc *mc = fl_mc_create(NULL);
        struct fl_mc_reply r = {0};
        ck_assert_msg(fl_mc_open(mc, shared.socket, &err) == 0, "open: %s", err);
        ck_assert(fl_mc_connect(mc, "[192.0.2.9]", '4', 1234, "192.0.2.9", &r, &err) == 0);
        fl_mc_reply_clear(&r);
        ck_assert(fl_mc_helo(mc, "x.example", &r, &err) == 0);
        fl_mc_reply_clear(&r);
        const char *from[] = {"<a@example.com>", NULL};
        ck_assert(fl_mc_mail(mc, from, &r, &err) == 0);
        fl_mc_reply_clear(&r);
        if (i % 2 == 0) {
            ck_assert(fl_mc_header(mc, "Subject", " half", &r, &err) == 0);
            fl_mc_reply_clear(&r);
            fl_mc_abort(mc, &err); /* SMTP RSET */
        }
        fl_mc_close(mc); /* connection dropped without QUIT */
        fl_mc_destroy(&mc);
    }
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QAFTERDROP"};
    fl_test_run(&shared, &env, simple, &s);
    ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', NULL), 1);
    fl_mc_session_clear(&s);
}
END_TEST

START_TEST(two_messages_on_one_connection_get_their_own_verdicts)
{
    const char *err;
    struct fl_mc *mc = fl_mc_create(NULL);
    struct fl_mc_reply r = {0};
    ck_assert(fl_mc_open(mc, shared.socket, &err) == 0);
    ck_assert(fl_mc_connect(mc, "[192.0.2.10]", '4', 1234, "192.0.2.10", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    for (int i = 0; i < 2; i++) {
        char qid[32];
        snprintf(qid, sizeof(qid), "4QTWO%d", i);
        fl_mc_set_macro(mc, FL_MC_STAGE_MAIL, "i", qid);
        fl_mc_set_macro(mc, FL_MC_STAGE_EOM, "i", qid);
        const char *from[] = {i ? "<second@txt.dns.example>" : "<first@txt.dns.example>",
                              NULL};
        const char *to[] = {"<r@example.net>", NULL};
        ck_assert(fl_mc_mail(mc, from, &r, &err) == 0);
        fl_mc_reply_clear(&r);
        ck_assert(fl_mc_rcpt(mc, to, &r, &err) == 0);
        fl_mc_reply_clear(&r);
        ck_assert(fl_mc_header(mc, "From", " a@dns.example", &r, &err) == 0);
        fl_mc_reply_clear(&r);
        ck_assert(fl_mc_header(mc, "Subject", " x", &r, &err) == 0);
        fl_mc_reply_clear(&r);
        ck_assert(fl_mc_eoh(mc, &r, &err) == 0);
        fl_mc_reply_clear(&r);
        ck_assert(fl_mc_eom(mc, &r, &err) == 0);
        ck_assert_uint_eq(fl_test_count_mods(&r, 'i', NULL), 1);
        fl_mc_reply_clear(&r);
    }
    fl_mc_quit(mc, &err);
    fl_mc_destroy(&mc);
    ck_assert(fl_daemon_wait_log(&shared, "4QTWO0: verdict action=accept fault=none "
                                          "client=[192.0.2.10] from=<first@txt.dns.example> "
                                          "checks=iprev:pass,spf:pass,dkim:none,arc:none,dmarc:none", 3000));
    ck_assert(fl_daemon_wait_log(&shared, "4QTWO1: verdict action=accept fault=none "
                                          "client=[192.0.2.10] from=<second@txt.dns.example> "
                                          "checks=iprev:pass,spf:pass,dkim:none,arc:none,dmarc:none", 3000));
}
END_TEST

/* iprev rows: client address, expected AR resinfo. */
struct iprev_row {
    const char *label;
    const char *ip;
    const char *want;
};

static const struct iprev_row iprev_rows[] = {
    {"a PTR name that resolves back passes", "192.0.2.2",
     "iprev=pass policy.iprev=192.0.2.2"},
    {"an address with two PTR names passes on the one that resolves back", "192.0.2.50",
     "iprev=pass policy.iprev=192.0.2.50"},
    {"a PTR name that does not resolve is a fail", "192.0.2.51",
     "iprev=fail reason=\"PTR not confirmed\" policy.iprev=192.0.2.51"},
    {"no PTR record is a fail", "192.0.2.7",
     "iprev=fail reason=\"no PTR record\" policy.iprev=192.0.2.7"},
    {"an IPv6 client is looked up under ip6.arpa", "2001:db8::2",
     "iprev=pass policy.iprev=\"2001:db8::2\""}, /* ':' is not a token char */
};

START_TEST(iprev_is_reported_for_each_kind_of_client)
{
    const struct iprev_row *row = &iprev_rows[_i];
    struct fl_mc_session s;
    /* a sender without SPF, so an IPv6 client is not refused by SPF */
    struct fl_test_env env = {.client_ip = row->ip, .queue_id = "4QIPREV",
                              .sender = "sender@dns.example"};
    fl_test_run(&shared, &env, simple, &s);
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ins), 1);
    ck_assert_msg(strstr(ins->value, row->want) != NULL, "%s: got \"%s\", want \"%s\"",
                  row->label, ins->value, row->want);
    fl_mc_session_clear(&s);
}
END_TEST

/* RFC 7505: the sender's domain says it sends no mail: 550 5.7.27 at RCPT,
   and the verdict record is written although the message never came. */
START_TEST(null_mx_sender_is_refused_at_rcpt)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QNULLMX", .sender = "bounce@nullmx.dns.example"};
    fl_test_run(&shared, &env, simple, &s);
    const struct fl_mc_reply *rcpt = fl_test_reply(&s, FL_MC_STEP_RCPT);
    ck_assert_ptr_nonnull(rcpt);
    ck_assert_msg(rcpt->code == 'y', "rcpt: %c", rcpt->code);
    ck_assert_msg(strncmp(rcpt->text, "550 5.7.27 ", 11) == 0, "reply: %s", rcpt->text);
    ck_assert_msg(strstr(rcpt->text, "nullmx.dns.example") != NULL, "reply: %s", rcpt->text);
    ck_assert_ptr_null(fl_test_reply(&s, FL_MC_STEP_EOM));
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&shared, "4QNULLMX: verdict action=reject code=550 dsn=5.7.27 "
                                          "fault=sender reason=nullmx", 3000));
    json_t *v = verdict_for(&shared, "4QNULLMX");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "rcpts_refused")), 1);
    json_decref(v);
}
END_TEST

/* Their name server fails, ours works: the probe says so, and the verdict
   puts the fault on the sender's side, with the DNS evidence. */
START_TEST(iprev_temperror_is_attributed_by_the_resolver_probe)
{
    fl_dnsd_set_faults(&dnsd, "53.2.0.192.in-addr.arpa ANY servfail\n");
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.53", .queue_id = "4QIPREVTEMP"};
    fl_test_run(&shared, &env, simple, &s);
    const struct fl_mc_mod *ins;
    fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ins);
    ck_assert_msg(strstr(ins->value, "iprev=temperror") != NULL, "%s", ins->value);
    fl_mc_session_clear(&s);
    fl_dnsd_set_faults(&dnsd, NULL);
    json_t *v = verdict_for(&shared, "4QIPREVTEMP");
    json_t *check = json_array_get(json_object_get(v, "checks"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(check, "method")), "iprev");
    ck_assert_str_eq(json_string_value(json_object_get(check, "fault")), "sender");
    ck_assert(json_is_true(json_object_get(check, "transient")));
    const char *detail = json_string_value(json_object_get(check, "detail"));
    ck_assert_msg(strstr(detail, "SERVFAIL for 53.2.0.192.in-addr.arpa/PTR") != NULL, "%s",
                  detail);
    ck_assert_str_eq(json_string_value(json_object_get(v, "action")), "accept");
    json_decref(v);
}
END_TEST

/* A PTR query that is never answered: iprev=temperror within dns_timeout
   (2 s in these tests), and the message is accepted. */
START_TEST(iprev_timeout_is_a_temperror_not_a_hang)
{
    fl_dnsd_set_faults(&dnsd, "25.2.0.192.in-addr.arpa ANY drop\n");
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.25", .queue_id = "4QIPREVDROP"};
    fl_test_run(&shared, &env, simple, &s);
    fl_dnsd_set_faults(&dnsd, NULL);
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ins), 1);
    ck_assert_msg(strstr(ins->value, "iprev=temperror") != NULL, "%s", ins->value);
    fl_mc_session_clear(&s);
    json_t *v = verdict_for(&shared, "4QIPREVDROP");
    json_t *check = json_array_get(json_object_get(v, "checks"), 0);
    const char *detail = json_string_value(json_object_get(check, "detail"));
    ck_assert_msg(strstr(detail, "TIMEOUT for 25.2.0.192.in-addr.arpa/PTR") != NULL, "%s",
                  detail);
    json_decref(v);
}
END_TEST

/* --- tests with their own daemon configuration ------------------------ */

START_TEST(iprev_reject_policy_refuses_with_its_reason)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "iprev_action = reject\n");
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QIPREVREJ"};
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom->code == 'y' && strncmp(eom->text, "550 5.7.25 ", 11) == 0, "eom: %c %s",
                  eom->code, eom->text ? eom->text : "");
    ck_assert_msg(strstr(eom->text, "192.0.2.7 has no reverse DNS") != NULL, "%s", eom->text);
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', NULL), 0); /* rejected: no header */
    fl_mc_session_clear(&s);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

START_TEST(rename_mode_keeps_forged_headers_under_another_name)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "forged_header_action = rename\n");
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;
    fl_test_run_file(&d, NULL, "forged-ar.eml", &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_uint_eq(fl_test_count_mods(eom, 'm', NULL), 4);
    const struct fl_mc_mod *add;
    ck_assert_uint_eq(fl_test_count_mods(eom, 'h', &add), 4);
    ck_assert_str_eq(add->name, "X-Original-Authentication-Results");
    ck_assert_str_eq(add->value, "mx.faultline.example; spf=pass smtp.mailfrom=example.com");
    fl_mc_session_clear(&s);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* Thousands of forged headers exceed a small memory budget: faultline
   cannot vouch for the message, so it defers it -- 4xx, never 5xx -- and
   says the fault is ours. */
START_TEST(over_memory_budget_is_deferred_as_our_fault)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "message_memory_limit = 64k\n");
    ck_assert(fl_daemon_start(&d) == 0);
    size_t cap = 6000 * 64 + 256;
    char *msg = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < 6000; i++)
        len += (size_t)snprintf(msg + len, cap - len,
                                "Authentication-Results: mx.faultline.example; spf=pass\n");
    snprintf(msg + len, cap - len, "Subject: big\n\nbody\n");
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QBUDGET"};
    fl_test_run(&d, &env, msg, &s);
    free(msg);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_ptr_nonnull(eom);
    ck_assert_msg(eom->code == 'y', "want a reply code, got %c", eom->code);
    ck_assert_msg(strncmp(eom->text, "451 4.3.0 ", 10) == 0, "reply: %s", eom->text);
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QBUDGET: verdict action=tempfail code=451 dsn=4.3.0 "
                                     "fault=receiver transient=yes reason=internal.over_budget",
                                 3000));
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* The steps faultline never refuses are negotiated without a reply, so
   the MTA sends on without waiting (one round trip less each); RCPT and
   end of message keep theirs (they may refuse). */
static const struct {
    const char *label;
    enum fl_mc_step step;
    bool replies;
} reply_rows[] = {
    {"connect gets no reply", FL_MC_STEP_CONNECT, false},
    {"HELO gets no reply", FL_MC_STEP_HELO, false},
    {"MAIL gets no reply", FL_MC_STEP_MAIL, false},
    {"RCPT keeps its reply (it may refuse)", FL_MC_STEP_RCPT, true},
    {"DATA gets no reply", FL_MC_STEP_DATA, false},
    {"a header gets no reply", FL_MC_STEP_HEADER, false},
    {"end of headers gets no reply", FL_MC_STEP_EOH, false},
    {"a body chunk gets no reply", FL_MC_STEP_BODY, false},
    {"end of message keeps its reply", FL_MC_STEP_EOM, true},
};

START_TEST(steps_that_never_refuse_get_no_reply)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QNOREPLY"};
    fl_test_run(&shared, &env, simple, &s);
    const struct fl_mc_reply *r = fl_test_reply(&s, reply_rows[_i].step);
    ck_assert_msg(r != NULL, "%s: step not sent", reply_rows[_i].label);
    bool replied = r->code != FL_MC_REPLY_NONE && r->code != FL_MC_REPLY_NOT_SENT;
    ck_assert_msg(replied == reply_rows[_i].replies, "%s: got reply '%c', want %s",
                  reply_rows[_i].label, r->code, reply_rows[_i].replies ? "one" : "none");
    fl_mc_session_clear(&s);
}
END_TEST

/* Over TCP the same: readahead.c re-arms quick ACKs, so the MTA's
   back-to-back commands do not wait for a delayed ACK. */
START_TEST(over_tcp_the_same_steps_get_no_reply)
{
    struct fl_daemon d;
    char spec[64];
    snprintf(spec, sizeof(spec), "inet:%d@127.0.0.1", fl_daemon_free_port());
    fl_daemon_prepare(&d, spec, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;
    struct fl_test_env env = {.queue_id = "4QTCPREPLY"};
    fl_test_run(&d, &env, simple, &s);
    for (size_t i = 0; i < sizeof(reply_rows) / sizeof(reply_rows[0]); i++) {
        const struct fl_mc_reply *r = fl_test_reply(&s, reply_rows[i].step);
        ck_assert_msg(r != NULL, "over TCP, %s: step not sent", reply_rows[i].label);
        bool replied = r->code != FL_MC_REPLY_NONE && r->code != FL_MC_REPLY_NOT_SENT;
        ck_assert_msg(replied == reply_rows[i].replies, "over TCP, %s: got '%c', want %s",
                      reply_rows[i].label, r->code, reply_rows[i].replies ? "one" : "none");
    }
    fl_mc_session_clear(&s);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

static Suite *protocol_suite(void)
{
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("shared daemon");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_start, shared_stop);
    tcase_add_test(tc, ar_header_inserted_first_with_our_id);
    tcase_add_test(tc, verdict_line_and_record_written);
    tcase_add_test(tc, forged_headers_removed_highest_index_first);
    tcase_add_test(tc, trusted_client_gets_no_header_but_forgeries_go);
    tcase_add_test(tc, authenticated_submission_skips_checks);
    tcase_add_test(tc, hostile_envelope_cannot_break_log_or_record);
    tcase_add_test(tc, aborted_and_dropped_sessions_leave_daemon_serving);
    tcase_add_test(tc, two_messages_on_one_connection_get_their_own_verdicts);
    tcase_add_loop_test(tc, iprev_is_reported_for_each_kind_of_client, 0,
                        (int)(sizeof(iprev_rows) / sizeof(iprev_rows[0])));
    tcase_add_test(tc, null_mx_sender_is_refused_at_rcpt);
    tcase_add_test(tc, iprev_temperror_is_attributed_by_the_resolver_probe);
    tcase_add_test(tc, iprev_timeout_is_a_temperror_not_a_hang);
    tcase_add_loop_test(tc, steps_that_never_refuse_get_no_reply, 0,
                        (int)(sizeof(reply_rows) / sizeof(reply_rows[0])));
    suite_add_tcase(s, tc);
    TCase *own = tcase_create("own daemon");
    tcase_set_timeout(own, 120);
    tcase_add_test(own, rename_mode_keeps_forged_headers_under_another_name);
    tcase_add_test(own, over_tcp_the_same_steps_get_no_reply);
    tcase_add_test(own, over_memory_budget_is_deferred_as_our_fault);
    tcase_add_test(own, iprev_reject_policy_refuses_with_its_reason);
    suite_add_tcase(s, own);
    return s;
}

int main(void)
{
    return fl_test_main(protocol_suite(), &dnsd);
}
