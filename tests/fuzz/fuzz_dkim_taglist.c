/* fuzz_dkim_taglist: the strict DKIM checks (lib/dkim/dkim_taglist.c) on
   DKIM-Signature fields and key records a sender controls, and the body
   canonicaliser (lib/dkim/dkim_canon.c).  The first input byte picks the mode.
   Invariants: results are -1/0/1; an error has a reason of printable
   ASCII (it reaches the Authentication-Results header); an accepted list
   has tags whose names start with a letter and whose values hold no ';';
   an accepted key record has a p= of base64 only, revoked exactly when
   empty; the canonical body (its length and SHA-256) does not depend on
   where the body is cut into chunks. */
#include "tests/fuzz/fuzz.h"
#include "lib/dkim/dkim_canon.h"
#include "lib/dkim/dkim_taglist.h"

static void check_reason(const struct fl_buf *why)
{
    FUZZ_ASSERT(why->len > 0, "an error without a reason");
    for (size_t i = 0; i < why->len; i++)
        FUZZ_ASSERT((unsigned char)why->data[i] >= 0x20 &&
                        (unsigned char)why->data[i] < 0x7f,
                    "a reason with a byte that is not printable ASCII");
}

static void taglist(const char *s, size_t n)
{
    struct fl_dkim_taglist tl;
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_dkim_taglist_parse(s, n, &tl, &why);
    FUZZ_ASSERT(rc == 0 || rc == -1, "taglist result");
    if (rc != 0)
        check_reason(&why);
    for (size_t i = 0; rc == 0 && i < tl.n; i++) {
        const struct fl_dkim_tag *t = &tl.tags[i];
        FUZZ_ASSERT(t->name >= s && t->name + t->name_len <= s + n, "name outside input");
        FUZZ_ASSERT(t->name_len > 0 &&
                        ((t->name[0] | 0x20) >= 'a' && (t->name[0] | 0x20) <= 'z'),
                    "tag name not starting with a letter");
        FUZZ_ASSERT(memchr(t->value, ';', t->value_len) == NULL, "';' in a value");
        FUZZ_ASSERT(fl_dkim_taglist_get(&tl, "") == NULL, "empty name found");
    }
    fl_dkim_taglist_free(&tl);
    fl_buf_free(&why);
}

static void signature(const char *s, size_t n)
{
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_dkim_signature_check(s, n, &why);
    FUZZ_ASSERT(rc >= -1 && rc <= 1, "signature result");
    if (rc != 0)
        check_reason(&why);
    fl_buf_free(&why);
}

static void key(const char *s, size_t n)
{
    struct fl_dkim_keyrec k;
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_dkim_keyrec_parse(s, n, &k, &why);
    FUZZ_ASSERT(rc == 0 || rc == -1, "key result");
    if (rc != 0)
        check_reason(&why);
    if (rc == 0) {
        FUZZ_ASSERT(k.p != NULL, "accepted key without p=");
        FUZZ_ASSERT(k.revoked == (k.p[0] == '\0'), "revoked is not empty p=");
        FUZZ_ASSERT(strspn(k.p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789+/=") == strlen(k.p),
                    "p= kept a byte outside base64");
        FUZZ_ASSERT(strlen(k.p) % 4 == 0, "p= not whole quanta");
    }
    fl_dkim_keyrec_clear(&k);
    fl_buf_free(&why);
}

static void body(const unsigned char *p, size_t n, size_t cut)
{
    for (int relaxed = 0; relaxed < 2; relaxed++) {
        struct fl_dkim_body whole, split;
        fl_dkim_body_init(&whole, relaxed, -1, EVP_sha256());
        fl_dkim_body_init(&split, relaxed, -1, EVP_sha256());
        fl_dkim_body_feed(&whole, p, n);
        for (size_t off = 0; off < n; off += cut)
            fl_dkim_body_feed(&split, p + off, n - off < cut ? n - off : cut);
        fl_dkim_body_finish(&whole);
        fl_dkim_body_finish(&split);
        FUZZ_ASSERT(whole.total == split.total, "body length depends on the chunks");
        FUZZ_ASSERT(whole.digest_len == split.digest_len &&
                        memcmp(whole.digest, split.digest, whole.digest_len) == 0,
                    "body hash depends on the chunks");
        FUZZ_ASSERT(relaxed || whole.total >= 2, "a simple body is at least CRLF");
        fl_dkim_body_clear(&whole);
        fl_dkim_body_clear(&split);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        taglist(s, n);
        break;
    case 1:
        signature(s, n);
        break;
    case 2:
        key(s, n);
        break;
    default:
        body(data + 1, n, (size_t)(data[0] / 4) % 17 + 1);
        break;
    }
    return 0;
}
