/* spf_macro: see spf_macro.h.  RFC 7208 section 7.1 (ABNF):
     macro-string = *( macro-expand / macro-literal )
     macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
                    / "%%" / "%_" / "%-"
     macro-literal = %x21-24 / %x26-7E
     macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
     transformers = *DIGIT [ "r" ]
     delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
     explain-string = *( macro-string / SP )
   ABNF strings are case-insensitive: an upper-case letter asks for URL
   encoding (7.3), and "R" reverses like "r". */
#include "lib/spf/spf_macro.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define DELIMITERS ".-+,/_="
/* A value never has more parts than this (a 253-octet name has 127). */
#define MAX_PARTS 256

/* Parses the %{...} macro starting at s[i] == '%', s[i+1] == '{'.  On
   success returns the index just past '}' and fills the pieces. */
struct macro {
    char letter; /* lower case */
    int upper;
    unsigned long digits; /* 0: none given */
    int have_digits;
    int reverse;
    char delims[8];
};

/* Appends what to err (NULL: the caller does not want the reason).
   Returns -1. */
static long fail(struct fl_buf *err, const char *what)
{
    if (err != NULL)
        fl_buf_puts(err, what);
    return -1;
}

static long parse_macro(const char *s, size_t len, size_t i, unsigned int flags,
                        struct macro *m, struct fl_buf *err /* or NULL */)
{
    memset(m, 0, sizeof(*m));
    i += 2;
    if (i >= len)
        return fail(err, "unterminated macro");
    char c = s[i];
    m->upper = isupper((unsigned char)c) != 0;
    m->letter = (char)tolower((unsigned char)c);
    bool exp_only = m->letter != '\0' && strchr("crt", m->letter) != NULL;
    bool known = m->letter != '\0' && strchr("slodiphv", m->letter) != NULL;
    if (exp_only && !(flags & FL_SPF_MACRO_EXP))
        return fail(err, "macro letters c, r and t are allowed only in explanations");
    if (!known && !exp_only)
        return fail(err, "unknown macro letter");
    i++;
    while (i < len && isdigit((unsigned char)s[i])) {
        m->have_digits = 1;
        if (m->digits < 100000)
            m->digits = m->digits * 10 + (unsigned long)(s[i] - '0');
        i++;
    }
    if (m->have_digits && m->digits == 0)
        return fail(err,
                    "macro keeps zero parts (the DIGIT transformer must be at least 1)");
    if (i < len && (s[i] == 'r' || s[i] == 'R')) {
        m->reverse = 1;
        i++;
    }
    size_t nd = 0;
    while (i < len && s[i] != '}') {
        if (strchr(DELIMITERS, s[i]) == NULL || s[i] == '\0')
            return fail(err, "invalid macro delimiter");
        if (strchr(m->delims, s[i]) == NULL && nd < sizeof(m->delims) - 1)
            m->delims[nd++] = s[i];
        i++;
    }
    if (i >= len)
        return fail(err, "unterminated macro");
    if (nd == 0)
        m->delims[0] = '.';
    return (long)(i + 1);
}

int fl_spf_macro_check(const char *s, size_t len, unsigned int flags, struct fl_buf *err)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') {
            if (!(flags & FL_SPF_MACRO_EXP)) {
                fl_buf_puts(err, "space inside a macro-string");
                return -1;
            }
            i++;
            continue;
        }
        if (c < 0x21 || c > 0x7e) {
            fl_buf_puts(err, "character outside printable ASCII");
            return -1;
        }
        if (c != '%') {
            i++;
            continue;
        }
        if (i + 1 >= len) {
            fl_buf_puts(err, "'%' at the end (write %% for a literal '%')");
            return -1;
        }
        char n = s[i + 1];
        if (n == '%' || n == '_' || n == '-') {
            i += 2;
            continue;
        }
        if (n != '{') {
            fl_buf_puts(err,
                        "'%' not followed by {, %, _ or - (write %% for a literal '%')");
            return -1;
        }
        struct macro m;
        long next = parse_macro(s, len, i, flags, &m, err);
        if (next < 0)
            return -1;
        i = (size_t)next;
    }
    return 0;
}

int fl_spf_macro_has_letters(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '%')
            continue;
        if (s[i + 1] == '{')
            return 1;
        i++; /* %%, %_, %- */
    }
    return 0;
}

void fl_spf_macro_ip(int family, const unsigned char *addr, char *out, size_t outlen)
{
    if (family == AF_INET) {
        snprintf(out, outlen, "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (int i = 0; i < 16 && n + 4 < outlen; i++) {
        out[n++] = hex[addr[i] >> 4];
        out[n++] = '.';
        out[n++] = hex[addr[i] & 0xf];
        out[n++] = '.';
    }
    if (n > 0)
        n--; /* no trailing dot */
    if (outlen > 0)
        out[n < outlen ? n : outlen - 1] = '\0';
}

static const char *value_of(const struct macro *m, const struct fl_spf_macro_vars *v,
                            char *tbuf, size_t tlen)
{
    switch (m->letter) {
    case 's':
        return v->sender;
    case 'l':
        return v->local;
    case 'o':
        return v->sender_domain;
    case 'd':
        return v->domain;
    case 'i':
        return v->ip;
    case 'c':
        return v->ip_text;
    case 'v':
        return v->version;
    case 'h':
        return v->helo;
    case 'r':
        return v->receiver ? v->receiver : "unknown";
    case 't':
        snprintf(tbuf, tlen, "%lld", v->now);
        return tbuf;
    case 'p': {
        const char *p = v->validated_name ? v->validated_name(v->ctx) : NULL;
        return p ? p : "unknown";
    }
    default:
        return NULL;
    }
}

/* RFC 3986 unreserved characters stay, everything else is %XX. */
static void put_encoded(struct fl_buf *out, const char *s, size_t n, int encode)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!encode || isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            fl_buf_putc(out, (char)c);
        } else {
            fl_buf_putc(out, '%');
            fl_buf_putc(out, hex[c >> 4]);
            fl_buf_putc(out, hex[c & 0xf]);
        }
    }
}

/* RFC 7208 7.3: split on the delimiters, reverse if asked, keep the
   right-most DIGIT parts, join with ".". */
static void put_macro(struct fl_buf *out, const struct macro *m, const char *value)
{
    if (value == NULL)
        return;
    const char *start[MAX_PARTS];
    size_t plen[MAX_PARTS];
    size_t np = 0;
    const char *p = value;
    for (;;) {
        size_t n = strcspn(p, m->delims);
        if (np < MAX_PARTS) {
            start[np] = p;
            plen[np] = n;
            np++;
        }
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    size_t first = 0;
    if (m->have_digits && m->digits < np)
        first = np - m->digits;
    struct fl_buf joined;
    fl_buf_init(&joined);
    for (size_t k = first; k < np; k++) {
        size_t idx = m->reverse ? np - 1 - k : k;
        if (k > first)
            fl_buf_putc(&joined, '.');
        fl_buf_append(&joined, start[idx], plen[idx]);
    }
    put_encoded(out, joined.data, joined.len, m->upper);
    fl_buf_free(&joined);
}

static size_t count_parts(const char *value, const char *delims)
{
    size_t n = 1;
    for (const char *p = value; *p; p++)
        if (strchr(delims, *p) != NULL)
            n++;
    return n;
}

void fl_spf_macro_rewrite(const char *s, size_t len, const struct fl_spf_macro_vars *v,
                          struct fl_buf *out)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '%' || i + 1 >= len || s[i + 1] != '{') {
            size_t n = (s[i] == '%' && i + 1 < len) ? 2 : 1; /* %%, %_, %- */
            fl_buf_append(out, s + i, n);
            i += n;
            continue;
        }
        struct macro m;
        long next = parse_macro(s, len, i, FL_SPF_MACRO_EXP, &m, NULL);
        if (next < 0) {
            fl_buf_append(out, s + i, len - i);
            return;
        }
        char tbuf[32];
        const char *value =
            (v != NULL && m.letter != 'p') ? value_of(&m, v, tbuf, sizeof(tbuf)) : NULL;
        if (value != NULL && strpbrk(m.delims, ",/") != NULL) {
            /* libspf2 knows no ',' and '/' delimiters: put the expansion
               itself, escaped as a macro-string literal */
            struct fl_buf x;
            fl_buf_init(&x);
            put_macro(&x, &m, value);
            for (size_t k = 0; k < x.len; k++) {
                if (x.data[k] == '%')
                    fl_buf_puts(out, "%%");
                else if (x.data[k] == ' ')
                    fl_buf_puts(out, "%_");
                else
                    fl_buf_putc(out, x.data[k]);
            }
            fl_buf_free(&x);
            i = (size_t)next;
            continue;
        }
        unsigned long digits = m.have_digits ? m.digits : 0;
        if (digits > 0 && value != NULL && digits >= count_parts(value, m.delims))
            digits = 0;
        if (digits > 128)
            digits = 128;
        fl_buf_printf(out, "%%{%c", s[i + 2]);
        if (digits > 0)
            fl_buf_printf(out, "%lu", digits);
        if (m.reverse)
            fl_buf_putc(out, 'r');
        /* the delimiters as written, after the transformers */
        size_t d = i + 3;
        while (d < (size_t)next - 1 &&
               (isdigit((unsigned char)s[d]) || s[d] == 'r' || s[d] == 'R'))
            d++;
        fl_buf_append(out, s + d, (size_t)next - 1 - d);
        fl_buf_putc(out, '}');
        i = (size_t)next;
    }
}

void fl_spf_macro_expand(const char *s, size_t len, const struct fl_spf_macro_vars *v,
                         struct fl_buf *out)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '%' || i + 1 >= len) {
            fl_buf_putc(out, s[i++]);
            continue;
        }
        char n = s[i + 1];
        if (n == '%' || n == '_' || n == '-') {
            fl_buf_puts(out, n == '%' ? "%" : n == '_' ? " " : "%20");
            i += 2;
            continue;
        }
        struct macro m;
        long next = parse_macro(s, len, i, FL_SPF_MACRO_EXP, &m, NULL);
        if (next < 0) { /* unchecked input: copy the rest literally */
            fl_buf_append(out, s + i, len - i);
            return;
        }
        char tbuf[32];
        put_macro(out, &m, value_of(&m, v, tbuf, sizeof(tbuf)));
        i = (size_t)next;
    }
}
