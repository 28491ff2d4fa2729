/* greylist_triplet: the parts of a greylisting triplet and their
   normalisation (client network, envelope sender, recipient), the allow
   list matchers, and the record codec shared by the stores.  See
   greylist.h and greylist_store.h.  Pure functions: thread-safe.

   Sender tags reduced (so each bounce address does not make a new triplet):
   - BATV (draft-levine-smtp-batv-01): prvs=TAGVAL=local@domain, and the
     msprvs1= and btv1= variants seen in the wild;
   - SRS (Shevek's Sender Rewriting Scheme): SRS0=HASH=TT=domain=local@fwd
     -> srs0=domain=local@fwd, SRS1=HASH=fwd1==HASH=TT=domain=local@fwd2 ->
     srs1=fwd1=domain=local@fwd2 (the hash and the day stamp change);
   - VERP and sub-addresses: the local part from its first '+'
     (bounces+alice=example.org@lists.example -> bounces@lists.example);
   - numbers and id-like tokens of the local part -> '#' (postgrey does it
     for numbers): hex strings of 8 or more characters with 2 or more
     digits, and alphanumeric strings of 16 or more with 3 or more digits.
     "john1234" stays. */
#include "lib/greylist/greylist.h"
#include "lib/greylist/greylist_store.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* --- client network ------------------------------------------------------- */

static void mask(unsigned char *addr, size_t len, int prefix)
{
    for (size_t i = 0; i < len; i++) {
        int bits = prefix - (int)i * 8;
        if (bits >= 8)
            continue;
        addr[i] = bits <= 0 ? 0 : (unsigned char)(addr[i] & (0xff << (8 - bits)));
    }
}

int fl_greylist_network(const char *client, int v4_prefix, int v6_prefix, char *out,
                        size_t outlen)
{
    char host[INET6_ADDRSTRLEN + 8];
    if (client == NULL)
        return -1;
    /* Sendmail writes IPv6 clients as "IPv6:2001:db8::1"; Postfix may
       bracket them. */
    if (strncasecmp(client, "IPv6:", 5) == 0)
        client += 5;
    const char *slash = strchr(client, '/');
    size_t n = slash ? (size_t)(slash - client) : strlen(client);
    if (n > 0 && client[0] == '[' && client[n - 1] == ']') {
        client++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, client, n);
    host[n] = '\0';
    unsigned char a[16];
    int family;
    if (inet_pton(AF_INET, host, a) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        family = AF_INET6;
        if (memcmp(a, mapped, 12) == 0) {
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    } else {
        return -1;
    }
    int maxbits = family == AF_INET ? 32 : 128;
    int prefix = family == AF_INET ? v4_prefix : v6_prefix;
    if (slash != NULL) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || p < 0 || p > maxbits)
            return -1;
        prefix = (int)p;
    }
    if (prefix < 0 || prefix > maxbits)
        return -1;
    mask(a, family == AF_INET ? 4 : 16, prefix);
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family, a, text, sizeof(text)) == NULL)
        return -1;
    if ((size_t)snprintf(out, outlen, "%s/%d", text, prefix) >= outlen)
        return -1;
    return 0;
}

/* --- addresses --------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Copies s to out: lower-case, bytes that cannot go into a key (space,
   control, DEL) as '?', and a long address cut with "#<hash>". */
static void finish_addr(const char *s, char *out, size_t outlen)
{
    size_t n = strlen(s);
    size_t i;
    if (n < outlen) {
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            out[i] = c <= ' ' || c == 0x7f ? '?' : (char)tolower(c);
        }
        out[n] = '\0';
        return;
    }
    /* "#" + 16 hex digits + NUL */
    size_t keep = outlen > 18 ? outlen - 18 : 0;
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c <= ' ' || c == 0x7f ? '?' : (char)tolower(c);
    }
    snprintf(out + keep, outlen - keep, "#%016" PRIx64, fnv1a(s));
}

/* Strips one pair of angle brackets. */
static const char *unbracket(const char *s, size_t *len_r)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s++;
        n -= 2;
    }
    *len_r = n;
    return s;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* BATV: "prvs=TAGVAL=local" (also msprvs1=, btv1==TAG==local) -> local. */
static const char *strip_batv(const char *local)
{
    static const char *const types[] = {"prvs=", "msprvs1=", "btv1="};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!has_prefix_ci(local, types[i]))
            continue;
        const char *p = local + strlen(types[i]);
        while (*p == '=')
            p++;
        const char *eq = strchr(p, '=');
        if (eq == NULL || eq == p)
            return local;
        while (*eq == '=')
            eq++;
        return *eq != '\0' ? eq : local;
    }
    return local;
}

/* Returns the start of field k (0-based) of s split at '=', or NULL. */
static const char *field_at(const char *s, int k)
{
    for (; k > 0; k--) {
        s = strchr(s, '=');
        if (s == NULL)
            return NULL;
        s++;
    }
    return s;
}

static size_t field_len(const char *f)
{
    const char *eq = strchr(f, '=');
    return eq ? (size_t)(eq - f) : strlen(f);
}

/* SRS0/SRS1 (the separator after SRS0/SRS1 may be '=', '+' or '-').
   Writes the reduced local part to out and returns true, or false if
   local is no SRS address. */
static bool reduce_srs(const char *local, char *out, size_t outlen)
{
    bool srs1;
    if (has_prefix_ci(local, "srs0"))
        srs1 = false;
    else if (has_prefix_ci(local, "srs1"))
        srs1 = true;
    else
        return false;
    if (strchr("=+-", local[4]) == NULL || local[4] == '\0')
        return false;
    const char *rest = local + 5;
    if (!srs1) {
        /* HASH=TT=domain=local */
        const char *dom = field_at(rest, 2), *loc = field_at(rest, 3);
        if (dom == NULL || loc == NULL || field_len(dom) == 0 || *loc == '\0')
            return false;
        snprintf(out, outlen, "srs0=%.*s=%s", (int)field_len(dom), dom, loc);
        return true;
    }
    /* HASH=fwd1==HASH=TT=domain=local: the SRS0 part after "fwd1=" starts
       with its own separator. */
    const char *fwd = field_at(rest, 1);
    if (fwd == NULL || field_len(fwd) == 0)
        return false;
    const char *inner = fwd + field_len(fwd);
    if (inner[0] != '=' || inner[1] == '\0' || strchr("=+-", inner[1]) == NULL)
        return false;
    inner += 2;
    const char *dom = field_at(inner, 2), *loc = field_at(inner, 3);
    if (dom == NULL || loc == NULL || field_len(dom) == 0 || *loc == '\0')
        return false;
    snprintf(out, outlen, "srs1=%.*s=%.*s=%s", (int)field_len(fwd), fwd,
             (int)field_len(dom), dom, loc);
    return true;
}

/* Replaces numbers and id-like alphanumeric tokens with '#' (see the
   file comment). */
static void hash_tokens(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < outlen;) {
        if (!isalnum((unsigned char)*p)) {
            out[o++] = *p++;
            continue;
        }
        const char *start = p;
        size_t digits = 0;
        while (isalnum((unsigned char)*p)) {
            if (isdigit((unsigned char)*p))
                digits++;
            p++;
        }
        size_t len = (size_t)(p - start);
        size_t hex = 0;
        for (const char *q = start; q < p; q++)
            hex += isxdigit((unsigned char)*q) != 0;
        if (digits == len || (len >= 8 && digits >= 2 && hex == len) ||
            (len >= 16 && digits >= 3)) {
            out[o++] = '#';
        } else {
            size_t k = len < outlen - 1 - o ? len : outlen - 1 - o;
            memcpy(out + o, start, k);
            o += k;
        }
    }
    out[o] = '\0';
}

void fl_greylist_normalize_sender(const char *sender, char *out, size_t outlen)
{
    size_t n;
    const char *s = unbracket(sender ? sender : "", &n);
    if (n == 0) {
        snprintf(out, outlen, "<>");
        return;
    }
    char *addr = fl_malloc(n + 1);
    char *work = fl_malloc(2 * n + 16);
    char *local_out = fl_malloc(2 * n + 16);
    for (size_t i = 0; i < n; i++)
        addr[i] = (char)tolower((unsigned char)s[i]);
    addr[n] = '\0';
    char *at = strrchr(addr, '@');
    const char *domain = "";
    if (at != NULL) {
        *at = '\0';
        domain = at + 1;
    }
    const char *local = strip_batv(addr);
    if (!reduce_srs(local, work, 2 * n + 16))
        snprintf(work, 2 * n + 16, "%s", local);
    char *plus = strchr(work, '+');
    if (plus != NULL && plus != work)
        *plus = '\0';
    hash_tokens(work, local_out, 2 * n + 16);
    struct fl_buf b;
    fl_buf_init(&b);
    fl_buf_puts(&b, local_out);
    if (at != NULL)
        fl_buf_printf(&b, "@%s", domain);
    finish_addr(b.data, out, outlen);
    fl_buf_free(&b);
    free(addr);
    free(work);
    free(local_out);
}

void fl_greylist_normalize_rcpt(const char *rcpt, char *out, size_t outlen)
{
    size_t n;
    const char *s = unbracket(rcpt ? rcpt : "", &n);
    char *copy = fl_strndup(s, n);
    finish_addr(copy, out, outlen);
    free(copy);
}

/* --- allow-list matchers ------------------------------------------------------- */

bool fl_greylist_domain_match(const char *name, const char *pattern)
{
    size_t n = strlen(name), p = strlen(pattern);
    if (n > 0 && name[n - 1] == '.')
        n--;
    if (p > 0 && pattern[p - 1] == '.')
        p--;
    if (p == 0 || n == 0)
        return false;
    if (pattern[0] == '.') {
        /* ".example.com": subdomains only */
        return n > p && strncasecmp(name + n - p, pattern, p) == 0;
    }
    if (n == p)
        return strncasecmp(name, pattern, n) == 0;
    return n > p && name[n - p - 1] == '.' && strncasecmp(name + n - p, pattern, p) == 0;
}

bool fl_greylist_rcpt_match(const char *rcpt, const char *pattern)
{
    size_t rn;
    const char *r = unbracket(rcpt, &rn);
    char addr[FL_GREYLIST_KEY_MAX];
    if (rn >= sizeof(addr))
        return false;
    memcpy(addr, r, rn);
    addr[rn] = '\0';
    char *r_at = strrchr(addr, '@');
    const char *pat_at = strrchr(pattern, '@');
    if (pat_at == NULL || pat_at == pattern) {
        /* "domain" or "@domain" */
        return r_at != NULL &&
               fl_greylist_domain_match(r_at + 1, pat_at ? pat_at + 1 : pattern);
    }
    size_t pl = (size_t)(pat_at - pattern);
    size_t rl = r_at ? (size_t)(r_at - addr) : rn;
    if (pl != rl || strncasecmp(addr, pattern, pl) != 0)
        return false;
    if (pat_at[1] == '\0')
        return true; /* "postmaster@": any domain */
    return r_at != NULL && strcasecmp(r_at + 1, pat_at + 1) == 0;
}

/* --- record codec ------------------------------------------------------------ */

size_t fl_greylist_record_encode(const struct fl_greylist_record *rec, char *out,
                                 size_t outlen)
{
    int n = snprintf(out, outlen, "1 %lld %lld %lld %lld %lu %lu %lu %d %s",
                     (long long)rec->first_seen, (long long)rec->last_seen,
                     (long long)rec->passed_at, (long long)rec->expires, rec->deferred,
                     rec->early, rec->passed, rec->admin ? 1 : 0,
                     rec->net[0] ? rec->net : "-");
    if (n < 0)
        return 0;
    return (size_t)n < outlen ? (size_t)n : outlen - 1;
}

int fl_greylist_record_parse(const char *text, size_t len, struct fl_greylist_record *rec)
{
    char buf[FL_GREYLIST_VALUE_MAX];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    long long first, last, passed_at, expires;
    unsigned long deferred, early, passed;
    int admin, used = 0;
    char net[FL_GREYLIST_NET_MAX];
    if (sscanf(buf, "1 %lld %lld %lld %lld %lu %lu %lu %d %47s%n", &first, &last,
               &passed_at, &expires, &deferred, &early, &passed, &admin, net,
               &used) != 9 ||
        (size_t)used != len)
        return -1;
    memset(rec, 0, sizeof(*rec));
    rec->first_seen = (time_t)first;
    rec->last_seen = (time_t)last;
    rec->passed_at = (time_t)passed_at;
    rec->expires = (time_t)expires;
    rec->deferred = deferred;
    rec->early = early;
    rec->passed = passed;
    rec->admin = admin != 0;
    /* A stored network is printable text: anything else is a corrupted
       record (a damaged LMDB file, a foreign Redis value), not a network. */
    for (const char *p = net; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return -1;
    if (strcmp(net, "-") != 0)
        snprintf(rec->net, sizeof(rec->net), "%s", net);
    return 0;
}

long long fl_greylist_record_ttl(const struct fl_greylist_record *rec, time_t now)
{
    if (rec->expires == 0)
        return 0;
    long long ttl = (long long)rec->expires + FL_GREYLIST_KEEP_EXPIRED - (long long)now;
    return ttl < 1 ? 1 : ttl;
}
