/* dmarc_from: the Author Domain from RFC5322.From header fields (RFC 5322
   3.4 and 3.6.2, obsolete syntax of 4.4, groups allowed by RFC 6854, RFC
   2047 encoded words; RFC 9989 "Extract Author Domain").  The header is
   the attacker's: a display name may carry an address-looking text, an
   encoded word may hide an "@", a quoted local part may hold "@" and ",",
   and a second address or a second From field is the classic DMARC bypass
   (OpenDMARC CVE-2019-16378, CVE-2021-34555).  So the value is tokenised
   first (comments, quoted strings and domain literals are consumed whole,
   an encoded word is one atom), then split into mailboxes at top-level
   commas only.  Linear time, no recursion, nothing trusted.
   Thread-safety: pure functions. */
#include "lib/dmarc/dmarc.h"
#include "lib/core/domain.h"

#include "lib/core/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum tok_type {
    TOK_ATOM = 'a',
    TOK_QSTR = 'q',
    TOK_DLIT = 'd',
};

struct tok {
    char type; /* enum tok_type or the special character itself */
    const char *s;
    size_t n;
};

static bool is_atext(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

/* RFC 2047 encoded-word at s: "=?" charset "?" encoding "?" text "?=".
   Returns its length, or 0. */
static size_t encoded_word(const char *s, const char *end)
{
    if (end - s < 8 || s[0] != '=' || s[1] != '?')
        return 0;
    const char *p = s + 2;
    int q = 0;
    while (p < end && *p > ' ' && *p < 0x7f) {
        if (*p == '?') {
            q++;
            if (q == 3) {
                if (p + 1 < end && p[1] == '=')
                    return (size_t)(p + 2 - s);
                return 0;
            }
        }
        p++;
    }
    return 0;
}

/* Tokenises s..end into toks (room for end - s + 1).  Returns the count,
   or -1 with *why_r. */
static long tokenise(const char *s, const char *end, struct tok *toks, const char **why_r)
{
    long n = 0;
    const char *p = s;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            p++;
        } else if (c == '(') {
            size_t depth = 0;
            do {
                if (*p == '\\' && p + 1 < end)
                    p++;
                else if (*p == '(')
                    depth++;
                else if (*p == ')')
                    depth--;
                p++;
            } while (p < end && depth > 0);
            if (depth > 0) {
                *why_r = "unbalanced comment";
                return -1;
            }
        } else if (c == '"' || c == '[') {
            char close = c == '"' ? '"' : ']';
            const char *start = p++;
            while (p < end && *p != close) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                p++;
            }
            if (p >= end) {
                *why_r = c == '"' ? "unterminated quoted string" : "unterminated domain literal";
                return -1;
            }
            p++;
            toks[n++] = (struct tok){c == '"' ? TOK_QSTR : TOK_DLIT, start, (size_t)(p - start)};
        } else if (strchr("<>@,;:", c)) {
            toks[n++] = (struct tok){(char)c, p, 1};
            p++;
        } else if (is_atext(c)) {
            const char *start = p;
            while (p < end) {
                size_t ew = encoded_word(p, end);
                if (ew > 0)
                    p += ew;
                else if (is_atext((unsigned char)*p))
                    p++;
                else
                    break;
            }
            toks[n++] = (struct tok){TOK_ATOM, start, (size_t)(p - start)};
        } else {
            *why_r = "unexpected character";
            return -1;
        }
    }
    return n;
}

/* Result of one address. */
enum addr_status {
    ADDR_OK,
    ADDR_BAD,    /* no usable domain */
    ADDR_8BIT,   /* a U-label domain */
};

/* Validates and normalises domain tokens into out (lower case, no
   trailing dot). */
static enum addr_status domain_of(const struct tok *t, size_t n, char *out, size_t size)
{
    size_t len = 0;
    bool eight = false;
    if (n == 0)
        return ADDR_BAD;
    for (size_t i = 0; i < n; i++) {
        if (t[i].type != TOK_ATOM) /* a domain literal or junk: no domain */
            return ADDR_BAD;
        if (len + t[i].n >= size)
            return ADDR_BAD;
        memcpy(out + len, t[i].s, t[i].n);
        len += t[i].n;
    }
    out[len] = '\0';
    if (len > 0 && out[len - 1] == '.')
        out[--len] = '\0';
    if (fl_domain_check(out, len, FL_DOMAIN_HOSTCHARS | FL_DOMAIN_8BIT) != FL_DOMAIN_OK)
        return ADDR_BAD;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c >= 0x80)
            eight = true;
        else
            out[i] = (char)tolower(c);
    }
    return eight ? ADDR_8BIT : ADDR_OK;
}

/* One mailbox's tokens (display name, angle address or bare addr-spec). */
static enum addr_status mailbox(const struct tok *t, size_t n, char *dom, size_t size)
{
    size_t a = 0, b = n;
    size_t lt = n, gt = n;
    for (size_t i = 0; i < n; i++) {
        if (t[i].type == '<' && lt == n)
            lt = i;
        else if (t[i].type == '>' && lt != n && gt == n)
            gt = i;
    }
    if (lt != n) {
        if (gt == n || gt != n - 1) /* unclosed, or text after '>' */
            return ADDR_BAD;
        a = lt + 1;
        b = gt;
        /* obs-route: "@a.example,@b.example:" before the addr-spec */
        if (a < b && t[a].type == '@') {
            while (a < b && t[a].type != ':')
                a++;
            if (a == b)
                return ADDR_BAD;
            a++;
        }
    }
    size_t at = b;
    for (size_t i = a; i < b; i++) {
        if (t[i].type == '@') {
            if (at != b)
                return ADDR_BAD; /* two "@" outside quotes */
            at = i;
        } else if (t[i].type != TOK_ATOM && t[i].type != TOK_QSTR && t[i].type != TOK_DLIT) {
            return ADDR_BAD;
        }
    }
    if (at == b || at == a)
        return ADDR_BAD;
    for (size_t i = a; i < at; i++)
        if (t[i].type == TOK_DLIT)
            return ADDR_BAD;
    return domain_of(t + at + 1, b - at - 1, dom, size);
}

struct tally {
    unsigned int addresses;
    unsigned int domains;
    bool bad, eight;
    char first[256];
};

static void count_domain(struct tally *ty, enum addr_status st, const char *dom)
{
    ty->addresses++;
    if (st == ADDR_BAD) {
        ty->bad = true;
        return;
    }
    if (st == ADDR_8BIT)
        ty->eight = true;
    if (ty->domains == 0) {
        size_t k = strlen(dom);
        memcpy(ty->first, dom, k + 1);
        ty->domains = 1;
    } else if (strcmp(ty->first, dom) != 0) {
        ty->domains++;
    }
}

/* Splits one header's tokens into mailboxes and groups. */
static void address_list(const struct tok *t, size_t n, struct tally *ty)
{
    size_t start = 0;
    bool in_group = false, in_angle = false, saw_at = false;
    char dom[256];
    for (size_t i = 0; i <= n; i++) {
        char ty_i = i < n ? t[i].type : ',';
        if (i < n && in_angle) {
            if (ty_i == '>')
                in_angle = false;
            continue;
        }
        if (ty_i == '<') {
            in_angle = true;
            continue;
        }
        if (ty_i == '@')
            saw_at = true;
        if (ty_i == ':' && !in_group && !saw_at) {
            in_group = true; /* "display-name:" starts a group */
            start = i + 1;
            continue;
        }
        bool end_group = ty_i == ';' && in_group;
        if (ty_i == ',' || end_group) {
            if (i > start) {
                enum addr_status st = mailbox(t + start, i - start, dom, sizeof(dom));
                count_domain(ty, st, dom);
            }
            start = i + 1;
            saw_at = false;
            if (end_group)
                in_group = false;
        }
    }
    if (in_angle || in_group)
        ty->bad = true;
}

enum fl_dmarc_from_status fl_dmarc_from_parse(const char *const *values, size_t n,
                                              char *domain, size_t domain_size,
                                              unsigned int *naddr_r, const char **why_r)
{
    struct tally ty;
    memset(&ty, 0, sizeof(ty));
    const char *why = NULL;
    enum fl_dmarc_from_status st;
    domain[0] = '\0';
    for (size_t h = 0; h < n; h++) {
        size_t len = values[h] ? strlen(values[h]) : 0;
        struct tok *toks = fl_calloc(len + 1, sizeof(*toks));
        const char *tw = NULL;
        long nt = tokenise(values[h] ? values[h] : "", (values[h] ? values[h] : "") + len,
                           toks, &tw);
        if (nt < 0) {
            ty.bad = true;
            why = tw;
        } else {
            address_list(toks, (size_t)nt, &ty);
        }
        free(toks);
    }
    if (n == 0) {
        st = FL_DMARC_FROM_MISSING;
        why = "no From header";
    } else if (n > 1) {
        st = FL_DMARC_FROM_MULTIPLE;
        why = "more than one From header";
    } else if (ty.domains > 1) {
        st = FL_DMARC_FROM_MULTIPLE;
        why = "From names addresses in more than one domain";
    } else if (ty.bad) {
        st = FL_DMARC_FROM_MISSING;
        if (why == NULL)
            why = "From has an address without a usable domain";
    } else if (ty.domains == 0) {
        st = FL_DMARC_FROM_MISSING;
        why = "From has no address";
    } else if (ty.eight) {
        st = FL_DMARC_FROM_UNSUPPORTED;
        why = "From domain is internationalised (U-label)";
    } else {
        st = FL_DMARC_FROM_OK;
    }
    if (ty.domains > 0 && domain_size > 0) {
        /* Printable ASCII only: the caller may show it on error paths. */
        size_t k = 0;
        for (const char *p = ty.first; *p && k + 1 < domain_size; p++)
            domain[k++] = (*p > ' ' && *p < 0x7f) ? *p : '?';
        domain[k] = '\0';
    }
    if (naddr_r)
        *naddr_r = ty.addresses;
    if (why_r)
        *why_r = why;
    return st;
}
