/* arc: see arc.h.  RFC 8617 4.1 (the three fields), 4.2.1 (instances),
   5.1.1 (the ARC-Seal hash input), 5.2 (validator actions); RFC 6376
   3.4, 3.7 (through lib/dkim/dkim_canon.c); RFC 8301 (rsa-sha256, keys of
   1024 bits at least); RFC 8463 (ed25519-sha256). */
#include "lib/arc/arc.h"
#include "lib/arc/arc_keys.h"
#include "lib/core/buf.h"
#include "lib/dkim/dkim_canon.h"
#include "lib/dkim/dkim_taglist.h"
#include "lib/core/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

enum { F_AAR, F_AMS, F_AS, F_N };
static const char *const field_names[F_N] = {
    "ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"};
static const char *const sig_names[F_N] = {"AAR", "AMS", "AS"};

/* A key lookup: a distinct s._domainkey.d name. */
struct arc_key {
    char *qname;
    struct fl_dns_query *q;
    const struct fl_dns_answer *ans;
    bool checked;
    struct fl_dkim_keyrec rec;
    char *unusable; /* key syntax error, or NULL */
    EVP_PKEY *pkey;  /* p= decoded, once (an AMS and an AS often share a key) */
    bool decoded;
};

/* A body hash: one per distinct body canonicalisation and l=. */
struct arc_body {
    bool relaxed;
    long long limit;
    struct fl_dkim_body b;
};

struct arc_set {
    long hdr[F_N]; /* index into headers, -1 when absent */
    struct fl_dkim_taglist tl[F_N]; /* AMS and AS tag lists */
    bool parsed[F_N];
    const char *value[F_N]; /* where the tag list starts */
    int key[F_N];           /* index into keys, -1 */
    int body;               /* AMS: index into bodies, -1 */
    bool hc_relaxed;        /* AMS header canonicalisation */
    bool ed[F_N];           /* a=ed25519-sha256 */
    char *bad[F_N];         /* why the signature cannot verify, found at eoh */
    char *str[8];           /* copies behind rep */
    struct fl_buf why[F_N]; /* this and canon: made at eoh for sets 1..nsets */
    struct fl_buf canon[F_N]; /* relaxed, with CRLF, for the seals above (5.1.1) */
    struct fl_arc_set_report rep;
};

struct fl_arc {
    struct fl_dns *dns;
    struct fl_arc_keys *key_cache; /* the daemon's, or NULL */
    long long deadline_ms;
    struct fl_dkim_headers headers;
    struct fl_buf field;
    size_t *arc;       /* indices of the ARC fields in headers */
    int *arc_kind;
    size_t narc;
    bool eoh_done, eom_done;
    size_t mem_limit;
    bool over_budget; /* the header copy outgrew mem_limit */
    int body_wanted;
    char *broken; /* the chain's structure is invalid: why */
    size_t nsets;
    /* 1-based, FL_ARC_MAX_SETS + 1 of them; made at end of headers when
       the message has ARC fields (NULL for most: 22 kB per session under
       load was a third of the daemon's memory at 1000 sessions) */
    struct arc_set *sets;
    struct arc_key *keys;
    size_t nkeys;
    struct arc_body *bodies;
    size_t nbodies;
    enum fl_res chain;
    int oldest_pass;
    int failed_instance;
    const char *failed_sig; /* "AMS", "AS" or NULL (structure) */
    char *failed_why;
    struct fl_result result;
};

struct fl_arc *fl_arc_new(struct fl_dns *dns, struct fl_arc_keys *keys, long long deadline_ms,
                          size_t mem_limit)
{
    struct fl_arc *a = fl_calloc(1, sizeof(*a));
    a->mem_limit = mem_limit;
    a->dns = dns;
    a->key_cache = keys;
    a->deadline_ms = deadline_ms;
    fl_buf_init(&a->field);
    fl_buf_init(&a->headers.data);
    return a;
}

static int field_kind(const char *name)
{
    for (int k = 0; k < F_N; k++)
        if (strcasecmp(name, field_names[k]) == 0)
            return k;
    return -1;
}

void fl_arc_header(struct fl_arc *a, const char *name, const char *value)
{
    if (a->eoh_done || a->over_budget || name == NULL || *name == '\0')
        return;
    if (value == NULL)
        value = "";
    fl_buf_reset(&a->field);
    fl_buf_puts(&a->field, name);
    fl_buf_puts(&a->field, ": ");
    for (const char *p = value, *nl; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n'); /* folds: a bare LF becomes CRLF */
        if (nl == NULL) {
            fl_buf_puts(&a->field, p);
            break;
        }
        size_t n = (size_t)(nl - p);
        fl_buf_append(&a->field, p, n > 0 && nl[-1] == '\r' ? n - 1 : n);
        fl_buf_append(&a->field, "\r\n", 2);
    }
    if (a->mem_limit > 0 && a->headers.data.len + a->field.len > a->mem_limit) {
        a->over_budget = true; /* stop copying; fl_arc_eom says why */
        fl_dkim_headers_clear(&a->headers);
        return;
    }
    int kind = field_kind(name);
    if (kind >= 0) {
        a->arc = fl_realloc(a->arc, (a->narc + 1) * sizeof(*a->arc));
        a->arc_kind = fl_realloc(a->arc_kind, (a->narc + 1) * sizeof(*a->arc_kind));
        a->arc[a->narc] = a->headers.n;
        a->arc_kind[a->narc++] = kind;
    }
    fl_dkim_headers_add(&a->headers, a->field.data, a->field.len);
}

/* --- end of headers: the sets and their structure (5.2 steps 1-3) ------ */

static void set_broken(struct fl_arc *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_broken(struct fl_arc *a, const char *fmt, ...)
{
    if (a->broken != NULL)
        return;
    struct fl_buf b;
    fl_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    fl_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    a->broken = fl_buf_steal(&b);
    fl_buf_free(&b); /* steal re-initialises it */
}

static bool is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* An instance tag value: 1*DIGIT, 1..50 (4.2.1); 0 if invalid, 51 if
   above the limit. */
static int instance_value(const char *v, size_t n)
{
    if (n == 0 || n > 3)
        return n > 3 && strspn(v, "0123456789") >= n ? FL_ARC_MAX_SETS + 1 : 0;
    int i = 0;
    for (size_t k = 0; k < n; k++) {
        if (v[k] < '0' || v[k] > '9')
            return 0;
        i = i * 10 + (v[k] - '0');
    }
    return i > FL_ARC_MAX_SETS ? FL_ARC_MAX_SETS + 1 : i;
}

/* The value of an AAR: "i=" instance ";" then the RFC 8601 payload. */
static int aar_instance(const char *v, size_t len, const char **payload_r)
{
    size_t p = 0;
    while (p < len && is_fws(v[p]))
        p++;
    if (p >= len || (v[p] != 'i' && v[p] != 'I'))
        return 0;
    p++;
    while (p < len && is_fws(v[p]))
        p++;
    if (p >= len || v[p] != '=')
        return 0;
    p++;
    while (p < len && is_fws(v[p]))
        p++;
    size_t d = p;
    while (p < len && v[p] >= '0' && v[p] <= '9')
        p++;
    int i = instance_value(v + d, p - d);
    while (p < len && is_fws(v[p]))
        p++;
    if (p >= len || v[p] != ';')
        return 0;
    *payload_r = v + p + 1;
    return i;
}

static char *tag_copy(const struct fl_dkim_taglist *tl, const char *name)
{
    const struct fl_dkim_tag *t = fl_dkim_taglist_get(tl, name);
    struct fl_buf b;
    fl_buf_init(&b);
    for (size_t k = 0; t != NULL && k < t->value_len; k++)
        if (!is_fws(t->value[k]))
            fl_buf_putc(&b, t->value[k]);
    char *v = fl_buf_steal(&b);
    fl_buf_free(&b);
    return v;
}

static bool tag_is(const struct fl_dkim_taglist *tl, const char *name, const char *want)
{
    const struct fl_dkim_tag *t = fl_dkim_taglist_get(tl, name);
    return t != NULL && t->value_len == strlen(want) &&
           strncasecmp(t->value, want, t->value_len) == 0;
}

/* Reads one ARC field into its set.  Returns its instance, or 0 after
   set_broken. */
static int read_field(struct fl_arc *a, size_t idx, int kind)
{
    size_t h = a->arc[idx];
    const char *f = a->headers.data.data + a->headers.start[h];
    size_t len = a->headers.len[h];
    const char *colon = memchr(f, ':', len);
    const char *v = colon + 1;
    size_t vlen = len - (size_t)(v - f);
    int inst = 0;
    struct fl_dkim_taglist tl = {0};
    if (kind == F_AAR) {
        const char *payload;
        inst = aar_instance(v, vlen, &payload);
    } else {
        struct fl_buf why;
        fl_buf_init(&why);
        if (fl_dkim_taglist_parse(v, vlen, &tl, &why) != 0) {
            set_broken(a, "%s field %zu: %s", field_names[kind], idx + 1, why.data);
            fl_buf_free(&why);
            fl_dkim_taglist_free(&tl);
            return 0;
        }
        fl_buf_free(&why);
        const struct fl_dkim_tag *t = fl_dkim_taglist_get(&tl, "i");
        inst = t != NULL ? instance_value(t->value, t->value_len) : 0;
    }
    if (inst == 0 || inst > FL_ARC_MAX_SETS) {
        fl_dkim_taglist_free(&tl);
        if (inst > FL_ARC_MAX_SETS)
            set_broken(a, "%s with i= above %d: more than %d ARC sets", field_names[kind],
                       FL_ARC_MAX_SETS, FL_ARC_MAX_SETS);
        else
            set_broken(a, "%s field without a valid instance i=", field_names[kind]);
        return 0;
    }
    struct arc_set *s = &a->sets[inst];
    if (s->hdr[kind] >= 0) {
        fl_dkim_taglist_free(&tl);
        set_broken(a, "two %s fields with i=%d", field_names[kind], inst);
        return 0;
    }
    s->hdr[kind] = (long)h;
    s->value[kind] = v;
    if (kind != F_AAR) {
        s->tl[kind] = tl;
        s->parsed[kind] = true;
    }
    return inst;
}

static int key_index(struct fl_arc *a, const char *s, const char *d)
{
    if (*s == '\0' || *d == '\0' || strlen(s) + strlen(d) > 240)
        return -1;
    struct fl_buf q;
    fl_buf_init(&q);
    fl_buf_printf(&q, "%s._domainkey.%s", s, d);
    for (size_t i = 0; i < a->nkeys; i++)
        if (strcasecmp(a->keys[i].qname, q.data) == 0) {
            fl_buf_free(&q);
            return (int)i;
        }
    a->keys = fl_realloc(a->keys, (a->nkeys + 1) * sizeof(*a->keys));
    struct arc_key *k = &a->keys[a->nkeys];
    memset(k, 0, sizeof(*k));
    k->qname = fl_buf_steal(&q);
    fl_buf_free(&q);
    k->q = a->dns ? fl_dns_start(a->dns, k->qname, FL_DNS_TXT, a->deadline_ms) : NULL;
    return (int)a->nkeys++;
}

static int body_index(struct fl_arc *a, bool relaxed, long long limit)
{
    for (size_t i = 0; i < a->nbodies; i++)
        if (a->bodies[i].relaxed == relaxed && a->bodies[i].limit == limit)
            return (int)i;
    a->bodies = fl_realloc(a->bodies, (a->nbodies + 1) * sizeof(*a->bodies));
    struct arc_body *b = &a->bodies[a->nbodies];
    b->relaxed = relaxed;
    b->limit = limit;
    fl_dkim_body_init(&b->b, relaxed, limit, EVP_sha256());
    return (int)a->nbodies++;
}

static void mark_bad(struct arc_set *s, int kind, const char *why)
{
    if (s->bad[kind] == NULL)
        s->bad[kind] = fl_strdup(why);
}

/* The tags of one AMS or AS (RFC 8617 4.1.2, 4.1.3) and its lookups. */
static void prepare_sig(struct fl_arc *a, struct arc_set *s, int kind)
{
    const struct fl_dkim_taglist *tl = &s->tl[kind];
    static const char *const need_ams[] = {"a", "b", "bh", "d", "h", "s", NULL};
    static const char *const need_as[] = {"a", "b", "cv", "d", "s", NULL};
    for (const char *const *t = kind == F_AMS ? need_ams : need_as; *t; t++)
        if (fl_dkim_taglist_get(tl, *t) == NULL) {
            char why[64];
            snprintf(why, sizeof(why), "no %s= tag", *t);
            mark_bad(s, kind, why);
        }
    if (tag_is(tl, "a", "ed25519-sha256"))
        s->ed[kind] = true;
    else if (!tag_is(tl, "a", "rsa-sha256"))
        mark_bad(s, kind, "a= is neither rsa-sha256 nor ed25519-sha256");
    if (kind == F_AMS) {
        char *h = tag_copy(tl, "h");
        for (char *p = h, *e; p != NULL && *p; p = e ? e + 1 : NULL) {
            e = strchr(p, ':');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n == 8 && strncasecmp(p, "arc-seal", 8) == 0)
                mark_bad(s, kind, "h= names ARC-Seal (RFC 8617 4.1.2)");
            if (e == NULL)
                break;
        }
        free(h);
        char *c = tag_copy(tl, "c");
        bool hr = false, br = false;
        char *slash = strchr(c, '/');
        if (slash)
            *slash = '\0';
        if (*c && strcasecmp(c, "relaxed") == 0)
            hr = true;
        else if (*c && strcasecmp(c, "simple") != 0)
            mark_bad(s, kind, "unknown header canonicalisation in c=");
        if (slash && strcasecmp(slash + 1, "relaxed") == 0)
            br = true;
        else if (slash && strcasecmp(slash + 1, "simple") != 0)
            mark_bad(s, kind, "unknown body canonicalisation in c=");
        free(c);
        char *l = tag_copy(tl, "l");
        long long limit = -1;
        if (*l) {
            char *end;
            limit = strtoll(l, &end, 10);
            if (*end || limit < 0)
                mark_bad(s, kind, "l= is not a number");
        }
        free(l);
        s->hc_relaxed = hr;
        if (s->bad[kind] == NULL) {
            s->body = body_index(a, br, limit);
            a->body_wanted = 1;
        }
    } else if (fl_dkim_taglist_get(tl, "h") != NULL) {
        mark_bad(s, kind, "h= in an ARC-Seal (RFC 8617 4.1.3)");
    }
    char *d = tag_copy(tl, "d"), *sel = tag_copy(tl, "s");
    s->str[kind * 2] = d;
    s->str[kind * 2 + 1] = sel;
    if (s->bad[kind] == NULL)
        s->key[kind] = key_index(a, sel, d);
}

int fl_arc_eoh(struct fl_arc *a)
{
    if (a->eoh_done)
        return a->body_wanted;
    a->eoh_done = true;
    if (a->over_budget)
        return 0;
    int n = 0;
    if (a->narc > 0) {
        a->sets = fl_calloc(FL_ARC_MAX_SETS + 1, sizeof(*a->sets));
        for (size_t i = 0; i <= FL_ARC_MAX_SETS; i++)
            for (int k = 0; k < F_N; k++)
                a->sets[i].hdr[k] = a->sets[i].key[k] = -1;
    }
    for (size_t i = 0; i < a->narc; i++) {
        int inst = read_field(a, i, a->arc_kind[i]);
        if (inst > n)
            n = inst;
    }
    a->nsets = (size_t)n;
    if (a->narc == 0) /* unsealed: the copy of the headers is not needed */
        fl_dkim_headers_clear(&a->headers);
    /* The sets' buffers, for the sets found only: 2 x 3 x 51 buffers made
       and freed per message were a tenth of the daemon's malloc work. */
    for (int i = 1; i <= n; i++) {
        struct arc_set *s = &a->sets[i];
        for (int k = 0; k < F_N; k++) {
            fl_buf_init(&s->why[k]);
            fl_buf_init(&s->canon[k]);
        }
        s->rep.instance = i;
        s->body = -1;
        if (s->hdr[F_AAR] < 0 && s->hdr[F_AMS] < 0 && s->hdr[F_AS] < 0) {
            set_broken(a, "no ARC set with i=%d (the instances have a gap)", i);
            continue;
        }
        for (int k = 0; k < F_N; k++)
            if (s->hdr[k] < 0)
                set_broken(a, "the ARC set i=%d has no %s", i, field_names[k]);
        if (s->parsed[F_AS])
            s->str[6] = tag_copy(&s->tl[F_AS], "cv");
    }
    /* 5.2 step 2: the newest seal says the chain already failed */
    if (n > 0 && a->sets[n].str[6] != NULL && strcasecmp(a->sets[n].str[6], "fail") == 0) {
        free(a->broken);
        a->broken = NULL;
        set_broken(a, "the newest ARC-Seal (i=%d) says cv=fail", n);
    }
    for (int i = 1; i <= n; i++) {
        const char *cv = a->sets[i].str[6];
        if (cv == NULL)
            continue;
        if (strcasecmp(cv, "fail") == 0)
            set_broken(a, "the ARC-Seal i=%d says cv=fail", i);
        else if (i == 1 && strcasecmp(cv, "none") != 0)
            set_broken(a, "the ARC-Seal i=1 says cv=%s, not cv=none", cv);
        else if (i > 1 && strcasecmp(cv, "pass") != 0)
            set_broken(a, "the ARC-Seal i=%d says cv=%s, not cv=pass", i, cv);
    }
    if (a->broken != NULL)
        return 0;
    for (int i = n; i >= 1; i--) {
        prepare_sig(a, &a->sets[i], F_AMS);
        prepare_sig(a, &a->sets[i], F_AS);
    }
    return a->body_wanted;
}

void fl_arc_body(struct fl_arc *a, const unsigned char *chunk, size_t len)
{
    if (!a->eoh_done)
        fl_arc_eoh(a);
    for (size_t i = 0; i < a->nbodies; i++)
        fl_dkim_body_feed(&a->bodies[i].b, chunk, len);
}

/* --- end of message: the signatures ------------------------------------- */

/* RFC 6376 3.6.2.2: of several records, the first with v=DKIM1. */
static const struct fl_dns_record *choose_record(const struct fl_dns_answer *ans)
{
    for (size_t i = 0; i < ans->count; i++) {
        const char *p = ans->records[i].data;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "v=DKIM1", 7) == 0)
            return &ans->records[i];
    }
    return &ans->records[0];
}

/* The key, checked once; NULL with the result and why when unusable. */
static const struct fl_dkim_keyrec *get_key(struct fl_arc *a, int ki, enum fl_res *res,
                                            struct fl_buf *why)
{
    struct arc_key *k = &a->keys[ki];
    if (k->q == NULL) { /* no resolver */
        *res = FL_RES_TEMPERROR;
        fl_buf_printf(why, "key %s: not looked up (no resolver)", k->qname);
        return NULL;
    }
    if (k->ans == NULL)
        k->ans = fl_dns_wait(k->q);
    if (k->ans->status != FL_DNS_OK || k->ans->count == 0) {
        bool gone = k->ans->status == FL_DNS_NXDOMAIN || k->ans->status == FL_DNS_NODATA ||
                    k->ans->status == FL_DNS_OK;
        *res = gone ? FL_RES_FAIL : FL_RES_TEMPERROR;
        fl_buf_printf(why, "key %s: ", k->qname);
        if (gone)
            fl_buf_puts(why, "no key published");
        else
            fl_dns_describe(k->ans, why);
        return NULL;
    }
    if (!k->checked) {
        k->checked = true;
        const struct fl_dns_record *r = choose_record(k->ans);
        struct fl_buf w;
        fl_buf_init(&w);
        if (memchr(r->data, '\0', r->len) != NULL)
            fl_buf_puts(&w, "the key record contains a NUL byte");
        else if (fl_dkim_keyrec_parse(r->data, r->len, &k->rec, &w) == 0)
            fl_buf_reset(&w);
        if (w.len > 0)
            k->unusable = fl_buf_steal(&w);
        fl_buf_free(&w);
    }
    *res = FL_RES_FAIL;
    if (k->unusable != NULL) {
        fl_buf_printf(why, "key %s: %s", k->qname, k->unusable);
        return NULL;
    }
    if (k->rec.revoked) {
        fl_buf_printf(why, "key %s: revoked (empty p=)", k->qname);
        return NULL;
    }
    if (!(k->rec.hashes & FL_DKIM_HASH_SHA256)) {
        fl_buf_printf(why, "key %s: h= does not allow sha256", k->qname);
        return NULL;
    }
    return &k->rec;
}

/* Verifies b= over input with key.  Returns FL_RES_PASS or FAIL (why). */
static enum fl_res crypto_verify(struct fl_arc *a, const struct arc_set *s, int kind,
                                 const struct fl_dkim_keyrec *key, const struct fl_buf *input,
                                 struct fl_buf *why)
{
    const struct fl_dkim_tag *bt = fl_dkim_taglist_get(&s->tl[kind], "b");
    const char *qname = a->keys[s->key[kind]].qname;
    if (key->type != (s->ed[kind] ? FL_DKIM_KEY_ED25519 : FL_DKIM_KEY_RSA)) {
        fl_buf_printf(why, "key %s: k=%s does not match a=", qname, key->keytype);
        return FL_RES_FAIL;
    }
    struct arc_key *k = &a->keys[s->key[kind]];
    if (!k->decoded) {
        k->decoded = true;
        k->pkey = fl_arc_key_get(a->key_cache, key->p, s->ed[kind]);
    }
    size_t siglen = 0;
    unsigned char *sig = fl_dkim_unbase64(bt->value, bt->value_len, &siglen);
    EVP_PKEY *pk = k->pkey;
    enum fl_res res = FL_RES_FAIL;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (pk == NULL) {
        fl_buf_printf(why, "key %s: p= is not a usable %s public key", qname,
                      s->ed[kind] ? "Ed25519" : "RSA");
    } else if (!s->ed[kind] && EVP_PKEY_get_bits(pk) < 1024) {
        fl_buf_printf(why, "key %s: RSA key of %d bits, under 1024 (RFC 8301)", qname,
                      EVP_PKEY_get_bits(pk));
    } else if (sig == NULL) {
        fl_buf_puts(why, "b= is not base64");
    } else if (s->ed[kind]) {
        unsigned char h[32];
        unsigned int hl = 0;
        if (EVP_Digest(input->data, input->len, h, &hl, EVP_sha256(), NULL) == 1 &&
            EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
            EVP_DigestVerify(c, sig, siglen, h, hl) == 1)
            res = FL_RES_PASS;
    } else if (EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pk) == 1 &&
               EVP_DigestVerify(c, sig, siglen, (const unsigned char *)input->data,
                                input->len) == 1) {
        res = FL_RES_PASS;
    }
    if (res != FL_RES_PASS && why->len == 0)
        fl_buf_printf(why, "the signature does not verify with key %s", qname);
    EVP_MD_CTX_free(c);
    free(sig);
    return res;
}

static const char *field_at(const struct fl_arc *a, long h, size_t *len_r)
{
    *len_r = a->headers.len[h];
    return a->headers.data.data + a->headers.start[h];
}

static enum fl_res verify_ams(struct fl_arc *a, struct arc_set *s, struct fl_buf *why)
{
    enum fl_res res;
    const struct fl_dkim_keyrec *key = get_key(a, s->key[F_AMS], &res, why);
    if (key == NULL)
        return res;
    struct arc_body *b = &a->bodies[s->body];
    fl_dkim_body_finish(&b->b);
    const struct fl_dkim_tag *bh = fl_dkim_taglist_get(&s->tl[F_AMS], "bh");
    size_t bhlen = 0;
    unsigned char *want = fl_dkim_unbase64(bh->value, bh->value_len, &bhlen);
    bool body_ok = want != NULL && b->b.digest_len > 0 && bhlen == b->b.digest_len &&
                   memcmp(want, b->b.digest, bhlen) == 0;
    free(want);
    if (!body_ok) {
        fl_buf_puts(why, "body hash (bh=) does not match: the body changed after sealing");
        return FL_RES_FAIL;
    }
    struct fl_buf input;
    fl_buf_init(&input);
    if (fl_dkim_canon_header_input(&a->headers, (size_t)s->hdr[F_AMS], s->hc_relaxed,
                                   &s->tl[F_AMS], s->value[F_AMS], &input) != 0) {
        fl_buf_free(&input);
        fl_buf_puts(why, "the signature field cannot be read");
        return FL_RES_FAIL;
    }
    res = crypto_verify(a, s, F_AMS, key, &input, why);
    fl_buf_free(&input);
    return res;
}

/* RFC 8617 5.1.1: the ARC fields of sets 1..i in order AAR, AMS, AS,
   relaxed, the AS of set i last with b= empty and no CRLF. */
static enum fl_res verify_as(struct fl_arc *a, int inst, struct fl_buf *why)
{
    struct arc_set *s = &a->sets[inst];
    enum fl_res res;
    const struct fl_dkim_keyrec *key = get_key(a, s->key[F_AS], &res, why);
    if (key == NULL)
        return res;
    struct fl_buf input;
    fl_buf_init(&input);
    size_t len;
    for (int i = 1; i <= inst; i++)
        for (int k = 0; k < F_N; k++) {
            const char *f = field_at(a, a->sets[i].hdr[k], &len);
            struct fl_buf *c = &a->sets[i].canon[k];
            if (i < inst || k != F_AS) {
                if (c->len == 0) /* each field once, though N seals cover it */
                    fl_dkim_canon_field(c, f, len, true, true);
                fl_buf_append(&input, c->data, c->len);
            } else
                fl_dkim_canon_sigfield(&input, f, len, s->value[F_AS],
                                       fl_dkim_taglist_get(&s->tl[F_AS], "b"), true);
        }
    res = crypto_verify(a, s, F_AS, key, &input, why);
    fl_buf_free(&input);
    return res;
}

static void fail_at(struct fl_arc *a, int inst, int kind, enum fl_res res)
{
    if (a->failed_instance != 0)
        return;
    a->failed_instance = inst;
    a->failed_sig = sig_names[kind];
    struct arc_set *s = &a->sets[inst];
    struct fl_buf b;
    fl_buf_init(&b);
    fl_buf_printf(&b, "%s i=%d (d=%s s=%s) %s: %s", field_names[kind], inst,
                  s->str[kind * 2] ? s->str[kind * 2] : "",
                  s->str[kind * 2 + 1] ? s->str[kind * 2 + 1] : "",
                  res == FL_RES_TEMPERROR ? "could not be verified" : "failed",
                  s->why[kind].data);
    a->failed_why = fl_buf_steal(&b);
    fl_buf_free(&b);
}

static void verify_chain(struct fl_arc *a)
{
    int n = (int)a->nsets;
    enum fl_res ams[FL_ARC_MAX_SETS + 1] = {0}, as[FL_ARC_MAX_SETS + 1] = {0};
    for (int i = n; i >= 1; i--) {
        struct arc_set *s = &a->sets[i];
        for (int k = F_AMS; k <= F_AS; k++) {
            enum fl_res *r = k == F_AMS ? &ams[i] : &as[i];
            if (s->bad[k] != NULL) {
                fl_buf_puts(&s->why[k], s->bad[k]);
                *r = FL_RES_FAIL;
            } else if (s->key[k] < 0) {
                fl_buf_puts(&s->why[k], "no usable d= and s=");
                *r = FL_RES_FAIL;
            } else {
                *r = k == F_AMS ? verify_ams(a, s, &s->why[k]) : verify_as(a, i, &s->why[k]);
            }
            if (k == F_AMS)
                s->rep.ams = *r;
            else
                s->rep.as = *r;
        }
    }
    /* 5.2 step 4: the newest AMS */
    if (ams[n] != FL_RES_PASS) {
        fail_at(a, n, F_AMS, ams[n]);
        a->chain = ams[n];
        return;
    }
    /* step 5: oldest-pass */
    a->oldest_pass = 0;
    for (int i = n - 1; i >= 1; i--)
        if (ams[i] != FL_RES_PASS) {
            a->oldest_pass = i + 1;
            break;
        }
    /* step 6: every seal, newest first */
    for (int i = n; i >= 1; i--)
        if (as[i] != FL_RES_PASS) {
            fail_at(a, i, F_AS, as[i]);
            a->chain = as[i];
            return;
        }
    a->chain = FL_RES_PASS;
}

static void fill_reports(struct fl_arc *a)
{
    for (size_t i = 1; i <= a->nsets; i++) {
        struct arc_set *s = &a->sets[i];
        struct fl_arc_set_report *r = &s->rep;
        r->instance = (int)i;
        r->ams_domain = s->str[2] ? s->str[2] : "";
        r->ams_selector = s->str[3] ? s->str[3] : "";
        r->sealer = s->str[4] ? s->str[4] : "";
        r->as_selector = s->str[5] ? s->str[5] : "";
        r->cv = s->str[6] ? s->str[6] : "";
        r->ams_why = s->why[F_AMS].len ? s->why[F_AMS].data : NULL;
        r->as_why = s->why[F_AS].len ? s->why[F_AS].data : NULL;
    }
}

void fl_arc_eom(struct fl_arc *a, const char *client_ip, struct fl_result *out)
{
    if (!a->eom_done) {
        a->eom_done = true;
        fl_arc_eoh(a);
        struct fl_result *r = &a->result;
        if (a->over_budget) {
            a->chain = FL_RES_TEMPERROR;
        } else if (a->narc == 0) {
            a->chain = FL_RES_NONE;
        } else if (a->broken != NULL) {
            a->chain = FL_RES_FAIL;
            a->failed_why = fl_strdup(a->broken);
        } else {
            verify_chain(a);
        }
        fill_reports(a);
        fl_result_init(r, "arc", a->chain);
        if (a->over_budget) {
            fl_result_set_reason(r, "internal.over_budget", "not verified",
                                 "the header fields exceed message_memory_limit: the ARC "
                                 "chain was not verified");
            r->fault = FL_FAULT_RECEIVER;
        } else if (a->chain == FL_RES_FAIL) {
            fl_result_set_reason(r, a->failed_sig ? "arc.signature" : "arc.structure",
                                 a->failed_why,
                                 "the ARC chain is broken: the intermediary named must fix "
                                 "its sealing (or the message was altered after it)");
            r->fault = FL_FAULT_SENDER;
        } else if (a->chain == FL_RES_TEMPERROR) {
            fl_result_set_reason(r, "arc.dns", a->failed_why,
                                 "a sealer's key could not be fetched; a retry may pass");
            r->fault = fl_dns_fault(a->dns, NULL);
            r->transient = true;
        }
        if (a->chain == FL_RES_PASS) {
            char op[16];
            snprintf(op, sizeof(op), "%d", a->oldest_pass);
            fl_result_add_prop(r, "header", "oldest-pass", op);
        }
        if (client_ip != NULL && *client_ip)
            fl_result_add_prop(r, "smtp", "remote-ip", client_ip);
    }
    fl_result_copy(out, &a->result);
}

enum fl_res fl_arc_chain_result(const struct fl_arc *a)
{
    return a->chain;
}

size_t fl_arc_nsets(const struct fl_arc *a)
{
    return a->broken != NULL ? 0 : a->nsets;
}

const struct fl_arc_set_report *fl_arc_set(const struct fl_arc *a, int instance)
{
    if (instance < 1 || (size_t)instance > a->nsets)
        return NULL;
    return &a->sets[instance].rep;
}

int fl_arc_oldest_pass(const struct fl_arc *a)
{
    return a->oldest_pass;
}

void fl_arc_free(struct fl_arc **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    struct fl_arc *a = *ap;
    *ap = NULL;
    for (size_t i = 0; a->sets != NULL && i <= FL_ARC_MAX_SETS; i++) {
        struct arc_set *s = &a->sets[i];
        for (int k = 0; k < F_N; k++) {
            fl_dkim_taglist_free(&s->tl[k]);
            free(s->bad[k]);
            fl_buf_free(&s->why[k]);
            fl_buf_free(&s->canon[k]);
        }
        for (int k = 0; k < 8; k++)
            free(s->str[k]);
    }
    for (size_t i = 0; i < a->nkeys; i++) {
        fl_dns_query_free(&a->keys[i].q);
        free(a->keys[i].qname);
        free(a->keys[i].unusable);
        fl_dkim_keyrec_clear(&a->keys[i].rec);
        EVP_PKEY_free(a->keys[i].pkey);
    }
    free(a->sets);
    free(a->keys);
    for (size_t i = 0; i < a->nbodies; i++)
        fl_dkim_body_clear(&a->bodies[i].b);
    free(a->bodies);
    free(a->arc);
    free(a->arc_kind);
    free(a->broken);
    free(a->failed_why);
    if (a->eom_done)
        fl_result_clear(&a->result);
    fl_dkim_headers_clear(&a->headers);
    fl_buf_free(&a->field);
    free(a);
}

const char *fl_arc_aar(const struct fl_arc *a, int instance, size_t *len_r)
{
    if (a->broken != NULL || instance < 1 || (size_t)instance > a->nsets)
        return NULL;
    const struct arc_set *s = &a->sets[instance];
    size_t len;
    const char *f = field_at(a, s->hdr[F_AAR], &len);
    const char *payload = NULL;
    aar_instance(s->value[F_AAR], len - (size_t)(s->value[F_AAR] - f), &payload);
    if (payload == NULL)
        return NULL;
    *len_r = len - (size_t)(payload - f);
    return payload;
}

int fl_arc_failure(const struct fl_arc *a, const char **sig_r, const char **why_r)
{
    *sig_r = a->failed_sig;
    *why_r = a->failed_why;
    return a->failed_instance;
}
