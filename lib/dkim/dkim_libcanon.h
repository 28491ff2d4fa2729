/* dkim_libcanon: a DKIM body hash (RFC 6376 3.4.3 simple, 3.4.4 relaxed)
   computed byte for byte as libopendkim 2.11 computes it with
   DKIM_LIBFLAGS_FIXCRLF (the flags lib/dkim/dkim.c sets), for a signature
   without l=, its readings of malformed bodies included:
   - a bare LF, and a CR followed by anything but LF inside the same
     chunk, end a line (libopendkim's dkim_canon_fixcrlf); a CR that ends
     a chunk is decided by the next chunk's first byte, so the chunk
     boundaries the MTA chose matter, as they do to libopendkim;
   - at the end of the body, relaxed adds a CRLF only after content held
     since the last whitespace, and drops pending empty lines; simple
     adds the CRLF of an empty body when libopendkim's 4,096-byte hash
     buffer has not been emptied yet (a short body without a final CRLF
     gets one or not depending on where the chunks were cut).
   libopendkim calls a function per body byte (twice with FIXCRLF), which
   was a third of the daemon's CPU per message; this goes a run of bytes at
   a time.  lib/dkim/dkim.c hashes here, and gives libopendkim no body,
   when no signature has l= (libopendkim then still verifies the header
   hash; lib/dkim/dkim_eval.c compares bh= with the digest here).
   tests/dkim/check_dkim_libcanon.c holds this against libopendkim's own
   body hashes on random bodies cut into random chunks.

   Thread-safety: the objects belong to one verifier. */
#ifndef FL_LIB_DKIM_LIBCANON_H
#define FL_LIB_DKIM_LIBCANON_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "lib/core/buf.h"

/* The chunks as libopendkim's canonicalisations see them after its
   bare-CR/LF repair (one per message: every canonicalisation sees the
   same chunks). */
struct fl_dkim_libchunks {
    unsigned char last; /* the last byte of the previous repaired chunk */
    struct fl_buf fixed;
};

void fl_dkim_libchunks_init(struct fl_dkim_libchunks *c);
/* The chunk p[0..len) repaired: p itself when nothing needed repair,
   else the repaired copy (valid until the next call); *len_r set. */
const unsigned char *fl_dkim_libchunks_fix(struct fl_dkim_libchunks *c, const unsigned char *p,
                                           size_t len, size_t *len_r);
void fl_dkim_libchunks_clear(struct fl_dkim_libchunks *c);

/* One body canonicalisation and its hash. */
struct fl_dkim_libcanon {
    bool relaxed;
    const EVP_MD *alg;
    bool finished;
    bool blankline;       /* the line so far has no content */
    int state;            /* relaxed: 0 line start, 1 after WSP, 2 after CR, 3 in a word */
    unsigned char last;   /* the last byte seen */
    long long blanks;     /* empty lines held back */
    size_t lib_held;      /* simple: bytes libopendkim would hold in its hash buffer */
    long long written;    /* simple: bytes it would have written past that buffer */
    bool in_word;         /* relaxed: content since the last whitespace */
    struct fl_buf word;   /* relaxed: the first word after held empty lines */
    EVP_MD_CTX *md;
    unsigned char digest[EVP_MAX_MD_SIZE]; /* once finished */
    unsigned int digest_len;               /* 0: the hash failed (our fault) */
    size_t nout;
    unsigned char out[2048];
};

/* md: EVP_sha256() or EVP_sha1(). */
void fl_dkim_libcanon_init(struct fl_dkim_libcanon *c, bool relaxed, const EVP_MD *md);
/* Feeds one repaired chunk (fl_dkim_libchunks_fix), len > 0. */
void fl_dkim_libcanon_feed(struct fl_dkim_libcanon *c, const unsigned char *p, size_t len);
/* Ends the body and the hash.  Idempotent. */
void fl_dkim_libcanon_finish(struct fl_dkim_libcanon *c);
/* Whether the finished digest is the base64 text bh (as libopendkim
   compares it: the encoded digest against the tag value, byte for byte). */
bool fl_dkim_libcanon_matches(const struct fl_dkim_libcanon *c, const char *bh);
/* Frees the hash and the word buffer (the struct is the caller's). */
void fl_dkim_libcanon_clear(struct fl_dkim_libcanon *c);

#endif
