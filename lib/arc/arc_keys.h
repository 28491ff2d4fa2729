/* arc_keys: the sealers' public keys, decoded once per process instead
   of once per message.  A sealer signs thousands of messages with one
   key; decoding its p= (base64, DER, an OpenSSL key object) and the
   Montgomery set-up OpenSSL keeps inside the key object cost about as
   much as one RSA verification, so lib/arc/arc.c asks here first.

   Keyed by the p= text and the key type (a key record's other tags are
   still read per message, from the DNS answer of that message: a
   revoked or changed key is seen at once).  Bounded: 16 shards of 8
   keys, least recently used first out; a key that does not decode is
   not kept.

   One cache per daemon: the server creates it and hands it to the ARC
   check as a service (lib/core/check.h).  Thread-safety: every function
   may be called from any thread; a lookup locks one shard, never the
   whole cache; the returned EVP_PKEY is the caller's reference. */
#ifndef FL_LIB_ARC_KEYS_H
#define FL_LIB_ARC_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

struct fl_arc_keys;

/* The public key of p= (base64 as in the key record, NUL-terminated):
   32 raw bytes for Ed25519, a SubjectPublicKeyInfo or bare RSAPublicKey
   for RSA.  Returns a new reference (EVP_PKEY_free it), or NULL when p=
   is not such a key.
   keys NULL: decoded every time, nothing kept. */
EVP_PKEY *fl_arc_key_get(struct fl_arc_keys *keys, const char *p, bool ed25519);

struct fl_arc_keys *fl_arc_keys_new(void);
/* Frees the cache and every key in it.  Accepts NULL; sets *keys NULL. */
void fl_arc_keys_free(struct fl_arc_keys **keys);

#endif
