/* greylist_store: the interface between the greylisting policy
   (lib/greylist/greylist.c) and its stores (lib/greylist/greylist_lmdb.c,
   lib/greylist/greylist_redis.c), and the one record format both use.

   Keys are text: "t NET SENDER RCPT" (triplet), "c NET" (client network),
   "p SENDER RCPT" (network of the last deferral of a sender/recipient
   pair).  The parts never contain spaces (normalisation replaces them).
   Values are text too, so one Redis can serve hosts of any architecture:
     "1 FIRST_SEEN LAST_SEEN PASSED_AT EXPIRES DEFERRED EARLY PASSED ADMIN NET"
   NET is "-" when empty.  Times are seconds since the epoch.

   A backend keeps its own locking: every op may be called from any thread
   at any time.  The policy never holds a lock while calling in. */
#ifndef FL_LIB_GREYLIST_STORE_H
#define FL_LIB_GREYLIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/core/config.h"
#include "lib/greylist/greylist.h"

#define FL_GREYLIST_TXN_MAX   3
#define FL_GREYLIST_KEY_MAX   480
#define FL_GREYLIST_VALUE_MAX 160

/* One atomic read-modify-write of up to FL_GREYLIST_TXN_MAX keys. */
struct fl_greylist_txn {
    size_t n;
    char keys[FL_GREYLIST_TXN_MAX][FL_GREYLIST_KEY_MAX];
    /* In: what the store holds (found false: absent or unreadable). */
    bool found[FL_GREYLIST_TXN_MAX];
    struct fl_greylist_record rec[FL_GREYLIST_TXN_MAX];
    /* Out, set by apply: store rec[i], or delete key i. */
    bool write[FL_GREYLIST_TXN_MAX];
    bool del[FL_GREYLIST_TXN_MAX];
};

struct fl_greylist_ops {
    const char *name;
    /* Opens the store of cfg.  Returns 0 and sets *be_r, or -1 with the reason appended
       to err (each op appends one line to err on failure, nothing on success). */
    int (*open)(const struct fl_config *cfg, unsigned int flags, void **be_r,
                struct fl_buf *err);
    void (*close)(void *be);
    /* Reads t->keys into t->found/t->rec, calls apply(t, ctx) (which sets
       write/del), and stores its changes, all atomically: no other update
       of these keys comes in between.  apply may be called more than once
       (Redis retries on a conflict) and must start from its inputs each
       time.  now gives Redis TTLs (expires + FL_GREYLIST_KEEP_EXPIRED - now).
       Returns 0, or -1 with err (nothing was changed). */
    int (*update)(void *be, struct fl_greylist_txn *t,
                  void (*apply)(struct fl_greylist_txn *t, void *ctx), void *ctx,
                  time_t now, struct fl_buf *err);
    /* Calls cb for every record whose key starts with prefix ("" = all)
       until cb returns non-zero; cb must not call back into the store.
       Returns 0, or -1 with err. */
    int (*scan)(void *be, const char *prefix,
                int (*cb)(const char *key, const struct fl_greylist_record *rec,
                          void *ctx),
                void *ctx, struct fl_buf *err);
    /* Deletes every record with 0 < expires <= cutoff; background: the
       daemon's periodic sweep (Redis returns at once: TTLs do the work).
       Returns 0 and sets *removed_r, or -1 with err. */
    int (*sweep)(void *be, time_t cutoff, bool background, size_t *removed_r,
                 struct fl_buf *err);
};

extern const struct fl_greylist_ops fl_greylist_lmdb_ops;
extern const struct fl_greylist_ops fl_greylist_redis_ops;

/* After a store call that returned rc with its reason in err: appends
   "greylist store NAME: WHAT<reason>" to error when rc < 0 (error may be
   NULL: the caller does not want it), and frees err. */
void fl_greylist_store_error(struct fl_buf *error, const struct fl_greylist_ops *ops,
                             int rc, struct fl_buf *err, const char *what);

/* For lib/greylist/greylist_admin.c: the handle's clock and its backend. */
time_t fl_greylist_now(const struct fl_greylist *gl);
const struct fl_greylist_ops *fl_greylist_backend(struct fl_greylist *gl, void **be_r);

/* Record codec (lib/greylist/greylist_triplet.c).  encode returns the length
   written (< outlen); parse returns 0, or -1 for a malformed value. */
size_t fl_greylist_record_encode(const struct fl_greylist_record *rec, char *out,
                                 size_t outlen);
int fl_greylist_record_parse(const char *text, size_t len,
                             struct fl_greylist_record *rec);

/* Redis TTL in seconds for rec at now: 0 means no TTL (never expires). */
long long fl_greylist_record_ttl(const struct fl_greylist_record *rec, time_t now);

/* Allow-list matchers (lib/greylist/greylist_triplet.c).  A domain pattern
   "example.com" matches that name and its subdomains, ".example.com" only
   subdomains; case-insensitive, a trailing dot ignored.  A recipient
   pattern is "local@domain" (exact), "local@" (any domain), or "domain" /
   "@domain" (a domain pattern for the part after the last '@'). */
bool fl_greylist_domain_match(const char *name, const char *pattern);
bool fl_greylist_rcpt_match(const char *rcpt, const char *pattern);

#endif
