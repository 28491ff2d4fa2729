/* dkim_taglist: strict parsing of the two DKIM tag-lists before
   libopendkim sees them -- the DKIM-Signature field (RFC 6376 3.5) and
   the key record (RFC 6376 3.6.1) -- by the tag-list grammar of RFC 6376
   3.2:

     tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
     tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
     tag-name  =  ALPHA *ALNUMPUNC           ; ALPHA / DIGIT / "_"
     tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
     tval      =  1*VALCHAR                  ; %x21-3A / %x3C-7E

   A tag named twice invalidates the whole list (3.2).  VALCHAR is
   extended by well-formed UTF-8 as RFC 8616 4 allows for internationalized
   headers (U-labels in d=, s=, i=).  Only trailing FWS after the last ";"
   is accepted beyond the grammar (dkimpy does the same; a TXT record
   often ends in "; ").  Every error names the tag.

   libopendkim is lenient where the RFC is strict (it skips characters
   that are not base64 in p=, keeps the last of two equal tags); these
   checks run first and their errors decide.  libopendkim still
   canonicalises and verifies.

   Thread-safety: pure functions on caller-owned data. */
#ifndef FL_LIB_DKIM_TAGLIST_H
#define FL_LIB_DKIM_TAGLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"

/* One tag-spec; both point into the parsed text (not NUL-terminated).
   The value has its outer FWS trimmed, inner FWS kept. */
struct fl_dkim_tag {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct fl_dkim_taglist {
    struct fl_dkim_tag *tags;
    size_t n, cap;
};

/* Parses s[0..len).  Returns 0, or -1 with the error (naming the tag)
   appended to why.  tl is filled either way; free it with
   fl_dkim_taglist_free. */
int fl_dkim_taglist_parse(const char *s, size_t len, struct fl_dkim_taglist *tl,
                          struct fl_buf *why);
void fl_dkim_taglist_free(struct fl_dkim_taglist *tl);
/* The tag called name (case-sensitive, RFC 6376 3.2), or NULL. */
const struct fl_dkim_tag *fl_dkim_taglist_get(const struct fl_dkim_taglist *tl,
                                              const char *name);

/* Checks a DKIM-Signature field value (after the colon, folds as CRLF
   plus WSP) against RFC 6376 3.2 and 3.5: the grammar, the required tags
   v a b bh d h s, each known tag's value syntax, x= after t=, i= in d=.
   Returns 0; 1 if the list is valid but h= does not name From (6.1.1:
   "From field not signed"); -1 for any other error.  why gets the reason
   on 1 and -1. */
int fl_dkim_signature_check(const char *value, size_t len, struct fl_buf *why);

/* Key types and hashes of RFC 6376 3.6.1 and RFC 8463. */
enum fl_dkim_keytype {
    FL_DKIM_KEY_RSA,
    FL_DKIM_KEY_ED25519,
    FL_DKIM_KEY_UNKNOWN, /* a k= we do not know: usable by no signature */
};
#define FL_DKIM_HASH_SHA1   1u
#define FL_DKIM_HASH_SHA256 2u

/* A key record, checked (RFC 6376 3.6.1). */
struct fl_dkim_keyrec {
    enum fl_dkim_keytype type; /* k=, rsa when absent */
    char keytype[32];          /* k= as written (for reasons), "rsa" when absent */
    unsigned int hashes;       /* h=: FL_DKIM_HASH_* allowed; all when absent */
    bool email;                /* s= absent, or lists "*" or "email" */
    bool testing;              /* t=y */
    bool strict;               /* t=s: i= must not be a subdomain of d= */
    bool revoked;              /* p= empty */
    char *p;                   /* p= with the FWS removed (malloc'd) */
};

/* Parses and checks one key record (the TXT character-strings joined).
   Unknown tags, and unknown values in h=, s= and t=, are ignored, as
   3.6.1 says.  Returns 0, or -1 (key syntax error) with why naming the
   tag; k is filled on 0 and must be cleared with fl_dkim_keyrec_clear
   either way. */
int fl_dkim_keyrec_parse(const char *rec, size_t len, struct fl_dkim_keyrec *k,
                         struct fl_buf *why);
void fl_dkim_keyrec_clear(struct fl_dkim_keyrec *k);

#endif
