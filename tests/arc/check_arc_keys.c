/* check_arc_keys: the per-process cache of decoded sealer keys
   (lib/arc/arc_keys.c): a key is decoded once and shared, the type is
   part of the key, what does not decode is refused and not kept, and
   more keys than the cache holds still decode (the oldest go). */
#include "lib/arc/arc_keys.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* Base64 of n bytes. */
static char *b64(const unsigned char *p, int n)
{
    char *out = malloc((size_t)(4 * ((n + 2) / 3) + 1));
    EVP_EncodeBlock((unsigned char *)out, p, n);
    return out;
}

/* p= of a fresh RSA key of bits bits (SubjectPublicKeyInfo). */
static char *rsa_p(unsigned int bits)
{
    EVP_PKEY *k = EVP_RSA_gen(bits);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    char *p = b64(der, n);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    return p;
}

/* p= of an Ed25519 public key: 32 bytes made from seed. */
static char *ed_p(unsigned int seed)
{
    unsigned char raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (unsigned char)(seed * 131u + (unsigned)i * 7u);
    return b64(raw, 32);
}

static struct fl_arc_keys *keys;

static void setup(void)
{
    keys = fl_arc_keys_new();
}

static void teardown(void)
{
    fl_arc_keys_free(&keys);
    ck_assert_ptr_null(keys);
}

START_TEST(test_decoded_once)
{
    char *p = rsa_p(1024);
    EVP_PKEY *a = fl_arc_key_get(keys, p, false), *b = fl_arc_key_get(keys, p, false);
    ck_assert_msg(a != NULL, "an RSA key: got NULL, want a key");
    ck_assert_msg(a == b, "the same p= twice: got two objects, want one shared key");
    ck_assert_int_eq(EVP_PKEY_get_bits(a), 1024);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    /* without a cache: decoded for the caller alone each time */
    a = fl_arc_key_get(NULL, p, false);
    b = fl_arc_key_get(NULL, p, false);
    ck_assert_msg(a != NULL && b != NULL && a != b, "no cache: want two separate keys");
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    free(p);
}
END_TEST

START_TEST(test_type_is_part_of_the_key)
{
    char *p = ed_p(1);
    EVP_PKEY *ed = fl_arc_key_get(keys, p, true);
    ck_assert_msg(ed != NULL && EVP_PKEY_get_base_id(ed) == EVP_PKEY_ED25519,
                  "32 bytes asked as Ed25519: want an Ed25519 key");
    ck_assert_msg(fl_arc_key_get(keys, p, false) == NULL,
                  "the same 32 bytes asked as RSA: got a key, want NULL");
    EVP_PKEY_free(ed);
    free(p);
}
END_TEST

START_TEST(test_refused)
{
    static const char *const bad[] = {"", "!!not base64!!", "AAAA", "MTIz"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(fl_arc_key_get(keys, bad[i], false) == NULL, "RSA p=%s: got a key", bad[i]);
        ck_assert_msg(fl_arc_key_get(keys, bad[i], true) == NULL, "Ed25519 p=%s: got a key",
                      bad[i]);
    }
}
END_TEST

START_TEST(test_more_than_it_holds)
{
    /* 16 shards of 8: 400 keys evict, each still decodes and stays usable */
    EVP_PKEY *first = NULL;
    char *p0 = ed_p(1000);
    first = fl_arc_key_get(keys, p0, true);
    for (unsigned int i = 1; i < 400; i++) {
        char *p = ed_p(1000 + i);
        EVP_PKEY *k = fl_arc_key_get(keys, p, true);
        ck_assert_msg(k != NULL, "key %u: got NULL", i);
        EVP_PKEY_free(k);
        free(p);
    }
    ck_assert_msg(EVP_PKEY_get_base_id(first) == EVP_PKEY_ED25519,
                  "a key handed out before it was evicted stays valid");
    EVP_PKEY *again = fl_arc_key_get(keys, p0, true);
    ck_assert_msg(again != NULL, "an evicted key is decoded again");
    EVP_PKEY_free(again);
    EVP_PKEY_free(first);
    free(p0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arc_keys");
    TCase *tc = tcase_create("cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_decoded_once);
    tcase_add_test(tc, test_type_is_part_of_the_key);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_more_than_it_holds);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
