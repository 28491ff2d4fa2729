/* dnsbl_spec: the configuration syntax of DNS lists and the pure rules
   applied to their answers (no DNS here).

   A list entry, as in Postfix's postscreen_dnsbl_sites:
     zone[=filter][*weight][:identities][/observe]
   filter   four octets, each a number or [items] with items N or N..M
            separated by ";": 127.0.0.2, 127.0.0.[2..11], 127.0.0.[2;4],
            127.0.[0..255].[2..4;9].  It must lie inside 127.0.0.0/8.
            Without a filter any 127.0.0.0/8 answer that is not an error
            code matches.
   weight   a whole number from -1000 to 1000, default 1; negative for
            allow lists.
   identities  (rhsbl_sites only) the names a domain list is asked about,
            joined by "+": mailfrom, from, helo, ptr; default all four.
   /observe  the entry is observed, not enforced: its listings are asked,
            recorded and reported ("would have refused"), but add nothing to
            the score that rejects or allow-lists.
   An error code entry (dnsbl_error_codes) is zone=filter: answers of that
   zone (or of any zone ending in "."zone) that match are list errors.

   Thread-safe: pure functions and constant tables. */
#ifndef FL_LIB_DNSBL_SPEC_H
#define FL_LIB_DNSBL_SPEC_H

#include "lib/core/buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest zone name: 32 IPv6 nibbles ("x." each, 64 characters) plus the
   zone must fit in 253. */
#define FL_DNSBL_ZONE_MAX 189

enum fl_dnsbl_spec_kind {
    FL_DNSBL_SPEC_IP,     /* dnsbl_sites */
    FL_DNSBL_SPEC_DOMAIN, /* rhsbl_sites */
    FL_DNSBL_SPEC_ERROR,  /* dnsbl_error_codes */
};

/* A set of IPv4 answers: per octet, a bitmap of the values allowed. */
struct fl_dnsbl_filter {
    uint8_t octet[4][32];
};

struct fl_dnsbl_spec {
    char zone[FL_DNSBL_ZONE_MAX + 1]; /* lower case, no trailing dot */
    bool has_filter;
    struct fl_dnsbl_filter filter;
    /* The filter names one /24 exactly in its first three octets (e.g.
       127.255.255.[1..9]): it asks for answers there explicitly. */
    bool filter_names_net;
    int weight;
    unsigned int identities; /* enum fl_dnsbl_identity bits */
    bool observe;            /* "/observe": recorded, not enforced */
};

/* Parses one entry of the given kind.  Returns 0, or -1 with the reason appended to err
   to static text naming the part that is wrong. */
int fl_dnsbl_spec_parse(const char *text, enum fl_dnsbl_spec_kind kind,
                        struct fl_dnsbl_spec *spec_r, struct fl_buf *err);

/* Parses a filter ("127.0.0.[2..11]").  Returns 0, or -1 with the reason appended to err.
 */
int fl_dnsbl_filter_parse(const char *text, size_t len, struct fl_dnsbl_filter *f_r,
                          struct fl_buf *err);
bool fl_dnsbl_filter_match(const struct fl_dnsbl_filter *f, const unsigned char addr[4]);

/* The settings tables' item checks (see settings.h). */
int fl_dnsbl_check_ip_spec(const char *value, struct fl_buf *err);
int fl_dnsbl_check_domain_spec(const char *value, struct fl_buf *err);
int fl_dnsbl_check_error_spec(const char *value, struct fl_buf *err);

/* True if zone is suffix or ends with "." suffix (case-insensitive). */
bool fl_dnsbl_zone_under(const char *zone, const char *suffix);

/* Built-in error codes of well-known lists, matched by zone suffix.
   Returns what addr means and who fixes it, or NULL. */
const char *fl_dnsbl_builtin_error(const char *zone, const unsigned char addr[4]);
/* The generic rule every list gets: what an answer in 127.255.255.0/24
   means (addr must be there). */
const char *fl_dnsbl_generic_error(const unsigned char addr[4]);
/* What an answer outside 127.0.0.0/8 means. */
extern const char fl_dnsbl_not_a_code[];
/* What an answer matched by dnsbl_error_codes means. */
extern const char fl_dnsbl_operator_code[];

/* The query name for ip under zone: reversed octets (IPv4) or 32 reversed
   nibbles (IPv6), then zone.  ip is text; IPv4-mapped IPv6 is IPv4.
   Returns 4 or 6 (the family), or 0 if ip is not an address. */
int fl_dnsbl_reverse_name(const char *ip, const char *zone, char *out, size_t outlen);

/* Normalises an identity to the domain a list is asked about: the part
   after the last "@" of an address, without <> and a trailing dot, lower
   case.  Returns 0, or -1 (the reason appended to err) for a name no list
   can hold: empty,
   an address literal or IP address, a single label, a label that is empty,
   over 63 characters or not letters, digits, "-" and "_". */
int fl_dnsbl_domain_normalise(const char *in, char *out, size_t outlen,
                              struct fl_buf *err);

#endif
