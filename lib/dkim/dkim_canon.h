/* dkim_canon: DKIM canonicalisation (RFC 6376 3.4) and RSA verification
   (3.7) of our own, for the one case libopendkim cannot handle: a key
   record longer than the 1,024-byte buffer libopendkim's dkim_get_key()
   hands to every key lookup (BUFRSZ, fixed at its build; the query
   callbacks and lib/dns deliver such a record whole, libopendkim cannot
   take it).  That is any RSA key over ~5,900 bits, e.g. RSA-8192 (a
   1.4 kB record).  Everything else is canonicalised and verified by
   libopendkim.

   The body canonicaliser also counts the canonical body length of every
   message with an l= signature (lib/dkim/dkim_eval.c tells content appended
   after l= from an l= covering it all).

   Thread-safety: the objects belong to one verifier. */
#ifndef FL_LIB_DKIM_CANON_H
#define FL_LIB_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "lib/core/buf.h"
#include "lib/dkim/dkim_taglist.h"

/* The body as one signature's canonicalisation sees it (RFC 6376 3.4.3
   simple, 3.4.4 relaxed; a bare LF ends a line as CRLF does, the way
   libopendkim's DKIM_LIBFLAGS_FIXCRLF reads it), counted and optionally
   hashed up to a length limit (l=). */
struct fl_dkim_body {
    bool relaxed;
    bool wsp;  /* relaxed: whitespace pending in the line */
    bool cr;   /* the last byte was a CR */
    bool line; /* the current line has content */
    bool finished;
    long long blanks;                      /* empty lines not yet followed by content */
    long long total;                       /* canonical bytes emitted */
    long long limit;                       /* bytes hashed at most (l=), -1 for all */
    EVP_MD_CTX *md;                        /* NULL: count only */
    unsigned char digest[EVP_MAX_MD_SIZE]; /* once finished */
    unsigned int digest_len;
    size_t nout;
    unsigned char out[1024];
};

/* md: the hash (EVP_sha256(), EVP_sha1()) or NULL to count only. */
void fl_dkim_body_init(struct fl_dkim_body *b, bool relaxed, long long limit,
                       const EVP_MD *md);
void fl_dkim_body_feed(struct fl_dkim_body *b, const unsigned char *p, size_t len);
/* Ends the body (the final CRLF rules); the total is then b->total.
   Idempotent. */
void fl_dkim_body_finish(struct fl_dkim_body *b);
/* Frees the hash (the struct is the caller's). */
void fl_dkim_body_clear(struct fl_dkim_body *b);

/* The message's header fields in order, as fed to libopendkim ("Name:
   value", folds as CRLF plus WSP, no final CRLF). */
struct fl_dkim_headers {
    struct fl_buf data;
    size_t *start, *len;
    size_t n, cap;
};

void fl_dkim_headers_add(struct fl_dkim_headers *h, const char *field, size_t len);
void fl_dkim_headers_clear(struct fl_dkim_headers *h);

/* What our verification found. */
struct fl_dkim_canon_result {
    bool key_ok;       /* p= decodes to an RSA public key */
    unsigned int bits; /* its modulus length */
    bool signature_ok; /* b= verifies over the header hash */
    bool body_hash_ok; /* bh= is the hash of the (finished) body */
};

/* Verifies the RSA signature in header field sigfield (an index into h)
   with key (a checked key record, k=rsa, not revoked) and body (that
   signature's canonicalisation, hashed with its algorithm, finished).
   hc_relaxed: its header canonicalisation; sha1: a=rsa-sha1.  Returns 0
   (*out filled), or -1 if the field cannot be read (the reason appended to err: static
   text). */
int fl_dkim_canon_verify(const struct fl_dkim_headers *h, size_t sigfield,
                         bool hc_relaxed, bool sha1, const struct fl_dkim_keyrec *key,
                         const struct fl_dkim_body *body,
                         struct fl_dkim_canon_result *out, struct fl_buf *err);

/* --- for lib/arc/arc.c (ARC signatures are DKIM signatures, RFC 8617 4.1) --- */

/* Appends field f[0..len) canonicalised (RFC 6376 3.4.1 simple, 3.4.2
   relaxed), with CRLF at the end or not. */
void fl_dkim_canon_field(struct fl_buf *out, const char *f, size_t len, bool relaxed,
                         bool crlf);
/* Appends the signature field f[0..len) canonicalised without its CRLF
   and with the b= value bt deleted (RFC 6376 3.7); value is where the
   tag list starts in f (bt points into it). */
void fl_dkim_canon_sigfield(struct fl_buf *out, const char *f, size_t len, const char *value,
                            const struct fl_dkim_tag *bt, bool relaxed);
/* The header hash input of RFC 6376 3.7 for the signature in field
   sigfield of h, whose tag list tl was parsed from value (inside that
   field): the fields h= names, bottom up, then the signature field.
   Returns 0, or -1 without h= or b=. */
int fl_dkim_canon_header_input(const struct fl_dkim_headers *h, size_t sigfield,
                               bool relaxed, const struct fl_dkim_taglist *tl,
                               const char *value, struct fl_buf *out);
/* Base64 with FWS to bytes (malloc'd, *len_r set), or NULL. */
unsigned char *fl_dkim_unbase64(const char *v, size_t n, size_t *len_r);

#endif
