/* greylist_redis: the shared greylist store for several MX hosts, on one
   Redis server (hiredis, synchronous API).  Keys are greylist_redis_prefix
   plus the keys of greylist_store.h; every record carries a TTL (its
   expiry plus FL_GREYLIST_KEEP_EXPIRED), so Redis expires them itself and
   the background sweep has nothing to do.

   Atomic updates without server-side scripts: optimistic transactions.
   WATCH the keys, MGET them, let the policy compute the new records, then
   MULTI / SET ... EX / EXEC; EXEC answers nil when another client changed a
   watched key in between, and the whole update is redone from the fresh
   values.  So a first-seen time is written once, by the first client,
   however many MX hosts see the triplet at once.  Two round trips per
   decision (WATCH+MGET pipelined, MULTI..EXEC pipelined).

   Connections: a pool per process (greylist_redis_pool_size), each used by
   one thread at a time; connect and every reply bounded by
   greylist_redis_timeout (redisConnectWithTimeout, redisSetTimeout).  A
   failed connect starts a backoff (100 ms doubling to 5 s) during which
   decisions fail at once (fail-open) instead of each waiting for the
   timeout; a pooled connection found dead (server restarted) is replaced
   once within the same update.

   Thread-safety: any thread; the pool has its own mutex. */
#include "lib/greylist/greylist_store.h"
#include "lib/core/xalloc.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/core/clock.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* Redone updates after EXEC conflicts before giving up (fail-open). */
#define MAX_CONFLICTS 64
#define SCAN_COUNT    "1000"

struct redis_be {
    char host[256];
    int port;
    bool unix_socket;
    char *password;
    long long db;
    char *prefix;
    size_t prefix_len;
    struct timeval tv;
    long long timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    redisContext **idle;
    size_t nidle, total, max;
    long long next_try_ms; /* no connect attempt before this (backoff) */
    long long backoff_ms;
};

/* "unix:/path", "[v6]:port", "host:port" or "host". */
static int parse_server(struct redis_be *b, const char *v, struct fl_buf *err)
{
    b->port = 6379;
    if (strncmp(v, "unix:", 5) == 0) {
        b->unix_socket = true;
        snprintf(b->host, sizeof(b->host), "%s", v + 5);
        return 0;
    }
    const char *colon;
    size_t hlen;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (close == NULL)
            goto bad;
        hlen = (size_t)(close - v - 1);
        v++;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(v, ':');
        if (colon != NULL && strchr(v, ':') != colon)
            colon = NULL; /* a bare IPv6 address */
        hlen = colon ? (size_t)(colon - v) : strlen(v);
    }
    if (hlen == 0 || hlen >= sizeof(b->host))
        goto bad;
    memcpy(b->host, v, hlen);
    b->host[hlen] = '\0';
    if (colon != NULL) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535)
            goto bad;
        b->port = (int)port;
    }
    return 0;
bad:
    fl_buf_printf(err, "bad greylist_redis_server");
    return -1;
}

static int redis_open(const struct fl_config *cfg, unsigned int flags, void **be_r,
                      struct fl_buf *err)
{
    (void)flags;
    struct redis_be *b = fl_calloc(1, sizeof(*b));
    if (parse_server(b, cfg->greylist_redis_server ? cfg->greylist_redis_server : "",
                     err) < 0) {
        free(b);
        return -1;
    }
    if (cfg->greylist_redis_password != NULL && cfg->greylist_redis_password[0] != '\0')
        b->password = fl_strdup(cfg->greylist_redis_password);
    b->db = cfg->greylist_redis_db;
    b->prefix = fl_strdup(cfg->greylist_redis_prefix ? cfg->greylist_redis_prefix : "");
    b->prefix_len = strlen(b->prefix);
    b->timeout_ms = cfg->greylist_redis_timeout;
    b->tv.tv_sec = (time_t)(b->timeout_ms / 1000);
    b->tv.tv_usec = (suseconds_t)((b->timeout_ms % 1000) * 1000);
    b->max = (size_t)cfg->greylist_redis_pool_size;
    b->idle = fl_calloc(b->max, sizeof(*b->idle));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->lock, NULL);
    *be_r = b;
    return 0;
}

static void redis_close(void *be)
{
    struct redis_be *b = be;
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nidle; i++)
        redisFree(b->idle[i]);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b->idle);
    free(b->prefix);
    free(b->password);
    free(b);
}

/* One command; returns the reply (freeReplyObject it) or NULL with err. */
static redisReply *command(redisContext *c, int argc, const char **argv,
                           const size_t *lens, struct fl_buf *err)
{
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (r == NULL) {
        fl_buf_printf(err, "%s", c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fl_buf_printf(err, "%s: %s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static redisContext *connect_one(struct redis_be *b, struct fl_buf *err)
{
    redisContext *c = b->unix_socket ? redisConnectUnixWithTimeout(b->host, b->tv)
                                     : redisConnectWithTimeout(b->host, b->port, b->tv);
    if (c == NULL || c->err) {
        const char *why = c ? c->errstr : "out of memory";
        if (b->unix_socket)
            fl_buf_printf(err, "cannot connect to unix:%s: %s", b->host, why);
        else
            fl_buf_printf(err, "cannot connect to %s port %d: %s", b->host, b->port, why);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, b->tv) != REDIS_OK) {
        fl_buf_printf(err, "cannot set the Redis timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    redisReply *r;
    if (b->password != NULL) {
        const char *argv[] = {"AUTH", b->password};
        if ((r = command(c, 2, argv, NULL, err)) == NULL) {
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    if (b->db != 0) {
        char db[24];
        snprintf(db, sizeof(db), "%lld", b->db);
        const char *argv[] = {"SELECT", db};
        if ((r = command(c, 2, argv, NULL, err)) == NULL) {
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

/* Takes an idle connection, or opens one (outside the lock).  *fresh_r
   tells which. */
static redisContext *get_conn(struct redis_be *b, bool *fresh_r, struct fl_buf *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(b->timeout_ms / 1000);
    deadline.tv_nsec += (long)(b->timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->lock);
    while (b->nidle == 0 && b->total >= b->max) {
        if (pthread_cond_timedwait(&b->cond, &b->lock, &deadline) == ETIMEDOUT &&
            b->nidle == 0 && b->total >= b->max) {
            pthread_mutex_unlock(&b->lock);
            fl_buf_printf(err, "all %zu Redis connections busy", b->max);
            return NULL;
        }
    }
    if (b->nidle > 0) {
        redisContext *c = b->idle[--b->nidle];
        pthread_mutex_unlock(&b->lock);
        *fresh_r = false;
        return c;
    }
    long long now = fl_monotonic_ms();
    if (now < b->next_try_ms) {
        long long wait = b->next_try_ms - now;
        pthread_mutex_unlock(&b->lock);
        fl_buf_printf(err, "Redis unreachable, next connect attempt in %lld ms", wait);
        return NULL;
    }
    b->total++;
    pthread_mutex_unlock(&b->lock);
    redisContext *c = connect_one(b, err);
    pthread_mutex_lock(&b->lock);
    if (c == NULL) {
        b->total--;
        b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (b->backoff_ms > BACKOFF_MAX_MS)
            b->backoff_ms = BACKOFF_MAX_MS;
        b->next_try_ms = fl_monotonic_ms() + b->backoff_ms;
        pthread_cond_signal(&b->cond);
    } else {
        b->backoff_ms = 0;
        b->next_try_ms = 0;
    }
    pthread_mutex_unlock(&b->lock);
    *fresh_r = true;
    return c;
}

/* Returns a connection to the pool; a broken one (or one in an unknown
   state after an error) is closed. */
static void put_conn(struct redis_be *b, redisContext *c, bool broken)
{
    pthread_mutex_lock(&b->lock);
    if (broken || c->err) {
        redisFree(c);
        b->total--;
    } else {
        b->idle[b->nidle++] = c;
    }
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* Closes every idle connection: after an I/O error they most likely talk
   to the same dead or restarted server. */
static void drop_idle(struct redis_be *b)
{
    pthread_mutex_lock(&b->lock);
    while (b->nidle > 0) {
        redisFree(b->idle[--b->nidle]);
        b->total--;
    }
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* Reads one pipelined reply; NULL with err on I/O error or an error reply. */
static redisReply *next_reply(redisContext *c, const char *what, struct fl_buf *err)
{
    void *p = NULL;
    if (redisGetReply(c, &p) != REDIS_OK || p == NULL) {
        fl_buf_printf(err, "%s: %s", what, c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    redisReply *r = p;
    if (r->type == REDIS_REPLY_ERROR) {
        fl_buf_printf(err, "%s: %s", what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* The full Redis key of key. */
static void full_key(const struct redis_be *b, const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s", b->prefix, key);
}

/* One optimistic transaction.  Returns 0 done, 1 conflict (redo), -1
   error. */
static int try_update(struct redis_be *b, redisContext *c, struct fl_greylist_txn *t,
                      void (*apply)(struct fl_greylist_txn *t, void *ctx), void *ctx,
                      time_t now, struct fl_buf *err)
{
    char keys[FL_GREYLIST_TXN_MAX][FL_GREYLIST_KEY_MAX + 128];
    const char *argv[FL_GREYLIST_TXN_MAX + 1];
    for (size_t i = 0; i < t->n; i++) {
        full_key(b, t->keys[i], keys[i], sizeof(keys[i]));
        argv[i + 1] = keys[i];
    }
    argv[0] = "WATCH";
    redisAppendCommandArgv(c, (int)t->n + 1, argv, NULL);
    argv[0] = "MGET";
    redisAppendCommandArgv(c, (int)t->n + 1, argv, NULL);
    redisReply *r = next_reply(c, "WATCH", err);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    if ((r = next_reply(c, "MGET", err)) == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != t->n) {
        freeReplyObject(r);
        fl_buf_printf(err, "MGET: unexpected reply");
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        redisReply *e = r->element[i];
        t->write[i] = t->del[i] = false;
        t->found[i] = e->type == REDIS_REPLY_STRING &&
                      fl_greylist_record_parse(e->str, e->len, &t->rec[i]) == 0;
        if (!t->found[i])
            memset(&t->rec[i], 0, sizeof(t->rec[i]));
    }
    freeReplyObject(r);
    apply(t, ctx);
    size_t changes = 0;
    for (size_t i = 0; i < t->n; i++)
        changes += t->write[i] || t->del[i];
    if (changes == 0) {
        const char *unwatch[] = {"UNWATCH"};
        if ((r = command(c, 1, unwatch, NULL, err)) == NULL)
            return -1;
        freeReplyObject(r);
        return 0;
    }
    const char *multi[] = {"MULTI"};
    redisAppendCommandArgv(c, 1, multi, NULL);
    for (size_t i = 0; i < t->n; i++) {
        if (t->del[i]) {
            const char *del[] = {"DEL", keys[i]};
            redisAppendCommandArgv(c, 2, del, NULL);
        } else if (t->write[i]) {
            char value[FL_GREYLIST_VALUE_MAX], ttl[24];
            fl_greylist_record_encode(&t->rec[i], value, sizeof(value));
            long long secs = fl_greylist_record_ttl(&t->rec[i], now);
            snprintf(ttl, sizeof(ttl), "%lld", secs);
            const char *set[] = {"SET", keys[i], value, "EX", ttl};
            redisAppendCommandArgv(c, secs > 0 ? 5 : 3, set, NULL);
        }
    }
    const char *exec[] = {"EXEC"};
    redisAppendCommandArgv(c, 1, exec, NULL);
    /* +OK, one +QUEUED per change, then EXEC's answer. */
    int rc = 0;
    for (size_t i = 0; i < changes + 1; i++) {
        if ((r = next_reply(c, i == 0 ? "MULTI" : "queue", err)) == NULL)
            rc = -1; /* keep reading: EXEC still answers */
        else
            freeReplyObject(r);
        if (c->err)
            return -1;
    }
    if ((r = next_reply(c, "EXEC", err)) == NULL)
        return -1;
    if (rc == 0 && r->type == REDIS_REPLY_NIL)
        rc = 1; /* a watched key changed: redo */
    else if (rc == 0 && r->type != REDIS_REPLY_ARRAY) {
        fl_buf_printf(err, "EXEC: unexpected reply");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_ERROR) {
            fl_buf_printf(err, "EXEC: %s", r->element[i]->str);
            rc = -1;
        }
    }
    freeReplyObject(r);
    return rc;
}

static int redis_update(void *be, struct fl_greylist_txn *t,
                        void (*apply)(struct fl_greylist_txn *t, void *ctx), void *ctx,
                        time_t now, struct fl_buf *err)
{
    struct redis_be *b = be;
    int conflicts = 0;
    bool replaced = false;
    size_t mark = err->len; /* a retry forgets the error of the attempt before */
    for (;;) {
        fl_buf_truncate(err, mark);
        bool fresh;
        redisContext *c = get_conn(b, &fresh, err);
        if (c == NULL)
            return -1;
        int rc = try_update(b, c, t, apply, ctx, now, err);
        bool io_error = c->err != 0;
        put_conn(b, c, rc < 0);
        if (rc == 0)
            return 0;
        if (rc == 1) {
            if (++conflicts < MAX_CONFLICTS)
                continue;
            fl_buf_printf(err, "gave up after %d conflicting concurrent updates",
                          conflicts);
            return -1;
        }
        /* A pooled connection that died with the server it talked to:
           try once more on a new one. */
        if (io_error)
            drop_idle(b);
        if (io_error && !fresh && !replaced) {
            replaced = true;
            continue;
        }
        return -1;
    }
}

/* Escapes the glob characters of SCAN's MATCH pattern. */
static void glob_escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *in && o + 3 < outlen; in++) {
        if (strchr("*?[]\\", *in) != NULL)
            out[o++] = '\\';
        out[o++] = *in;
    }
    out[o] = '\0';
}

static int redis_scan(void *be, const char *prefix,
                      int (*cb)(const char *key, const struct fl_greylist_record *rec,
                                void *ctx),
                      void *ctx, struct fl_buf *err)
{
    struct redis_be *b = be;
    bool fresh;
    redisContext *c = get_conn(b, &fresh, err);
    if (c == NULL)
        return -1;
    char full[FL_GREYLIST_KEY_MAX + 128], pattern[2 * sizeof(full) + 2];
    full_key(b, prefix, full, sizeof(full));
    glob_escape(full, pattern, sizeof(pattern) - 1);
    size_t plen = strlen(pattern);
    pattern[plen] = '*';
    pattern[plen + 1] = '\0';
    char cursor[32] = "0";
    int rc = 0, stop = 0;
    do {
        const char *scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT};
        redisReply *r = command(c, 6, scan, NULL, err);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r != NULL)
                fl_buf_printf(err, "SCAN: unexpected reply");
            freeReplyObject(r);
            rc = -1;
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s",
                 r->element[0]->str ? r->element[0]->str : "0");
        redisReply *keys = r->element[1];
        if (keys->elements > 0) {
            const char **argv = fl_calloc(keys->elements + 1, sizeof(*argv));
            size_t *lens = fl_calloc(keys->elements + 1, sizeof(*lens));
            argv[0] = "MGET";
            lens[0] = 4;
            for (size_t i = 0; i < keys->elements; i++) {
                argv[i + 1] = keys->element[i]->str;
                lens[i + 1] = keys->element[i]->len;
            }
            redisReply *v = command(c, (int)keys->elements + 1, argv, lens, err);
            free(argv);
            free(lens);
            if (v == NULL || v->type != REDIS_REPLY_ARRAY ||
                v->elements != keys->elements) {
                freeReplyObject(v);
                freeReplyObject(r);
                rc = -1;
                break;
            }
            for (size_t i = 0; i < v->elements && !stop; i++) {
                struct fl_greylist_record rec;
                redisReply *e = v->element[i];
                const char *k = keys->element[i]->str;
                if (e->type != REDIS_REPLY_STRING ||
                    keys->element[i]->len <= b->prefix_len ||
                    keys->element[i]->len - b->prefix_len >= FL_GREYLIST_KEY_MAX ||
                    fl_greylist_record_parse(e->str, e->len, &rec) != 0)
                    continue; /* gone since SCAN, or not ours */
                stop = cb(k + b->prefix_len, &rec, ctx);
            }
            freeReplyObject(v);
        }
        freeReplyObject(r);
    } while (!stop && strcmp(cursor, "0") != 0);
    put_conn(b, c, rc < 0);
    return rc;
}

struct expired_keys {
    char **keys;
    size_t n, cap;
    time_t cutoff;
};

static int collect_expired(const char *key, const struct fl_greylist_record *rec,
                           void *ctx)
{
    struct expired_keys *ek = ctx;
    if (rec->expires == 0 || rec->expires > ek->cutoff)
        return 0;
    if (ek->n == ek->cap) {
        size_t cap = ek->cap ? ek->cap * 2 : 64;
        ek->keys = fl_realloc(ek->keys, cap * sizeof(*ek->keys));
        ek->cap = cap;
    }
    ek->keys[ek->n++] = fl_strdup(key);
    return 0;
}

struct expire_one {
    time_t cutoff;
    bool removed;
};

/* Deletes the record if it is still expired (a decision may have renewed
   it since the scan). */
static void apply_expire(struct fl_greylist_txn *t, void *arg)
{
    struct expire_one *e = arg;
    e->removed = t->found[0] && t->rec[0].expires != 0 && t->rec[0].expires <= e->cutoff;
    t->del[0] = e->removed;
}

static int redis_sweep(void *be, time_t cutoff, bool background, size_t *removed_r,
                       struct fl_buf *err)
{
    *removed_r = 0;
    if (background)
        return 0; /* TTLs expire the keys */
    struct expired_keys ek = {.cutoff = cutoff};
    int rc = redis_scan(be, "", collect_expired, &ek, err);
    for (size_t i = 0; rc == 0 && i < ek.n; i++) {
        struct fl_greylist_txn t;
        memset(&t, 0, sizeof(t));
        t.n = 1;
        snprintf(t.keys[0], sizeof(t.keys[0]), "%s", ek.keys[i]);
        struct expire_one e = {cutoff, false};
        rc = redis_update(be, &t, apply_expire, &e, cutoff, err);
        if (rc == 0 && e.removed)
            (*removed_r)++;
    }
    for (size_t i = 0; i < ek.n; i++)
        free(ek.keys[i]);
    free(ek.keys);
    return rc;
}

const struct fl_greylist_ops fl_greylist_redis_ops = {
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .update = redis_update,
    .scan = redis_scan,
    .sweep = redis_sweep,
};
