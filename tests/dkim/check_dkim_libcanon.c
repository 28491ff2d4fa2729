/* check_dkim_libcanon: lib/dkim/dkim_libcanon against libopendkim
   itself.  Every body is hashed both ways, cut into the same chunks:
   libopendkim signs it (DKIM_LIBFLAGS_FIXCRLF, the flag lib/dkim/dkim.c
   sets; signing and verifying share its body canonicalisation) and the
   bh= of its signature must be the digest lib/dkim/dkim_libcanon.c
   computes -- for the labelled bodies below and for random ones made of
   the bytes that matter (CR, LF, SP, HTAB, content) in random chunks, and
   for text bodies with a defect now and then. */
#include "lib/dkim/dkim_libcanon.h"

#include <check.h>
#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *pem_key; /* RSA-1024, made once */
static DKIM_LIB *lib;

static void setup(void)
{
    EVP_PKEY *pk = EVP_RSA_gen(1024);
    ck_assert_ptr_nonnull(pk);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    pem_key = calloc(1, (size_t)n + 1);
    memcpy(pem_key, data, (size_t)n);
    BIO_free(bio);
    EVP_PKEY_free(pk);
    lib = dkim_init(NULL, NULL);
    ck_assert_ptr_nonnull(lib);
    unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
    ck_assert_int_eq(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)),
                     DKIM_STAT_OK);
}

static void teardown(void)
{
    dkim_close(lib);
    free(pem_key);
}

/* The bh= libopendkim signs body (cut at cuts[], ncuts chunk lengths,
   the rest in one) with, into bh. */
static void lib_bh(const unsigned char *body, size_t len, const size_t *cuts, size_t ncuts,
                   bool relaxed, bool sha1, char *bh, size_t bhsize)
{
    DKIM_STAT st;
    DKIM *d = dkim_sign(lib, (u_char *)"t", NULL, (u_char *)pem_key, (u_char *)"s",
                        (u_char *)"example.org", DKIM_CANON_RELAXED,
                        relaxed ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE,
                        sha1 ? DKIM_SIGN_RSASHA1 : DKIM_SIGN_RSASHA256, -1, &st);
    ck_assert_ptr_nonnull(d);
    const char *from = "From: a@example.org";
    ck_assert_int_eq(dkim_header(d, (u_char *)from, strlen(from)), DKIM_STAT_OK);
    ck_assert_int_eq(dkim_eoh(d), DKIM_STAT_OK);
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = i < ncuts && cuts[i] < len - off ? cuts[i] : len - off;
        ck_assert_int_eq(dkim_body(d, (u_char *)body + off, n), DKIM_STAT_OK);
        off += n;
    }
    ck_assert_int_eq(dkim_eom(d, NULL), DKIM_STAT_OK);
    unsigned char hdr[4096];
    ck_assert_int_eq(dkim_getsighdr(d, hdr, sizeof(hdr), 0), DKIM_STAT_OK);
    char *p = strstr((char *)hdr, "bh=");
    ck_assert_ptr_nonnull(p);
    p += 3;
    size_t k = 0;
    for (; *p != '\0' && *p != ';' && k + 1 < bhsize; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            bh[k++] = *p;
    bh[k] = '\0';
    dkim_free(d);
}

/* Whether lib/dkim/dkim_libcanon.c, fed the same chunks, computes bh. */
static bool ours_match(const unsigned char *body, size_t len, const size_t *cuts,
                       size_t ncuts, bool relaxed, bool sha1, const char *bh)
{
    struct fl_dkim_libchunks ch;
    struct fl_dkim_libcanon c;
    fl_dkim_libchunks_init(&ch);
    fl_dkim_libcanon_init(&c, relaxed, sha1 ? EVP_sha1() : EVP_sha256());
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = i < ncuts && cuts[i] < len - off ? cuts[i] : len - off;
        size_t flen;
        const unsigned char *f = fl_dkim_libchunks_fix(&ch, body + off, n, &flen);
        fl_dkim_libcanon_feed(&c, f, flen);
        off += n;
    }
    fl_dkim_libcanon_finish(&c);
    bool ok = fl_dkim_libcanon_matches(&c, bh);
    fl_dkim_libcanon_clear(&c);
    fl_dkim_libchunks_clear(&ch);
    return ok;
}

static void check_body(const char *label, const unsigned char *body, size_t len,
                       const size_t *cuts, size_t ncuts)
{
    for (int relaxed = 0; relaxed < 2; relaxed++)
        for (int sha1 = 0; sha1 < 2; sha1++) {
            char bh[128];
            lib_bh(body, len, cuts, ncuts, relaxed, sha1, bh, sizeof(bh));
            ck_assert_msg(ours_match(body, len, cuts, ncuts, relaxed, sha1, bh),
                          "%s (%s, %s): our body hash is not libopendkim's %s", label,
                          relaxed ? "relaxed" : "simple", sha1 ? "sha1" : "sha256", bh);
        }
}

struct row {
    const char *label;
    const char *body;
    size_t cuts[4]; /* chunk lengths, 0 = the rest in one */
};

/* clang-format off */
static const struct row rows[] = {
    {"an empty body", "", {0}},
    {"one line", "Hello\r\n", {0}},
    {"a last line without CRLF", "Hello\r\nworld", {0}},
    {"trailing whitespace and no CRLF", "Hello \t ", {0}},
    {"empty lines at the end are dropped", "a\r\n\r\n\r\n", {0}},
    {"whitespace-only lines are empty in relaxed", "a\r\n \t\r\n\r\nb\r\n", {0}},
    {"whitespace runs", "a  \t b\t\tc   \r\n  lead\r\n", {0}},
    {"bare LF line ends", "a\nb\n\nc\n", {0}},
    {"a bare CR inside a chunk", "a\rb\r\n", {0}},
    {"CR CR LF", "a\r\r\nb\r\n", {0}},
    {"a CR ending a chunk, LF starting the next", "a\r\nb\r\nc\r\n", {3, 0}},
    {"a CR ending a chunk, content starting the next", "a\rb\r\n", {2, 0}},
    {"an empty line ending in a CR at a chunk end, then content",
     "a\r\n\rb\r\n", {4, 0}},
    {"empty lines, then a CR at a chunk end, then a CR", "a\r\n\r\n\r\rx\r\n", {6, 0}},
    {"blank lines held across chunks", "a\r\n\r\n", {3, 2, 0}},
    {"a word cut by chunks", "hello world\r\n", {2, 3, 1, 0}},
    {"an LF alone in a chunk", "a\r\n\nb", {2, 1, 1, 0}},
    {"a body of one CR", "\r", {0}},
    {"a body of one LF", "\n", {0}},
};
/* clang-format on */

START_TEST(labelled)
{
    const struct row *r = &rows[_i];
    size_t ncuts = 0;
    while (ncuts < 4 && r->cuts[ncuts] != 0)
        ncuts++;
    check_body(r->label, (const unsigned char *)r->body, strlen(r->body), r->cuts, ncuts);
}
END_TEST

START_TEST(long_lines)
{
    /* a line longer than libopendkim's 1,024-byte buffers, one word */
    size_t len = 5000;
    unsigned char *b = malloc(len + 4);
    memset(b, 'x', len);
    memcpy(b + len, "\r\n\r\n", 4);
    size_t cuts[] = {700, 1500};
    check_body("a 5,000-byte word", b, len + 4, cuts, 2);
    check_body("a 5,000-byte word in one chunk", b, len + 4, NULL, 0);
    free(b);
}
END_TEST

/* n random bodies shorter than maxlen, cut into up to 16 chunks shorter
   than maxcut (the rest in one). */
static void random_bodies(const char *what, unsigned int seed, int n, int maxlen, int maxcut)
{
    static const unsigned char alphabet[] = "aaaaaaabc  \t\r\r\r\n\n\n";
    unsigned char *body = malloc((size_t)maxlen);
    for (int k = 0; k < n; k++) {
        size_t len = (size_t)(rand_r(&seed) % maxlen);
        for (size_t i = 0; i < len; i++)
            body[i] = alphabet[rand_r(&seed) % (int)(sizeof(alphabet) - 1)];
        size_t cuts[16];
        size_t ncuts = (size_t)(rand_r(&seed) % 16);
        for (size_t i = 0; i < ncuts; i++)
            cuts[i] = 1 + (size_t)(rand_r(&seed) % maxcut);
        char label[80];
        snprintf(label, sizeof(label), "%s %d", what, k);
        check_body(label, body, len, cuts, ncuts);
    }
    free(body);
}

START_TEST(short_random_bodies)
{
    random_bodies("short random body", 20261202, 400, 400, 40);
}
END_TEST

/* past libopendkim's 4,096-byte hash buffer */
START_TEST(long_random_bodies)
{
    random_bodies("long random body", 1202, 60, 12000, 5000);
}
END_TEST

/* n bodies of text as mail has it -- words with one space between them,
   CRLF line ends -- with a defect now and then that relaxed rewrites (two
   spaces, a tab, a space at either end, empty lines, a bare CR or LF),
   cut at random: the lines relaxed leaves alone go out as whole runs. */
static void text_bodies(unsigned int seed, int n)
{
    static const char *const words[] = {"a", "the", "figures", "quarterly", "x", "orders"};
    static const char *const defects[] = {"  ", "\t", " \r\n", "\r\n ", "\r\n\r\n",
                                          "\r", "\n", "\r\n\r\n\r\n"};
    enum { MAX = 20000 };
    unsigned char *body = malloc(MAX + 64);
    for (int k = 0; k < n; k++) {
        size_t len = 0, target = (size_t)(rand_r(&seed) % MAX);
        while (len < target) {
            const char *w = words[rand_r(&seed) % 6];
            memcpy(body + len, w, strlen(w));
            len += strlen(w);
            int r = rand_r(&seed) % 100;
            const char *sep = r < 3 ? defects[rand_r(&seed) % 8] : r < 15 ? "\r\n" : " ";
            memcpy(body + len, sep, strlen(sep));
            len += strlen(sep);
        }
        if (rand_r(&seed) % 2) {
            memcpy(body + len, "\r\n", 2);
            len += 2;
        }
        size_t cuts[16];
        size_t ncuts = (size_t)(rand_r(&seed) % 16);
        for (size_t i = 0; i < ncuts; i++)
            cuts[i] = 1 + (size_t)(rand_r(&seed) % 3000);
        char label[80];
        snprintf(label, sizeof(label), "text body %d", k);
        check_body(label, body, len, cuts, ncuts);
    }
    free(body);
}

START_TEST(text_with_defects)
{
    text_bodies(20261203, 200);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dkim_libcanon");
    TCase *tc = tcase_create("against libopendkim");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, labelled, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, long_lines);
    tcase_add_test(tc, short_random_bodies);
    tcase_add_test(tc, long_random_bodies);
    tcase_add_test(tc, text_with_defects);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
