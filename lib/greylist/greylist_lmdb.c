/* greylist_lmdb: the embedded greylist store, on LMDB (Lightning
   Memory-Mapped Database).  One environment (data.mdb, lock.mdb) in
   greylist_lmdb_dir, the unnamed database, text keys and values as
   greylist_store.h describes.

   Why LMDB: copy-on-write B+tree with no log to replay, so a killed process
   loses nothing it committed and leaves nothing half-written; readers never
   block and are never blocked; one writer at a time across every process
   of the host (a robust process-shared mutex in lock.mdb, so a writer
   killed mid-transaction does not wedge the others).

   Environment flags: MDB_NOTLS (read transactions are not tied to a
   thread; session threads come and go), plus the sync mode of
   greylist_lmdb_sync.  MDB_MAP_FULL fails the update (the caller fails
   open) with an error naming greylist_lmdb_map_size, unless another
   process has recorded a larger map size meanwhile (faultlinectl run with
   a raised greylist_lmdb_map_size): then the map grows and the update is
   retried.  MDB_MAP_RESIZED (another process wrote beyond our map) is
   adopted likewise.

   Thread-safety: any thread; a read-write lock keeps transactions out
   while the map size is adopted.  Open the store once per process (a
   second open of the same directory fails), after fork(). */
#include "lib/greylist/greylist_store.h"
#include "lib/core/xalloc.h"

#include <errno.h>
#include <lmdb.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A sweep batch: at most this many records looked at, or deleted, per
   write transaction, so sessions wait for the writer lock only briefly. */
#define SWEEP_EXAMINE 2000
#define SWEEP_DELETE  500
/* Value of the key "v" (not a record: scans and sweeps skip it). */
#define FORMAT_MARK "faultline greylist store 1"

struct lmdb_be {
    MDB_env *env;
    MDB_dbi dbi;
    pthread_rwlock_t resize; /* held for reading by every transaction */
    char dir[PATH_MAX];
    dev_t dev; /* of dir: see register_env */
    ino_t ino;
    long long map_size;
    bool nosync;
};

static void set_err(struct fl_buf *err, const char *what, int rc)
{
    fl_buf_printf(err, "%s: %s", what, mdb_strerror(rc));
}

static void full_err(const struct lmdb_be *b, struct fl_buf *err)
{
    fl_buf_printf(
        err,
        "LMDB store %s is full (greylist_lmdb_map_size = %lldk): raise "
        "greylist_lmdb_map_size (faultlinectl run with the new value grows the store at "
        "once) or run faultlinectl greylist expire",
        b->dir, b->map_size / 1024);
}

/* LMDB must not have one environment open twice in a process: closing
   either copy drops the POSIX locks of both.  The stores open here, by the
   directory's device and inode and the process that opened them (a child
   after fork() opens its own; the parent's entries do not count). */
struct open_env {
    dev_t dev;
    ino_t ino;
    pid_t pid;
    struct open_env *next;
};
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_env *open_envs;

/* Returns 0, or -1 if this process has the store open already. */
static int register_env(dev_t dev, ino_t ino)
{
    pid_t me = getpid();
    int rc = 0;
    pthread_mutex_lock(&open_lock);
    for (struct open_env *e = open_envs; e != NULL && rc == 0; e = e->next)
        if (e->dev == dev && e->ino == ino && e->pid == me)
            rc = -1;
    if (rc == 0) {
        struct open_env *e = fl_malloc(sizeof(*e));
        *e = (struct open_env){dev, ino, me, open_envs};
        open_envs = e;
    }
    pthread_mutex_unlock(&open_lock);
    return rc;
}

static void unregister_env(dev_t dev, ino_t ino)
{
    pid_t me = getpid();
    pthread_mutex_lock(&open_lock);
    for (struct open_env **p = &open_envs; *p != NULL; p = &(*p)->next) {
        struct open_env *e = *p;
        if (e->dev == dev && e->ino == ino && e->pid == me) {
            *p = e->next;
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&open_lock);
}

static int lmdb_open(const struct fl_config *cfg, unsigned int flags, void **be_r,
                     struct fl_buf *err)
{
    const char *dir = cfg->greylist_lmdb_dir;
    if (dir == NULL || dir[0] == '\0') {
        fl_buf_printf(err, "greylist_lmdb_dir is empty");
        return -1;
    }
    struct stat st;
    if (flags & FL_GREYLIST_OPEN_EXISTING) {
        char data[PATH_MAX + 16];
        snprintf(data, sizeof(data), "%s/data.mdb", dir);
        if (stat(data, &st) != 0) {
            fl_buf_printf(err, "no store at %s: %s (the daemon creates it)", data,
                          strerror(errno));
            return -1;
        }
    } else if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        fl_buf_printf(err, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0) {
        fl_buf_printf(err, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (register_env(st.st_dev, st.st_ino) < 0) {
        fl_buf_printf(err, "%s is already open in this process", dir);
        return -1;
    }
    struct lmdb_be *b = fl_calloc(1, sizeof(*b));
    b->dev = st.st_dev;
    b->ino = st.st_ino;
    snprintf(b->dir, sizeof(b->dir), "%s", dir);
    b->map_size = cfg->greylist_lmdb_map_size;
    unsigned int envflags = MDB_NOTLS;
    if (cfg->greylist_lmdb_sync == FL_GREYLIST_SYNC_META)
        envflags |= MDB_NOMETASYNC;
    else if (cfg->greylist_lmdb_sync == FL_GREYLIST_SYNC_NONE)
        envflags |= MDB_NOSYNC;
    b->nosync = cfg->greylist_lmdb_sync == FL_GREYLIST_SYNC_NONE;
    int rc = mdb_env_create(&b->env);
    if (rc != 0) {
        set_err(err, "mdb_env_create", rc);
        free(b);
        return -1;
    }
    MDB_txn *txn = NULL;
    if ((rc = mdb_env_set_mapsize(b->env, (size_t)b->map_size)) != 0 ||
        (rc = mdb_env_set_maxreaders(b->env, 512)) != 0) {
        set_err(err, "LMDB settings", rc);
        goto fail;
    }
    if ((rc = mdb_env_open(b->env, dir, envflags, 0640)) != 0) {
        fl_buf_printf(err, "cannot open LMDB store in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    int dead = 0;
    mdb_reader_check(b->env, &dead); /* slots of killed processes */
    if ((rc = mdb_txn_begin(b->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, NULL, 0, &b->dbi)) != 0 ||
        (rc = mdb_txn_commit(txn)) != 0) {
        if (txn != NULL && rc != 0)
            mdb_txn_abort(txn);
        fl_buf_printf(err, "cannot open the database in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    /* A marker record, written with this process's map size: LMDB keeps
       the largest map size of the committing processes in the meta page,
       so a process opened with a larger greylist_lmdb_map_size (say
       faultlinectl after the store filled) grows the store for the running
       daemon too (see adopt_larger_map). */
    MDB_val mk = {1, "v"}, mv = {sizeof(FORMAT_MARK) - 1, FORMAT_MARK};
    if (mdb_txn_begin(b->env, NULL, 0, &txn) == 0) {
        if (mdb_put(txn, b->dbi, &mk, &mv, 0) == 0)
            mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn); /* a full map: the first update says so */
    }
    pthread_rwlock_init(&b->resize, NULL);
    *be_r = b;
    return 0;
fail:
    mdb_env_close(b->env);
    unregister_env(b->dev, b->ino);
    free(b);
    return -1;
}

static void lmdb_close(void *be)
{
    struct lmdb_be *b = be;
    if (b == NULL)
        return;
    if (b->nosync)
        mdb_env_sync(b->env, 1);
    mdb_env_close(b->env);
    unregister_env(b->dev, b->ino);
    pthread_rwlock_destroy(&b->resize);
    free(b);
}

/* Begins a transaction; adopts a map grown by another process. */
static int begin(struct lmdb_be *b, unsigned int flags, MDB_txn **txn_r)
{
    pthread_rwlock_rdlock(&b->resize);
    int rc = mdb_txn_begin(b->env, NULL, flags, txn_r);
    if (rc != MDB_MAP_RESIZED)
        return rc;
    pthread_rwlock_unlock(&b->resize);
    pthread_rwlock_wrlock(&b->resize);
    mdb_env_set_mapsize(b->env, 0);
    pthread_rwlock_unlock(&b->resize);
    pthread_rwlock_rdlock(&b->resize);
    return mdb_txn_begin(b->env, NULL, flags, txn_r);
}

static void end(struct lmdb_be *b)
{
    pthread_rwlock_unlock(&b->resize);
}

/* One update in one write transaction.  Returns 0, an LMDB error code
   (MDB_MAP_FULL: the caller may grow the map and retry), or -1 with err. */
static int update_once(struct lmdb_be *b, struct fl_greylist_txn *t,
                       void (*apply)(struct fl_greylist_txn *t, void *ctx), void *ctx,
                       struct fl_buf *err)
{
    MDB_txn *txn;
    int rc = begin(b, 0, &txn);
    if (rc != 0) {
        end(b);
        set_err(err, "cannot begin a write transaction", rc);
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        MDB_val k = {strlen(t->keys[i]), t->keys[i]}, v;
        t->write[i] = t->del[i] = false;
        rc = mdb_get(txn, b->dbi, &k, &v);
        if (rc == MDB_NOTFOUND) {
            t->found[i] = false;
        } else if (rc != 0) {
            mdb_txn_abort(txn);
            end(b);
            set_err(err, "read", rc);
            return -1;
        } else {
            t->found[i] = fl_greylist_record_parse(v.mv_data, v.mv_size, &t->rec[i]) == 0;
        }
        if (!t->found[i])
            memset(&t->rec[i], 0, sizeof(t->rec[i]));
    }
    apply(t, ctx);
    rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        MDB_val k = {strlen(t->keys[i]), t->keys[i]};
        if (t->del[i]) {
            rc = mdb_del(txn, b->dbi, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        } else if (t->write[i]) {
            char text[FL_GREYLIST_VALUE_MAX];
            size_t n = fl_greylist_record_encode(&t->rec[i], text, sizeof(text));
            MDB_val v = {n, text};
            rc = mdb_put(txn, b->dbi, &k, &v, 0);
        }
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    end(b);
    return rc;
}

/* After MDB_MAP_FULL: if another process recorded a larger map size in
   the meta page, map that much (no transaction may run meanwhile: the
   write lock).  Returns true if the map grew. */
static bool adopt_larger_map(struct lmdb_be *b)
{
    MDB_envinfo before, after;
    pthread_rwlock_wrlock(&b->resize);
    mdb_env_info(b->env, &before);
    mdb_env_set_mapsize(b->env, 0); /* the size in the meta page */
    mdb_env_info(b->env, &after);
    bool grew = after.me_mapsize > before.me_mapsize;
    if (grew)
        b->map_size = (long long)after.me_mapsize;
    else if (after.me_mapsize != before.me_mapsize)
        mdb_env_set_mapsize(b->env, before.me_mapsize);
    pthread_rwlock_unlock(&b->resize);
    return grew;
}

static int lmdb_update(void *be, struct fl_greylist_txn *t,
                       void (*apply)(struct fl_greylist_txn *t, void *ctx), void *ctx,
                       time_t now, struct fl_buf *err)
{
    struct lmdb_be *b = be;
    (void)now;
    int rc = update_once(b, t, apply, ctx, err);
    if (rc == MDB_MAP_FULL && adopt_larger_map(b))
        rc = update_once(b, t, apply, ctx, err);
    if (rc == MDB_MAP_FULL) {
        full_err(b, err);
        return -1;
    }
    if (rc > 0 || rc < -1) {
        set_err(err, "write", rc);
        return -1;
    }
    return rc;
}

static int lmdb_scan(void *be, const char *prefix,
                     int (*cb)(const char *key, const struct fl_greylist_record *rec,
                               void *ctx),
                     void *ctx, struct fl_buf *err)
{
    struct lmdb_be *b = be;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = begin(b, MDB_RDONLY, &txn);
    if (rc != 0) {
        end(b);
        set_err(err, "cannot begin a read transaction", rc);
        return -1;
    }
    if ((rc = mdb_cursor_open(txn, b->dbi, &cur)) != 0) {
        mdb_txn_abort(txn);
        end(b);
        set_err(err, "cursor", rc);
        return -1;
    }
    size_t plen = strlen(prefix);
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        char key[FL_GREYLIST_KEY_MAX];
        struct fl_greylist_record rec;
        if (k.mv_size >= sizeof(key) ||
            fl_greylist_record_parse(v.mv_data, v.mv_size, &rec) != 0)
            continue; /* not ours */
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = '\0';
        if (cb(key, &rec, ctx) != 0)
            break;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    end(b);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        set_err(err, "scan", rc);
        return -1;
    }
    return 0;
}

/* One sweep batch from resume (the key to start at; "" = the first),
   deleting at most max_delete records.  Advances resume only when the
   batch committed.  Returns 1 when the end was reached, 0 when there is
   more, -2 when the map is too full for the batch, -1 on other errors. */
static int sweep_batch(struct lmdb_be *b, time_t cutoff, char *resume, size_t max_delete,
                       size_t *removed_r, struct fl_buf *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = begin(b, 0, &txn);
    if (rc != 0) {
        end(b);
        set_err(err, "cannot begin a write transaction", rc);
        return -1;
    }
    if ((rc = mdb_cursor_open(txn, b->dbi, &cur)) != 0) {
        mdb_txn_abort(txn);
        end(b);
        set_err(err, "cursor", rc);
        return -1;
    }
    char next[FL_GREYLIST_KEY_MAX] = "";
    size_t rlen = strlen(resume), examined = 0, deleted = 0;
    MDB_val k = {rlen, resume}, v;
    rc = mdb_cursor_get(cur, &k, &v, rlen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && examined < SWEEP_EXAMINE && deleted < max_delete) {
        struct fl_greylist_record rec;
        examined++;
        if (fl_greylist_record_parse(v.mv_data, v.mv_size, &rec) == 0 &&
            rec.expires != 0 && rec.expires <= cutoff) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            deleted++;
        }
        /* After a delete the cursor stands on the following record and
           MDB_NEXT returns it without moving (LMDB's C_DEL). */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    int at_end = rc == MDB_NOTFOUND;
    if (rc == 0 && k.mv_size < sizeof(next)) {
        /* The record the cursor stands on is the next batch's first. */
        memcpy(next, k.mv_data, k.mv_size);
        next[k.mv_size] = '\0';
    }
    mdb_cursor_close(cur);
    if (rc == 0 || at_end)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    end(b);
    if (rc == MDB_MAP_FULL)
        return -2;
    if (rc != 0) {
        set_err(err, "sweep", rc);
        return -1;
    }
    *removed_r += deleted;
    if (at_end)
        return 1;
    memcpy(resume, next, sizeof(next));
    return 0;
}

static int lmdb_sweep(void *be, time_t cutoff, bool background, size_t *removed_r,
                      struct fl_buf *err)
{
    struct lmdb_be *b = be;
    (void)background;
    char resume[FL_GREYLIST_KEY_MAX] = "";
    size_t max_delete = SWEEP_DELETE;
    int dead = 0, rc;
    *removed_r = 0;
    mdb_reader_check(b->env, &dead);
    for (;;) {
        rc = sweep_batch(b, cutoff, resume, max_delete, removed_r, err);
        if (rc == -2 && adopt_larger_map(b))
            continue;
        if (rc == -2 && max_delete > 1) {
            /* Deleting needs free pages too (copy-on-write): on a full map,
               smaller batches, down to one record, may still fit. */
            max_delete /= 2;
            continue;
        }
        if (rc != 0)
            break;
    }
    if (rc == -2)
        full_err(b, err);
    if (b->nosync)
        mdb_env_sync(b->env, 1);
    return rc < 0 ? -1 : 0;
}

const struct fl_greylist_ops fl_greylist_lmdb_ops = {
    .name = "lmdb",
    .open = lmdb_open,
    .close = lmdb_close,
    .update = lmdb_update,
    .scan = lmdb_scan,
    .sweep = lmdb_sweep,
};
