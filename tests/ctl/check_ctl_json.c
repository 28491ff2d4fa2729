/* check_ctl_json: unit tests for faultlinectl's verdict-log reader --
   milter/ctl_json.c (the in-place JSON parser) and the time bounds of
   milter/ctl_vlog.c.  Bad input must give an error with an offset, never
   a crash: every prefix of a real record is parsed (a truncated line),
   and hostile shapes (deep nesting, bad escapes, control characters,
   trailing text) are refused. */
#include "milter/ctl_json.h"
#include "milter/ctl_vlog.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char record[] =
    "{\"v\":1,\"time\":\"2026-12-01T08:20:00.000Z\",\"queue_id\":\"4QBL1\",\"client\":"
    "{\"ip\":\"192.0.2.7\",\"port\":40000,\"ptr\":null},\"rcpts\":[\"a@x.example\","
    "\"b@x.example\"],\"checks\":[{\"method\":\"dnsbl\",\"transient\":false,\"lists\":"
    "[{\"list\":\"zen.example\",\"weight\":3,\"answers\":[\"127.0.0.2\"]}]}],"
    "\"text\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00 tab\\t\",\"n\":-12.5e1}";

/* A writable copy with room for the terminator the parser writes. */
static char *copy(const char *s, size_t len)
{
    char *c = malloc(len + 1);
    memcpy(c, s, len);
    c[len] = 'X';
    return c;
}

START_TEST(a_record_parses_and_its_members_are_found)
{
    struct fl_cj cj;
    fl_cj_init(&cj);
    char *text = copy(record, strlen(record));
    const char *why = NULL;
    size_t off = 0;
    const struct fl_cj_node *r = fl_cj_parse(&cj, text, strlen(record), &why, &off);
    ck_assert_msg(r != NULL, "parse failed: %s at %zu", why, off);
    ck_assert_double_eq(fl_cj_num(fl_cj_get(&cj, r, "v"), 0), 1);
    ck_assert_str_eq(fl_cj_gets(&cj, r, "queue_id"), "4QBL1");
    const struct fl_cj_node *client = fl_cj_get(&cj, r, "client");
    ck_assert_str_eq(fl_cj_gets(&cj, client, "ip"), "192.0.2.7");
    ck_assert_int_eq(fl_cj_get(&cj, client, "ptr")->type, FL_CJ_NULL);
    ck_assert_ptr_null(fl_cj_gets(&cj, client, "ptr"));
    ck_assert_str_eq(fl_cj_str(fl_cj_at(&cj, fl_cj_get(&cj, r, "rcpts"), 1)), "b@x.example");
    ck_assert_ptr_null(fl_cj_at(&cj, fl_cj_get(&cj, r, "rcpts"), 2));
    const struct fl_cj_node *c = fl_cj_at(&cj, fl_cj_get(&cj, r, "checks"), 0);
    ck_assert(!fl_cj_true(fl_cj_get(&cj, c, "transient")));
    const struct fl_cj_node *l = fl_cj_at(&cj, fl_cj_get(&cj, c, "lists"), 0);
    ck_assert_double_eq(fl_cj_num(fl_cj_get(&cj, l, "weight"), 0), 3);
    /* escapes: \u00e9, \", a surrogate pair (U+1F600), \t */
    ck_assert_str_eq(fl_cj_gets(&cj, r, "text"), "caf\xc3\xa9 \"q\" \xf0\x9f\x98\x80 tab\t");
    ck_assert_double_eq(fl_cj_num(fl_cj_get(&cj, r, "n"), 0), -125);
    ck_assert_ptr_null(fl_cj_get(&cj, r, "absent"));
    free(text);
    fl_cj_free(&cj);
}
END_TEST

/* A crash or a full disk cuts the last line anywhere: every prefix is an
   error with an offset inside the text, never a crash or a success. */
START_TEST(every_truncation_is_an_error_not_a_crash)
{
    struct fl_cj cj;
    fl_cj_init(&cj);
    size_t len = strlen(record);
    for (size_t n = 0; n < len; n++) {
        char *text = copy(record, n);
        const char *why = NULL;
        size_t off = 99999;
        const struct fl_cj_node *r = fl_cj_parse(&cj, text, n, &why, &off);
        ck_assert_msg(r == NULL, "a record cut at %zu bytes parsed", n);
        ck_assert_msg(why != NULL && off <= n, "cut at %zu: why %s offset %zu", n,
                      why ? why : "(null)", off);
        free(text);
    }
    fl_cj_free(&cj);
}
END_TEST

static const struct {
    const char *label, *text, *want; /* want: substring of the error */
} bad_rows[] = {
    {"an empty line", "", "unexpected end"},
    {"plain text", "this is not json", "not JSON"},
    {"trailing text after a record", "{\"a\":1} x", "trailing text"},
    {"two records on one line", "{}{}", "trailing text"},
    {"a bad escape", "{\"a\":\"\\q\"}", "bad escape"},
    {"a short \\u escape", "{\"a\":\"\\u12\"}", "bad \\u escape"},
    {"a raw control character in a string", "{\"a\":\"x\001y\"}", "control character"},
    {"a missing colon", "{\"a\" 1}", "expected \":\""},
    {"a member name that is not a string", "{a:1}", "expected a member name"},
    {"a missing comma", "[1 2]", "expected \",\" or \"]\""},
    {"a bare minus", "[-]", "bad number"},
    {"a misspelt literal", "[tru]", "not JSON"},
    {"nesting deeper than the limit", NULL, "nested too deeply"},
};

START_TEST(hostile_lines_are_refused_with_the_reason)
{
    struct fl_cj cj;
    fl_cj_init(&cj);
    char deep[400];
    memset(deep, '[', 300);
    deep[300] = '\0';
    const char *t = bad_rows[_i].text ? bad_rows[_i].text : deep;
    size_t len = strlen(t);
    char *text = copy(t, len);
    const char *why = NULL;
    size_t off;
    const struct fl_cj_node *r = fl_cj_parse(&cj, text, len, &why, &off);
    ck_assert_msg(r == NULL, "%s: parsed", bad_rows[_i].label);
    ck_assert_msg(strstr(why, bad_rows[_i].want) != NULL, "%s: got \"%s\", want \"%s\"",
                  bad_rows[_i].label, why, bad_rows[_i].want);
    free(text);
    fl_cj_free(&cj);
}
END_TEST

static const struct {
    const char *label, *text;
    bool until;
    const char *want; /* NULL: refused */
} time_rows[] = {
    {"a date starts at midnight", "2026-12-01", false, "2026-12-01T00:00:00"},
    {"a date as --until ends the day", "2026-12-01", true, "2026-12-01T23:59:59"},
    {"minutes, T", "2026-12-01T10:30", false, "2026-12-01T10:30:00"},
    {"minutes as --until end the minute", "2026-12-01T10:30", true, "2026-12-01T10:30:59"},
    {"seconds with a space", "2026-12-01 10:30:05", false, "2026-12-01T10:30:05"},
    {"a word is refused", "yesterday", false, NULL},
    {"a unit without a number is refused", "h", false, NULL},
    {"a bad separator is refused", "2026/12/01", false, NULL},
};

START_TEST(time_bounds_parse)
{
    char out[20] = "";
    int rc = fl_vlog_parse_time(time_rows[_i].text, time_rows[_i].until, out);
    if (time_rows[_i].want == NULL) {
        ck_assert_msg(rc == -1, "%s: accepted as %s", time_rows[_i].label, out);
        return;
    }
    ck_assert_msg(rc == 0 && strcmp(out, time_rows[_i].want) == 0, "%s: got %d %s, want %s",
                  time_rows[_i].label, rc, out, time_rows[_i].want);
}
END_TEST

START_TEST(a_duration_is_before_now)
{
    char hour[20], day[20];
    ck_assert_int_eq(fl_vlog_parse_time("1h", false, hour), 0);
    ck_assert_int_eq(fl_vlog_parse_time("7d", false, day), 0);
    ck_assert_msg(strcmp(day, hour) < 0, "7d ago (%s) is not before 1h ago (%s)", day, hour);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl_json");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, a_record_parses_and_its_members_are_found);
    tcase_add_test(tc, every_truncation_is_an_error_not_a_crash);
    tcase_add_loop_test(tc, hostile_lines_are_refused_with_the_reason, 0, (int)NELEMS(bad_rows));
    tcase_add_loop_test(tc, time_bounds_parse, 0, (int)NELEMS(time_rows));
    tcase_add_test(tc, a_duration_is_before_now);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
