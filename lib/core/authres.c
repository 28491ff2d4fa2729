/* authres: see authres.h.  RFC 8601 section 2.2 grammar:
     authres-header = authserv-id [CFWS authres-version]
                      ( no-result / 1*resinfo ) [CFWS] CRLF
     resinfo  = [CFWS] ";" methodspec [CFWS reasonspec] [CFWS 1*propspec]
     pvalue   = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
   where value is an RFC 2045 token or quoted-string. */
#include "lib/core/authres.h"
#include "lib/core/sanitize.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define FOLD_AT 78
/* Longest sender-controlled value we copy into the header. */
#define MAX_VALUE 256

static bool is_tspecial(unsigned char c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !is_tspecial(c);
}

bool fl_authres_is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!is_token_char((unsigned char)*s))
            return false;
    return true;
}

/* RFC 5322 atext. */
static bool is_atext(unsigned char c)
{
    return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* dot-atom-text: atext runs separated by single dots. */
static bool is_dot_atom(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!is_atext((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* domain-name as RFC 8601 uses it: LDH labels separated by dots. */
static bool is_domain_name(const char *s)
{
    size_t label = 0;
    if (*s == '\0' || *s == '.')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_') {
            label++;
        } else {
            return false;
        }
    }
    return label > 0;
}

static bool is_plain_address(const char *v)
{
    const char *at = strrchr(v, '@');
    if (at == NULL)
        return false;
    return (at == v || is_dot_atom(v, (size_t)(at - v))) && is_domain_name(at + 1);
}

static void put_quoted(struct fl_buf *out, const char *v)
{
    struct fl_buf clean;
    fl_buf_init(&clean);
    fl_sanitize_ascii(&clean, v, MAX_VALUE);
    fl_buf_putc(out, '"');
    for (const char *p = clean.data; *p; p++) {
        if (*p == '"' || *p == '\\')
            fl_buf_putc(out, '\\');
        fl_buf_putc(out, *p);
    }
    fl_buf_putc(out, '"');
    fl_buf_free(&clean);
}

void fl_authres_put_value(struct fl_buf *out, const char *v)
{
    if (strlen(v) <= MAX_VALUE && (fl_authres_is_token(v) || is_plain_address(v)))
        fl_buf_puts(out, v);
    else
        put_quoted(out, v);
}

/* Appends item, preceded by a space or by a fold when the current line
   would grow past FOLD_AT.  *col tracks the current line's length. */
static void put_item(struct fl_buf *out, const char *item, size_t *col)
{
    size_t n = strlen(item);
    if (*col + 1 + n > FOLD_AT) {
        fl_buf_puts(out, "\n\t");
        *col = 8;
    } else {
        fl_buf_putc(out, ' ');
        (*col)++;
    }
    fl_buf_puts(out, item);
    *col += n;
}

void fl_authres_build(struct fl_buf *out, const char *authserv_id,
                      const struct fl_result *results, size_t nresults)
{
    struct fl_buf item;
    fl_buf_init(&item);
    size_t start = out->len;
    fl_authres_put_value(out, authserv_id);
    fl_buf_putc(out, ';');
    /* "Authentication-Results: " precedes the value on the first line. */
    size_t col = strlen(FL_AUTHRES_HEADER) + 2 + (out->len - start);
    bool any = false;
    for (size_t i = 0; i < nresults; i++) {
        const struct fl_result *r = &results[i];
        if (!r->in_header)
            continue;
        if (any)
            fl_buf_putc(out, ';');
        any = true;
        /* Each resinfo starts on its own line: easier to read and to grep. */
        fl_buf_puts(out, "\n\t");
        col = 8;
        fl_buf_printf(out, "%s=%s", r->method, fl_res_name(r->result));
        col += strlen(r->method) + 1 + strlen(fl_res_name(r->result));
        if (r->reason && *r->reason) {
            fl_buf_reset(&item);
            fl_buf_puts(&item, "reason=");
            put_quoted(&item, r->reason);
            put_item(out, item.data, &col);
        }
        for (size_t j = 0; j < r->nprops; j++) {
            const struct fl_prop *p = &r->props[j];
            fl_buf_reset(&item);
            fl_buf_printf(&item, "%s.%s=", p->ptype, p->property);
            fl_authres_put_value(&item, p->value);
            put_item(out, item.data, &col);
        }
    }
    if (!any)
        put_item(out, "none", &col);
    fl_buf_free(&item);
}

/* --- classification of existing headers ------------------------------ */

/* Skips CFWS (RFC 5322 3.2.2): whitespace, folds and nested comments with
   quoted-pairs.  Returns false on an unterminated comment. */
static bool skip_cfws(const char **pp)
{
    const char *p = *pp;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p != '(')
            break;
        int depth = 0;
        do {
            if (*p == '\0')
                return false;
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '(')
                depth++;
            else if (*p == ')')
                depth--;
            p++;
        } while (depth > 0);
    }
    *pp = p;
    return true;
}

/* Parses an RFC 2045 value (token or quoted-string) into out.
   Returns false if there is none or a quote is unterminated. */
static bool parse_value(const char **pp, struct fl_buf *out)
{
    const char *p = *pp;
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\0')
                return false;
            if (*p == '\\' && p[1] != '\0')
                p++;
            fl_buf_putc(out, *p);
        }
        p++;
    } else {
        const char *start = p;
        while (is_token_char((unsigned char)*p))
            p++;
        if (p == start)
            return false;
        fl_buf_append(out, start, (size_t)(p - start));
    }
    *pp = p;
    return true;
}

/* Keyword (RFC 8601 2.2, an ldh-str; "_" tolerated): letters, digits,
   hyphens, underscores. */
static bool parse_keyword(const char **pp)
{
    const char *p = *pp;
    while (isalnum((unsigned char)*p) || *p == '-' || *p == '_')
        p++;
    if (p == *pp)
        return false;
    *pp = p;
    return true;
}

/* A pvalue, leniently: a quoted-string, or a run of printable characters
   up to CFWS or ";" -- receivers write header.b= with "/" and "=" in it,
   which RFC 2045 tokens exclude.  8-bit bytes pass (RFC 6532 UTF-8). */
static bool parse_pvalue(const char **pp)
{
    const char *p = *pp;
    if (*p == '"') {
        struct fl_buf tmp;
        fl_buf_init(&tmp);
        bool ok = parse_value(&p, &tmp);
        fl_buf_free(&tmp);
        if (!ok)
            return false;
    } else {
        while (*p != '\0' && *p != ';' && *p != '(' && *p != '"' &&
               ((unsigned char)*p > 0x20 && (unsigned char)*p != 0x7f))
            p++;
    }
    if (p == *pp)
        return false;
    *pp = p;
    return true;
}

/* One resinfo after its ";": methodspec [reasonspec] *propspec, where a
   property is ptype "." property "=" pvalue -- or, tolerated because large
   receivers write it, a bare keyword "=" pvalue (action=none). */
static bool parse_resinfo(const char **pp)
{
    const char *p = *pp;
    if (!parse_keyword(&p) || !skip_cfws(&p))
        return false;
    if (*p == '/') { /* method-version */
        p++;
        if (!skip_cfws(&p) || !isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (!skip_cfws(&p))
            return false;
    }
    if (*p++ != '=' || !skip_cfws(&p) || !parse_keyword(&p))
        return false;
    for (;;) {
        if (!skip_cfws(&p))
            return false;
        if (*p == ';' || *p == '\0')
            break;
        if (!parse_keyword(&p) || !skip_cfws(&p))
            return false;
        if (*p == '.') {
            p++;
            if (!skip_cfws(&p) || !parse_keyword(&p) || !skip_cfws(&p))
                return false;
        }
        if (*p++ != '=' || !skip_cfws(&p) || !parse_pvalue(&p))
            return false;
    }
    *pp = p;
    return true;
}

/* True if the rest of the header (after the authserv-id and version) is
   no-result or 1*resinfo; a trailing ";" is tolerated. */
static bool parse_results(const char *p)
{
    bool first = true;
    while (*p == ';') {
        p++;
        if (!skip_cfws(&p))
            return false;
        if (*p == '\0')
            return !first; /* "id;" alone says nothing */
        if (first && strncasecmp(p, "none", 4) == 0) {
            const char *q = p + 4;
            if (skip_cfws(&q) && *q == '\0')
                return true;
        }
        if (!parse_resinfo(&p))
            return false;
        first = false;
    }
    return *p == '\0' && !first;
}

/* Compares two authserv-ids as host names: case-insensitive, one trailing
   dot ignored on either side (mx.example.net. is mx.example.net). */
static bool same_id(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 0 && a[na - 1] == '.')
        na--;
    if (nb > 0 && b[nb - 1] == '.')
        nb--;
    return na == nb && na > 0 && strncasecmp(a, b, na) == 0;
}

enum fl_authres_class fl_authres_classify(const char *value, const char *our_id,
                                          struct fl_buf *id_r)
{
    struct fl_buf id;
    fl_buf_init(&id);
    const char *p = value;
    enum fl_authres_class cls = FL_AUTHRES_MALFORMED;
    if (!skip_cfws(&p) || !parse_value(&p, &id) || id.len == 0 || !skip_cfws(&p))
        goto out;
    /* Optional authres-version: 1*DIGIT. */
    if (isdigit((unsigned char)*p)) {
        while (isdigit((unsigned char)*p))
            p++;
        if (!skip_cfws(&p))
            goto out;
    }
    if (*p != ';')
        goto out;
    /* Ours whatever follows: a forgery need not be well formed. */
    if (same_id(id.data, our_id))
        cls = FL_AUTHRES_OURS;
    else if (parse_results(p))
        cls = FL_AUTHRES_OTHER;
    if (id_r != NULL)
        fl_buf_append(id_r, id.data, id.len);
out:
    fl_buf_free(&id);
    return cls;
}
