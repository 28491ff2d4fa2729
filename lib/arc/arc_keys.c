/* arc_keys: see arc_keys.h.  Each shard is a short list, most recently
   used first, under its own mutex; a key is decoded outside the lock. */
#include "lib/arc/arc_keys.h"
#include "lib/dkim/dkim_canon.h"
#include "lib/core/xalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#define SHARDS 16
#define PER_SHARD 8

struct entry {
    uint64_t hash;
    bool ed25519;
    char *p;
    EVP_PKEY *pkey;
};

struct shard {
    pthread_mutex_t lock;
    size_t n;
    struct entry e[PER_SHARD]; /* most recently used first */
};

struct fl_arc_keys {
    struct shard shards[SHARDS];
};

struct fl_arc_keys *fl_arc_keys_new(void)
{
    struct fl_arc_keys *keys = fl_calloc(1, sizeof(*keys));
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_init(&keys->shards[i].lock, NULL);
    return keys;
}

/* One DER element of type tag at *p (before end): its content and
   length, *p moved past it; NULL if it is not one. */
static const unsigned char *der_next(const unsigned char **p, const unsigned char *end,
                                     unsigned char tag, size_t *len_r)
{
    const unsigned char *q = *p;
    if (end - q < 2 || *q++ != tag)
        return NULL;
    size_t n = *q++;
    if (n & 0x80) {
        int k = (int)(n & 0x7f);
        if (k == 0 || k > 3 || end - q < k)
            return NULL;
        for (n = 0; k-- > 0;)
            n = n << 8 | *q++;
    }
    if ((size_t)(end - q) < n)
        return NULL;
    *p = q + n;
    *len_r = n;
    return q;
}

/* An RSA public key from its modulus and exponent (big-endian). */
static EVP_PKEY *rsa_from(const unsigned char *n, size_t nlen, const unsigned char *e,
                          size_t elen)
{
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *ps = NULL;
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bn != NULL && be != NULL && b != NULL && c != NULL &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
        (ps = OSSL_PARAM_BLD_to_param(b)) != NULL && EVP_PKEY_fromdata_init(c) == 1 &&
        EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, ps) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(ps);
    OSSL_PARAM_BLD_free(b);
    BN_free(bn);
    BN_free(be);
    return k;
}

/* p= of an RSA key: a SubjectPublicKeyInfo (RFC 6376 3.6.1), or a bare
   RSAPublicKey as some publish.  Read here rather than by d2i_PUBKEY,
   whose OpenSSL 3 decoder search costs ~75 us a key against ~4 us (it
   remains the fallback). */
static EVP_PKEY *rsa_key(const unsigned char *der, size_t len)
{
    static const unsigned char rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                            0x0d, 0x01, 0x01, 0x01};
    const unsigned char *p = der, *end = der + len, *seq, *n = NULL, *e = NULL;
    size_t l, nlen = 0, elen = 0;
    if ((seq = der_next(&p, end, 0x30, &l)) != NULL && p == end) {
        const unsigned char *q = seq, *qe = seq + l, *alg, *oid, *bits;
        if (q < qe && *q == 0x30 && (alg = der_next(&q, qe, 0x30, &l)) != NULL) {
            const unsigned char *a = alg;
            if ((oid = der_next(&a, alg + l, 0x06, &l)) != NULL && l == sizeof(rsa_oid) &&
                memcmp(oid, rsa_oid, l) == 0 &&
                (bits = der_next(&q, qe, 0x03, &l)) != NULL && l > 1 && bits[0] == 0) {
                const unsigned char *r = bits + 1;
                seq = der_next(&r, bits + l, 0x30, &l);
                q = seq;
                qe = seq ? seq + l : NULL;
            } else {
                q = NULL;
            }
        }
        if (q != NULL && (n = der_next(&q, qe, 0x02, &nlen)) != NULL)
            e = der_next(&q, qe, 0x02, &elen);
    }
    EVP_PKEY *k = n != NULL && e != NULL ? rsa_from(n, nlen, e, elen) : NULL;
    if (k == NULL) {
        p = der;
        k = d2i_PUBKEY(NULL, &p, (long)len);
        if (k == NULL) {
            p = der;
            k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
        }
    }
    if (k != NULL && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

/* p= decoded, or NULL. */
static EVP_PKEY *decode(const char *p, bool ed25519)
{
    size_t derlen = 0;
    unsigned char *der = fl_dkim_unbase64(p, strlen(p), &derlen);
    EVP_PKEY *k = NULL;
    if (der != NULL && ed25519 && derlen == 32)
        k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
    else if (der != NULL && !ed25519)
        k = rsa_key(der, derlen);
    free(der);
    return k;
}

/* FNV-1a of p= and the type. */
static uint64_t key_hash(const char *p, bool ed25519)
{
    uint64_t h = 1469598103934665603ull ^ (ed25519 ? 1u : 0u);
    for (; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* The entry for p in s (locked), moved to the front, or NULL. */
static struct entry *find(struct shard *s, uint64_t h, const char *p, bool ed25519)
{
    for (size_t i = 0; i < s->n; i++) {
        struct entry *e = &s->e[i];
        if (e->hash != h || e->ed25519 != ed25519 || strcmp(e->p, p) != 0)
            continue;
        struct entry hit = *e;
        memmove(&s->e[1], &s->e[0], i * sizeof(s->e[0]));
        s->e[0] = hit;
        return &s->e[0];
    }
    return NULL;
}

EVP_PKEY *fl_arc_key_get(struct fl_arc_keys *keys, const char *p, bool ed25519)
{
    if (keys == NULL)
        return decode(p, ed25519);
    uint64_t h = key_hash(p, ed25519);
    struct shard *s = &keys->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, h, p, ed25519);
    if (e != NULL) {
        EVP_PKEY_up_ref(e->pkey);
        EVP_PKEY *k = e->pkey;
        pthread_mutex_unlock(&s->lock);
        return k;
    }
    pthread_mutex_unlock(&s->lock);
    EVP_PKEY *k = decode(p, ed25519);
    if (k == NULL)
        return NULL;
    pthread_mutex_lock(&s->lock);
    if (find(s, h, p, ed25519) == NULL) { /* another thread may have been faster */
        if (s->n == PER_SHARD) {
            struct entry *old = &s->e[--s->n];
            EVP_PKEY_free(old->pkey);
            free(old->p);
        }
        memmove(&s->e[1], &s->e[0], s->n * sizeof(s->e[0]));
        s->e[0] = (struct entry){h, ed25519, fl_strdup(p), k};
        s->n++;
        EVP_PKEY_up_ref(k);
    }
    pthread_mutex_unlock(&s->lock);
    return k;
}

void fl_arc_keys_free(struct fl_arc_keys **keysp)
{
    struct fl_arc_keys *keys = *keysp;
    if (keys == NULL)
        return;
    *keysp = NULL;
    for (size_t i = 0; i < SHARDS; i++) {
        struct shard *s = &keys->shards[i];
        for (size_t j = 0; j < s->n; j++) {
            EVP_PKEY_free(s->e[j].pkey);
            free(s->e[j].p);
        }
        pthread_mutex_destroy(&s->lock);
    }
    free(keys);
}
