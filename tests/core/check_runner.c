/* check_runner: unit tests for lib/core/check, the run of the registered
   checks over one SMTP session, with two small checks of the test's own
   (the real ones are exercised through the daemon in tests/protocol).

   Phases reach the checks in table order; per-connection checks start at
   connect and live across transactions, per-message checks at each MAIL
   FROM; a refusal at RCPT stops the later checks and, for every
   recipient, holds for the rest of the transaction; a skipped transaction
   leaves per-connection checks out but lets per-message ones decide;
   the body is asked for only when a check wants it; a later check reads an
   earlier one's state through fl_checks_state; record parts and added
   headers come in table order.  Run by `make check`. */
#include "lib/core/check.h"
#include "lib/core/json_out.h"
#include "lib/core/xalloc.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static char trace[1024];

static void note(const char *what)
{
    strncat(trace, what, sizeof(trace) - strlen(trace) - 1);
    strncat(trace, " ", sizeof(trace) - strlen(trace) - 1);
}

/* "conn": per connection; counts transactions, refuses rcpts named
   "blocked@..." for every recipient. */
struct conn_state {
    int transactions;
};

static void *conn_start(struct fl_checks *cs)
{
    note("conn.start");
    if (cs->skip != FL_SKIP_NONE)
        return NULL;
    return fl_calloc(1, sizeof(struct conn_state));
}

static void conn_mail(void *st, struct fl_checks *cs)
{
    (void)cs;
    ((struct conn_state *)st)->transactions++;
    note("conn.mail");
}

static bool conn_rcpt(void *st, struct fl_checks *cs, const char *rcpt)
{
    (void)st;
    note("conn.rcpt");
    if (strncmp(rcpt, "blocked@", 8) != 0)
        return false;
    struct fl_result r;
    fl_result_init(&r, "conn", FL_RES_FAIL);
    fl_result_set_reason(&r, "dnsbl.listed", "listed", "the client is listed");
    r.action = FL_ACTION_REJECT;
    fl_checks_refuse(cs, &r, 0, NULL, NULL, true);
    return true;
}

static void conn_finish(void *st, struct fl_checks *cs)
{
    (void)st;
    struct fl_result r;
    fl_result_init(&r, "conn", FL_RES_PASS);
    fl_checks_add_result(cs, &r);
    note("conn.finish");
}

static const struct fl_check conn_check = {
    .name = "conn",
    .per_connection = true,
    .start = conn_start,
    .mail = conn_mail,
    .rcpt = conn_rcpt,
    .finish = conn_finish,
    .free = free,
};

/* "msg": per message; wants the body when a header "X-Body: yes" came,
   counts body bytes, reads conn's transaction count at the end. */
struct msg_state {
    bool want_body;
    size_t body;
    int seen_transactions;
};

static void *msg_start(struct fl_checks *cs)
{
    (void)cs;
    note("msg.start");
    return fl_calloc(1, sizeof(struct msg_state));
}

static void msg_header(void *st, struct fl_checks *cs, const char *name, const char *value)
{
    (void)cs;
    if (strcmp(name, "X-Body") == 0 && strcmp(value, "yes") == 0)
        ((struct msg_state *)st)->want_body = true;
}

static bool msg_eoh(void *st, struct fl_checks *cs)
{
    (void)cs;
    return ((struct msg_state *)st)->want_body;
}

static void msg_body(void *st, const unsigned char *chunk, size_t len)
{
    (void)chunk;
    ((struct msg_state *)st)->body += len;
}

static void msg_finish(void *st, struct fl_checks *cs)
{
    struct msg_state *m = st;
    const struct conn_state *c = fl_checks_state(cs, &conn_check);
    m->seen_transactions = c != NULL ? c->transactions : -1;
    struct fl_result r;
    fl_result_init(&r, "msg", FL_RES_PASS);
    fl_checks_add_result(cs, &r);
    note("msg.finish");
}

static bool msg_record(const void *st, struct fl_json_out *members)
{
    const struct msg_state *m = st;
    fl_json_key(members, "body");
    fl_json_int(members, (long long)m->body);
    return true;
}

static bool msg_add_header(const void *st, const struct fl_checks *cs, const char **name_r,
                           struct fl_buf *value, bool *at_top)
{
    (void)cs;
    *name_r = "X-Msg";
    fl_buf_printf(value, "body=%zu", ((const struct msg_state *)st)->body);
    *at_top = true;
    return true;
}

static const struct fl_check msg_check = {
    .name = "msg",
    .start = msg_start,
    .header = msg_header,
    .eoh = msg_eoh,
    .body = msg_body,
    .finish = msg_finish,
    .record = msg_record,
    .add_header = msg_add_header,
    .free = free,
};

static const struct fl_check *const table[] = {&conn_check, &msg_check};

static struct fl_config *cfg;
static struct fl_checks cs;

static void setup(void)
{
    trace[0] = '\0';
    cfg = fl_config_defaults();
    memset(&cs, 0, sizeof(cs));
}

static void teardown(void)
{
    fl_checks_clear(&cs);
    fl_config_unref(&cfg);
}

static void start(enum fl_skip skip)
{
    struct fl_check_services svc = {0};
    fl_checks_init(&cs, table, 2, cfg, &svc, "192.0.2.1", skip);
    fl_checks_connect(&cs);
}

START_TEST(phases_reach_the_checks_in_table_order)
{
    start(FL_SKIP_NONE);
    fl_checks_helo(&cs, "client.example");
    fl_checks_mail(&cs, "a@example.org", 0);
    ck_assert_ptr_null(fl_checks_rcpt(&cs, "b@example.net"));
    fl_checks_header(&cs, "Subject", "hi");
    fl_checks_eoh(&cs);
    ck_assert(!fl_checks_body(&cs, (const unsigned char *)"x", 1)); /* nobody wants it */
    fl_checks_eom(&cs);
    ck_assert_str_eq(trace, "conn.start conn.mail msg.start conn.rcpt conn.finish msg.finish ");
    ck_assert_uint_eq(cs.nresults, 2);
    ck_assert_str_eq(cs.results[0].method, "conn");
    ck_assert_str_eq(cs.results[1].method, "msg");
    /* the later check read the earlier one's state */
    const struct msg_state *m = fl_checks_state(&cs, &msg_check);
    ck_assert_int_eq(m->seen_transactions, 1);
}
END_TEST

START_TEST(per_connection_state_outlives_the_transaction)
{
    start(FL_SKIP_NONE);
    for (int i = 1; i <= 3; i++) {
        fl_checks_mail(&cs, "a@example.org", 0);
        fl_checks_eom(&cs);
        const struct msg_state *m = fl_checks_state(&cs, &msg_check);
        ck_assert_int_eq(m->seen_transactions, i);
        fl_checks_end_message(&cs);
        ck_assert_ptr_null(fl_checks_state(&cs, &msg_check));
        ck_assert_uint_eq(cs.nresults, 0);
    }
    ck_assert_ptr_nonnull(fl_checks_state(&cs, &conn_check));
}
END_TEST

START_TEST(a_refusal_for_all_holds_for_every_later_recipient)
{
    start(FL_SKIP_NONE);
    fl_checks_mail(&cs, "a@example.org", 0);
    const struct fl_result *r = fl_checks_rcpt(&cs, "blocked@example.net");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->method, "conn");
    ck_assert_int_eq(cs.rcpt_verdict->action, FL_ACTION_REJECT);
    ck_assert_int_eq(cs.rcpt_verdict->code, 554); /* the attribution table's */
    trace[0] = '\0';
    ck_assert_ptr_eq(fl_checks_rcpt(&cs, "other@example.net"), r);
    ck_assert_str_eq(trace, ""); /* decided: no check is asked again */
    fl_checks_end_message(&cs);
    ck_assert_ptr_null(cs.rcpt_result);
    fl_checks_mail(&cs, "a@example.org", 0);
    ck_assert_ptr_null(fl_checks_rcpt(&cs, "other@example.net"));
}
END_TEST

START_TEST(a_skipped_transaction_leaves_connection_checks_out)
{
    start(FL_SKIP_NONE);
    cs.skip = FL_SKIP_AUTHENTICATED; /* SMTP AUTH seen at MAIL FROM */
    fl_checks_mail(&cs, "a@example.org", 0);
    ck_assert_ptr_null(fl_checks_rcpt(&cs, "blocked@example.net"));
    fl_checks_eom(&cs);
    ck_assert_str_eq(trace, "conn.start msg.start msg.finish ");
    ck_assert_uint_eq(cs.nresults, 1);
    ck_assert_str_eq(fl_skip_name(cs.skip), "authenticated");
    /* the connection check's state stays readable to the others */
    ck_assert_ptr_nonnull(fl_checks_state(&cs, &conn_check));
}
END_TEST

START_TEST(a_trusted_client_starts_no_connection_check)
{
    start(FL_SKIP_TRUSTED);
    ck_assert_ptr_null(fl_checks_state(&cs, &conn_check));
    ck_assert_str_eq(fl_skip_name(cs.skip), "trusted_network");
    ck_assert_ptr_null(fl_skip_name(FL_SKIP_NONE));
}
END_TEST

static void collect(void *arg, const char *name, const char *value, bool at_top)
{
    char *out = arg;
    snprintf(out + strlen(out), 128 - strlen(out), "%s%s: %s;", at_top ? "^" : "", name,
             value);
}

START_TEST(body_record_parts_and_headers)
{
    start(FL_SKIP_NONE);
    fl_checks_mail(&cs, "a@example.org", 0);
    fl_checks_header(&cs, "X-Body", "yes");
    fl_checks_eoh(&cs);
    ck_assert(fl_checks_body(&cs, (const unsigned char *)"hello", 5));
    ck_assert(fl_checks_body(&cs, (const unsigned char *)"!!", 2));
    fl_checks_eom(&cs);
    struct fl_record_part parts[4];
    ck_assert_uint_eq(fl_checks_record_parts(&cs, parts, 4), 1);
    ck_assert_str_eq(parts[0].key, "msg");
    struct fl_buf members;
    fl_buf_init(&members);
    struct fl_json_out j;
    fl_json_out_init(&j, &members);
    ck_assert(parts[0].fill(parts[0].data, &j));
    ck_assert_str_eq(members.data, "\"body\":7");
    fl_buf_free(&members);
    char headers[128] = "";
    fl_checks_headers(&cs, collect, headers);
    ck_assert_str_eq(headers, "^X-Msg: body=7;");
}
END_TEST

START_TEST(results_are_found_and_removed_by_method)
{
    start(FL_SKIP_NONE);
    fl_checks_mail(&cs, "a@example.org", 0);
    const char *methods[] = {"a", "b", "a", "c"};
    for (size_t i = 0; i < 4; i++) {
        struct fl_result r;
        fl_result_init(&r, methods[i], i == 2 ? FL_RES_FAIL : FL_RES_PASS);
        fl_checks_add_result(&cs, &r);
    }
    ck_assert_int_eq(fl_checks_find_result(&cs, "a")->result, FL_RES_FAIL); /* the last */
    ck_assert_ptr_null(fl_checks_find_result(&cs, "z"));
    fl_checks_remove_results(&cs, "a");
    ck_assert_uint_eq(cs.nresults, 2);
    ck_assert_str_eq(cs.results[0].method, "b");
    ck_assert_str_eq(cs.results[1].method, "c");
    ck_assert_str_eq(fl_addr_domain("x@mail.example"), "mail.example");
    ck_assert_ptr_null(fl_addr_domain(""));
    ck_assert_ptr_null(fl_addr_domain("x@"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("check");
    TCase *tc = tcase_create("runner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, phases_reach_the_checks_in_table_order);
    tcase_add_test(tc, per_connection_state_outlives_the_transaction);
    tcase_add_test(tc, a_refusal_for_all_holds_for_every_later_recipient);
    tcase_add_test(tc, a_skipped_transaction_leaves_connection_checks_out);
    tcase_add_test(tc, a_trusted_client_starts_no_connection_check);
    tcase_add_test(tc, body_record_parts_and_headers);
    tcase_add_test(tc, results_are_found_and_removed_by_method);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
