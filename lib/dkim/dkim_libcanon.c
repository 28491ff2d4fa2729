/* dkim_libcanon: see dkim_libcanon.h.  Each rule below is the one
   libopendkim 2.11's dkim-canon.c applies with DKIM_LIBFLAGS_FIXCRLF,
   rewritten to handle a run of ordinary bytes at once. */
#include "lib/dkim/dkim_libcanon.h"

#include <stdint.h>
#include <string.h>

/* --- the bare CR / LF repair ---------------------------------------------- */

void fl_dkim_libchunks_init(struct fl_dkim_libchunks *c)
{
    c->last = '\0';
    fl_buf_init(&c->fixed);
}

/* Whether p[0..len) has a bare LF (its byte before, or last for the
   first byte, is no CR) or a CR followed inside the chunk by anything
   but LF. */
static bool needs_repair(unsigned char last, const unsigned char *p, size_t len)
{
    for (const unsigned char *q = p; (q = memchr(q, '\n', len - (size_t)(q - p))) != NULL; q++)
        if ((q == p ? last : q[-1]) != '\r')
            return true;
    for (const unsigned char *q = p; (q = memchr(q, '\r', len - (size_t)(q - p))) != NULL; q++)
        if (q + 1 < p + len && q[1] != '\n')
            return true;
    return false;
}

const unsigned char *fl_dkim_libchunks_fix(struct fl_dkim_libchunks *c, const unsigned char *p,
                                           size_t len, size_t *len_r)
{
    if (!needs_repair(c->last, p, len)) {
        c->last = p[len - 1];
        *len_r = len;
        return p;
    }
    fl_buf_reset(&c->fixed);
    unsigned char prev = c->last;
    for (size_t i = 0; i < len; i++) {
        if ((p[i] == '\n' && prev != '\r') ||
            (p[i] == '\r' && i + 1 < len && p[i + 1] != '\n'))
            fl_buf_append(&c->fixed, "\r\n", 2);
        else
            fl_buf_putc(&c->fixed, (char)p[i]);
        prev = p[i];
    }
    c->last = (unsigned char)c->fixed.data[c->fixed.len - 1];
    *len_r = c->fixed.len;
    return (const unsigned char *)c->fixed.data;
}

void fl_dkim_libchunks_clear(struct fl_dkim_libchunks *c)
{
    fl_buf_free(&c->fixed);
}

/* --- the hash input -------------------------------------------------------- */

/* libopendkim's hash buffer (DKIM_HASHBUFSIZE): what it has written past
   it decides the CRLF of an empty simple body (see written). */
#define LIB_HASHBUF 4096

static void flush(struct fl_dkim_libcanon *c)
{
    if (c->md != NULL && c->nout > 0)
        EVP_DigestUpdate(c->md, c->out, c->nout);
    c->nout = 0;
}

static void emit(struct fl_dkim_libcanon *c, const void *p, size_t n)
{
    if (!c->relaxed) {
        if (c->lib_held + n > LIB_HASHBUF) {
            c->written += (long long)c->lib_held;
            c->lib_held = 0;
        }
        if (n >= LIB_HASHBUF)
            c->written += (long long)n;
        else
            c->lib_held += n;
    }
    if (c->nout + n > sizeof(c->out))
        flush(c);
    if (n >= sizeof(c->out)) {
        if (c->md != NULL)
            EVP_DigestUpdate(c->md, p, n);
        return;
    }
    memcpy(c->out + c->nout, p, n);
    c->nout += n;
}

/* Where libopendkim empties its hash buffer into the hash. */
static void lib_flush(struct fl_dkim_libcanon *c)
{
    c->written += (long long)c->lib_held;
    c->lib_held = 0;
}

static void flush_blanks(struct fl_dkim_libcanon *c)
{
    for (; c->blanks > 0; c->blanks--)
        emit(c, "\r\n", 2);
}

void fl_dkim_libcanon_init(struct fl_dkim_libcanon *c, bool relaxed, const EVP_MD *md)
{
    memset(c, 0, sizeof(*c));
    c->relaxed = relaxed;
    c->alg = md;
    c->blankline = true;
    fl_buf_init(&c->word);
    /* On failure the digest stays empty: no bh= matches it, and
       lib/dkim/dkim_eval.c reports our fault as for libopendkim's. */
    c->md = EVP_MD_CTX_new();
    if (c->md != NULL && EVP_DigestInit_ex(c->md, md, NULL) != 1) {
        EVP_MD_CTX_free(c->md);
        c->md = NULL;
    }
}

/* RFC 6376 3.4.3 as libopendkim does it: a line goes out with its CRLF
   when the LF comes, content at the end of a chunk goes out without a
   CR that ends it, empty lines are held until content follows. */
static void feed_simple(struct fl_dkim_libcanon *c, const unsigned char *p, size_t n)
{
    size_t wrote = 0, wlen = 0; /* content not yet hashed: p[wrote..wrote+wlen) */
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        if (ch == '\n') {
            if (c->last == '\r') {
                if (c->blankline)
                    c->blanks++;
                else if (wlen == 1 || i == 0)
                    emit(c, "\r\n", 2);
                else
                    emit(c, p + wrote, wlen + 1);
                wrote = i + 1;
                wlen = 0;
                c->blankline = true;
            }
            c->last = ch;
            i++;
            continue;
        }
        if (i == 0 && c->last == '\r') { /* the CR that ended the last chunk */
            emit(c, "\r\n", 2);
            c->blankline = true;
        }
        if (ch != '\r') {
            flush_blanks(c);
            c->blankline = false;
            size_t j = i + 1;
            while (j < n && p[j] != '\r' && p[j] != '\n')
                j++;
            wlen += j - i;
            c->last = p[j - 1];
            i = j;
            continue;
        }
        wlen++;
        c->last = ch;
        i++;
    }
    if (wlen > 0 && p[wrote + wlen - 1] == '\r')
        wlen--;
    if (wlen > 0)
        emit(c, p + wrote, wlen);
    else
        lib_flush(c); /* libopendkim's "buffer nothing" empties its buffer */
}

static bool wsp(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Inside a word (relaxed): anything but whitespace and CR (an LF there
   is content: libopendkim's reading; its repair leaves none).  The table
   serves the scan over a run of words, the body's hot loop. */
static const bool not_content[256] = {[' '] = true, ['\t'] = true, ['\r'] = true};

static bool content(unsigned char ch)
{
    return !not_content[ch];
}

/* The end of a word (whitespace or line end): a held word goes out.
   (libopendkim's hash buffer matters to simple only: not counted here.) */
static void emit_word(struct fl_dkim_libcanon *c)
{
    if (c->word.len > 0)
        emit(c, c->word.data, c->word.len);
    fl_buf_reset(&c->word);
    c->in_word = false;
}

/* Content of a word.  libopendkim holds every word until the whitespace
   or line end after it; only the first word after held empty lines must
   be held (the lines go out before it, or are dropped if the body ends
   there first): any other goes out at once, in the same order. */
static void word_add(struct fl_dkim_libcanon *c, const unsigned char *p, size_t n)
{
    c->in_word = true;
    if (c->word.len > 0 || c->blanks > 0)
        fl_buf_append(&c->word, p, n);
    else
        emit(c, p, n);
}

/* The bytes of x equal to the byte of ones, as 0x80 in their place (exact:
   no carries between bytes). */
static uint64_t bytes_equal(uint64_t x, uint64_t ones)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    uint64_t t = x ^ ones;
    return ~(((t & low7) + low7) | t | low7);
}

/* Whether p[0..len), a line without its CRLF, is the same under relaxed
   canonicalisation: not empty, no tab, no two spaces in a row, no space at
   either end.  Eight bytes at a time: this is the body's hot loop. */
static bool relaxed_clean(const unsigned char *p, size_t len)
{
    if (len == 0 || wsp(p[0]) || wsp(p[len - 1]))
        return false;
    const uint64_t tabs = 0x0909090909090909ull, spaces = 0x2020202020202020ull;
    size_t k = 0;
    for (; k + 9 <= len; k += 8) {
        uint64_t x, y;
        memcpy(&x, p + k, 8);
        memcpy(&y, p + k + 1, 8);
        if (bytes_equal(x, tabs) | (bytes_equal(x, spaces) & bytes_equal(y, spaces)))
            return false;
    }
    for (; k + 1 < len; k++)
        if (p[k] == '\t' || (p[k] == ' ' && p[k + 1] == ' '))
            return false;
    return true;
}

/* From the start of a line, with nothing held: the end of the run of
   whole lines (CRLF included, inside p[i..n)) that relaxed leaves as they
   are, which the state machine below would hash byte for byte unchanged. */
static size_t relaxed_clean_run(const unsigned char *p, size_t i, size_t n)
{
    while (i < n) {
        const unsigned char *cr = memchr(p + i, '\r', n - i);
        if (cr == NULL || cr + 1 >= p + n || cr[1] != '\n' ||
            !relaxed_clean(p + i, (size_t)(cr - (p + i))))
            break;
        i = (size_t)(cr - p) + 2;
    }
    return i;
}

/* RFC 6376 3.4.4 as libopendkim does it: a word is held until the
   whitespace or the line end after it; empty lines are held until a word
   goes out, and dropped if the body ends first. */
static void feed_relaxed(struct fl_dkim_libcanon *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        /* The common case first: whole lines already in canonical form
           go out as one run (state 0 is the start of a line). */
        if (c->state == 0 && c->blanks == 0 && c->word.len == 0) {
            size_t j = relaxed_clean_run(p, i, n);
            if (j > i) {
                emit(c, p + i, j - i);
                c->blankline = true;
                c->in_word = false;
                c->last = '\n';
                i = j;
                continue;
            }
        }
        unsigned char ch = p[i];
        switch (c->state) {
        case 0:
            if (wsp(ch))
                c->state = 1;
            else if (ch == '\r')
                c->state = 2;
            else {
                c->blankline = false;
                c->state = 3;
                continue; /* the word starts here */
            }
            break;
        case 1:
            if (ch == '\r')
                c->state = 2;
            else if (!wsp(ch)) {
                flush_blanks(c);
                emit(c, " ", 1);
                c->blankline = false;
                c->state = 3;
                continue;
            }
            break;
        case 2: /* after a CR: whatever follows ends the line */
            if (c->blankline) {
                c->blanks++;
                c->state = 0; /* (this byte is not looked at: libopendkim's reading) */
                break;
            }
            flush_blanks(c);
            emit_word(c);
            emit(c, "\r\n", 2);
            if (ch == '\n') {
                c->blankline = true;
                c->state = 0;
            } else if (ch == '\r') {
                c->blankline = true;
            } else if (wsp(ch)) {
                c->state = 1;
            } else {
                c->state = 3;
                continue;
            }
            break;
        default: /* 3: in a word */
            if (wsp(ch)) {
                flush_blanks(c);
                emit_word(c);
                c->state = 1;
            } else if (ch == '\r') {
                c->state = 2;
            } else if (c->word.len > 0 || c->blanks > 0) {
                size_t j = i + 1;
                while (j < n && content(p[j]))
                    j++;
                word_add(c, p + i, j - i);
                i = j;
                continue;
            } else {
                /* Words with one SP between them come out as they are:
                   the run goes out whole. */
                size_t j = i + 1;
                for (;;) {
                    while (j < n && !not_content[p[j]])
                        j++;
                    if (j + 1 < n && p[j] == ' ' && !not_content[p[j + 1]])
                        j += 2;
                    else
                        break;
                }
                word_add(c, p + i, j - i);
                i = j;
                continue;
            }
            break;
        }
        c->last = ch;
        i++;
    }
}

void fl_dkim_libcanon_feed(struct fl_dkim_libcanon *c, const unsigned char *p, size_t len)
{
    if (c->finished || len == 0)
        return;
    if (c->relaxed)
        feed_relaxed(c, p, len);
    else
        feed_simple(c, p, len);
}

void fl_dkim_libcanon_finish(struct fl_dkim_libcanon *c)
{
    if (c->finished)
        return;
    c->finished = true;
    if (c->relaxed && c->in_word) {
        emit_word(c);
        emit(c, "\r\n", 2);
    }
    /* "the empty body is CRLF", as libopendkim tests it: nothing written
       past its hash buffer yet (so a short body without a final CRLF
       sent in one piece gets one, and not when cut where it empties the
       buffer) */
    if (!c->relaxed && c->written == 0)
        emit(c, "\r\n", 2);
    flush(c);
    if (c->md == NULL || EVP_DigestFinal_ex(c->md, c->digest, &c->digest_len) != 1)
        c->digest_len = 0;
}

bool fl_dkim_libcanon_matches(const struct fl_dkim_libcanon *c, const char *bh)
{
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    if (bh == NULL || c->digest_len == 0)
        return false;
    EVP_EncodeBlock(b64, c->digest, (int)c->digest_len);
    return strcmp((const char *)b64, bh) == 0;
}

void fl_dkim_libcanon_clear(struct fl_dkim_libcanon *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
    fl_buf_free(&c->word);
}
