/* check_dkim_taglist: lib/dkim_taglist, the strict RFC 6376 tag-list
   checks in front of libopendkim, row by row: the 3.2 grammar (FWS,
   tag names, VALCHAR, duplicates, ";" placement), the 3.5 signature
   tags and the 3.6.1 key record tags.  No DNS: the corpus tests in
   check_dkim.c take the same checks through signatures dkimpy made. */
#include "lib/core/clock.h"
#include "lib/dkim/dkim_taglist.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* A valid signature's tags, to build rows from. */
#define B64  "dGVzdA=="
#define SIG0 "v=1; a=rsa-sha256; d=example.org; s=sel; h=from:to; bh=" B64 "; b=" B64

struct row {
    const char *label;
    const char *text;
    int want;         /* 0 valid, 1 From not signed (signatures), -1 invalid */
    const char *why;  /* a part of the reason, or NULL */
};

/* clang-format off */
static const struct row taglists[] = {
    {"one tag", "a=b", 0, NULL},
    {"a trailing semicolon", "a=b;", 0, NULL},
    {"FWS around names, '=' and values", " a = b ;\tc\t=\td ", 0, NULL},
    {"a folded line (CRLF then WSP) is FWS", "a=b;\r\n c=d", 0, NULL},
    {"FWS inside a value joins tvals", "a=b c\r\n\td", 0, NULL},
    {"an empty value", "a=; b=c", 0, NULL},
    {"digits and '_' after the first letter", "a1_b=c", 0, NULL},
    {"whitespace after the last ';'", "a=b; ", 0, NULL},
    {"an empty list", "", -1, "empty tag-list"},
    {"only whitespace", "  \t", -1, "empty tag-list"},
    {"a tag name starting with a digit", "1a=b", -1, "'1'"},
    {"a tag name starting with '_'", "a=b; _c=d", -1, "after a="},
    {"a tag with no '='", "a=b; c", -1, "tag c has no '='"},
    {"a space inside a tag name", "a b=c", -1, "tag a: 'b'"},
    {"';;' is an empty tag-spec", "a=b;; c=d", -1, "empty tag-spec after tag a="},
    {"a leading ';'", ";a=b", -1, "empty tag-spec at the start"},
    {"a tag given twice", "a=b; c=d; a=b", -1, "duplicate tag a="},
    {"tag names are case-sensitive: a and A differ", "a=b; A=b", 0, NULL},
    {"a bare LF is not FWS", "a=b\nc", -1, "byte 0x0a"},
    {"CRLF not followed by WSP", "a=b\r\nc=d", -1, "byte 0x0d"},
    {"a control character in a value", "a=b\x01", -1, "byte 0x01"},
    {"a byte that is not UTF-8 in a value", "a=caf\xe9", -1, "byte 0xe9"},
    {"well-formed UTF-8 in a value (RFC 8616 4)", "a=caf\xc3\xa9; b=\xe2\x82\xac", 0, NULL},
    {"an overlong UTF-8 form", "a=\xc0\xaf", -1, "byte 0xc0"},
    {"a UTF-16 surrogate in UTF-8", "a=\xed\xa0\x80", -1, "byte 0xed"},
    {"a truncated UTF-8 sequence", "a=\xe2\x82", -1, "byte 0xe2"},
};

static const struct row signatures[] = {
    {"the minimal valid signature", SIG0, 0, NULL},
    {"all optional tags", SIG0 "; c=relaxed/simple; i=user@sub.example.org; l=12; q=dns/txt; t=1; x=2; z=From:a", 0, NULL},
    {"unknown tags are ignored", SIG0 "; foo=bar; n_1=2", 0, NULL},
    {"h= with FWS around the colons, From in any case", "v=1; a=rsa-sha256; d=example.org; s=sel; h=To :\r\n FROM; bh=" B64 "; b=" B64, 0, NULL},
    {"b= folded with FWS inside", "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=" B64 "; b=dGVz\r\n dA==", 0, NULL},
    {"h= without From", "v=1; a=rsa-sha256; d=example.org; s=sel; h=to:subject; bh=" B64 "; b=" B64, 1, "h= does not name From"},
    {"v=2", "v=2; a=rsa-sha256; d=example.org; s=sel; h=from; bh=" B64 "; b=" B64, -1, "incompatible version"},
    {"no v=", "a=rsa-sha256; d=example.org; s=sel; h=from; bh=" B64 "; b=" B64, -1, "required tag v= is missing"},
    {"no bh=", "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; b=" B64, -1, "required tag bh= is missing"},
    {"a tag twice", SIG0 "; d=example.org", -1, "duplicate tag d="},
    {"a= in capitals (ABNF literals match in any case)", "v=1; a=RSA-SHA256; d=example.org; s=sel; h=from; bh=" B64 "; b=" B64, 0, NULL},
    {"a= of an unknown algorithm in capitals", "v=1; a=rsa-SHA512; d=example.org; s=sel; h=from; bh=" B64 "; b=" B64, -1, "a="},
    {"a= without a hash", "v=1; a=rsa; d=example.org; s=sel; h=from; bh=" B64 "; b=" B64, -1, "a="},
    {"b= with a '*'", "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=" B64 "; b=dGV*zdA==", -1, "'*'"},
    {"b= with base64 after the padding", "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=" B64 "; b=dGVzdA==dA==", -1, "after the '=' padding"},
    {"bh= not whole quanta", "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=dGVzd; b=" B64, -1, "bh="},
    {"empty b=", "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=" B64 "; b=", -1, "b= is empty"},
    {"c= with two slashes", SIG0 "; c=relaxed/simple/x", -1, "c="},
    {"d= with an empty label", "v=1; a=rsa-sha256; d=example..org; s=sel; h=from; bh=" B64 "; b=" B64, -1, "d="},
    {"d= with a label ending in '-'", "v=1; a=rsa-sha256; d=example-.org; s=sel; h=from; bh=" B64 "; b=" B64, -1, "d="},
    {"d= and i= with a U-label (RFC 8616 4)", "v=1; a=rsa-sha256; d=b\xc3\xbc" "cher.example; i=j\xc3\xb6" "rg@b\xc3\xbc" "cher.example; s=sel; h=from; bh=" B64 "; b=" B64, 0, NULL},
    {"s= with '_' is accepted", "v=1; a=rsa-sha256; d=example.org; s=sel_1; h=from; bh=" B64 "; b=" B64, 0, NULL},
    {"i= without '@'", SIG0 "; i=example.org", -1, "i="},
    {"i= in another domain", SIG0 "; i=@evil.example", -1, "domain mismatch"},
    {"i= in a name that only ends like d=", SIG0 "; i=@badexample.org", -1, "domain mismatch"},
    {"l= with a letter", SIG0 "; l=1x", -1, "l="},
    {"t= of 13 digits", SIG0 "; t=1234567890123", -1, "t="},
    {"x= equal to t=", SIG0 "; t=5; x=5", -1, "x= is not after t="},
    {"q= with only an unknown method", SIG0 "; q=foo/bar", -1, "q="},
    {"q= with dns/txt after an unknown method", SIG0 "; q=foo/bar:dns/txt", 0, NULL},
};

static const struct row keys[] = {
    {"p= alone", "p=" B64, 0, NULL},
    {"all tags", "v=DKIM1; h=sha256:sha1; k=rsa; n=notes; p=" B64 "; s=email; t=y:s", 0, NULL},
    {"FWS inside p=", "v=DKIM1; p=dGVz\r\n dA ==", 0, NULL},
    {"empty p= is revoked, not an error", "v=DKIM1; p=", 0, NULL},
    {"unknown tags", "v=DKIM1; foo=bar; p=" B64, 0, NULL},
    {"no p=", "v=DKIM1; k=rsa", -1, "required tag p= is missing"},
    {"a '*' in p=", "v=DKIM1; p=dGV*zdA==", -1, "'*'"},
    {"a '!' in p=", "p=dGVzdA!!", -1, "'!'"},
    {"three '=' of padding", "p=dGV===", -1, "more than two"},
    {"p= twice", "p=" B64 "; p=" B64, -1, "duplicate tag p="},
    {"k= twice", "k=rsa; k=rsa; p=" B64, -1, "duplicate tag k="},
    {"v= not first", "k=rsa; v=DKIM1; p=" B64, -1, "v= is not the first tag"},
    {"v=DKIM2", "v=DKIM2; p=" B64, -1, "v= is not DKIM1"},
    {"v=dkim1 (the ABNF gives the exact bytes)", "v=dkim1; p=" B64, -1, "v= is not DKIM1"},
    {"k= that is not a word", "k=r*a; p=" B64, -1, "k="},
    {"h= with an empty element", "h=sha256:; p=" B64, -1, "h="},
    {"s= with a space inside an element", "s=em ail; p=" B64, -1, "s="},
};
/* clang-format on */

static void check_row(const struct row *r, int got, const struct fl_buf *why)
{
    ck_assert_msg(got == r->want, "%s: got %d, want %d (%s)", r->label, got, r->want,
                  why->data ? why->data : "");
    if (r->why != NULL)
        ck_assert_msg(why->data != NULL && strstr(why->data, r->why) != NULL,
                      "%s: reason \"%s\" does not say %s", r->label,
                      why->data ? why->data : "", r->why);
}

START_TEST(taglist_rows)
{
    const struct row *r = &taglists[_i];
    struct fl_dkim_taglist tl;
    struct fl_buf why;
    fl_buf_init(&why);
    int got = fl_dkim_taglist_parse(r->text, strlen(r->text), &tl, &why);
    check_row(r, got, &why);
    fl_dkim_taglist_free(&tl);
    fl_buf_free(&why);
}
END_TEST

START_TEST(signature_rows)
{
    const struct row *r = &signatures[_i];
    struct fl_buf why;
    fl_buf_init(&why);
    check_row(r, fl_dkim_signature_check(r->text, strlen(r->text), &why), &why);
    fl_buf_free(&why);
}
END_TEST

START_TEST(key_rows)
{
    const struct row *r = &keys[_i];
    struct fl_dkim_keyrec k;
    struct fl_buf why;
    fl_buf_init(&why);
    check_row(r, fl_dkim_keyrec_parse(r->text, strlen(r->text), &k, &why), &why);
    fl_dkim_keyrec_clear(&k);
    fl_buf_free(&why);
}
END_TEST

START_TEST(values_are_trimmed_and_kept_in_order)
{
    struct fl_dkim_taglist tl;
    struct fl_buf why;
    fl_buf_init(&why);
    const char *text = " v = 1 ;\r\n b = ab\r\n cd \t; ";
    ck_assert_int_eq(fl_dkim_taglist_parse(text, strlen(text), &tl, &why), 0);
    ck_assert_uint_eq(tl.n, 2);
    const struct fl_dkim_tag *b = fl_dkim_taglist_get(&tl, "b");
    ck_assert(b == &tl.tags[1]);
    ck_assert_int_eq((int)b->value_len, 7); /* outer FWS trimmed, inner kept */
    ck_assert(memcmp(b->value, "ab\r\n cd", 7) == 0);
    ck_assert(fl_dkim_taglist_get(&tl, "B") == NULL);
    fl_dkim_taglist_free(&tl);
    fl_buf_free(&why);
}
END_TEST

START_TEST(key_record_fields)
{
    struct fl_dkim_keyrec k;
    struct fl_buf why;
    fl_buf_init(&why);
    const char *all = "v=DKIM1; h=sha512 : SHA256; k=RSA; s=tlsrpt:*; t=y:foo:s; p=dGVz dA==";
    ck_assert_int_eq(fl_dkim_keyrec_parse(all, strlen(all), &k, &why), 0);
    ck_assert_int_eq(k.type, FL_DKIM_KEY_RSA); /* ABNF literals match in any case */
    ck_assert_uint_eq(k.hashes, FL_DKIM_HASH_SHA256);
    ck_assert(k.email && k.testing && k.strict && !k.revoked);
    ck_assert_str_eq(k.p, "dGVzdA==");
    fl_dkim_keyrec_clear(&k);
    const char *none = "p=";
    ck_assert_int_eq(fl_dkim_keyrec_parse(none, strlen(none), &k, &why), 0);
    ck_assert_int_eq(k.type, FL_DKIM_KEY_RSA); /* k= absent: rsa */
    ck_assert_uint_eq(k.hashes, FL_DKIM_HASH_SHA1 | FL_DKIM_HASH_SHA256);
    ck_assert(k.email && !k.testing && !k.strict && k.revoked);
    fl_dkim_keyrec_clear(&k);
    const char *other = "k=ed25519; s=tlsrpt; h=sha512; p=" B64;
    ck_assert_int_eq(fl_dkim_keyrec_parse(other, strlen(other), &k, &why), 0);
    ck_assert_int_eq(k.type, FL_DKIM_KEY_ED25519);
    ck_assert_uint_eq(k.hashes, 0);
    ck_assert(!k.email);
    fl_dkim_keyrec_clear(&k);
    const char *unknown = "k=foo; p=" B64;
    ck_assert_int_eq(fl_dkim_keyrec_parse(unknown, strlen(unknown), &k, &why), 0);
    ck_assert_int_eq(k.type, FL_DKIM_KEY_UNKNOWN);
    ck_assert_str_eq(k.keytype, "foo");
    fl_dkim_keyrec_clear(&k);
    fl_buf_free(&why);
}
END_TEST

/* A hostile list of 20,000 tags (a 100 KB header): parsed in linear
   time, its one duplicate found. */
START_TEST(thousands_of_tags_cost_little)
{
    struct fl_buf list, why;
    fl_buf_init(&list);
    fl_buf_init(&why);
    for (int i = 0; i < 20000; i++)
        fl_buf_printf(&list, "t%d=v;", i);
    struct fl_dkim_taglist tl;
    long long t0 = fl_monotonic_ms();
    ck_assert_int_eq(fl_dkim_taglist_parse(list.data, list.len, &tl, &why), 0);
    ck_assert_uint_eq(tl.n, 20000);
    fl_dkim_taglist_free(&tl);
    fl_buf_puts(&list, "t12345=again");
    ck_assert_int_eq(fl_dkim_taglist_parse(list.data, list.len, &tl, &why), -1);
    ck_assert_msg(strstr(why.data, "duplicate tag t12345=") != NULL, "%s", why.data);
    long long ms = fl_monotonic_ms() - t0;
    ck_assert_msg(ms < 500, "two parses of 20,000 tags took %lld ms", ms);
    fl_dkim_taglist_free(&tl);
    fl_buf_free(&list);
    fl_buf_free(&why);
}
END_TEST

#define ROWS(t) (int)(sizeof(t) / sizeof((t)[0]))

int main(void)
{
    Suite *s = suite_create("dkim_taglist");
    TCase *tc = tcase_create("rfc6376");
    tcase_add_loop_test(tc, taglist_rows, 0, ROWS(taglists));
    tcase_add_loop_test(tc, signature_rows, 0, ROWS(signatures));
    tcase_add_loop_test(tc, key_rows, 0, ROWS(keys));
    tcase_add_test(tc, values_are_trimmed_and_kept_in_order);
    tcase_add_test(tc, key_record_fields);
    tcase_add_test(tc, thousands_of_tags_cost_little);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
