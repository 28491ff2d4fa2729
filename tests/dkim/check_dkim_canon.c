/* check_dkim_canon: lib/dkim_canon, the canonicalisation and RSA
   verification faultline does itself for keys too long for libopendkim,
   held against every RSA signature of the dkimpy corpus
   (tests/dkim/make_corpus.py) -- whatever key size: each canonicalisation,
   8-bit and empty bodies, folded and oversigned headers, bare LF, l=,
   rsa-sha1, tampered copies.  The top signature of each message is
   verified with the key its zone file publishes; no DNS. */
#include "lib/dkim/dkim_canon.h"
#include "lib/dkim/dkim_taglist.h"
#include "tests/dkim/corpus.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char corpus[PATH_MAX];

struct row {
    const char *label;
    const char *msg;
    bool signature_ok, body_hash_ok;
};

/* clang-format off */
static const struct row rows[] = {
    {"simple/simple", "rsa_simple_simple", true, true},
    {"simple/relaxed", "rsa_simple_relaxed", true, true},
    {"relaxed/simple", "rsa_relaxed_simple", true, true},
    {"relaxed/relaxed", "rsa_relaxed_relaxed", true, true},
    {"an 8-bit body, simple", "8bit_simple", true, true},
    {"an 8-bit body, relaxed", "8bit_relaxed", true, true},
    {"long folded headers, simple", "folded_simple", true, true},
    {"long folded headers, relaxed", "folded_relaxed", true, true},
    {"an empty body, simple", "empty_body_simple", true, true},
    {"an empty body, relaxed", "empty_body_relaxed", true, true},
    {"bare LF line ends, relaxed", "lf_relaxed", true, true},
    {"bare LF line ends, simple", "lf_simple", true, true},
    {"oversigned From and Subject", "oversigned", true, true},
    {"a From added above an oversigned From", "oversigned_from_added", false, true},
    {"l= over the whole body, relaxed", "length", true, true},
    {"l= with content appended: the signed part still hashes", "length_appended", true, true},
    {"l=, simple, with empty lines appended", "length_simple_blank_lines", true, true},
    {"rsa-sha1", "rsa_sha1", true, true},
    {"a 1024-bit key", "rsa1024", true, true},
    {"the top of two signatures (another domain)", "two_domains", true, true},
    {"unknown tags in the signature", "sig_unknown_tags", true, true},
    {"one body byte changed", "tampered_body", true, false},
    {"a signed header changed", "tampered_header", false, true},
    {"RSA-8192, relaxed/relaxed", "rsa8192", true, true},
    {"RSA-8192, simple/simple", "rsa8192_simple_simple", true, true},
    {"RSA-8192, body changed", "rsa8192_tampered", true, false},
};
/* clang-format on */

/* The TXT record of name in the corpus zone of domain (the quoted
   strings joined), malloc'd, or NULL. */
static char *zone_txt(const char *domain, const char *name)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/zones/%s.zone", corpus, domain);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no zone %s", path);
    static char line[16384];
    char *out = NULL;
    size_t nlen = strlen(name);
    while (out == NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, name, nlen) != 0 || strncmp(line + nlen, " TXT ", 5) != 0)
            continue;
        out = calloc(1, strlen(line) + 1);
        size_t n = 0;
        bool in = false;
        for (const char *c = line + nlen + 5; *c; c++) {
            if (*c == '"')
                in = !in;
            else if (in)
                out[n++] = *c;
        }
    }
    fclose(f);
    return out;
}

/* A tag's value, with FWS removed, into buf. */
static const char *tag(const struct fl_dkim_taglist *tl, const char *name, char *buf,
                       size_t size)
{
    const struct fl_dkim_tag *t = fl_dkim_taglist_get(tl, name);
    if (t == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->value_len && n + 1 < size; i++)
        if (!strchr(" \t\r\n", t->value[i]))
            buf[n++] = t->value[i];
    buf[n] = '\0';
    return buf;
}

START_TEST(corpus_rows)
{
    const struct row *r = &rows[_i];
    size_t len;
    char *m = fl_dkim_corpus_read(corpus, r->msg, &len);
    ck_assert_msg(m != NULL, "no corpus message %s", r->msg);
    /* the header fields, with CRLF line ends as lib/dkim feeds them */
    struct fl_dkim_headers h = {0};
    fl_buf_init(&h.data);
    size_t p = 0, sig = (size_t)-1;
    while (p < len && m[p] != '\n' && !(m[p] == '\r' && m[p + 1] == '\n')) {
        struct fl_buf field;
        fl_buf_init(&field);
        for (;;) {
            const char *nl = memchr(m + p, '\n', len - p);
            size_t end = nl ? (size_t)(nl - m) : len;
            size_t stop = end > p && m[end - 1] == '\r' ? end - 1 : end;
            fl_buf_append(&field, m + p, stop - p);
            p = end + 1;
            if (p >= len || (m[p] != ' ' && m[p] != '\t'))
                break;
            fl_buf_puts(&field, "\r\n");
        }
        if (sig == (size_t)-1 && strncasecmp(field.data, "DKIM-Signature:", 15) == 0)
            sig = h.n;
        fl_dkim_headers_add(&h, field.data, field.len);
        fl_buf_free(&field);
    }
    p += m[p] == '\r' ? 2 : 1;
    ck_assert_msg(sig != (size_t)-1, "%s: not signed", r->msg);
    /* its tags and key */
    const char *value = h.data.data + h.start[sig] + 15;
    struct fl_dkim_taglist tl;
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_int_eq(fl_dkim_taglist_parse(value, h.len[sig] - 15, &tl, &why), 0);
    char d[256], s[256], c[64], a[64], l[32], qname[600];
    ck_assert(tag(&tl, "d", d, sizeof(d)) && tag(&tl, "s", s, sizeof(s)) &&
              tag(&tl, "a", a, sizeof(a)));
    const char *canon = tag(&tl, "c", c, sizeof(c)) ? c : "simple/simple";
    const char *slash = strchr(canon, '/');
    bool hc_relaxed = strncmp(canon, "relaxed", 7) == 0;
    bool bc_relaxed = slash != NULL && strcmp(slash + 1, "relaxed") == 0;
    bool sha1 = strcmp(a, "rsa-sha1") == 0;
    snprintf(qname, sizeof(qname), "%s._domainkey", s);
    char *txt = zone_txt(d, qname);
    ck_assert_msg(txt != NULL, "%s: no key %s in %s", r->msg, qname, d);
    struct fl_dkim_keyrec key;
    ck_assert_int_eq(fl_dkim_keyrec_parse(txt, strlen(txt), &key, &why), 0);
    /* the body, in odd-sized chunks */
    struct fl_dkim_body body;
    fl_dkim_body_init(&body, bc_relaxed,
                      tag(&tl, "l", l, sizeof(l)) ? strtoll(l, NULL, 10) : -1,
                      sha1 ? EVP_sha1() : EVP_sha256());
    for (size_t off = p; off < len; off += 7)
        fl_dkim_body_feed(&body, (const unsigned char *)m + off,
                          len - off < 7 ? len - off : 7);
    fl_dkim_body_finish(&body);
    struct fl_dkim_canon_result res;
    struct fl_buf err;
    fl_buf_init(&err);
    ck_assert_msg(
        fl_dkim_canon_verify(&h, sig, hc_relaxed, sha1, &key, &body, &res, &err) == 0,
        "%s: %s", r->label, err.data);
    fl_buf_free(&err);
    ck_assert_msg(res.key_ok && res.bits >= 1024, "%s: key", r->label);
    ck_assert_msg(res.signature_ok == r->signature_ok &&
                      res.body_hash_ok == r->body_hash_ok,
                  "%s: got signature %d body hash %d, want %d %d", r->label,
                  res.signature_ok, res.body_hash_ok, r->signature_ok, r->body_hash_ok);
    fl_dkim_body_clear(&body);
    fl_dkim_keyrec_clear(&key);
    free(txt);
    fl_dkim_taglist_free(&tl);
    fl_buf_free(&why);
    fl_dkim_headers_clear(&h);
    free(m);
}
END_TEST

/* The canonical body lengths of RFC 6376 3.4.3 and 3.4.4, counted. */
START_TEST(body_lengths)
{
    static const struct {
        const char *body;
        long long simple, relaxed;
    } cases[] = {
        {"", 2, 0},       {"\r\n", 2, 0},           {"\r\n\r\n\r\n", 2, 0},
        {"a", 3, 3},      {"a\r\n\r\n", 3, 3},      {"a \t b  \r\n", 9, 5},
        {"  \r\n", 4, 0}, {"a\r\n\r\nb\r\n", 8, 8}, {"a\rb\r\n", 5, 5},
        {"a\nb\n", 6, 6},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int relaxed = 0; relaxed < 2; relaxed++) {
            struct fl_dkim_body b;
            fl_dkim_body_init(&b, relaxed, -1, NULL);
            fl_dkim_body_feed(&b, (const unsigned char *)cases[i].body,
                              strlen(cases[i].body));
            fl_dkim_body_finish(&b);
            long long want = relaxed ? cases[i].relaxed : cases[i].simple;
            ck_assert_msg(b.total == want, "body %zu %s: got %lld, want %lld", i,
                          relaxed ? "relaxed" : "simple", b.total, want);
        }
    }
}
END_TEST

int main(void)
{
    int failed = 1;
    if (fl_dkim_corpus_make(corpus, sizeof(corpus)) == 0) {
        Suite *s = suite_create("dkim_canon");
        TCase *tc = tcase_create("corpus");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, corpus_rows, 0, (int)(sizeof(rows) / sizeof(rows[0])));
        tcase_add_test(tc, body_lengths);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    fl_dkim_corpus_remove(corpus);
    return failed == 0 ? 0 : 1;
}
