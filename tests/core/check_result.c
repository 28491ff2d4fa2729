/* check_result: unit tests for lib/core/result, the result every check
   returns, whose strings live in one block the result owns.

   Setting, copying and clearing keep every string (method, reasons,
   properties, record part, observation) as given; the block moving while it
   grows (twelve 1,000-byte properties) moves every field with it; a setter
   handed a string of the same result (a field passed back in) survives the
   move; a copy is independent of its source; a field a caller assigned
   directly (tests do) is copied too.  Run by `make check`. */
#include "lib/core/result.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_fields(const struct fl_result *r, const char *tag)
{
    char want[64];
    ck_assert_str_eq(r->method, "spf");
    ck_assert_str_eq(r->reason_code, "spf.not_permitted");
    ck_assert_str_eq(r->reason, "192.0.2.1 is not permitted");
    ck_assert_str_eq(r->detail, "the sender's SPF record does not list 192.0.2.1");
    for (size_t i = 0; i < r->nprops; i++) {
        snprintf(want, sizeof(want), "%s-%zu", tag, i);
        ck_assert_str_eq(r->props[i].ptype, "smtp");
        ck_assert_str_eq(r->props[i].property, "mailfrom");
        ck_assert_int_eq(strncmp(r->props[i].value, want, strlen(want)), 0);
    }
}

static void fill(struct fl_result *r, const char *tag, size_t value_len)
{
    fl_result_init(r, "spf", FL_RES_FAIL);
    fl_result_set_reason(r, "spf.not_permitted", "192.0.2.1 is not permitted",
                         "the sender's SPF record does not list 192.0.2.1");
    char *v = malloc(value_len + 64);
    for (size_t i = 0; i < FL_RESULT_MAX_PROPS; i++) {
        int n = snprintf(v, value_len + 64, "%s-%zu", tag, i);
        memset(v + n, 'x', value_len);
        v[(size_t)n + value_len] = '\0';
        ck_assert_int_eq(fl_result_add_prop(r, "smtp", "mailfrom", v), 0);
        assert_fields(r, tag); /* every field after every move */
    }
    free(v);
    ck_assert_int_eq(fl_result_add_prop(r, "smtp", "mailfrom", "one too many"), -1);
}

START_TEST(fields_survive_the_block_growing)
{
    struct fl_result r;
    fill(&r, "big", 1000);
    ck_assert_uint_eq(r.nprops, FL_RESULT_MAX_PROPS);
    ck_assert_uint_ge(r.strings_cap, 12 * 1000);
    fl_result_set_record_json(&r, "{\"lists\":[]}");
    ck_assert_str_eq(r.record_json, "{\"lists\":[]}");
    fl_result_set_record_json(&r, NULL);
    ck_assert_ptr_null(r.record_json);
    assert_fields(&r, "big");
    fl_result_clear(&r);
    ck_assert_ptr_null(r.method);
    ck_assert_ptr_null(r.strings);
}
END_TEST

START_TEST(a_field_passed_back_in_survives_the_move)
{
    struct fl_result r;
    fl_result_init(&r, "dkim", FL_RES_FAIL);
    fl_result_set_reason(&r, "dkim.bad_signature", "signature did not verify", NULL);
    /* fill the block to its edge, so the next put moves it */
    char pad[200];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    while (r.strings_cap - r.strings_len > sizeof(pad))
        fl_result_set_record_json(&r, pad);
    size_t cap = r.strings_cap;
    r.action = FL_ACTION_REJECT;
    fl_result_observe(&r, 550, "5.7.20", r.reason);
    ck_assert_uint_gt(r.strings_cap, cap); /* reallocated (moved under ASan and valgrind) */
    ck_assert_str_eq(r.observe_text, "signature did not verify");
    ck_assert_str_eq(r.reason, "signature did not verify");
    ck_assert_int_eq(r.action, FL_ACTION_ACCEPT);
    ck_assert_int_eq(r.observe_action, FL_ACTION_REJECT);
    ck_assert_str_eq(r.observe_dsn, "5.7.20");
    /* the same for the three reason fields at once */
    fl_result_set_reason(&r, r.reason_code, r.reason, r.reason);
    ck_assert_str_eq(r.reason_code, "dkim.bad_signature");
    ck_assert_str_eq(r.detail, "signature did not verify");
    ck_assert_str_eq(r.method, "dkim");
    fl_result_clear(&r);
}
END_TEST

START_TEST(a_copy_is_independent)
{
    struct fl_result src, dst;
    fill(&src, "copy", 30);
    src.fault = FL_FAULT_SENDER;
    src.action = FL_ACTION_REJECT;
    fl_result_observe(&src, 550, "5.7.23", "would reject");
    fl_result_copy(&dst, &src);
    ck_assert_ptr_ne(dst.strings, src.strings);
    ck_assert_ptr_ne(dst.method, src.method);
    fl_result_clear(&src);
    assert_fields(&dst, "copy");
    ck_assert_str_eq(dst.observe_text, "would reject");
    ck_assert_int_eq(dst.fault, FL_FAULT_SENDER);
    ck_assert_int_eq(dst.observe_action, FL_ACTION_REJECT);
    /* the copy grows on its own */
    ck_assert_int_eq(fl_result_add_prop(&dst, "x", "y", "z"), -1);
    fl_result_set_record_json(&dst, "{}");
    assert_fields(&dst, "copy");
    fl_result_clear(&dst);
}
END_TEST

START_TEST(a_field_assigned_directly_is_copied)
{
    struct fl_result src, dst;
    memset(&src, 0, sizeof(src));
    src.method = (char *)"iprev";
    src.result = FL_RES_PASS;
    fl_result_copy(&dst, &src);
    ck_assert_str_eq(dst.method, "iprev");
    ck_assert_ptr_ne(dst.method, src.method);
    fl_result_clear(&dst);
}
END_TEST

static Suite *result_suite(void)
{
    Suite *s = suite_create("result");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fields_survive_the_block_growing);
    tcase_add_test(tc, a_field_passed_back_in_survives_the_move);
    tcase_add_test(tc, a_copy_is_independent);
    tcase_add_test(tc, a_field_assigned_directly_is_copied);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(result_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
