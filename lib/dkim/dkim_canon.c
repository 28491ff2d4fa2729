/* dkim_canon: see dkim_canon.h.  RFC 6376 3.4.1-3.4.4 (canonicalisation),
   3.5 b= and 3.7 (the hashes), 5.4.2 (which header instances h= names:
   from the bottom up, one instance per name). */
#include "lib/dkim/dkim_canon.h"
#include "lib/core/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

/* --- the body -------------------------------------------------------------- */

static void flush(struct fl_dkim_body *b)
{
    if (b->md != NULL && b->nout > 0)
        EVP_DigestUpdate(b->md, b->out, b->nout);
    b->nout = 0;
}

static void emit(struct fl_dkim_body *b, const char *p, size_t n)
{
    long long before = b->total;
    b->total += (long long)n;
    if (b->md == NULL || (b->limit >= 0 && before >= b->limit))
        return;
    if (b->limit >= 0 && before + (long long)n > b->limit)
        n = (size_t)(b->limit - before); /* l=: the rest is not hashed */
    while (n > 0) {
        if (b->nout == sizeof(b->out))
            flush(b);
        size_t k = sizeof(b->out) - b->nout < n ? sizeof(b->out) - b->nout : n;
        memcpy(b->out + b->nout, p, k);
        b->nout += k;
        p += k;
        n -= k;
    }
}

void fl_dkim_body_init(struct fl_dkim_body *b, bool relaxed, long long limit,
                       const EVP_MD *md)
{
    memset(b, 0, sizeof(*b));
    b->relaxed = relaxed;
    b->limit = limit;
    if (md != NULL) {
        /* On failure the digest stays empty and fl_dkim_canon_verify
           reports it: our error, never a verdict on the sender. */
        b->md = EVP_MD_CTX_new();
        if (b->md != NULL && EVP_DigestInit_ex(b->md, md, NULL) != 1) {
            EVP_MD_CTX_free(b->md);
            b->md = NULL;
        }
    }
}

static void line_end(struct fl_dkim_body *b)
{
    if (b->line)
        emit(b, "\r\n", 2);
    else
        b->blanks++; /* kept back: empty lines at the end are dropped */
    b->line = false;
    b->wsp = false;
}

static void content(struct fl_dkim_body *b, char c)
{
    if (b->relaxed && (c == ' ' || c == '\t')) {
        b->wsp = true; /* a run becomes one SP, none at the end of a line */
        return;
    }
    if (!b->line)
        for (; b->blanks > 0; b->blanks--)
            emit(b, "\r\n", 2);
    if (b->wsp)
        emit(b, " ", 1);
    b->wsp = false;
    b->line = true;
    emit(b, &c, 1);
}

/* A byte that is content as it is: no line end, no CR, no whitespace
   that relaxed canonicalisation folds. */
static bool plain(const struct fl_dkim_body *b, unsigned char c)
{
    return c != '\n' && c != '\r' && !(b->relaxed && (c == ' ' || c == '\t'));
}

void fl_dkim_body_feed(struct fl_dkim_body *b, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (!b->cr && plain(b, p[i])) {
            /* a run of plain bytes: the first settles what is pending
               (empty lines, a folded space), the rest goes out whole */
            size_t j = i + 1;
            while (j < len && plain(b, p[j]))
                j++;
            content(b, (char)p[i]);
            emit(b, (const char *)p + i + 1, j - i - 1);
            i = j;
            continue;
        }
        if (p[i] == '\n') { /* CRLF, or a bare LF libopendkim makes CRLF */
            b->cr = false;
            line_end(b);
        } else {
            if (b->cr)
                content(b, '\r'); /* a bare CR is content */
            b->cr = p[i] == '\r';
            if (!b->cr)
                content(b, (char)p[i]);
        }
        i++;
    }
}

void fl_dkim_body_finish(struct fl_dkim_body *b)
{
    if (b->finished)
        return;
    b->finished = true;
    if (b->cr)
        content(b, '\r');
    b->cr = false;
    if (b->line)
        emit(b, "\r\n", 2); /* a last line without CRLF gets one */
    if (b->total == 0 && !b->relaxed)
        emit(b, "\r\n", 2); /* an empty body is CRLF in simple */
    flush(b);
    if (b->md != NULL && EVP_DigestFinal_ex(b->md, b->digest, &b->digest_len) != 1)
        b->digest_len = 0;
}

void fl_dkim_body_clear(struct fl_dkim_body *b)
{
    EVP_MD_CTX_free(b->md);
    b->md = NULL;
}

/* --- the headers ----------------------------------------------------------- */

void fl_dkim_headers_add(struct fl_dkim_headers *h, const char *field, size_t len)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 32;
        h->start = fl_realloc(h->start, h->cap * sizeof(*h->start));
        h->len = fl_realloc(h->len, h->cap * sizeof(*h->len));
    }
    h->start[h->n] = h->data.len;
    h->len[h->n] = len;
    h->n++;
    fl_buf_append(&h->data, field, len);
}

void fl_dkim_headers_clear(struct fl_dkim_headers *h)
{
    fl_buf_free(&h->data);
    free(h->start);
    free(h->len);
    h->start = h->len = NULL;
    h->n = h->cap = 0;
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* The name of a field: up to the colon, trailing WSP dropped. */
static size_t name_len(const char *f, size_t len)
{
    const char *colon = memchr(f, ':', len);
    size_t n = colon != NULL ? (size_t)(colon - f) : len;
    while (n > 0 && is_wsp(f[n - 1]))
        n--;
    return n;
}

/* Appends field f[0..len) canonicalised (RFC 6376 3.4.1 simple, 3.4.2
   relaxed), with crlf at the end or not (the signature field). */
void fl_dkim_canon_field(struct fl_buf *out, const char *f, size_t len, bool relaxed,
                         bool crlf)
{
    if (!relaxed) {
        fl_buf_append(out, f, len);
    } else {
        /* appended in runs, not byte by byte: this is on the path of
           every ARC seal and signature */
        size_t n = name_len(f, len), at = out->len;
        fl_buf_append(out, f, n);
        for (char *c = out->data + at; c < out->data + out->len; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        fl_buf_putc(out, ':');
        const char *colon = memchr(f, ':', len);
        size_t i = colon != NULL ? (size_t)(colon - f) + 1 : len;
        bool space = false, started = false;
        while (i < len) {
            char c = f[i];
            if (c == '\r' || c == '\n') { /* unfold */
                i++;
                continue;
            }
            if (is_wsp(c)) {
                space = started;
                i++;
                continue;
            }
            size_t j = i + 1;
            while (j < len && !is_wsp(f[j]) && f[j] != '\r' && f[j] != '\n')
                j++;
            if (space)
                fl_buf_putc(out, ' ');
            space = false;
            started = true;
            fl_buf_append(out, f + i, j - i);
            i = j;
        }
    }
    if (crlf)
        fl_buf_puts(out, "\r\n");
}

/* Base64 with FWS (already checked by lib/dkim/dkim_taglist.c) to bytes. */
unsigned char *fl_dkim_unbase64(const char *v, size_t n, size_t *len_r)
{
    char *clean = fl_malloc(n + 1);
    size_t len = 0, pad = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_wsp(v[i]) && v[i] != '\r' && v[i] != '\n') {
            clean[len++] = v[i];
            pad = v[i] == '=' ? pad + 1 : 0;
        }
    unsigned char *out = fl_malloc(len / 4 * 3 + 1);
    int got = EVP_DecodeBlock(out, (const unsigned char *)clean, (int)len);
    free(clean);
    if (got < 0 || (size_t)got < pad) {
        free(out);
        return NULL;
    }
    *len_r = (size_t)got - pad;
    return out;
}

/* The header hash input of RFC 6376 3.7: the fields h= names, selected
   from the bottom up, then the signature field with the b= value
   deleted, without its CRLF. */
int fl_dkim_canon_header_input(const struct fl_dkim_headers *h, size_t sigfield,
                               bool relaxed, const struct fl_dkim_taglist *tl,
                               const char *value, struct fl_buf *out)
{
    const struct fl_dkim_tag *hl = fl_dkim_taglist_get(tl, "h"),
                             *bt = fl_dkim_taglist_get(tl, "b");
    if (hl == NULL || bt == NULL)
        return -1;
    bool *used = fl_calloc(h->n + 1, sizeof(*used));
    used[sigfield] = true;
    const char *p = hl->value, *end = hl->value + hl->value_len;
    while (p < end) {
        const char *e = memchr(p, ':', (size_t)(end - p));
        const char *stop = e != NULL ? e : end;
        const char *a = p, *z = stop;
        while (a < z && (is_wsp(*a) || *a == '\r' || *a == '\n'))
            a++;
        while (z > a && (is_wsp(z[-1]) || z[-1] == '\r' || z[-1] == '\n'))
            z--;
        for (size_t i = h->n; i-- > 0;) {
            const char *f = h->data.data + h->start[i];
            size_t n = name_len(f, h->len[i]);
            if (!used[i] && n == (size_t)(z - a) && strncasecmp(f, a, n) == 0) {
                used[i] = true;
                fl_dkim_canon_field(out, f, h->len[i], relaxed, true);
                break;
            }
        }
        p = e != NULL ? e + 1 : end;
    }
    free(used);
    fl_dkim_canon_sigfield(out, h->data.data + h->start[sigfield], h->len[sigfield], value,
                           bt, relaxed);
    return 0;
}

void fl_dkim_canon_sigfield(struct fl_buf *out, const char *f, size_t len, const char *value,
                            const struct fl_dkim_tag *bt, bool relaxed)
{
    /* b= with its value and the whitespace around it deleted */
    const char *from = bt->value, *to = bt->value + bt->value_len;
    while (from > value && from[-1] != '=')
        from--;
    while (to < f + len && *to != ';')
        to++;
    struct fl_buf sig;
    fl_buf_init(&sig);
    fl_buf_append(&sig, f, (size_t)(from - f));
    fl_buf_append(&sig, to, (size_t)(f + len - to));
    fl_dkim_canon_field(out, sig.data, sig.len, relaxed, false);
    fl_buf_free(&sig);
}

int fl_dkim_canon_verify(const struct fl_dkim_headers *h, size_t sigfield,
                         bool hc_relaxed, bool sha1, const struct fl_dkim_keyrec *key,
                         const struct fl_dkim_body *body,
                         struct fl_dkim_canon_result *out, struct fl_buf *err)
{
    memset(out, 0, sizeof(*out));
    if (body->digest_len == 0) {
        fl_buf_puts(err, "the body could not be hashed (OpenSSL)");
        return -1;
    }
    const char *f = h->data.data + h->start[sigfield];
    const char *colon = memchr(f, ':', h->len[sigfield]);
    if (colon == NULL) {
        fl_buf_puts(err, "the signature field has no colon");
        return -1;
    }
    const char *value = colon + 1;
    struct fl_dkim_taglist tl;
    struct fl_buf why, input;
    fl_buf_init(&why);
    fl_buf_init(&input);
    int rc =
        fl_dkim_taglist_parse(value, h->len[sigfield] - (size_t)(value - f), &tl, &why);
    if (rc == 0)
        rc = fl_dkim_canon_header_input(h, sigfield, hc_relaxed, &tl, value, &input);
    fl_buf_free(&why);
    if (rc != 0) {
        fl_dkim_taglist_free(&tl);
        fl_buf_free(&input);
        fl_buf_puts(err, "the signature field cannot be read");
        return -1;
    }
    const struct fl_dkim_tag *b = fl_dkim_taglist_get(&tl, "b"),
                             *bh = fl_dkim_taglist_get(&tl, "bh");
    size_t derlen = 0, siglen = 0, bhlen = 0;
    unsigned char *der = fl_dkim_unbase64(key->p, strlen(key->p), &derlen);
    unsigned char *sig = fl_dkim_unbase64(b->value, b->value_len, &siglen);
    unsigned char *bhash = fl_dkim_unbase64(bh->value, bh->value_len, &bhlen);
    const unsigned char *dp = der;
    EVP_PKEY *pkey = der != NULL ? d2i_PUBKEY(NULL, &dp, (long)derlen) : NULL;
    if (pkey != NULL && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        out->key_ok = true;
        out->bits = (unsigned int)EVP_PKEY_get_bits(pkey);
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        out->signature_ok =
            c != NULL && sig != NULL &&
            EVP_DigestVerifyInit(c, NULL, sha1 ? EVP_sha1() : EVP_sha256(), NULL, pkey) ==
                1 &&
            EVP_DigestVerify(c, sig, siglen, (const unsigned char *)input.data,
                             input.len) == 1;
        EVP_MD_CTX_free(c);
    }
    out->body_hash_ok = bhash != NULL && bhlen == body->digest_len &&
                        memcmp(bhash, body->digest, bhlen) == 0;
    EVP_PKEY_free(pkey);
    free(der);
    free(sig);
    free(bhash);
    fl_dkim_taglist_free(&tl);
    fl_buf_free(&input);
    return 0;
}
