/* greylist_admin: what faultlinectl greylist does to a store -- list the
   records with their state, count them, allow or forget a client network
   or a triplet, expire old records now.  Works on both stores through
   struct fl_greylist_ops; every change is one atomic update, so it is safe
   while the daemon runs.  See greylist.h.  Thread-safe. */
#include "lib/greylist/greylist.h"
#include "lib/greylist/greylist_store.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
    [FL_GREYLIST_PENDING] = "pending",
    [FL_GREYLIST_PASSED] = "passed",
    [FL_GREYLIST_NEVER_RETRIED] = "never-retried",
    [FL_GREYLIST_EXPIRED] = "expired",
    [FL_GREYLIST_COUNTING] = "counting",
    [FL_GREYLIST_AUTO_ALLOWED] = "auto-allowed",
    [FL_GREYLIST_ADMIN_ALLOWED] = "admin-allowed",
};

#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

const char *fl_greylist_state_name(enum fl_greylist_state s)
{
    return (size_t)s < NSTATES ? state_names[s] : "unknown";
}

int fl_greylist_state_parse(const char *name, enum fl_greylist_state *s_r)
{
    for (size_t i = 0; i < NSTATES; i++) {
        if (strcmp(state_names[i], name) == 0) {
            *s_r = (enum fl_greylist_state)i;
            return 0;
        }
    }
    return -1;
}

static bool expired_at(const struct fl_greylist_record *r, time_t now)
{
    return r->expires != 0 && r->expires <= now;
}

static enum fl_greylist_state state_of(enum fl_greylist_kind kind,
                                       const struct fl_greylist_record *r, time_t now)
{
    switch (kind) {
    case FL_GREYLIST_TRIPLET:
        if (r->admin)
            return expired_at(r, now) ? FL_GREYLIST_EXPIRED : FL_GREYLIST_ADMIN_ALLOWED;
        if (r->passed_at != 0)
            return expired_at(r, now) ? FL_GREYLIST_EXPIRED : FL_GREYLIST_PASSED;
        return expired_at(r, now) ? FL_GREYLIST_NEVER_RETRIED : FL_GREYLIST_PENDING;
    case FL_GREYLIST_CLIENT:
        if (expired_at(r, now))
            return FL_GREYLIST_EXPIRED;
        if (r->admin)
            return FL_GREYLIST_ADMIN_ALLOWED;
        return r->passed_at != 0 ? FL_GREYLIST_AUTO_ALLOWED : FL_GREYLIST_COUNTING;
    case FL_GREYLIST_PAIR:
        break;
    }
    return expired_at(r, now) ? FL_GREYLIST_EXPIRED : FL_GREYLIST_PENDING;
}

struct foreach_ctx {
    int (*cb)(const struct fl_greylist_entry *e, void *ctx);
    void *ctx;
    time_t now;
};

/* Splits "t NET SENDER RCPT", "c NET", "p SENDER RCPT" (key is a copy). */
static int foreach_one(const char *key, const struct fl_greylist_record *rec, void *arg)
{
    struct foreach_ctx *fc = arg;
    char copy[FL_GREYLIST_KEY_MAX];
    char *parts[3] = {"", "", ""};
    snprintf(copy, sizeof(copy), "%s", key);
    if (copy[0] == '\0' || copy[1] != ' ')
        return 0;
    size_t want = copy[0] == 't' ? 3 : copy[0] == 'c' ? 1 : copy[0] == 'p' ? 2 : 0;
    char *p = copy + 2;
    size_t got = 0;
    while (got < want && p != NULL) {
        parts[got++] = p;
        p = strchr(p, ' ');
        if (p != NULL)
            *p++ = '\0';
    }
    if (want == 0 || got != want || p != NULL)
        return 0; /* not a key of ours */
    struct fl_greylist_entry e = {.rec = *rec};
    switch (copy[0]) {
    case 't':
        e.kind = FL_GREYLIST_TRIPLET;
        e.net = parts[0];
        e.sender = parts[1];
        e.rcpt = parts[2];
        break;
    case 'c':
        e.kind = FL_GREYLIST_CLIENT;
        e.net = parts[0];
        e.sender = e.rcpt = "";
        break;
    default:
        e.kind = FL_GREYLIST_PAIR;
        e.net = "";
        e.sender = parts[0];
        e.rcpt = parts[1];
        break;
    }
    e.state = state_of(e.kind, rec, fc->now);
    return fc->cb(&e, fc->ctx);
}

static int scan(struct fl_greylist *gl, const char *prefix,
                int (*cb)(const char *key, const struct fl_greylist_record *rec,
                          void *ctx),
                void *ctx, struct fl_buf *error)
{
    void *be;
    const struct fl_greylist_ops *ops = fl_greylist_backend(gl, &be);
    struct fl_buf err;
    fl_buf_init(&err);
    int rc = ops->scan(be, prefix, cb, ctx, &err);
    fl_greylist_store_error(error, ops, rc, &err, "");
    return rc < 0 ? -1 : 0;
}

int fl_greylist_foreach(struct fl_greylist *gl,
                        int (*cb)(const struct fl_greylist_entry *e, void *ctx),
                        void *ctx, struct fl_buf *error)
{
    struct foreach_ctx fc = {cb, ctx, fl_greylist_now(gl)};
    return scan(gl, "", foreach_one, &fc, error);
}

static int count_one(const struct fl_greylist_entry *e, void *arg)
{
    struct fl_greylist_stats *st = arg;
    switch (e->kind) {
    case FL_GREYLIST_TRIPLET:
        st->triplets++;
        st->deferred += e->rec.deferred;
        st->early += e->rec.early;
        st->accepted += e->rec.passed;
        st->pending += e->state == FL_GREYLIST_PENDING;
        st->passed += e->state == FL_GREYLIST_PASSED;
        st->never_retried += e->state == FL_GREYLIST_NEVER_RETRIED;
        st->expired += e->state == FL_GREYLIST_EXPIRED;
        st->admin_triplets += e->state == FL_GREYLIST_ADMIN_ALLOWED;
        break;
    case FL_GREYLIST_CLIENT:
        st->clients++;
        st->counting += e->state == FL_GREYLIST_COUNTING;
        st->auto_allowed += e->state == FL_GREYLIST_AUTO_ALLOWED;
        st->admin_clients += e->state == FL_GREYLIST_ADMIN_ALLOWED;
        break;
    case FL_GREYLIST_PAIR:
        st->pairs++;
        break;
    }
    return 0;
}

int fl_greylist_stats(struct fl_greylist *gl, struct fl_greylist_stats *st_r,
                      struct fl_buf *error)
{
    memset(st_r, 0, sizeof(*st_r));
    return fl_greylist_foreach(gl, count_one, st_r, error);
}

/* --- changes ----------------------------------------------------------------- */

struct allow_ctx {
    time_t now;
    long long for_seconds;
    bool triplet;
};

static void apply_allow(struct fl_greylist_txn *t, void *arg)
{
    struct allow_ctx *a = arg;
    struct fl_greylist_record *r = &t->rec[0];
    if (!t->found[0]) {
        memset(r, 0, sizeof(*r));
        r->first_seen = a->now;
    }
    r->last_seen = a->now;
    r->admin = true;
    if (a->triplet && r->passed_at == 0)
        r->passed_at = a->now;
    r->expires = a->for_seconds > 0 ? a->now + (time_t)a->for_seconds : 0;
    t->write[0] = true;
}

static void apply_delete(struct fl_greylist_txn *t, void *arg)
{
    bool *found = arg;
    *found = t->found[0];
    t->del[0] = t->found[0];
}

static int update_one(struct fl_greylist *gl, const char *key,
                      void (*apply)(struct fl_greylist_txn *t, void *ctx), void *ctx,
                      struct fl_buf *error)
{
    void *be;
    const struct fl_greylist_ops *ops = fl_greylist_backend(gl, &be);
    struct fl_greylist_txn t;
    memset(&t, 0, sizeof(t));
    t.n = 1;
    snprintf(t.keys[0], sizeof(t.keys[0]), "%s", key);
    struct fl_buf err;
    fl_buf_init(&err);
    int rc = ops->update(be, &t, apply, ctx, fl_greylist_now(gl), &err);
    fl_greylist_store_error(error, ops, rc, &err, "");
    return rc < 0 ? -1 : 0;
}

/* Builds the key of a client ("c NET") or a triplet ("t NET S R"). */
static int make_key(const struct fl_config *cfg, const char *client, const char *sender,
                    const char *rcpt, char *key, size_t keylen, struct fl_buf *error)
{
    char net[FL_GREYLIST_NET_MAX];
    if (fl_greylist_network(client, (int)cfg->greylist_ipv4_prefix,
                            (int)cfg->greylist_ipv6_prefix, net, sizeof(net)) < 0) {
        if (error != NULL)
            fl_buf_printf(error, "\"%s\" is not an IP address or network", client);
        return -1;
    }
    if ((sender == NULL) != (rcpt == NULL)) {
        if (error != NULL)
            fl_buf_puts(error, "a triplet needs both a sender and a recipient");
        return -1;
    }
    if (sender == NULL) {
        snprintf(key, keylen, "c %s", net);
        return 0;
    }
    char s[FL_GREYLIST_ADDR_MAX], r[FL_GREYLIST_ADDR_MAX];
    fl_greylist_normalize_sender(sender, s, sizeof(s));
    fl_greylist_normalize_rcpt(rcpt, r, sizeof(r));
    snprintf(key, keylen, "t %s %s %s", net, s, r);
    return 0;
}

int fl_greylist_allow(struct fl_greylist *gl, const struct fl_config *cfg,
                      const char *client, const char *sender, const char *rcpt,
                      long long for_seconds, struct fl_buf *error)
{
    char key[FL_GREYLIST_KEY_MAX];
    if (make_key(cfg, client, sender, rcpt, key, sizeof(key), error) < 0)
        return -1;
    struct allow_ctx a = {fl_greylist_now(gl), for_seconds, sender != NULL};
    return update_one(gl, key, apply_allow, &a, error);
}

struct key_list {
    char **keys;
    size_t n, cap;
};

static int collect_key(const char *key, const struct fl_greylist_record *rec, void *arg)
{
    struct key_list *kl = arg;
    (void)rec;
    if (kl->n == kl->cap) {
        kl->cap = kl->cap ? kl->cap * 2 : 16;
        kl->keys = fl_realloc(kl->keys, kl->cap * sizeof(*kl->keys));
    }
    kl->keys[kl->n++] = fl_strdup(key);
    return 0;
}

long fl_greylist_remove(struct fl_greylist *gl, const struct fl_config *cfg,
                        const char *client, const char *sender, const char *rcpt,
                        struct fl_buf *error)
{
    char key[FL_GREYLIST_KEY_MAX];
    if (make_key(cfg, client, sender, rcpt, key, sizeof(key), error) < 0)
        return -1;
    struct key_list kl = {0};
    collect_key(key, NULL, &kl);
    int rc = 0;
    if (sender == NULL) {
        /* The client record and every triplet of its network. */
        char prefix[FL_GREYLIST_KEY_MAX + 4];
        snprintf(prefix, sizeof(prefix), "t %s ", key + 2);
        rc = scan(gl, prefix, collect_key, &kl, error);
    }
    long removed = 0;
    for (size_t i = 0; rc == 0 && i < kl.n; i++) {
        bool found = false;
        rc = update_one(gl, kl.keys[i], apply_delete, &found, error);
        removed += found;
    }
    for (size_t i = 0; i < kl.n; i++)
        free(kl.keys[i]);
    free(kl.keys);
    return rc < 0 ? -1 : removed;
}

int fl_greylist_expire(struct fl_greylist *gl, size_t *removed_r, struct fl_buf *error)
{
    void *be;
    const struct fl_greylist_ops *ops = fl_greylist_backend(gl, &be);
    struct fl_buf err;
    fl_buf_init(&err);
    *removed_r = 0;
    int rc = ops->sweep(be, fl_greylist_now(gl), false, removed_r, &err);
    fl_greylist_store_error(error, ops, rc, &err, "");
    return rc < 0 ? -1 : 0;
}
