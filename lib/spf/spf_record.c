/* spf_record: see spf_record.h.  The grammar, RFC 7208 section 12:
     record           = version terms *SP
     version          = "v=spf1"
     terms            = *( 1*SP ( directive / modifier ) )
     directive        = [ qualifier ] mechanism
     qualifier        = "+" / "-" / "?" / "~"
     mechanism        = ( all / include / a / mx / ptr / ip4 / ip6 / exists )
     all              = "all"
     include          = "include"  ":" domain-spec
     a                = "a"      [ ":" domain-spec ] [ dual-cidr-length ]
     mx               = "mx"     [ ":" domain-spec ] [ dual-cidr-length ]
     ptr              = "ptr"    [ ":" domain-spec ]
     ip4              = "ip4"      ":" ip4-network   [ ip4-cidr-length ]
     ip6              = "ip6"      ":" ip6-network   [ ip6-cidr-length ]
     exists           = "exists"   ":" domain-spec
     modifier         = redirect / explanation / unknown-modifier
     redirect         = "redirect" "=" domain-spec
     explanation      = "exp" "=" domain-spec
     unknown-modifier = name "=" macro-string
     ip4-cidr-length  = "/" ("0" / %x31-39 0*1DIGIT) ; 0-32
     ip6-cidr-length  = "/" ("0" / %x31-39 0*2DIGIT) ; 0-128
     dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
     qnum             = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25"
   %x30-35 domain-spec      = macro-string domain-end domain-end       = ( "." toplabel [
   "." ] ) / macro-expand toplabel         = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum
   "-" *( alphanum / "-" ) alphanum ) name             = ALPHA *( ALPHA / DIGIT / "-" /
   "_" / "." ) */
#include "lib/spf/spf_record.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

int fl_spf_record_is_spf(const char *txt, size_t len)
{
    return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

/* Is s[0..len) a toplabel? */
static bool is_toplabel(const char *s, size_t len)
{
    if (len == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
        return false;
    bool alpha = false, dash = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalpha(c))
            alpha = true;
        else if (c == '-')
            dash = true;
        else if (!isdigit(c))
            return false;
    }
    return alpha || dash;
}

int fl_spf_domain_spec_check(const char *s, size_t len, struct fl_buf *err)
{
    if (len == 0) {
        fl_buf_puts(err, "empty domain-spec");
        return -1;
    }
    if (fl_spf_macro_check(s, len, 0, err) < 0)
        return -1;
    /* Does it end in a macro-expand?  Scan the tokens. */
    bool ends_in_macro = false;
    for (size_t i = 0; i < len;) {
        if (s[i] == '%') {
            if (s[i + 1] == '{') {
                const char *close = memchr(s + i, '}', len - i);
                i = (size_t)(close - s) + 1;
            } else {
                i += 2;
            }
            ends_in_macro = i >= len;
        } else {
            i++;
            ends_in_macro = false;
        }
    }
    if (ends_in_macro)
        return 0;
    size_t n = len;
    if (s[n - 1] == '.')
        n--;
    const char *dot = NULL;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == '.') {
            dot = s + i - 1;
            break;
        }
    if (dot == NULL || !is_toplabel(dot + 1, (size_t)(s + n - dot - 1))) {
        fl_buf_puts(err, "domain-spec must end in a valid top-level label or a macro");
        return -1;
    }
    return 0;
}

/* A CIDR length: "/" then "0" or digits without a leading zero, at most
   max.  s points at the digits.  Returns the value or -1. */
static int parse_cidr(const char *s, size_t len, int max)
{
    if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* ip4-network: four qnums without leading zeros. */
static bool parse_ip4(const char *s, size_t len, unsigned char out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t start = i;
        int v = 0;
        while (i < len && isdigit((unsigned char)s[i]) && i - start < 3)
            v = v * 10 + (s[i++] - '0');
        size_t n = i - start;
        if (n == 0 || (n > 1 && s[start] == '0') || v > 255)
            return false;
        out[part] = (unsigned char)v;
        if (part < 3) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
    }
    return i == len;
}

static bool parse_ip6(const char *s, size_t len, unsigned char out[16])
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
            return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, out) == 1;
}

struct parser {
    const struct fl_spf_record_ctx *ctx;
    struct fl_buf *out;
    struct fl_buf *err; /* the one problem found */
    bool has_all;
    const char *exp, *redirect; /* domain-specs */
    size_t exp_len, redirect_len;
};

/* Appends ' "term"' to the problem already in p->err.  Returns -1. */
static int fail_term(struct parser *p, const char *term, size_t len)
{
    /* Only printable ASCII reaches the message; at most 60 bytes of the term. */
    char t[64];
    size_t n = 0;
    for (size_t i = 0; i < len && n < 60; i++) {
        unsigned char c = (unsigned char)term[i];
        t[n++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
    }
    t[n] = '\0';
    fl_buf_printf(p->err, " \"%s%s\"", t, len > n ? "..." : "");
    return -1;
}

/* Appends 'what "term"' to p->err.  Returns -1. */
static int fail(struct parser *p, const char *what, const char *term, size_t len)
{
    fl_buf_puts(p->err, what);
    return fail_term(p, term, len);
}

/* Appends a checked domain-spec with its macros rewritten for libspf2. */
static void put_spec(struct parser *p, const char *spec, size_t len)
{
    fl_spf_macro_rewrite(spec, len, p->ctx->vars, p->out);
}

/* a and mx: [ ":" domain-spec ] [ dual-cidr-length ].  rest points just
   past the mechanism name. */
static int put_a_mx(struct parser *p, char q, const char *name, const char *term,
                    size_t tlen, const char *rest, size_t rlen)
{
    int cidr4 = 32, cidr6 = 128;
    /* dual-cidr-length at the end: [ "/" N ] [ "//" N ] */
    size_t end = rlen;
    size_t i = end;
    while (i > 0 && isdigit((unsigned char)rest[i - 1]))
        i--;
    if (i < end && i >= 2 && rest[i - 1] == '/' && rest[i - 2] == '/') {
        cidr6 = parse_cidr(rest + i, end - i, 128);
        if (cidr6 < 0)
            return fail(p, "invalid IPv6 CIDR length in", term, tlen);
        end = i - 2;
        i = end;
        while (i > 0 && isdigit((unsigned char)rest[i - 1]))
            i--;
    }
    if (i < end && i >= 1 && rest[i - 1] == '/') {
        cidr4 = parse_cidr(rest + i, end - i, 32);
        if (cidr4 < 0)
            return fail(p, "invalid IPv4 CIDR length in", term, tlen);
        end = i - 1;
    }
    const char *spec = NULL;
    size_t slen = 0;
    if (end > 0) {
        if (rest[0] != ':')
            return fail(p, "unexpected text after the mechanism name in", term, tlen);
        spec = rest + 1;
        slen = end - 1;
        if (fl_spf_domain_spec_check(spec, slen, p->err) < 0)
            return fail_term(p, term, tlen);
    }
    int cidr = p->ctx->family == AF_INET6 ? cidr6 : cidr4;
    int full = p->ctx->family == AF_INET6 ? 128 : 32;
    fl_buf_printf(p->out, " %c%s", q, name);
    if (cidr == 0) {
        /* Any address of the name matches: libspf2 cannot say /0. */
        fl_buf_putc(p->out, ':');
        if (spec != NULL) {
            size_t n = slen;
            if (n > 0 && spec[n - 1] == '.' && (n < 2 || spec[n - 2] != '%'))
                n--;
            put_spec(p, spec, n);
        } else {
            fl_buf_puts(p->out, "%{d}");
        }
        fl_buf_puts(p->out, "." FL_SPF_ANY_ADDRESS_TAG);
        return 0;
    }
    if (spec != NULL) {
        fl_buf_putc(p->out, ':');
        put_spec(p, spec, slen);
    }
    if (cidr != full)
        fl_buf_printf(p->out, p->ctx->family == AF_INET6 ? "//%d" : "/%d", cidr);
    return 0;
}

static int put_ip(struct parser *p, char q, bool v6, const char *term, size_t tlen,
                  const char *rest, size_t rlen)
{
    if (rlen == 0 || rest[0] != ':')
        return fail(p, v6 ? "ip6 needs an address in" : "ip4 needs an address in", term,
                    tlen);
    rest++;
    rlen--;
    const char *slash = memchr(rest, '/', rlen);
    size_t nlen = slash ? (size_t)(slash - rest) : rlen;
    unsigned char addr[16];
    if (v6 ? !parse_ip6(rest, nlen, addr) : !parse_ip4(rest, nlen, addr))
        return fail(p, v6 ? "invalid IPv6 network in" : "invalid IPv4 network in", term,
                    tlen);
    int cidr = v6 ? 128 : 32;
    if (slash != NULL) {
        cidr = parse_cidr(slash + 1, rlen - nlen - 1, v6 ? 128 : 32);
        if (cidr < 0)
            return fail(p, "invalid CIDR length in", term, tlen);
    }
    if (cidr == 0) {
        /* libspf2 cannot say /0: two halves of the address space */
        if (v6)
            fl_buf_printf(p->out, " %cip6:::/1 %cip6:8000::/1", q, q);
        else
            fl_buf_printf(p->out, " %cip4:0.0.0.0/1 %cip4:128.0.0.0/1", q, q);
        return 0;
    }
    fl_buf_printf(p->out, " %c%s:%.*s", q, v6 ? "ip6" : "ip4", (int)nlen, rest);
    if (cidr != (v6 ? 128 : 32))
        fl_buf_printf(p->out, "/%d", cidr);
    return 0;
}

/* Is term a modifier (name "=" ...)?  Returns the name length or 0. */
static size_t modifier_name(const char *t, size_t len)
{
    if (len == 0 || !isalpha((unsigned char)t[0]))
        return 0;
    size_t i = 1;
    while (i < len &&
           (isalnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '_' || t[i] == '.'))
        i++;
    return i < len && t[i] == '=' ? i : 0;
}

static int modifier(struct parser *p, const char *t, size_t len, size_t nlen)
{
    const char *val = t + nlen + 1;
    size_t vlen = len - nlen - 1;
    bool is_redirect = nlen == 8 && strncasecmp(t, "redirect", 8) == 0;
    bool is_exp = nlen == 3 && strncasecmp(t, "exp", 3) == 0;
    if (is_redirect || is_exp) {
        if ((is_redirect && p->redirect) || (is_exp && p->exp))
            return fail(p, "modifier given twice:", t, nlen);
        if (fl_spf_domain_spec_check(val, vlen, p->err) < 0)
            return fail_term(p, t, len);
        if (is_redirect) {
            p->redirect = val;
            p->redirect_len = vlen;
        } else {
            p->exp = val;
            p->exp_len = vlen;
        }
        return 0;
    }
    /* unknown modifier: ignored (RFC 7208 6), but its value must parse */
    if (fl_spf_macro_check(val, vlen, 0, p->err) < 0)
        return fail_term(p, t, len);
    return 0;
}

static bool is_name(const char *s, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len >= n && strncasecmp(s, name, n) == 0 &&
           (len == n || s[n] == ':' || s[n] == '/');
}

static int directive(struct parser *p, const char *t, size_t len)
{
    const char *m = t;
    size_t mlen = len;
    char q = '+';
    if (strchr("+-?~", *t) != NULL) {
        q = *t;
        m++;
        mlen--;
        if (modifier_name(m, mlen) > 0)
            return fail(p, "a modifier cannot have a qualifier:", t, len);
    }
    if (is_name(m, mlen, "all")) {
        if (mlen != 3)
            return fail(p, "\"all\" takes no argument:", t, len);
        p->has_all = true;
        fl_buf_printf(p->out, " %call", q);
    } else if (is_name(m, mlen, "include") || is_name(m, mlen, "exists")) {
        bool inc = is_name(m, mlen, "include");
        size_t n = inc ? 7 : 6;
        if (mlen <= n || m[n] != ':')
            return fail(p, "missing domain in", t, len);
        if (fl_spf_domain_spec_check(m + n + 1, mlen - n - 1, p->err) < 0)
            return fail_term(p, t, len);
        fl_buf_printf(p->out, " %c%s:", q, inc ? "include" : "exists");
        put_spec(p, m + n + 1, mlen - n - 1);
    } else if (is_name(m, mlen, "a") || is_name(m, mlen, "mx")) {
        size_t n = is_name(m, mlen, "a") ? 1 : 2;
        return put_a_mx(p, q, n == 1 ? "a" : "mx", t, len, m + n, mlen - n);
    } else if (is_name(m, mlen, "ptr")) {
        if (mlen > 3 && m[3] != ':')
            return fail(p, "\"ptr\" takes no CIDR length:", t, len);
        fl_buf_printf(p->out, " %cptr", q);
        if (mlen > 3) {
            if (fl_spf_domain_spec_check(m + 4, mlen - 4, p->err) < 0)
                return fail_term(p, t, len);
            fl_buf_putc(p->out, ':');
            put_spec(p, m + 4, mlen - 4);
        }
    } else if (is_name(m, mlen, "ip4") || is_name(m, mlen, "ip6")) {
        return put_ip(p, q, tolower((unsigned char)m[2]) == '6', t, len, m + 3, mlen - 3);
    } else {
        return fail(p, "unknown mechanism", t, len);
    }
    return 0;
}

int fl_spf_record_normalise(const char *txt, size_t len,
                            const struct fl_spf_record_ctx *ctx, struct fl_buf *out,
                            struct fl_buf *err)
{
    struct parser p = {.ctx = ctx, .out = out, .err = err};
    if (!fl_spf_record_is_spf(txt, len))
        return fail(&p, "not an SPF record:", txt, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)txt[i];
        if (c < 0x20 || c > 0x7e) {
            size_t from = i > 20 ? i - 20 : 0;
            return fail(&p,
                        c < 0x20 || c == 0x7f ? "control character in the record near"
                                              : "non-ASCII byte in the record near",
                        txt + from, i - from + 1);
        }
    }
    size_t start = out->len;
    fl_buf_puts(out, "v=spf1");
    size_t i = 6;
    while (i < len) {
        while (i < len && txt[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t tstart = i;
        while (i < len && txt[i] != ' ')
            i++;
        const char *t = txt + tstart;
        size_t tlen = i - tstart;
        size_t nlen = modifier_name(t, tlen);
        int rc = nlen > 0 ? modifier(&p, t, tlen, nlen) : directive(&p, t, tlen);
        if (rc < 0) {
            fl_buf_truncate(out, start);
            return -1;
        }
    }
    if (p.exp != NULL) {
        fl_buf_puts(out, " exp=");
        put_spec(&p, p.exp, p.exp_len);
    }
    /* RFC 7208 6.1: redirect is ignored when the record has "all" */
    if (p.redirect != NULL && !p.has_all) {
        fl_buf_puts(out, " redirect=");
        put_spec(&p, p.redirect, p.redirect_len);
    }
    return 0;
}
