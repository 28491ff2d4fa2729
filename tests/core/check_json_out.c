/* check_json_out: unit tests for lib/core/json_out, the JSON writer of the
   verdict record and its parts.

   Against jansson, the reference: 3,000 random trees (objects, arrays,
   integers, booleans, null, strings of every 7-bit byte and of valid
   UTF-8) written by both come out byte for byte the same as
   json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER); a string that is not
   valid UTF-8 (which jansson refuses) still gives JSON that parses, with
   U+FFFD in its place.  Run by `make check`. */
#include "lib/core/json_out.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned int seed;

static unsigned int rnd(unsigned int n)
{
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
}

/* A string: 7-bit bytes (controls, quote and backslash included) and now
   and then a valid multi-byte character. */
static void random_text(char *s, size_t size)
{
    static const char *const wide[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x93\xa7"};
    size_t n = rnd(24), at = 0;
    for (size_t i = 0; i < n && at + 5 < size; i++) {
        unsigned int k = rnd(10);
        if (k == 0) {
            const char *w = wide[rnd(3)];
            memcpy(s + at, w, strlen(w));
            at += strlen(w);
        } else if (k == 1) {
            s[at++] = "\"\\/\b\f\n\r\t"[rnd(8)];
        } else {
            s[at++] = (char)(1 + rnd(127));
        }
    }
    s[at] = '\0';
}

/* Writes one random value with both; depth bounds the nesting. */
static json_t *value(struct fl_json_out *j, int depth)
{
    char text[128];
    switch (depth > 3 ? rnd(4) : rnd(6)) {
    case 0: {
        long long v = (long long)rnd(2000000) - 1000000;
        if (rnd(5) == 0)
            v *= 1000000007LL;
        fl_json_int(j, v);
        return json_integer((json_int_t)v);
    }
    case 1: {
        bool b = rnd(2);
        fl_json_bool(j, b);
        return json_boolean(b);
    }
    case 2:
        if (rnd(2)) {
            fl_json_null(j);
            return json_null();
        }
        /* fall through */
    case 3:
        random_text(text, sizeof(text));
        fl_json_str(j, text);
        return json_string(text);
    case 4: {
        json_t *o = json_object();
        fl_json_begin(j, '{');
        for (unsigned int i = 0, n = rnd(5); i < n; i++) {
            char key[16];
            snprintf(key, sizeof(key), rnd(4) ? "k%u" : "k\"%u\n", i);
            fl_json_key(j, key);
            json_object_set_new(o, key, value(j, depth + 1));
        }
        fl_json_end(j, '}');
        return o;
    }
    default: {
        json_t *a = json_array();
        fl_json_begin(j, '[');
        for (unsigned int i = 0, n = rnd(5); i < n; i++)
            json_array_append_new(a, value(j, depth + 1));
        fl_json_end(j, ']');
        return a;
    }
    }
}

START_TEST(test_random_trees_equal_jansson)
{
    for (seed = 1; seed < 3000; seed++) {
        unsigned int round = seed;
        struct fl_buf out;
        fl_buf_init(&out);
        struct fl_json_out j;
        fl_json_out_init(&j, &out);
        json_t *tree = value(&j, 0);
        char *want = json_dumps(tree, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        ck_assert_ptr_nonnull(want);
        ck_assert_msg(strcmp(out.data, want) == 0, "round %u:\n ours:    %s\n jansson: %s", round,
                      out.data, want);
        free(want);
        json_decref(tree);
        fl_buf_free(&out);
        seed = round;
    }
}
END_TEST

START_TEST(test_invalid_utf8_still_gives_json)
{
    static const char *const bad[] = {"\xff", "a\xc3", "\xe2\x82", "\xed\xa0\x80 surrogate",
                                      "ok \xc0\xaf overlong", "\x80\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fl_buf out;
        fl_buf_init(&out);
        struct fl_json_out j;
        fl_json_out_init(&j, &out);
        fl_json_begin(&j, '[');
        fl_json_str(&j, bad[i]);
        fl_json_end(&j, ']');
        json_error_t err;
        json_t *back = json_loads(out.data, 0, &err);
        ck_assert_msg(back != NULL, "%zu: not JSON: %s (%s)", i, out.data, err.text);
        ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(back, 0)), "\xef\xbf\xbd"));
        json_decref(back);
        fl_buf_free(&out);
    }
}
END_TEST

START_TEST(test_members_and_commas)
{
    struct fl_buf out;
    fl_buf_init(&out);
    struct fl_json_out j;
    fl_json_out_init(&j, &out);
    /* members alone, as a record part writes them */
    fl_json_key(&j, "a");
    fl_json_int(&j, 1);
    fl_json_key(&j, "b");
    fl_json_begin(&j, '[');
    fl_json_end(&j, ']');
    fl_json_key(&j, "c");
    fl_json_str(&j, NULL);
    ck_assert_str_eq(out.data, "\"a\":1,\"b\":[],\"c\":null");
    fl_buf_free(&out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_out");
    TCase *tc = tcase_create("against jansson");
    tcase_add_test(tc, test_random_trees_equal_jansson);
    tcase_add_test(tc, test_invalid_utf8_still_gives_json);
    tcase_add_test(tc, test_members_and_commas);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
