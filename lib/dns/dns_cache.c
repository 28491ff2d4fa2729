/* dns_cache: see dns_cache.h.  Each shard is a chained hash table plus a
   least-recently-used list, under its own mutex. */
#include "lib/dns/dns_cache.h"
#include "lib/dns/dns_parse.h"
#include "lib/core/xalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHARDS 64
#define BUCKETS 512      /* per shard */
#define MAX_TTL 86400u   /* seconds */

struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    uint16_t qtype;
    long long expires_ms;
    size_t bytes;
    struct fl_dns_answer ans;
};

struct shard {
    pthread_mutex_t lock;
    struct entry *buckets[BUCKETS];
    struct entry *head, *tail;
    size_t bytes;
};

struct fl_dns_cache {
    size_t shard_max; /* bytes per shard */
    struct shard shards[SHARDS];
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? fl_strdup(s) : NULL;
}

void fl_dns_answer_copy(struct fl_dns_answer *dst, const struct fl_dns_answer *src)
{
    *dst = *src;
    dst->qname = dup_or_null(src->qname);
    dst->canonname = dup_or_null(src->canonname);
    dst->ede_text = dup_or_null(src->ede_text);
    dst->nameserver = dup_or_null(src->nameserver);
    dst->records = NULL;
    dst->packet = NULL;
    if (src->count > 0) {
        dst->records = fl_malloc(src->count * sizeof(*dst->records));
        for (size_t i = 0; i < src->count; i++) {
            dst->records[i] = src->records[i];
            if (src->records[i].data == NULL)
                continue;
            dst->records[i].data = fl_malloc(src->records[i].len + 1);
            memcpy(dst->records[i].data, src->records[i].data, src->records[i].len);
            dst->records[i].data[src->records[i].len] = '\0';
        }
    }
    if (src->packet != NULL) {
        dst->packet = fl_malloc(src->packet_len);
        memcpy(dst->packet, src->packet, src->packet_len);
    }
}

static size_t answer_bytes(const struct fl_dns_answer *a)
{
    size_t n = sizeof(struct entry) + strlen(a->qname) + 1 + a->packet_len +
               a->count * sizeof(*a->records);
    for (size_t i = 0; i < a->count; i++)
        n += a->records[i].len + 1;
    if (a->canonname != NULL)
        n += strlen(a->canonname) + 1;
    if (a->ede_text != NULL)
        n += strlen(a->ede_text) + 1;
    return n + 64; /* allocator overhead, roughly */
}

/* FNV-1a over the lower-cased name without a trailing dot, and the type. */
static uint64_t key_hash(const char *name, uint16_t qtype)
{
    uint64_t h = 1469598103934665603ull;
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)tolower((unsigned char)name[i]);
        h *= 1099511628211ull;
    }
    h ^= qtype;
    h *= 1099511628211ull;
    return h;
}

static bool same_name(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 0 && a[na - 1] == '.')
        na--;
    if (nb > 0 && b[nb - 1] == '.')
        nb--;
    return na == nb && strncasecmp(a, b, na) == 0;
}

struct fl_dns_cache *fl_dns_cache_new(size_t max_bytes)
{
    struct fl_dns_cache *c = fl_calloc(1, sizeof(*c));
    c->shard_max = max_bytes / SHARDS;
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_init(&c->shards[i].lock, NULL);
    return c;
}

static void lru_unlink(struct shard *s, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct shard *s, struct entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (s->tail == NULL)
        s->tail = e;
}

/* Unlinks e from its shard and frees it.  Called with the lock held. */
static void drop(struct shard *s, struct entry *e)
{
    struct entry **pp = &s->buckets[e->hash % BUCKETS];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(s, e);
    s->bytes -= e->bytes;
    fl_dns_answer_clear(&e->ans);
    free(e);
}

static struct entry *find(struct shard *s, uint64_t h, const char *name, uint16_t qtype)
{
    for (struct entry *e = s->buckets[h % BUCKETS]; e; e = e->hnext)
        if (e->hash == h && e->qtype == qtype && same_name(e->ans.qname, name))
            return e;
    return NULL;
}

bool fl_dns_cache_get(struct fl_dns_cache *c, const char *name, uint16_t qtype, long long now_ms,
                      struct fl_dns_answer *out)
{
    if (c == NULL || c->shard_max == 0)
        return false;
    uint64_t h = key_hash(name, qtype);
    struct shard *s = &c->shards[(h >> 32) % SHARDS];
    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, h, name, qtype);
    if (e != NULL && e->expires_ms <= now_ms) {
        drop(s, e);
        e = NULL;
    }
    if (e != NULL) {
        lru_unlink(s, e);
        lru_push(s, e);
        fl_dns_answer_copy(out, &e->ans);
        out->ttl = (uint32_t)((e->expires_ms - now_ms + 999) / 1000);
    }
    pthread_mutex_unlock(&s->lock);
    if (e == NULL)
        return false;
    free(out->qname);
    out->qname = fl_strdup(name); /* as the caller spelled it */
    out->elapsed_ms = 0;
    return true;
}

static void put(struct fl_dns_cache *c, const struct fl_dns_answer *a, uint32_t ttl,
                long long now_ms)
{
    if (c == NULL || c->shard_max == 0 || ttl == 0 || a->qname == NULL)
        return;
    size_t bytes = answer_bytes(a);
    if (bytes > c->shard_max / 4)
        return; /* one huge answer must not flush the shard */
    struct entry *n = fl_calloc(1, sizeof(*n));
    fl_dns_answer_copy(&n->ans, a);
    n->hash = key_hash(a->qname, a->qtype);
    n->qtype = a->qtype;
    n->bytes = bytes;
    n->expires_ms = now_ms + (long long)(ttl < MAX_TTL ? ttl : MAX_TTL) * 1000;
    struct shard *s = &c->shards[(n->hash >> 32) % SHARDS];
    pthread_mutex_lock(&s->lock);
    struct entry *old = find(s, n->hash, a->qname, a->qtype);
    if (old != NULL)
        drop(s, old);
    while (s->tail != NULL && s->bytes + bytes > c->shard_max)
        drop(s, s->tail);
    n->hnext = s->buckets[n->hash % BUCKETS];
    s->buckets[n->hash % BUCKETS] = n;
    lru_push(s, n);
    s->bytes += bytes;
    pthread_mutex_unlock(&s->lock);
}

void fl_dns_cache_put(struct fl_dns_cache *c, const struct fl_dns_answer *a, long long now_ms)
{
    if (a->status == FL_DNS_OK || a->status == FL_DNS_NODATA || a->status == FL_DNS_NXDOMAIN)
        put(c, a, a->ttl, now_ms);
}

void fl_dns_cache_put_failure(struct fl_dns_cache *c, const struct fl_dns_answer *a,
                              long long now_ms)
{
    if (a->status == FL_DNS_SERVFAIL)
        put(c, a, FL_DNS_CACHE_FAIL_S, now_ms);
}

void fl_dns_cache_clear(struct fl_dns_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < SHARDS; i++) {
        struct shard *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        while (s->tail != NULL)
            drop(s, s->tail);
        pthread_mutex_unlock(&s->lock);
    }
}

void fl_dns_cache_free(struct fl_dns_cache **cp)
{
    struct fl_dns_cache *c = *cp;
    if (c == NULL)
        return;
    *cp = NULL;
    fl_dns_cache_clear(c);
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&c->shards[i].lock);
    free(c);
}
