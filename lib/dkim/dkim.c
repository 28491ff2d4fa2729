/* dkim: see dkim.h.  This file feeds libopendkim and fetches the keys;
   lib/dkim/dkim_eval.c turns the processed signatures into results.

   How libopendkim is driven (libopendkim 2.11):
   - DKIM_LIBFLAGS_DELAYSIGPROC: dkim_eoh only parses the signatures and
     sets up their hashes; without it dkim_eoh would fetch every key and
     verify the header hashes there, blocking the MTA at end-of-headers.
   - the prescreen callback (run inside dkim_eoh) starts one lib/dns TXT
     query per distinct s=._domainkey.d= and marks signatures beyond
     dkim_max_signatures as ignored;
   - dkim_set_key_lookup: when dkim_eom verifies a signature, libopendkim
     asks our callback for the key record, which waits for the query
     started at eoh (bounded by the message deadline) and keeps the DNS
     status, so "no key" (NXDOMAIN/NODATA) is told from "could not ask";
   - DKIM_LIBFLAGS_BADSIGHANDLES keeps malformed signatures in the list so
     each gets its own result; DKIM_LIBFLAGS_FIXCRLF accepts bare LF;
   - the minimum key size and the clock skew are per message (the
     configuration may change on reload), so libopendkim's own checks are
     set to their loosest (no minimum, FL_DKIM_MAX_SKEW_S) and
     lib/dkim/dkim_eval.c applies the message's dkim_* settings.
   - libopendkim allocates through our functions with the verifier as
     closure: per-message accounting against message_memory_limit.
   - libopendkim's tag-list parsers are lenient (a p= with characters
     outside base64 is decoded by skipping them, a tag given twice is
     taken once): every DKIM-Signature field is checked by
     lib/dkim/dkim_taglist.c as it is fed, and every key record in key_lookup
     before libopendkim sees it, which then gets only "v=DKIM1; k=; p="
     rewritten from the checked record.
   - libopendkim's dkim_get_key() gives the key lookup a buffer of 1,025
     bytes (BUFRSZ + 1): a longer key (RSA over ~5,900 bits) is verified by
     lib/dkim/dkim_canon.c from our copy of the header fields and a body hash
     of our own, kept from the first body chunk while the key's length is
     not known. */
#include "lib/dkim/dkim.h"
#include "lib/dkim/dkim_int.h"
#include "lib/dkim/dns_dkim.h"
#include "lib/core/xalloc.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const fl_dkim_singletons[FL_DKIM_NSINGLETONS] = {
    "from", "sender",  "reply-to",   "to",          "cc",
    "date", "subject", "message-id", "in-reply-to", "references",
};

/* --- memory: every libopendkim allocation carries its size ------------------ */

#define MEM_HDR alignof(max_align_t)

static void *mem_alloc(void *closure, size_t n)
{
    struct fl_dkim_verifier *v = closure;
    if (n > SIZE_MAX - MEM_HDR)
        return NULL;
    if (v != NULL && v->mem_limit > 0 && v->mem_now + n > v->mem_limit) {
        v->over_budget = true;
        return NULL; /* libopendkim reports DKIM_STAT_NORESOURCE */
    }
    unsigned char *p = fl_malloc(n + MEM_HDR);
    memcpy(p, &n, sizeof(n));
    if (v != NULL) {
        v->mem_now += n;
        if (v->mem_now > v->mem_peak)
            v->mem_peak = v->mem_now;
    }
    return p + MEM_HDR;
}

static void mem_free(void *closure, void *ptr)
{
    struct fl_dkim_verifier *v = closure;
    if (ptr == NULL)
        return;
    unsigned char *p = (unsigned char *)ptr - MEM_HDR;
    size_t n;
    memcpy(&n, p, sizeof(n));
    if (v != NULL)
        v->mem_now = n <= v->mem_now ? v->mem_now - n : 0;
    free(p);
}

/* --- key lookups ---------------------------------------------------------- */

static struct fl_dkim_sig *find_sig(struct fl_dkim_verifier *v, DKIM_SIGINFO *si)
{
    for (size_t i = 0; i < v->nsigs; i++)
        if (v->sigs[i].si == si)
            return &v->sigs[i];
    return NULL;
}

const struct fl_dns_answer *fl_dkim_key_answer(struct fl_dkim_key *k)
{
    /* The query carries the message deadline. */
    if (k->a == NULL)
        k->a = fl_dns_wait(k->q);
    return k->a;
}

/* RFC 6376 3.6.2.2: one key record is expected; of several, take the
   first that says v=DKIM1 (v= must come first when present), else the
   first. */
static const struct fl_dns_record *choose_record(const struct fl_dns_answer *a)
{
    for (size_t i = 0; i < a->count; i++) {
        const char *p = a->records[i].data;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "v=DKIM1", 7) == 0)
            return &a->records[i];
    }
    return &a->records[0];
}

/* RFC 6376 3.6.1: checks the chosen record once per key; the result
   is kept for every signature that uses the key. */
static void check_key(struct fl_dkim_key *k, const struct fl_dns_record *rec)
{
    k->checked = true;
    struct fl_buf why;
    fl_buf_init(&why);
    if (memchr(rec->data, '\0', rec->len) != NULL)
        fl_buf_puts(&why, "the key record contains a NUL byte");
    else if (fl_dkim_keyrec_parse(rec->data, rec->len, &k->rec, &why) == 0) {
        fl_buf_free(&why);
        return;
    }
    k->unusable = fl_buf_steal(&why);
    fl_buf_free(&why);
}

const char *fl_dkim_key_refuses(DKIM_SIGINFO *si, const struct fl_dkim_keyrec *rec,
                                struct fl_buf *why)
{
    if (rec->revoked) {
        fl_buf_puts(why, "its p= is empty");
        return "dkim.key_revoked";
    }
    if (!rec->email) {
        fl_buf_puts(why, "its s= lists neither email nor *");
        return "dkim.key_not_for_email";
    }
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    dkim_sig_getsignalg(si, &alg);
    enum fl_dkim_keytype type =
        alg == DKIM_SIGN_ED25519SHA256 ? FL_DKIM_KEY_ED25519 : FL_DKIM_KEY_RSA;
    const char *a = (const char *)dkim_sig_gettagvalue(si, 0, (u_char *)"a");
    if (rec->type != type) {
        fl_buf_printf(why, "its k=%s cannot verify a=%s", rec->keytype, a ? a : "?");
        return "dkim.key_algorithm";
    }
    unsigned int hash = alg == DKIM_SIGN_RSASHA1 ? FL_DKIM_HASH_SHA1 : FL_DKIM_HASH_SHA256;
    if ((rec->hashes & hash) == 0) {
        fl_buf_printf(why, "its h= does not list %s, the hash of a=%s",
                      hash == FL_DKIM_HASH_SHA1 ? "sha1" : "sha256", a ? a : "?");
        return "dkim.key_hash_not_allowed";
    }
    const char *i = (const char *)dkim_sig_gettagvalue(si, 0, (u_char *)"i");
    const char *d = (const char *)dkim_sig_gettagvalue(si, 0, (u_char *)"d");
    const char *at = i != NULL ? strrchr(i, '@') : NULL;
    if (rec->strict && at != NULL && d != NULL && strcasecmp(at + 1, d) != 0) {
        fl_buf_printf(why, "its t=s forbids i= in a subdomain of d=%s", d);
        return "dkim.key_subdomain";
    }
    return NULL;
}

/* libopendkim's key lookup: hands over the record our query got, after
   our checks, rewritten to the tags libopendkim needs ("v=DKIM1; k=;
   p=" with the FWS removed): its lenient parser never sees the record.
   NOTFOUND becomes DKIM_SIGERROR_NOKEY; ERROR leaves the signature
   unprocessed, and lib/dkim/dkim_eval.c reads why from the key and the
   signature. */
static DKIM_CBSTAT key_lookup(DKIM *dkim, DKIM_SIGINFO *si, u_char *buf, size_t buflen)
{
    struct fl_dkim_verifier *v = dkim_get_user_context(dkim);
    struct fl_dkim_sig *s = v != NULL ? find_sig(v, si) : NULL;
    if (s == NULL || s->key < 0)
        return DKIM_CBSTAT_ERROR;
    struct fl_dkim_key *k = &v->keys[s->key];
    const struct fl_dns_answer *a = fl_dkim_key_answer(k);
    if (a->status == FL_DNS_NXDOMAIN || a->status == FL_DNS_NODATA)
        return DKIM_CBSTAT_NOTFOUND;
    if (a->status != FL_DNS_OK || a->count == 0)
        return DKIM_CBSTAT_ERROR;
    if (!k->checked)
        check_key(k, choose_record(a));
    if (k->unusable != NULL)
        return DKIM_CBSTAT_ERROR;
    struct fl_buf why;
    fl_buf_init(&why);
    s->refused = fl_dkim_key_refuses(si, &k->rec, &why);
    if (s->refused != NULL) {
        s->refused_why = fl_buf_steal(&why);
        fl_buf_free(&why);
        return DKIM_CBSTAT_ERROR;
    }
    fl_buf_free(&why);
    int n = snprintf((char *)buf, buflen, "v=DKIM1; k=%s; p=%s",
                     k->rec.type == FL_DKIM_KEY_ED25519 ? "ed25519" : "rsa", k->rec.p);
    if (n < 0 || (size_t)n >= buflen) {
        /* Too long for libopendkim: lib/dkim/dkim_canon.c verifies it with the
           body hash kept since the first body chunk. */
        buf[0] = '\0';
        k->decided = k->big = true;
        return DKIM_CBSTAT_ERROR;
    }
    return DKIM_CBSTAT_CONTINUE;
}

/* Whether key k, answered already, is too long for libopendkim: the
   rewritten record of key_lookup does not fit its buffer. */
static void decide(struct fl_dkim_key *k)
{
    const struct fl_dns_answer *a = fl_dkim_key_answer(k);
    if (a->status == FL_DNS_OK && a->count > 0 && !k->checked)
        check_key(k, choose_record(a));
    k->decided = true;
    k->big = k->checked && k->unusable == NULL && k->rec.type == FL_DKIM_KEY_RSA &&
             strlen("v=DKIM1; k=rsa; p=") + strlen(k->rec.p) >= FL_DKIM_LIB_KEYBUF;
}

/* At the first body chunk (or end-of-message for an empty body): every
   RSA signature whose key is not known yet to fit libopendkim gets a body
   hash of our own (lib/dkim/dkim_canon.c), dropped as soon as the key answer
   shows it fits.  A key answered by then (the usual case with a warm
   cache) costs nothing. */
static void start_own_hashes(struct fl_dkim_verifier *v)
{
    if (v->own_started)
        return;
    v->own_started = true;
    for (size_t i = 0; i < v->nsigs; i++) {
        struct fl_dkim_sig *s = &v->sigs[i];
        dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
        dkim_sig_getsignalg(s->si, &alg);
        if (s->key < 0 || (alg != DKIM_SIGN_RSASHA256 && alg != DKIM_SIGN_RSASHA1))
            continue;
        struct fl_dkim_key *k = &v->keys[s->key];
        if (!k->decided && fl_dns_ready(k->q))
            decide(k);
        if (k->decided && !k->big)
            continue;
        dkim_canon_t hc = DKIM_CANON_SIMPLE, bc = DKIM_CANON_SIMPLE;
        dkim_sig_getcanons(s->si, &hc, &bc);
        const char *l = (const char *)dkim_sig_gettagvalue(s->si, 0, (u_char *)"l");
        s->own = fl_malloc(sizeof(*s->own));
        fl_dkim_body_init(s->own, bc == DKIM_CANON_RELAXED, l ? strtoll(l, NULL, 10) : -1,
                          alg == DKIM_SIGN_RSASHA1 ? EVP_sha1() : EVP_sha256());
    }
}

static void drop_own_hash(struct fl_dkim_sig *s)
{
    if (s->own != NULL)
        fl_dkim_body_clear(s->own);
    free(s->own);
    s->own = NULL;
}

/* Feeds a body chunk to our own hashes still needed. */
static void feed_own_hashes(struct fl_dkim_verifier *v, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < v->nsigs; i++) {
        struct fl_dkim_sig *s = &v->sigs[i];
        if (s->own == NULL)
            continue;
        struct fl_dkim_key *k = &v->keys[s->key];
        if (!k->decided && fl_dns_ready(k->q))
            decide(k);
        if (k->decided && !k->big)
            drop_own_hash(s);
        else
            fl_dkim_body_feed(s->own, p, len);
    }
}

/* Runs inside dkim_eoh, after the signatures are parsed: starts the key
   lookups so they run while the body arrives. */
static DKIM_CBSTAT prescreen(DKIM *dkim, DKIM_SIGINFO **sis, int n)
{
    struct fl_dkim_verifier *v = dkim_get_user_context(dkim);
    if (v == NULL || n <= 0 || v->sigs != NULL)
        return DKIM_CBSTAT_CONTINUE;
    v->nsigs = (size_t)n;
    v->sigs = fl_calloc(v->nsigs, sizeof(*v->sigs));
    v->keys = fl_calloc(v->nsigs, sizeof(*v->keys));
    for (size_t i = 0; i < v->nsigs; i++) {
        struct fl_dkim_sig *s = &v->sigs[i];
        s->si = sis[i];
        s->key = -1;
        s->libcanon = -1;
        if ((long long)i >= v->cfg->dkim_max_signatures) {
            s->ignored = true;
            dkim_sig_ignore(s->si);
            continue;
        }
        const char *d = (const char *)dkim_sig_getdomain(s->si);
        const char *sel = (const char *)dkim_sig_getselector(s->si);
        const struct fl_dkim_sigfield *f = fl_dkim_sigfield(v, i);
        if (f != NULL && f->strict != 0) {
            dkim_sig_ignore(s->si); /* refused by RFC 6376 3.5 / 6.1.1 */
            continue;
        }
        if (dkim_sig_geterror(s->si) != DKIM_SIGERROR_UNKNOWN || d == NULL || sel == NULL)
            continue; /* broken already: no key needed */
        struct fl_buf name;
        fl_buf_init(&name);
        fl_buf_printf(&name, "%s._domainkey.%s", sel, d);
        for (size_t j = 0; j < v->nkeys && s->key < 0; j++)
            if (strcasecmp(v->keys[j].qname, name.data) == 0)
                s->key = (int)j;
        if (s->key < 0) {
            struct fl_dkim_key *k = &v->keys[v->nkeys];
            k->q = fl_dns_start(v->ctx->dns, name.data, FL_DNS_TXT, v->deadline_ms);
            k->qname = fl_buf_steal(&name);
            s->key = (int)v->nkeys++;
        }
        fl_buf_free(&name);
    }
    return DKIM_CBSTAT_CONTINUE;
}

/* --- context --------------------------------------------------------------- */

struct fl_dkim_ctx *fl_dkim_ctx_create(struct fl_dns *dns, struct fl_buf *err)
{
    DKIM_LIB *lib = dkim_init(mem_alloc, mem_free);
    if (lib == NULL) {
        fl_buf_puts(err, "libopendkim could not be initialised (dkim_init)");
        return NULL;
    }
    if (!dkim_libfeature(lib, DKIM_FEATURE_SHA256) ||
        !dkim_libfeature(lib, DKIM_FEATURE_ED25519)) {
        dkim_close(lib);
        fl_buf_puts(err,
                    "libopendkim lacks rsa-sha256 or ed25519-sha256 (RFC 8463) support");
        return NULL;
    }
    unsigned int flags =
        DKIM_LIBFLAGS_DELAYSIGPROC | DKIM_LIBFLAGS_BADSIGHANDLES | DKIM_LIBFLAGS_FIXCRLF;
    uint64_t drift = FL_DKIM_MAX_SKEW_S;
    unsigned int minbits = 0;
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
            DKIM_STAT_OK ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_CLOCKDRIFT, &drift, sizeof(drift)) !=
            DKIM_STAT_OK ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits,
                     sizeof(minbits)) != DKIM_STAT_OK) {
        dkim_close(lib);
        fl_buf_puts(err, "libopendkim refused its options (dkim_options)");
        return NULL;
    }
    dkim_set_prescreen(lib, prescreen);
    dkim_set_key_lookup(lib, key_lookup);
    /* Key lookups never reach libopendkim's resolver; install lib/dns
       anyway so nothing in it can use the system resolver. */
    fl_dkim_dns_install(lib, dns);
    struct fl_dkim_ctx *ctx = fl_calloc(1, sizeof(*ctx));
    ctx->lib = lib;
    ctx->dns = dns;
    return ctx;
}

void fl_dkim_ctx_destroy(struct fl_dkim_ctx **ctxp)
{
    struct fl_dkim_ctx *ctx = *ctxp;
    if (ctx == NULL)
        return;
    *ctxp = NULL;
    dkim_close(ctx->lib);
    free(ctx);
}

/* --- one message ------------------------------------------------------------ */

struct fl_dkim_verifier *fl_dkim_new(struct fl_dkim_ctx *ctx, const struct fl_config *cfg,
                                     long long deadline_ms)
{
    struct fl_dkim_verifier *v = fl_calloc(1, sizeof(*v));
    v->ctx = ctx;
    v->cfg = cfg;
    v->deadline_ms = deadline_ms;
    v->mem_limit = cfg->message_memory_limit > 0 ? (size_t)cfg->message_memory_limit : 0;
    fl_buf_init(&v->field);
    fl_buf_init(&v->headers.data);
    fl_dkim_body_init(&v->simple, false, -1, NULL);
    fl_dkim_body_init(&v->relaxed, true, -1, NULL);
    DKIM_STAT st = DKIM_STAT_OK;
    v->dkim = dkim_verify(ctx->lib, NULL, v, &st);
    if (v->dkim == NULL)
        v->broken = true;
    else
        dkim_set_user_context(v->dkim, v);
    return v;
}

static void count_singleton(struct fl_dkim_verifier *v, const char *name, size_t len)
{
    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < FL_DKIM_NSINGLETONS; i++)
        if (strlen(fl_dkim_singletons[i]) == len &&
            strncasecmp(fl_dkim_singletons[i], name, len) == 0)
            v->hcount[i]++;
}

/* Appends s[0..len) turning each bare LF into CRLF (RFC 5322 line ends,
   which the header canonicalisations hash). */
static void append_crlf(struct fl_buf *b, const char *s, size_t len)
{
    /* line by line, not byte by byte: every header field passes here */
    const char *start = s, *end = s + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL) {
            fl_buf_append(b, s, (size_t)(end - s));
            break;
        }
        fl_buf_append(b, s, (size_t)(nl - s));
        if (nl == start || nl[-1] != '\r')
            fl_buf_putc(b, '\r');
        fl_buf_putc(b, '\n');
        s = nl + 1;
    }
}

static bool is_signature_field(const char *name, size_t len)
{
    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    return len == 14 && strncasecmp(name, "DKIM-Signature", 14) == 0;
}

/* The value of tag name in a DKIM-Signature tag list, folding whitespace
   removed, or NULL. */
static char *tag_value(const char *list, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ';');
        const char *eq = memchr(p, '=', end ? (size_t)(end - p) : strlen(p));
        if (eq != NULL) {
            const char *t = p;
            size_t tlen = (size_t)(eq - p);
            while (tlen > 0 && strchr(" \t\r\n", *t) != NULL) {
                t++;
                tlen--;
            }
            while (tlen > 0 && strchr(" \t\r\n", t[tlen - 1]) != NULL)
                tlen--;
            if (tlen == nlen && strncmp(t, name, nlen) == 0) {
                struct fl_buf val;
                fl_buf_init(&val);
                for (const char *c = eq + 1; *c != '\0' && *c != ';'; c++)
                    if (strchr(" \t\r\n", *c) == NULL)
                        fl_buf_putc(&val, *c);
                char *out = fl_buf_steal(&val);
                fl_buf_free(&val);
                return out;
            }
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* A signature beyond dkim_max_signatures, kept away from libopendkim. */
static void keep_excess(struct fl_dkim_verifier *v)
{
    const char *list = strchr(v->field.data, ':') + 1;
    v->excess = fl_realloc(v->excess, (v->nexcess + 1) * sizeof(*v->excess));
    struct fl_dkim_excess *e = &v->excess[v->nexcess++];
    e->d = tag_value(list, "d");
    e->s = tag_value(list, "s");
    e->a = tag_value(list, "a");
    e->i = tag_value(list, "i");
    e->b = tag_value(list, "b");
    if (e->b != NULL && strlen(e->b) > 8)
        e->b[8] = '\0'; /* RFC 6008: 8 characters tell signatures apart */
}

static int feed_field(struct fl_dkim_verifier *v, bool signature)
{
    if (v->broken || v->eoh_done)
        return v->broken ? -1 : 0;
    /* Our copy of the field (for keys too long for libopendkim) counts
       against the message's memory limit like libopendkim's own. */
    if (v->mem_limit > 0 && v->mem_now + v->field.len > v->mem_limit) {
        v->over_budget = v->broken = true;
        return -1;
    }
    fl_dkim_headers_add(&v->headers, v->field.data, v->field.len);
    v->mem_now += v->field.len;
    if (v->mem_now > v->mem_peak)
        v->mem_peak = v->mem_now;
    if (signature && v->nsigfields >= (size_t)v->cfg->dkim_max_signatures) {
        keep_excess(v);
        return 0;
    }
    DKIM_STAT st = dkim_header(v->dkim, (u_char *)v->field.data, v->field.len);
    if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL) {
        v->broken = true;
        return -1;
    }
    /* DKIM_STAT_SYNTAX: a field libopendkim will not use; for a
       DKIM-Signature, a tag list it could not parse, which it keeps as a
       bad signature (one per field, in order).  Our strict check of the
       same field decides first (lib/dkim/dkim_taglist.c). */
    if (signature) {
        v->sigfields =
            fl_realloc(v->sigfields, (v->nsigfields + 1) * sizeof(*v->sigfields));
        struct fl_dkim_sigfield *f = &v->sigfields[v->nsigfields++];
        const char *value = strchr(v->field.data, ':') + 1;
        struct fl_buf why;
        fl_buf_init(&why);
        f->lib_bad = st != DKIM_STAT_OK;
        f->hdr = v->headers.n - 1;
        f->strict = fl_dkim_signature_check(
            value, v->field.len - (size_t)(value - v->field.data), &why);
        f->why = f->strict != 0 ? fl_buf_steal(&why) : NULL;
        fl_buf_free(&why);
    }
    return 0;
}

const struct fl_dkim_sigfield *fl_dkim_sigfield(const struct fl_dkim_verifier *v, size_t i)
{
    return i < v->nsigfields ? &v->sigfields[i] : NULL;
}

int fl_dkim_header(struct fl_dkim_verifier *v, const char *name, const char *value)
{
    if (name == NULL || *name == '\0')
        return v->broken ? -1 : 0;
    fl_buf_reset(&v->field);
    fl_buf_puts(&v->field, name);
    fl_buf_puts(&v->field, ": ");
    append_crlf(&v->field, value ? value : "", value ? strlen(value) : 0);
    count_singleton(v, name, strlen(name));
    return feed_field(v, is_signature_field(name, strlen(name)));
}

int fl_dkim_header_field(struct fl_dkim_verifier *v, const char *field, size_t len)
{
    const char *colon = memchr(field, ':', len);
    if (len == 0 || colon == NULL)
        return v->broken ? -1 : 0;
    fl_buf_reset(&v->field);
    append_crlf(&v->field, field, len);
    count_singleton(v, field, (size_t)(colon - field));
    return feed_field(v, is_signature_field(field, (size_t)(colon - field)));
}

/* The body hash of signature s, computed by lib/dkim/dkim_libcanon.c:
   shared with every other signature of the same canonicalisation and
   hash, as libopendkim shares them. */
static void use_libcanon(struct fl_dkim_verifier *v, struct fl_dkim_sig *s)
{
    dkim_canon_t hc = DKIM_CANON_SIMPLE, bc = DKIM_CANON_SIMPLE;
    dkim_sig_getcanons(s->si, &hc, &bc);
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    dkim_sig_getsignalg(s->si, &alg);
    bool relaxed = bc == DKIM_CANON_RELAXED;
    const EVP_MD *md = alg == DKIM_SIGN_RSASHA1 ? EVP_sha1() : EVP_sha256();
    for (size_t j = 0; j < v->nlibcanon; j++)
        if (v->libcanon[j].relaxed == relaxed && v->libcanon[j].alg == md) {
            s->libcanon = (int)j;
            return;
        }
    v->libcanon = fl_realloc(v->libcanon, (v->nlibcanon + 1) * sizeof(*v->libcanon));
    fl_dkim_libcanon_init(&v->libcanon[v->nlibcanon], relaxed, md);
    s->libcanon = (int)v->nlibcanon++;
}

int fl_dkim_eoh(struct fl_dkim_verifier *v)
{
    if (!v->eoh_done) {
        v->eoh_done = true;
        if (!v->broken) {
            fl_dkim_dns_set_deadline(v->deadline_ms);
            DKIM_STAT st = dkim_eoh(v->dkim);
            if (st != DKIM_STAT_OK && st != DKIM_STAT_NOSIG)
                v->broken = true;
        }
        for (size_t i = 0; i < v->nsigs && !v->broken; i++)
            if (v->sigs[i].key >= 0 &&
                dkim_sig_gettagvalue(v->sigs[i].si, 0, (u_char *)"l") != NULL)
                v->count_body = true;
        /* l= is left to libopendkim: it tells a body shorter than l=
           (DKIM_SIGERROR_TOOLARGE_L) from what it hashed. */
        v->own_body = !v->broken && !v->count_body;
        if (v->own_body) {
            fl_dkim_libchunks_init(&v->chunks);
            for (size_t i = 0; i < v->nsigs; i++)
                if (v->sigs[i].key >= 0)
                    use_libcanon(v, &v->sigs[i]);
        }
    }
    if (v->broken)
        return -1;
    for (size_t i = 0; i < v->nsigs; i++)
        if (v->sigs[i].key >= 0)
            return 1;
    return 0;
}

/* Feeds a chunk to the hashes of lib/dkim/dkim_libcanon.c; their held
   words count against the message's memory limit like libopendkim's
   buffers.  Returns 0, or -1 over the limit. */
static int feed_libcanon(struct fl_dkim_verifier *v, const unsigned char *chunk, size_t len)
{
    if (v->nlibcanon == 0)
        return 0;
    size_t flen;
    const unsigned char *f = fl_dkim_libchunks_fix(&v->chunks, chunk, len, &flen);
    size_t mem = v->chunks.fixed.cap;
    for (size_t i = 0; i < v->nlibcanon; i++) {
        fl_dkim_libcanon_feed(&v->libcanon[i], f, flen);
        mem += v->libcanon[i].word.cap;
    }
    v->mem_now = v->mem_now - v->libcanon_mem + mem;
    v->libcanon_mem = mem;
    if (v->mem_now > v->mem_peak)
        v->mem_peak = v->mem_now;
    if (v->mem_limit > 0 && v->mem_now > v->mem_limit) {
        v->over_budget = v->broken = true;
        return -1;
    }
    return 0;
}

int fl_dkim_body(struct fl_dkim_verifier *v, const unsigned char *chunk, size_t len)
{
    if (!v->eoh_done)
        fl_dkim_eoh(v);
    if (v->broken)
        return -1;
    if (len == 0 || v->eom_done)
        return 0;
    if (v->count_body) {
        fl_dkim_body_feed(&v->simple, chunk, len);
        fl_dkim_body_feed(&v->relaxed, chunk, len);
    }
    start_own_hashes(v);
    feed_own_hashes(v, chunk, len);
    if (v->own_body)
        return feed_libcanon(v, chunk, len);
    DKIM_STAT st = dkim_body(v->dkim, (u_char *)chunk, len);
    if (st != DKIM_STAT_OK) {
        v->broken = true;
        return -1;
    }
    return 0;
}

int fl_dkim_eom(struct fl_dkim_verifier *v, const struct fl_result **results_r,
                size_t *n_r)
{
    if (!v->eom_done) {
        if (!v->eoh_done)
            fl_dkim_eoh(v);
        v->eom_done = true;
        if (!v->broken && v->nsigs > 0) {
            fl_dkim_dns_set_deadline(v->deadline_ms);
            _Bool testkey = 0;
            /* Verifies every signature not ignored; the returned status
               is about the one libopendkim would pick, and the results
               are read per signature instead. */
            DKIM_STAT st = dkim_eom(v->dkim, &testkey);
            if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL ||
                st == DKIM_STAT_INVALID)
                v->broken = true;
        }
        if (!v->broken)
            start_own_hashes(v); /* an empty body */
        for (size_t i = 0; i < v->nlibcanon; i++)
            fl_dkim_libcanon_finish(&v->libcanon[i]);
        fl_dkim_body_finish(&v->simple);
        fl_dkim_body_finish(&v->relaxed);
        for (size_t i = 0; i < v->nsigs; i++)
            if (v->sigs[i].own != NULL)
                fl_dkim_body_finish(v->sigs[i].own);
        fl_dkim_evaluate(v);
    }
    *results_r = v->results;
    *n_r = v->nresults;
    return v->broken ? -1 : 0;
}

size_t fl_dkim_signatures(const struct fl_dkim_verifier *v,
                          const struct fl_dkim_signature **sigs_r)
{
    *sigs_r = v->info;
    return v->info != NULL ? v->nsigs + v->nexcess : 0;
}

void fl_dkim_memory(const struct fl_dkim_verifier *v, size_t *now_r, size_t *peak_r)
{
    *now_r = v->mem_now;
    *peak_r = v->mem_peak;
}

void fl_dkim_free(struct fl_dkim_verifier **vp)
{
    struct fl_dkim_verifier *v = *vp;
    if (v == NULL)
        return;
    *vp = NULL;
    if (v->dkim != NULL)
        dkim_free(v->dkim);
    for (size_t i = 0; i < v->nkeys; i++) {
        fl_dns_query_free(&v->keys[i].q);
        free(v->keys[i].qname);
        free(v->keys[i].unusable);
        fl_dkim_keyrec_clear(&v->keys[i].rec);
    }
    free(v->keys);
    for (size_t i = 0; i < v->nsigs; i++) {
        free(v->sigs[i].refused_why);
        drop_own_hash(&v->sigs[i]);
    }
    free(v->sigs);
    for (size_t i = 0; i < v->nlibcanon; i++)
        fl_dkim_libcanon_clear(&v->libcanon[i]);
    free(v->libcanon);
    fl_dkim_libchunks_clear(&v->chunks);
    for (size_t i = 0; i < v->nsigfields; i++)
        free(v->sigfields[i].why);
    free(v->sigfields);
    for (size_t i = 0; i < v->nexcess; i++) {
        free(v->excess[i].d);
        free(v->excess[i].s);
        free(v->excess[i].a);
        free(v->excess[i].i);
        free(v->excess[i].b);
    }
    free(v->excess);
    for (size_t i = 0; i < v->nresults; i++)
        fl_result_clear(&v->results[i]);
    free(v->results);
    free(v->info);
    for (size_t i = 0; i < v->nstrings; i++)
        free(v->strings[i]);
    free(v->strings);
    fl_buf_free(&v->field);
    fl_dkim_headers_clear(&v->headers);
    free(v);
}
