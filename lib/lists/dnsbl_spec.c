/* dnsbl_spec: see dnsbl_spec.h.  The syntax follows Postfix's
   postscreen_dnsbl_sites; error codes are the ones the list operators
   document (Spamhaus: 127.255.255.252 typo in the zone name, .254 query
   through a public resolver, .255 excessive queries; DBL 127.0.1.255 IP
   query; dnswl.org 127.0.0.255; URIBL 127.0.0.1 query refused). */
#include "lib/lists/dnsbl_spec.h"
#include "lib/lists/dnsbl.h"
#include "lib/core/domain.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define WEIGHT_MAX 1000

static const char public_resolver[] =
    "query through a public or open resolver, so the list refuses our resolver: use your "
    "own recursive resolver, not a public one (dns_forwarders)";
static const char too_many[] = "too many queries, so the list refuses our resolver: use "
                               "your own recursive resolver or register with the list "
                               "operator";
static const char zone_typo[] =
    "the zone name is wrong: check the list's name in dnsbl_sites or rhsbl_sites";
static const char refused[] = "query refused, so the list refuses our resolver: use your "
                              "own recursive resolver, not a public one, or register "
                              "with the list operator";
static const char ip_in_domain_list[] =
    "an IP address was asked of a domain list: move the list to rhsbl_sites";
static const char generic_code[] =
    "an error code (127.255.255.0/24 is reserved for list errors), so the list refuses "
    "our resolver or is misconfigured: see the list operator's documentation";

const char fl_dnsbl_not_a_code[] =
    "no list code (outside 127.0.0.0/8), so the list's domain may have expired or been "
    "taken over, or a resolver rewrites answers: remove the list or fix the resolver";
const char fl_dnsbl_operator_code[] = "an error code of the list (dnsbl_error_codes), so "
                                      "the list refuses our resolver: see the list "
                                      "operator's documentation";

static const struct {
    const char *suffix;
    unsigned char addr[4];
    const char *meaning;
} builtin_errors[] = {
    {"spamhaus.org", {127, 255, 255, 252}, zone_typo},
    {"spamhaus.org", {127, 255, 255, 254}, public_resolver},
    {"spamhaus.org", {127, 255, 255, 255}, too_many},
    /* the Data Query Service: <key>.zen.dq.spamhaus.net */
    {"spamhaus.net", {127, 255, 255, 252}, zone_typo},
    {"spamhaus.net", {127, 255, 255, 254}, public_resolver},
    {"spamhaus.net", {127, 255, 255, 255}, too_many},
    {"dbl.spamhaus.org", {127, 0, 1, 255}, ip_in_domain_list},
    {"dnswl.org", {127, 0, 0, 255}, refused},
    {"uribl.com", {127, 0, 0, 1}, refused},
};

bool fl_dnsbl_zone_under(const char *zone, const char *suffix)
{
    size_t z = strlen(zone), s = strlen(suffix);
    if (s == 0 || z < s || strcasecmp(zone + z - s, suffix) != 0)
        return false;
    return z == s || zone[z - s - 1] == '.';
}

const char *fl_dnsbl_builtin_error(const char *zone, const unsigned char addr[4])
{
    for (size_t i = 0; i < sizeof(builtin_errors) / sizeof(builtin_errors[0]); i++)
        if (memcmp(builtin_errors[i].addr, addr, 4) == 0 &&
            fl_dnsbl_zone_under(zone, builtin_errors[i].suffix))
            return builtin_errors[i].meaning;
    return NULL;
}

const char *fl_dnsbl_generic_error(const unsigned char addr[4])
{
    /* Spamhaus's convention, which other lists follow. */
    switch (addr[3]) {
    case 252:
        return zone_typo;
    case 254:
        return public_resolver;
    case 255:
        return too_many;
    }
    return generic_code;
}

/* --- filters ------------------------------------------------------------ */

static void bit_set(uint8_t *bits, unsigned int v)
{
    bits[v / 8] |= (uint8_t)(1u << (v % 8));
}

static bool bit_get(const uint8_t *bits, unsigned int v)
{
    return (bits[v / 8] >> (v % 8)) & 1;
}

/* A decimal 0..255 at *p; advances *p.  Returns the value or -1. */
static int octet_number(const char **p, const char *end)
{
    const char *s = *p;
    int v = 0, digits = 0;
    while (s < end && isdigit((unsigned char)*s) && digits < 4) {
        v = v * 10 + (*s - '0');
        s++;
        digits++;
    }
    if (digits == 0 || digits > 3 || v > 255)
        return -1;
    *p = s;
    return v;
}

static const char bad_filter[] =
    "bad filter: expected four octets, each N or [N..M;...], such as 127.0.0.2, "
    "127.0.0.[2..11] or 127.0.0.[2;4;9]";

int fl_dnsbl_filter_parse(const char *text, size_t len, struct fl_dnsbl_filter *f_r,
                          struct fl_buf *err)
{
    const char *p = text, *end = text + len;
    memset(f_r, 0, sizeof(*f_r));
    for (int o = 0; o < 4; o++) {
        if (o > 0) {
            if (p >= end || *p != '.') {
                fl_buf_puts(err, bad_filter);
                return -1;
            }
            p++;
        }
        if (p < end && *p == '[') {
            p++;
            for (;;) {
                int lo = octet_number(&p, end), hi = lo;
                if (lo < 0) {
                    fl_buf_puts(
                        err,
                        "bad filter: a value inside [...] is not a number from 0 to 255");
                    return -1;
                }
                if (end - p >= 2 && p[0] == '.' && p[1] == '.') {
                    p += 2;
                    hi = octet_number(&p, end);
                    if (hi < 0) {
                        fl_buf_puts(
                            err,
                            "bad filter: a range N..M needs M, a number from 0 to 255");
                        return -1;
                    }
                    if (hi < lo) {
                        fl_buf_puts(err,
                                    "bad filter: in a range N..M, N must not be above M");
                        return -1;
                    }
                }
                for (int v = lo; v <= hi; v++)
                    bit_set(f_r->octet[o], (unsigned int)v);
                if (p < end && *p == ';') {
                    p++;
                    continue;
                }
                if (p < end && *p == ']') {
                    p++;
                    break;
                }
                fl_buf_puts(
                    err,
                    "bad filter: expected \";\" or \"]\" after a value inside [...]");
                return -1;
            }
        } else {
            int v = octet_number(&p, end);
            if (v < 0) {
                fl_buf_puts(err, bad_filter);
                return -1;
            }
            bit_set(f_r->octet[o], (unsigned int)v);
        }
    }
    if (p != end) {
        fl_buf_puts(err, bad_filter);
        return -1;
    }
    /* Answers outside 127.0.0.0/8 are errors, never listings. */
    for (unsigned int v = 0; v < 256; v++) {
        if (v != 127 && bit_get(f_r->octet[0], v)) {
            fl_buf_puts(
                err,
                "bad filter: must lie inside 127.0.0.0/8 (other answers are errors)");
            return -1;
        }
    }
    return 0;
}

bool fl_dnsbl_filter_match(const struct fl_dnsbl_filter *f, const unsigned char addr[4])
{
    for (int o = 0; o < 4; o++)
        if (!bit_get(f->octet[o], addr[o]))
            return false;
    return true;
}

/* The octet allows exactly one value, v. */
static bool octet_is_only(const uint8_t *bits, unsigned int v)
{
    for (unsigned int i = 0; i < 256; i++)
        if (bit_get(bits, i) != (i == v))
            return false;
    return true;
}

/* --- entries ------------------------------------------------------------ */

static int parse_zone(const char *p, size_t n, struct fl_dnsbl_spec *spec,
                      struct fl_buf *err)
{
    if (n > 0 && p[n - 1] == '.')
        n--;
    if (n == 0) {
        fl_buf_puts(err, "empty zone name: expected zone[=filter][*weight], such as "
                         "zen.example=127.0.0.[2..11]*2");
        return -1;
    }
    if (n > FL_DNSBL_ZONE_MAX) {
        fl_buf_puts(err,
                    "zone name too long (at most 189 characters, so IPv6 queries fit)");
        return -1;
    }
    static const char *const problem[] = {
        [FL_DOMAIN_EMPTY_LABEL] =
            "bad zone name: empty label (two dots, or a leading dot)",
        [FL_DOMAIN_LONG_LABEL] = "bad zone name: a label is longer than 63 characters",
        [FL_DOMAIN_NON_ASCII] =
            "bad zone name: only letters, digits, \"-\", \"_\" and dots",
        [FL_DOMAIN_BAD_CHAR] =
            "bad zone name: only letters, digits, \"-\", \"_\" and dots",
        [FL_DOMAIN_ONE_LABEL] =
            "bad zone name: a list zone has at least two labels (zen.example)",
    };
    /* Empty and too long are answered above (189 < 253). */
    enum fl_domain_problem pr = fl_domain_check(
        p, n, FL_DOMAIN_HOSTCHARS | FL_DOMAIN_TWO_LABELS | FL_DOMAIN_EMPTY_LAST);
    if (pr != FL_DOMAIN_OK) {
        fl_buf_puts(err, problem[pr]);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        spec->zone[i] = (char)tolower((unsigned char)p[i]);
    spec->zone[n] = '\0';
    return 0;
}

static int parse_weight(const char *p, size_t n, int *weight_r, struct fl_buf *err)
{
    static const char bad[] =
        "bad weight: expected *N with N a whole number from -1000 to 1000 (*2, *-5)";
    size_t i = 0;
    bool neg = false;
    if (i < n && (p[i] == '-' || p[i] == '+')) {
        neg = p[i] == '-';
        i++;
    }
    if (i == n) {
        fl_buf_puts(err, bad);
        return -1;
    }
    long v = 0;
    for (; i < n; i++) {
        if (!isdigit((unsigned char)p[i]) || v > WEIGHT_MAX) {
            fl_buf_puts(err, bad);
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    if (v > WEIGHT_MAX) {
        fl_buf_puts(err, bad);
        return -1;
    }
    *weight_r = neg ? -(int)v : (int)v;
    return 0;
}

static int parse_identities(const char *p, size_t n, unsigned int *ids_r,
                            struct fl_buf *err)
{
    static const struct {
        const char *name;
        unsigned int bit;
    } names[] = {{"mailfrom", FL_DNSBL_ID_MAILFROM},
                 {"from", FL_DNSBL_ID_FROM},
                 {"helo", FL_DNSBL_ID_HELO},
                 {"ptr", FL_DNSBL_ID_PTR}};
    unsigned int ids = 0;
    const char *end = p + n;
    while (p <= end) {
        const char *plus = memchr(p, '+', (size_t)(end - p));
        size_t len = plus ? (size_t)(plus - p) : (size_t)(end - p);
        bool known = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strlen(names[i].name) == len && strncasecmp(names[i].name, p, len) == 0) {
                ids |= names[i].bit;
                known = true;
            }
        }
        if (!known) {
            fl_buf_puts(
                err,
                "unknown identity: expected mailfrom, from, helo or ptr, joined by + "
                "(:mailfrom+helo)");
            return -1;
        }
        if (plus == NULL)
            break;
        p = plus + 1;
    }
    *ids_r = ids;
    return 0;
}

int fl_dnsbl_spec_parse(const char *text, enum fl_dnsbl_spec_kind kind,
                        struct fl_dnsbl_spec *spec_r, struct fl_buf *err)
{
    memset(spec_r, 0, sizeof(*spec_r));
    spec_r->weight = 1;
    spec_r->identities =
        kind == FL_DNSBL_SPEC_DOMAIN
            ? FL_DNSBL_ID_MAILFROM | FL_DNSBL_ID_FROM | FL_DNSBL_ID_HELO | FL_DNSBL_ID_PTR
            : FL_DNSBL_ID_CLIENT;
    size_t len = strlen(text);
    size_t zone_end = strcspn(text, "=*:/");
    if (parse_zone(text, zone_end, spec_r, err) < 0)
        return -1;
    const char *p = text + zone_end, *end = text + len;
    if (p < end && *p == '=') {
        p++;
        size_t n = strcspn(p, "*:/");
        if (n == 0) {
            fl_buf_puts(
                err,
                "empty filter after \"=\": expected e.g. 127.0.0.2 or 127.0.0.[2..11]");
            return -1;
        }
        if (fl_dnsbl_filter_parse(p, n, &spec_r->filter, err) < 0)
            return -1;
        spec_r->has_filter = true;
        const struct fl_dnsbl_filter *f = &spec_r->filter;
        for (int o = 0; o < 3; o++) {
            unsigned int v = 0;
            while (v < 256 && !bit_get(f->octet[o], v))
                v++;
            if (v == 256 || !octet_is_only(f->octet[o], v))
                break;
            if (o == 2)
                spec_r->filter_names_net = true;
        }
        p += n;
    }
    if (p < end && *p == '*') {
        if (kind == FL_DNSBL_SPEC_ERROR) {
            fl_buf_puts(err, "an error code takes no weight: expected zone=filter "
                             "(zen.example=127.255.255.254)");
            return -1;
        }
        p++;
        size_t n = strcspn(p, ":/");
        if (parse_weight(p, n, &spec_r->weight, err) < 0)
            return -1;
        p += n;
    }
    if (p < end && *p == ':') {
        if (kind != FL_DNSBL_SPEC_DOMAIN) {
            fl_buf_puts(
                err,
                "identities (:mailfrom+helo) are for domain lists (rhsbl_sites) only");
            return -1;
        }
        p++;
        size_t n = strcspn(p, "/");
        if (parse_identities(p, n, &spec_r->identities, err) < 0)
            return -1;
        p += n;
    }
    if (p < end && *p == '/') {
        if (kind == FL_DNSBL_SPEC_ERROR || strcmp(p, "/observe") != 0) {
            fl_buf_puts(err,
                        kind == FL_DNSBL_SPEC_ERROR
                            ? "an error code cannot be observed: expected zone=filter"
                            : "unknown flag after \"/\": expected /observe");
            return -1;
        }
        spec_r->observe = true;
        p = end;
    }
    if (p != end) {
        fl_buf_puts(err, "expected zone[=filter][*weight][/observe], in that order");
        return -1;
    }
    if (kind == FL_DNSBL_SPEC_ERROR && !spec_r->has_filter) {
        fl_buf_puts(err, "an error code needs its answers: expected zone=filter "
                         "(zen.example=127.255.255.254)");
        return -1;
    }
    return 0;
}

int fl_dnsbl_check_ip_spec(const char *value, struct fl_buf *err)
{
    struct fl_dnsbl_spec spec;
    return fl_dnsbl_spec_parse(value, FL_DNSBL_SPEC_IP, &spec, err);
}

int fl_dnsbl_check_domain_spec(const char *value, struct fl_buf *err)
{
    struct fl_dnsbl_spec spec;
    return fl_dnsbl_spec_parse(value, FL_DNSBL_SPEC_DOMAIN, &spec, err);
}

int fl_dnsbl_check_error_spec(const char *value, struct fl_buf *err)
{
    struct fl_dnsbl_spec spec;
    return fl_dnsbl_spec_parse(value, FL_DNSBL_SPEC_ERROR, &spec, err);
}

/* --- query names --------------------------------------------------------- */

int fl_dnsbl_reverse_name(const char *ip, const char *zone, char *out, size_t outlen)
{
    unsigned char a[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int family;
    if (ip == NULL)
        return 0;
    if (inet_pton(AF_INET, ip, a) == 1) {
        family = 4;
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        family = 6;
        if (memcmp(a, mapped, 12) == 0) {
            memmove(a, a + 12, 4);
            family = 4;
        }
    } else {
        return 0;
    }
    int n;
    if (family == 4) {
        n = snprintf(out, outlen, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0], zone);
    } else {
        static const char hex[] = "0123456789abcdef";
        char nib[65];
        for (int i = 15, k = 0; i >= 0; i--) {
            nib[k++] = hex[a[i] & 0xf];
            nib[k++] = '.';
            nib[k++] = hex[a[i] >> 4];
            nib[k++] = '.';
        }
        nib[64] = '\0';
        n = snprintf(out, outlen, "%s%s", nib, zone);
    }
    if (n < 0 || (size_t)n >= outlen)
        return 0;
    return family;
}

int fl_dnsbl_domain_normalise(const char *in, char *out, size_t outlen,
                              struct fl_buf *err)
{
    const char *at = in ? strrchr(in, '@') : NULL;
    const char *p = at ? at + 1 : in;
    if (p == NULL)
        p = "";
    size_t n = strlen(p);
    if (n > 0 && p[0] == '<') {
        p++;
        n--;
    }
    if (n > 0 && p[n - 1] == '>')
        n--;
    if (n > 0 && p[n - 1] == '.')
        n--;
    if (n == 0) {
        fl_buf_puts(err, "empty name");
        return -1;
    }
    if (p[0] == '[' || memchr(p, ':', n) != NULL) {
        fl_buf_puts(err, "an address literal");
        return -1;
    }
    if (n >= outlen) {
        fl_buf_puts(err, "name too long");
        return -1;
    }
    static const char *const problem[] = {
        [FL_DOMAIN_TOO_LONG] = "name too long",
        [FL_DOMAIN_EMPTY_LABEL] = "empty label",
        [FL_DOMAIN_LONG_LABEL] = "label longer than 63 characters",
        [FL_DOMAIN_NON_ASCII] =
            "not a host name (characters other than letters, digits, - and _)",
        [FL_DOMAIN_BAD_CHAR] =
            "not a host name (characters other than letters, digits, - and _)",
        [FL_DOMAIN_ONE_LABEL] = "a single label",
        [FL_DOMAIN_NUMERIC] = "an IP address",
    };
    enum fl_domain_problem pr = fl_domain_check(
        p, n, FL_DOMAIN_HOSTCHARS | FL_DOMAIN_TWO_LABELS | FL_DOMAIN_NOT_NUMERIC);
    if (pr != FL_DOMAIN_OK) { /* not FL_DOMAIN_EMPTY: answered above */
        fl_buf_puts(err, problem[pr]);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)p[i]);
    out[n] = '\0';
    return 0;
}
