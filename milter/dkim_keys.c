/* dkim_keys: a cache of decoded DKIM public keys.

   libopendkim decodes the public key of every signature it verifies with
   OpenSSL's d2i_PUBKEY_bio(), and in OpenSSL 3 that decode (the provider
   decoder framework) cost about a fifth of the daemon's CPU per message --
   more than the RSA verification itself.  The same key is decoded again for
   every message of a sender.  This definition of d2i_PUBKEY_bio, in the
   executable, comes before libcrypto's in the dynamic symbol lookup, so
   libopendkim's calls land here: for a memory BIO holding a key already
   seen, it returns a new reference to the decoded key (EVP_PKEY is
   reference-counted and safe to share for verification); otherwise it
   decodes with d2i_PUBKEY and keeps the result.  The cache is keyed by the
   key's DER bytes (a rotated key is another entry), bounded (one entry per
   slot, replaced on collision) and striped (no process-wide lock).  Any
   other use (a non-memory BIO, an output pointer) goes to libcrypto's own
   function. */
#include "lib/core/xalloc.h"

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512
#define STRIPES 32
#define MAX_DER 8192 /* an RSA-16384 key is ~2 KB */

struct slot {
    uint64_t hash;
    unsigned char *der;
    size_t len;
    EVP_PKEY *key;
};

static struct slot slots[SLOTS];
static pthread_mutex_t stripes[STRIPES];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_PKEY *(*libcrypto_d2i)(BIO *, EVP_PKEY **);

static void init(void)
{
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
    libcrypto_d2i = (EVP_PKEY * (*)(BIO *, EVP_PKEY **)) dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");
}

static uint64_t der_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

EVP_PKEY *d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a);

EVP_PKEY *d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
    pthread_once(&once, init);
    char *data = NULL;
    long len = bp != NULL && BIO_method_type(bp) == BIO_TYPE_MEM ? BIO_get_mem_data(bp, &data)
                                                                  : -1;
    if (a != NULL || len <= 0 || len > MAX_DER || data == NULL)
        return libcrypto_d2i != NULL ? libcrypto_d2i(bp, a) : NULL;
    uint64_t h = der_hash((const unsigned char *)data, (size_t)len);
    struct slot *s = &slots[h % SLOTS];
    pthread_mutex_t *lock = &stripes[(h % SLOTS) % STRIPES];
    EVP_PKEY *key = NULL;
    pthread_mutex_lock(lock);
    if (s->key != NULL && s->hash == h && s->len == (size_t)len &&
        memcmp(s->der, data, (size_t)len) == 0 && EVP_PKEY_up_ref(s->key) == 1)
        key = s->key;
    pthread_mutex_unlock(lock);
    if (key != NULL)
        return key;
    const unsigned char *p = (const unsigned char *)data;
    key = d2i_PUBKEY(NULL, &p, len);
    if (key == NULL || EVP_PKEY_up_ref(key) != 1)
        return key;
    unsigned char *der = fl_malloc((size_t)len);
    memcpy(der, data, (size_t)len);
    pthread_mutex_lock(lock);
    EVP_PKEY *old_key = s->key;
    unsigned char *old_der = s->der;
    s->hash = h;
    s->der = der;
    s->len = (size_t)len;
    s->key = key;
    pthread_mutex_unlock(lock);
    EVP_PKEY_free(old_key);
    free(old_der);
    return key;
}
