/* spf_macro: the macro language of SPF (RFC 7208 section 7).  Checks
   macro-strings (domain-specs, modifier values) and explain-strings
   against the ABNF of section 7.1, and expands explanation text (section
   6.2) itself: libspf2's expander turns the spaces of an explanation into
   '%', writes IPv6 nibbles in lower case (RFC 7208 7.4 shows upper case)
   and cuts a character too many when a value has fewer parts than the
   DIGIT transformer asks for.  Domain-specs inside records are still
   expanded by libspf2, after lib/spf/spf_record.c has checked them.
   Pure functions on caller-owned data: thread-safe. */
#ifndef FL_LIB_SPF_MACRO_H
#define FL_LIB_SPF_MACRO_H

#include <stddef.h>

#include "lib/core/buf.h"

/* Explanation text: SP is allowed, and the letters c, r and t (RFC 7208
   7.1: "allowed only in exp text"). */
#define FL_SPF_MACRO_EXP 0x1

/* Checks s[0..len) as a macro-string, or with FL_SPF_MACRO_EXP as an
   explain-string.  Only printable ASCII is valid.  Returns 0, or -1 with
   the problem appended to err. */
int fl_spf_macro_check(const char *s, size_t len, unsigned int flags, struct fl_buf *err);

/* True if the checked macro-string s[0..len) contains a macro-expand of
   the form %{...} (not just %%, %_ or %-). */
int fl_spf_macro_has_letters(const char *s, size_t len);

/* The values the macro letters stand for (RFC 7208 7.3). */
struct fl_spf_macro_vars {
    const char *sender;        /* s: local-part@domain */
    const char *local;         /* l */
    const char *sender_domain; /* o */
    const char *domain;        /* d: the current domain */
    const char *ip;       /* i: dotted quad, or 32 dot-separated upper-case nibbles */
    const char *ip_text;  /* c: dotted quad, or RFC 5952 text */
    const char *version;  /* v: "in-addr" or "ip6" */
    const char *helo;     /* h */
    const char *receiver; /* r */
    long long now;        /* t: seconds since the epoch */
    /* p: the validated domain name of the client, looked up on first use
       (it costs DNS queries); NULL or a NULL answer gives "unknown". */
    const char *(*validated_name)(void *ctx);
    void *ctx;
};

/* Appends the expansion of s[0..len) (checked with fl_spf_macro_check)
   to out.  Values that are NULL expand to nothing. */
void fl_spf_macro_expand(const char *s, size_t len, const struct fl_spf_macro_vars *v,
                         struct fl_buf *out);

/* Appends s[0..len) (a checked macro-string) to out with the macros
   rewritten the way libspf2 1.2.10 expands them correctly: "R" as "r"; a
   DIGIT at least as large as the number of parts of the value dropped
   (libspf2 cuts one character too many then), one above 128 cut to 128
   (libspf2 rejects it); a macro with the delimiters ',' or '/' (unknown
   to libspf2) replaced by its expansion, '%' and ' ' escaped.  v gives
   the values (the "p" letter is never looked up here: a %{p} with ','
   or '/' stays, and libspf2 rejects it); v NULL: only "R" and the 128
   cut. */
void fl_spf_macro_rewrite(const char *s, size_t len, const struct fl_spf_macro_vars *v,
                          struct fl_buf *out);

/* Writes the "i" form of an address into out (at least 65 bytes):
   family AF_INET: dotted quad; AF_INET6: 32 upper-case nibbles joined
   with dots, most significant first. */
void fl_spf_macro_ip(int family, const unsigned char *addr, char *out, size_t outlen);

#endif
