/* dkim_taglist: see dkim_taglist.h.  RFC 6376 3.2 (tag-list), 3.5
   (DKIM-Signature tags), 3.6.1 (key record tags); RFC 8463 (k=ed25519).
   ABNF string literals ("rsa", "sha256", "email") match without regard
   to case (RFC 5234 2.3). */
#include "lib/dkim/dkim_taglist.h"
#include "lib/core/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}

/* VALCHAR: %x21-3A / %x3C-7E (printable ASCII but ";"). */
static bool is_valchar(char c)
{
    unsigned char u = (unsigned char)c;
    return u >= 0x21 && u <= 0x7e && u != ';';
}

/* The length of the well-formed UTF-8 sequence (RFC 3629) of 2 to 4
   bytes at p, or 0.  RFC 8616 4 lets internationalized headers (RFC
   6532) carry UTF-8 in tag values: U-labels in d=, i=, s=, a UTF-8
   local-part, unquoted non-ASCII in dkim-quoted-printable. */
static size_t utf8_len(const char *p, const char *end)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n = u[0] >= 0xc2 && u[0] <= 0xdf   ? 2
               : u[0] >= 0xe0 && u[0] <= 0xef ? 3
               : u[0] >= 0xf0 && u[0] <= 0xf4 ? 4
                                              : 0;
    if (n == 0 || (size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((u[i] & 0xc0) != 0x80)
            return 0;
    /* no overlong forms, no surrogates, nothing above U+10FFFF */
    if ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] > 0x9f) ||
        (u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] > 0x8f))
        return 0;
    return n;
}

/* Skips FWS (RFC 5322 3.2.2: [*WSP CRLF] 1*WSP, repeated); a CRLF not
   followed by WSP is left where it is (and makes the caller fail). */
static const char *skip_fws(const char *p, const char *end)
{
    for (;;) {
        while (p < end && is_wsp(*p))
            p++;
        if (end - p >= 3 && p[0] == '\r' && p[1] == '\n' && is_wsp(p[2]))
            p += 2;
        else
            return p;
    }
}

/* For reasons: a tag name (already checked to be ALPHA/DIGIT/"_"). */
static void put_name(struct fl_buf *why, const struct fl_dkim_tag *t)
{
    fl_buf_append(why, t->name, t->name_len > 32 ? 32 : t->name_len);
}

/* Describes the byte c for a reason, never copying a control or 8-bit
   byte into it. */
static void put_char(struct fl_buf *why, char c)
{
    unsigned char u = (unsigned char)c;
    if (u > 0x20 && u < 0x7f && u != '"' && u != '\\')
        fl_buf_printf(why, "'%c'", c);
    else
        fl_buf_printf(why, "byte 0x%02x", u);
}

static void add_tag(struct fl_dkim_taglist *tl, const struct fl_dkim_tag *t)
{
    if (tl->n == tl->cap) {
        tl->cap = tl->cap ? 2 * tl->cap : 16;
        tl->tags = fl_realloc(tl->tags, tl->cap * sizeof(*tl->tags));
    }
    tl->tags[tl->n++] = *t;
}

static bool same_name(const struct fl_dkim_tag *t, const char *name, size_t len)
{
    return t->name_len == len && memcmp(t->name, name, len) == 0;
}

static int by_name(const void *a, const void *b)
{
    const struct fl_dkim_tag *x = *(const struct fl_dkim_tag *const *)a,
                             *y = *(const struct fl_dkim_tag *const *)b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c != 0 ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* A tag named twice, or NULL.  Sorted, so a hostile list of thousands
   of tags costs n log n, not n squared. */
static const struct fl_dkim_tag *duplicate(const struct fl_dkim_taglist *tl)
{
    if (tl->n < 2)
        return NULL;
    const struct fl_dkim_tag **v = fl_malloc(tl->n * sizeof(*v));
    for (size_t i = 0; i < tl->n; i++)
        v[i] = &tl->tags[i];
    qsort(v, tl->n, sizeof(*v), by_name);
    const struct fl_dkim_tag *dup = NULL;
    for (size_t i = 1; i < tl->n && dup == NULL; i++)
        if (same_name(v[i], v[i - 1]->name, v[i - 1]->name_len))
            dup = v[i];
    free(v);
    return dup;
}

int fl_dkim_taglist_parse(const char *s, size_t len, struct fl_dkim_taglist *tl,
                          struct fl_buf *why)
{
    const char *p = s, *end = s + len;
    tl->tags = NULL;
    tl->n = tl->cap = 0;
    for (;;) {
        p = skip_fws(p, end);
        if (p == end) {
            /* the end: after a ";" (trailing FWS accepted) or nothing */
            if (tl->n == 0) {
                fl_buf_puts(why, "empty tag-list");
                return -1;
            }
            break;
        }
        struct fl_dkim_tag t = {p, 0, NULL, 0};
        if (!is_alpha(*p)) {
            if (*p == ';' && tl->n == 0)
                fl_buf_puts(why, "empty tag-spec at the start");
            else if (*p == ';') {
                fl_buf_puts(why, "empty tag-spec after tag ");
                put_name(why, &tl->tags[tl->n - 1]);
                fl_buf_puts(why, "=");
            } else if (tl->n == 0) {
                fl_buf_puts(why, "the first tag name starts with ");
                put_char(why, *p);
            } else {
                fl_buf_puts(why, "a tag name after ");
                put_name(why, &tl->tags[tl->n - 1]);
                fl_buf_puts(why, "= starts with ");
                put_char(why, *p);
            }
            return -1;
        }
        while (p < end && (is_alnum(*p) || *p == '_'))
            p++;
        t.name_len = (size_t)(p - t.name);
        p = skip_fws(p, end);
        if (p == end || *p != '=') {
            fl_buf_puts(why, "tag ");
            put_name(why, &t);
            if (p == end)
                fl_buf_puts(why, " has no '='");
            else {
                fl_buf_puts(why, ": ");
                put_char(why, *p);
                fl_buf_puts(why, " where '=' must follow the tag name");
            }
            return -1;
        }
        p = skip_fws(p + 1, end);
        t.value = p;
        const char *vend = p; /* end of the last tval */
        while (p < end && *p != ';') {
            if (is_valchar(*p)) {
                vend = ++p;
                continue;
            }
            size_t u = (unsigned char)*p >= 0x80 ? utf8_len(p, end) : 0;
            if (u > 0) {
                vend = p += u;
                continue;
            }
            const char *q = skip_fws(p, end);
            if (q == p) {
                fl_buf_puts(why, "tag ");
                put_name(why, &t);
                fl_buf_puts(why, "= has ");
                put_char(why, *p);
                fl_buf_puts(why, " in its value");
                return -1;
            }
            p = q;
        }
        t.value_len = (size_t)(vend - t.value);
        add_tag(tl, &t);
        if (p == end)
            break;
        p++; /* ";" */
    }
    const struct fl_dkim_tag *dup = duplicate(tl);
    if (dup != NULL) {
        fl_buf_puts(why, "duplicate tag ");
        put_name(why, dup);
        fl_buf_puts(why, "= (RFC 6376 3.2: the whole tag-list is invalid)");
        return -1;
    }
    return 0;
}

void fl_dkim_taglist_free(struct fl_dkim_taglist *tl)
{
    free(tl->tags);
    tl->tags = NULL;
    tl->n = tl->cap = 0;
}

const struct fl_dkim_tag *fl_dkim_taglist_get(const struct fl_dkim_taglist *tl,
                                              const char *name)
{
    for (size_t i = 0; i < tl->n; i++)
        if (same_name(&tl->tags[i], name, strlen(name)))
            return &tl->tags[i];
    return NULL;
}

/* --- value syntax ------------------------------------------------------------ */

static bool has_space(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n')
            return true;
    return false;
}

static bool is(const struct fl_dkim_tag *t, const char *lit)
{
    return t->value_len == strlen(lit) && strncasecmp(t->value, lit, t->value_len) == 0;
}

static bool digits(const char *v, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(v[i]))
            return false;
    return true;
}

/* hyphenated-word = ALPHA [ *(ALPHA / DIGIT / "-") (ALPHA / DIGIT) ] */
static bool hyphenated_word(const char *v, size_t n)
{
    if (n == 0 || !is_alpha(v[0]) || v[n - 1] == '-')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(v[i]) && v[i] != '-')
            return false;
    return true;
}

/* sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str] (RFC
   5321 4.1.2), labels of at most 63 octets; a U-label (UTF-8, already
   checked well-formed by the tag-list parser; RFC 8616 4) counts as
   letters and is not held to 63 octets (its A-label is).  underscore:
   also "_" inside a label (selectors). */
static bool domain_ok(const char *v, size_t n, bool underscore)
{
    if (n == 0)
        return false;
    size_t label = 0;
    bool utf8 = false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || v[i] == '.') {
            if (label == 0 || (label > 63 && !utf8) || v[i - 1] == '-')
                return false;
            label = 0;
            utf8 = false;
            continue;
        }
        bool high = (unsigned char)v[i] >= 0x80;
        bool ok = is_alnum(v[i]) || high || (label > 0 && v[i] == '-') ||
                  (underscore && v[i] == '_');
        if (!ok)
            return false;
        utf8 |= high;
        label++;
    }
    return true;
}

/* base64string = ALPHADIGITPS *([FWS] ALPHADIGITPS)
                  [ [FWS] "=" [ [FWS] "=" ] ]                (RFC 6376 2.4)
   and whole quanta (RFC 4648 4).  Returns NULL or why not. */
static const char *base64_error(const char *v, size_t n, char *bad)
{
    size_t chars = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (is_wsp(c) || c == '\r' || c == '\n')
            continue; /* FWS, checked by the tag-list parser */
        if (c == '=') {
            if (++pad > 2)
                return "more than two '=' of padding";
            chars++;
            continue;
        }
        if (!(is_alnum(c) || c == '+' || c == '/')) {
            *bad = c;
            return "";
        }
        if (pad > 0)
            return "base64 after the '=' padding";
        chars++;
    }
    if (chars % 4 != 0)
        return "not a whole number of base64 quanta (length or padding wrong)";
    return NULL;
}

/* Appends "tag X= " plus a base64 error; returns -1. */
static int base64_fail(struct fl_buf *why, const struct fl_dkim_tag *t, const char *err,
                       char bad)
{
    fl_buf_puts(why, "tag ");
    put_name(why, t);
    fl_buf_puts(why, "= is not base64: ");
    if (*err == '\0') {
        put_char(why, bad);
        fl_buf_puts(why, " is outside the base64 alphabet");
    } else
        fl_buf_puts(why, err);
    return -1;
}

/* Calls each(element) for the elements of a colon-separated list
   (elem *( [FWS] ":" [FWS] elem )), each trimmed of FWS; false if an
   element is empty or holds FWS, or each says false. */
static bool each_in_list(const struct fl_dkim_tag *t, char sep,
                         bool (*each)(const char *, size_t, void *), void *arg)
{
    const char *p = t->value, *end = t->value + t->value_len;
    for (;;) {
        const char *e = memchr(p, sep, (size_t)(end - p));
        const char *stop = e != NULL ? e : end;
        const char *a = skip_fws(p, stop), *b = stop;
        while (b > a && (is_wsp(b[-1]) || b[-1] == '\r' || b[-1] == '\n'))
            b--;
        if (b == a || has_space(a, (size_t)(b - a)) || !each(a, (size_t)(b - a), arg))
            return false;
        if (e == NULL)
            return true;
        p = e + 1;
    }
}

static int bad_value(struct fl_buf *why, const struct fl_dkim_tag *t, const char *what)
{
    fl_buf_puts(why, "tag ");
    put_name(why, t);
    fl_buf_printf(why, "= %s", what);
    return -1;
}

/* --- DKIM-Signature (RFC 6376 3.5) -------------------------------------------- */

/* a= : sig-a-tag-k "-" sig-a-tag-h, each one of the literals (in any
   case, RFC 5234 2.3) or ALPHA *(LOWER / DIGIT) */
static bool alg_word(const char *v, size_t n)
{
    static const char *const literals[] = {"rsa", "ed25519", "sha1", "sha256"};
    for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
        if (n == strlen(literals[i]) && strncasecmp(v, literals[i], n) == 0)
            return true;
    if (n == 0 || !is_alpha(v[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || is_digit(v[i])))
            return false;
    return true;
}

static bool alg_ok(const char *v, size_t n)
{
    const char *dash = memchr(v, '-', n);
    return dash != NULL && alg_word(v, (size_t)(dash - v)) &&
           alg_word(dash + 1, n - (size_t)(dash + 1 - v));
}

/* c= : sig-c-tag-alg ["/" sig-c-tag-alg] */
static bool canon_ok(const char *v, size_t n)
{
    const char *slash = memchr(v, '/', n);
    if (slash == NULL)
        return hyphenated_word(v, n);
    return hyphenated_word(v, (size_t)(slash - v)) &&
           hyphenated_word(slash + 1, n - (size_t)(slash + 1 - v));
}

/* h= : hdr-name = 1*ftext (%d33-57 / %d59-126); notes From. */
static bool hdr_name(const char *v, size_t n, void *arg)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 33 || (unsigned char)v[i] > 126 || v[i] == ':')
            return false;
    if (n == 4 && strncasecmp(v, "from", 4) == 0)
        *(bool *)arg = true;
    return true;
}

/* q= : "dns/txt" / x-sig-q-tag-type ["/" x-sig-q-tag-args]; notes
   dns/txt, the one method there is. */
static bool query_method(const char *v, size_t n, void *arg)
{
    const char *slash = memchr(v, '/', n);
    size_t type = slash != NULL ? (size_t)(slash - v) : n;
    if (!hyphenated_word(v, type))
        return false;
    if (n == 7 && strncasecmp(v, "dns/txt", 7) == 0)
        *(bool *)arg = true;
    return true;
}

static unsigned long long number(const struct fl_dkim_tag *t)
{
    return strtoull(t->value, NULL, 10); /* at most 12 digits, checked */
}

/* The value syntax of the tags 3.5 defines; unknown tags are ignored. */
static int signature_value(const struct fl_dkim_tag *t, bool *from, struct fl_buf *why)
{
    char bad = 0;
    const char *err;
    const char *v = t->value;
    size_t n = t->value_len;
    if (same_name(t, "v", 1))
        return is(t, "1") ? 0 : bad_value(why, t, "is not 1 (incompatible version)");
    if (same_name(t, "a", 1))
        return alg_ok(v, n) ? 0 : bad_value(why, t, "is not an algorithm name");
    if (same_name(t, "b", 1) || same_name(t, "bh", 2)) {
        if (n == 0)
            return bad_value(why, t, "is empty");
        err = base64_error(v, n, &bad);
        return err == NULL ? 0 : base64_fail(why, t, err, bad);
    }
    if (same_name(t, "c", 1))
        return canon_ok(v, n) ? 0 : bad_value(why, t, "is not a canonicalization");
    if (same_name(t, "d", 1))
        return domain_ok(v, n, false) ? 0 : bad_value(why, t, "is not a domain name");
    if (same_name(t, "s", 1))
        return domain_ok(v, n, true) ? 0 : bad_value(why, t, "is not a selector");
    if (same_name(t, "h", 1))
        return each_in_list(t, ':', hdr_name, from)
                   ? 0
                   : bad_value(why, t, "is not a list of header field names");
    if (same_name(t, "i", 1)) {
        const char *at = NULL;
        for (size_t i = 0; i < n; i++)
            if (v[i] == '@')
                at = v + i;
        if (at == NULL || !domain_ok(at + 1, n - (size_t)(at + 1 - v), false))
            return bad_value(why, t, "is not [local-part]@domain");
        return 0;
    }
    if (same_name(t, "l", 1))
        return digits(v, n, 76) ? 0 : bad_value(why, t, "is not 1 to 76 digits");
    if (same_name(t, "t", 1) || same_name(t, "x", 1))
        return digits(v, n, 12) ? 0 : bad_value(why, t, "is not 1 to 12 digits");
    if (same_name(t, "q", 1)) {
        bool dns = false;
        if (!each_in_list(t, ':', query_method, &dns))
            return bad_value(why, t, "is not a list of query methods");
        return dns ? 0 : bad_value(why, t, "names no query method we know (dns/txt)");
    }
    return 0; /* z= (diagnostic copies) and unknown tags */
}

int fl_dkim_signature_check(const char *value, size_t len, struct fl_buf *why)
{
    struct fl_dkim_taglist tl;
    int rc = fl_dkim_taglist_parse(value, len, &tl, why);
    bool from = false;
    for (size_t i = 0; rc == 0 && i < tl.n; i++)
        rc = signature_value(&tl.tags[i], &from, why);
    static const char *const required[] = {"v", "a", "b", "bh", "d", "h", "s"};
    for (size_t i = 0; rc == 0 && i < sizeof(required) / sizeof(required[0]); i++)
        if (fl_dkim_taglist_get(&tl, required[i]) == NULL) {
            fl_buf_printf(why, "required tag %s= is missing", required[i]);
            rc = -1;
        }
    if (rc == 0) {
        const struct fl_dkim_tag *t = fl_dkim_taglist_get(&tl, "t"),
                                 *x = fl_dkim_taglist_get(&tl, "x");
        if (t != NULL && x != NULL && number(x) <= number(t))
            rc = bad_value(why, x, "is not after t= (RFC 6376 3.5)");
    }
    if (rc == 0) {
        /* i= in d= or a subdomain of it (3.5, 6.1.1 "domain mismatch") */
        const struct fl_dkim_tag *d = fl_dkim_taglist_get(&tl, "d"),
                                 *i = fl_dkim_taglist_get(&tl, "i");
        if (i != NULL) {
            const char *dom = i->value + i->value_len;
            while (dom[-1] != '@') /* i= has an "@", checked above */
                dom--;
            size_t dlen = i->value_len - (size_t)(dom - i->value);
            bool same = dlen == d->value_len && strncasecmp(dom, d->value, dlen) == 0;
            bool sub =
                dlen > d->value_len && dom[dlen - d->value_len - 1] == '.' &&
                strncasecmp(dom + dlen - d->value_len, d->value, d->value_len) == 0;
            if (!same && !sub)
                rc = bad_value(why, i,
                               "is not in d= or a subdomain of it (domain mismatch)");
        }
    }
    if (rc == 0 && !from) {
        fl_buf_puts(why, "tag h= does not name From (RFC 6376 5.4, 6.1.1)");
        rc = 1;
    }
    fl_dkim_taglist_free(&tl);
    return rc;
}

/* --- key record (RFC 6376 3.6.1) ------------------------------------------------ */

static bool key_hash(const char *v, size_t n, void *arg)
{
    struct fl_dkim_keyrec *k = arg;
    if (n == 4 && strncasecmp(v, "sha1", 4) == 0)
        k->hashes |= FL_DKIM_HASH_SHA1;
    else if (n == 6 && strncasecmp(v, "sha256", 6) == 0)
        k->hashes |= FL_DKIM_HASH_SHA256;
    return hyphenated_word(v, n); /* others ignored, but well-formed */
}

static bool key_service(const char *v, size_t n, void *arg)
{
    struct fl_dkim_keyrec *k = arg;
    if ((n == 1 && v[0] == '*') || (n == 5 && strncasecmp(v, "email", 5) == 0)) {
        k->email = true;
        return true;
    }
    return hyphenated_word(v, n);
}

static bool key_flag(const char *v, size_t n, void *arg)
{
    struct fl_dkim_keyrec *k = arg;
    if (n == 1 && (v[0] == 'y' || v[0] == 'Y'))
        k->testing = true;
    if (n == 1 && (v[0] == 's' || v[0] == 'S'))
        k->strict = true;
    return hyphenated_word(v, n);
}

static int key_value(const struct fl_dkim_tag *t, size_t index, struct fl_dkim_keyrec *k,
                     struct fl_buf *why)
{
    if (same_name(t, "v", 1)) {
        if (index != 0)
            return bad_value(why, t, "is not the first tag (RFC 6376 3.6.1)");
        /* %x44.4B.49.4D.31: exactly "DKIM1", not a case-insensitive literal */
        bool dkim1 = t->value_len == 5 && memcmp(t->value, "DKIM1", 5) == 0;
        return dkim1 ? 0 : bad_value(why, t, "is not DKIM1");
    }
    if (same_name(t, "h", 1)) {
        k->hashes = 0;
        return each_in_list(t, ':', key_hash, k)
                   ? 0
                   : bad_value(why, t, "is not a list of hash names");
    }
    if (same_name(t, "k", 1)) {
        if (!hyphenated_word(t->value, t->value_len))
            return bad_value(why, t, "is not a key type name");
        size_t n =
            t->value_len < sizeof(k->keytype) - 1 ? t->value_len : sizeof(k->keytype) - 1;
        memcpy(k->keytype, t->value, n);
        k->keytype[n] = '\0';
        k->type = is(t, "rsa")       ? FL_DKIM_KEY_RSA
                  : is(t, "ed25519") ? FL_DKIM_KEY_ED25519
                                     : FL_DKIM_KEY_UNKNOWN;
        return 0;
    }
    if (same_name(t, "s", 1)) {
        k->email = false;
        return each_in_list(t, ':', key_service, k)
                   ? 0
                   : bad_value(why, t, "is not a list of service types");
    }
    if (same_name(t, "t", 1))
        return each_in_list(t, ':', key_flag, k)
                   ? 0
                   : bad_value(why, t, "is not a list of flags");
    if (same_name(t, "p", 1)) {
        char bad = 0;
        const char *err = base64_error(t->value, t->value_len, &bad);
        if (err != NULL)
            return base64_fail(why, t, err, bad);
        size_t n = 0;
        k->p = fl_malloc(t->value_len + 1);
        for (size_t i = 0; i < t->value_len; i++)
            if (!is_wsp(t->value[i]) && t->value[i] != '\r' && t->value[i] != '\n')
                k->p[n++] = t->value[i];
        k->p[n] = '\0';
        k->revoked = n == 0;
        return 0;
    }
    return 0; /* n= (notes) and unknown tags */
}

int fl_dkim_keyrec_parse(const char *rec, size_t len, struct fl_dkim_keyrec *k,
                         struct fl_buf *why)
{
    memset(k, 0, sizeof(*k));
    k->type = FL_DKIM_KEY_RSA;
    memcpy(k->keytype, "rsa", 4);
    k->hashes = FL_DKIM_HASH_SHA1 | FL_DKIM_HASH_SHA256;
    k->email = true;
    struct fl_dkim_taglist tl;
    int rc = fl_dkim_taglist_parse(rec, len, &tl, why);
    for (size_t i = 0; rc == 0 && i < tl.n; i++)
        rc = key_value(&tl.tags[i], i, k, why);
    if (rc == 0 && k->p == NULL) {
        fl_buf_puts(why, "required tag p= is missing");
        rc = -1;
    }
    fl_dkim_taglist_free(&tl);
    return rc;
}

void fl_dkim_keyrec_clear(struct fl_dkim_keyrec *k)
{
    free(k->p);
    k->p = NULL;
}
