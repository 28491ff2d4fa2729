/* domain: the one check of a domain name's shape (RFC 1035 2.3.4: labels
   of 1..63 octets, at most 253 octets written without the root dot), used
   wherever a name is validated before it is queried, stored or written.
   Callers differ in what else a name must be (only host-name characters,
   two labels, not numeric): that is the flags argument.  Each caller keeps
   its own wording and maps the problem to it.  Thread-safe. */
#ifndef FL_LIB_DOMAIN_H
#define FL_LIB_DOMAIN_H

#include <stddef.h>

enum fl_domain_flags {
    /* Only letters, digits, '-' and '_' in labels (RFC 5321 domains plus
       '_' for SRV-like names); without it a label may hold any octet but
       '.', as a DNS query name may. */
    FL_DOMAIN_HOSTCHARS = 1u << 0,
    /* With FL_DOMAIN_HOSTCHARS: octets >= 0x80 (U-labels) are accepted too. */
    FL_DOMAIN_8BIT = 1u << 1,
    /* At least two labels (a list zone, an FQDN, not "localhost"). */
    FL_DOMAIN_TWO_LABELS = 1u << 2,
    /* Not only digits and dots (an IPv4 address is not a host name). */
    FL_DOMAIN_NOT_NUMERIC = 1u << 3,
    /* The last label may be empty, i.e. the name may still end in a dot
       after its root dot was dropped ("a.." as "a.").  The resolver layer,
       SPF's query names and list zones have always passed such a name on
       as written; the flag keeps that exactly. */
    FL_DOMAIN_EMPTY_LAST = 1u << 4,
};

enum fl_domain_problem {
    FL_DOMAIN_OK = 0,
    FL_DOMAIN_EMPTY,       /* no octets at all */
    FL_DOMAIN_TOO_LONG,    /* more than 253 octets */
    FL_DOMAIN_EMPTY_LABEL, /* two dots, a leading dot, or a trailing one */
    FL_DOMAIN_LONG_LABEL,  /* a label of more than 63 octets */
    FL_DOMAIN_NON_ASCII,   /* an octet >= 0x80 (HOSTCHARS without 8BIT) */
    FL_DOMAIN_BAD_CHAR,    /* other than letters, digits, '-', '_' (HOSTCHARS) */
    FL_DOMAIN_ONE_LABEL,   /* FL_DOMAIN_TWO_LABELS */
    FL_DOMAIN_NUMERIC,     /* FL_DOMAIN_NOT_NUMERIC */
};

/* Checks name[0..len), a domain name written without its root dot (the
   caller drops one trailing dot first).  Octets are looked at left to right
   and the first problem found is returned, so a name with several problems
   always gets the same answer; the whole-name ones (one label, numeric) come
   last.  Returns FL_DOMAIN_OK (0) for a good name. */
enum fl_domain_problem fl_domain_check(const char *name, size_t len, unsigned int flags);

#endif
