/* server: see server.h.  Nothing here takes a lock on the per-message
   path: the snapshot and the verdict log are read under a reader count
   (readers never wait; the rare writer -- a reload, a log reopen -- swaps
   the pointer and waits until the readers that may have seen the old one
   are out before dropping it), and the session count is atomic. */
#include "milter/server.h"
#include "milter/metrics_http.h"
#include "lib/core/clock.h"
#include "lib/core/log.h"
#include "lib/core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fl_server fl_srv = {
    .writer_lock = PTHREAD_MUTEX_INITIALIZER,
    .session_lock = PTHREAD_MUTEX_INITIALIZER,
    .session_idle = PTHREAD_COND_INITIALIZER,
    .idle = FL_IDLE_INIT,
};

static void *publish_read_begin(struct fl_published *p)
{
    __atomic_add_fetch(&p->readers, 1, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&p->ptr, __ATOMIC_SEQ_CST);
}

static void publish_read_end(struct fl_published *p)
{
    __atomic_sub_fetch(&p->readers, 1, __ATOMIC_RELEASE);
}

/* Installs ptr and returns the old pointer once no reader can still be
   using it. */
static void *publish_swap(struct fl_published *p, void *ptr)
{
    void *old = __atomic_exchange_n(&p->ptr, ptr, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&p->readers, __ATOMIC_ACQUIRE) != 0)
        sched_yield();
    return old;
}

struct snapshot {
    struct fl_config *cfg;
    struct fl_dnsbl_lists *lists;
};


struct verdict_log {
    int fd; /* -1: none */
    char *path;
};

void fl_server_set_snapshot(struct fl_config *cfg, struct fl_dnsbl_lists *lists)
{
    struct snapshot *s = fl_calloc(1, sizeof(*s));
    s->cfg = cfg;
    s->lists = lists;
    pthread_mutex_lock(&fl_srv.writer_lock);
    struct snapshot *old = publish_swap(&fl_srv.current, cfg != NULL ? s : NULL);
    pthread_mutex_unlock(&fl_srv.writer_lock);
    if (cfg == NULL) {
        fl_dnsbl_lists_unref(&s->lists);
        free(s);
    }
    if (old != NULL) {
        fl_config_unref(&old->cfg);
        fl_dnsbl_lists_unref(&old->lists);
        free(old);
    }
}

void fl_server_set_config(struct fl_config *cfg)
{
    fl_server_set_snapshot(cfg, NULL);
}

int fl_server_build_lists(const struct fl_config *cfg, struct fl_dnsbl_lists **lists_r)
{
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_dnsbl_lists_create(cfg, lists_r, &errors);
    if (rc < 0)
        fl_error("DNS lists: %s", errors.data);
    fl_buf_free(&errors);
    return rc;
}

struct fl_dnsbl_lists *fl_server_dnsbl_lists(void)
{
    struct snapshot *s = publish_read_begin(&fl_srv.current);
    struct fl_dnsbl_lists *l = s && s->lists ? fl_dnsbl_lists_ref(s->lists) : NULL;
    publish_read_end(&fl_srv.current);
    return l;
}

struct fl_config *fl_server_config(void)
{
    struct snapshot *s = publish_read_begin(&fl_srv.current);
    struct fl_config *cfg = s ? fl_config_ref(s->cfg) : NULL;
    publish_read_end(&fl_srv.current);
    return cfg;
}

void fl_server_apply_log(const struct fl_config *cfg)
{
    const char *target = cfg->log;
    if (strcmp(target, "auto") == 0)
        target = fl_srv.foreground ? "stderr" : "mail";
    fl_log_open("faultline", target, (enum fl_log_level)cfg->log_level);
}

int fl_server_reload(void)
{
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    if (fl_config_load(fl_srv.config_path, &cfg, &errors) < 0) {
        char *save, *line = strtok_r(errors.data, "\n", &save);
        for (; line; line = strtok_r(NULL, "\n", &save))
            fl_error("reload: %s", line);
        fl_error("reload: configuration has errors; keeping the running configuration");
        fl_buf_free(&errors);
        return -1;
    }
    struct fl_dnsbl_lists *lists;
    if (fl_server_build_lists(cfg, &lists) < 0) {
        fl_error("reload: keeping the running configuration");
        fl_config_unref(&cfg);
        fl_buf_free(&errors);
        return -1;
    }
    struct fl_config *old = fl_server_config();
    fl_buf_reset(&errors);
    fl_config_restart_changes(old, cfg, &errors);
    char *save, *line = strtok_r(errors.data, "\n", &save);
    for (; line; line = strtok_r(NULL, "\n", &save))
        fl_warn("reload: %s", line);
    fl_buf_free(&errors);
    fl_server_apply_log(cfg);
    fl_server_open_verdict_log(cfg);
    if (cfg->greylist_enable && __atomic_load_n(&fl_srv.greylist, __ATOMIC_ACQUIRE) == NULL) {
        /* greylisting switched on by this reload: open its store now */
        struct fl_greylist *gl = NULL;
        struct fl_buf err;
        fl_buf_init(&err);
        if (fl_greylist_open(cfg, NULL, 0, &gl, &err) < 0)
            fl_error("reload: greylist store: %s; greylisting fails open (accepts)", err.data);
        else
            __atomic_store_n(&fl_srv.greylist, gl, __ATOMIC_RELEASE);
        fl_buf_free(&err);
    }
    fl_server_set_snapshot(cfg, lists);
    fl_info("configuration reloaded from %s", fl_srv.config_path ? fl_srv.config_path
                                                                  : "(embedded defaults)");
    fl_config_unref(&old);
    return 0;
}

static void verdict_log_close(struct verdict_log *v)
{
    if (v == NULL)
        return;
    if (v->fd > STDERR_FILENO)
        close(v->fd);
    free(v->path);
    free(v);
}

int fl_server_open_verdict_log(const struct fl_config *cfg)
{
    int fd = -1;
    const char *path = cfg->verdict_log;
    if (strcmp(path, "-") == 0) {
        fd = STDOUT_FILENO;
    } else if (*path != '\0') {
        /* O_APPEND: each record is one write(2) at the end, whole, without
           a lock between the session threads */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            fl_error("verdict_log %s: cannot open: %s; keeping the previous one", path,
                     strerror(errno));
            return -1;
        }
    }
    struct verdict_log *v = fl_calloc(1, sizeof(*v));
    v->fd = fd;
    v->path = fl_strdup(*path ? path : "-");
    pthread_mutex_lock(&fl_srv.writer_lock);
    struct verdict_log *old = publish_swap(&fl_srv.verdict_log, v);
    pthread_mutex_unlock(&fl_srv.writer_lock);
    verdict_log_close(old);
    return 0;
}

void fl_server_chown_verdict_log(unsigned int uid, unsigned int gid)
{
    struct verdict_log *v = publish_read_begin(&fl_srv.verdict_log);
    if (v != NULL && v->fd > STDERR_FILENO && fchown(v->fd, uid, gid) < 0)
        fl_warn("verdict_log %s: cannot change owner: %s", v->path, strerror(errno));
    publish_read_end(&fl_srv.verdict_log);
}

void fl_server_write_verdict(const char *line)
{
    struct verdict_log *v = publish_read_begin(&fl_srv.verdict_log);
    if (v != NULL && v->fd >= 0) {
        size_t n = strlen(line);
        char stackbuf[8192];
        char *buf = n + 1 <= sizeof(stackbuf) ? stackbuf : fl_malloc(n + 1);
        memcpy(buf, line, n);
        buf[n] = '\n';
        ssize_t w = write(v->fd, buf, n + 1);
        if (w != (ssize_t)(n + 1))
            fl_error("verdict_log %s: write failed: %s", v->path,
                     w < 0 ? strerror(errno) : "short write");
        if (buf != stackbuf)
            free(buf);
    }
    publish_read_end(&fl_srv.verdict_log);
}

void fl_server_session_begin(void)
{
    __atomic_add_fetch(&fl_srv.sessions, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&fl_srv.served, 1, __ATOMIC_RELAXED);
}

void fl_server_session_end(void)
{
    if (__atomic_sub_fetch(&fl_srv.sessions, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    pthread_mutex_lock(&fl_srv.session_lock); /* only when the last one leaves */
    pthread_cond_broadcast(&fl_srv.session_idle);
    pthread_mutex_unlock(&fl_srv.session_lock);
}

int fl_server_wait_idle(long long timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&fl_srv.session_lock);
    while (__atomic_load_n(&fl_srv.sessions, __ATOMIC_ACQUIRE) > 0)
        if (pthread_cond_timedwait(&fl_srv.session_idle, &fl_srv.session_lock, &ts) == ETIMEDOUT)
            break;
    int left = __atomic_load_n(&fl_srv.sessions, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&fl_srv.session_lock);
    return left;
}

void fl_server_teardown(void)
{
    fl_metrics_http_stop(&fl_srv.metrics_http); /* it reads what follows */
    fl_pool_destroy(&fl_srv.pool);
    fl_greylist_close(&fl_srv.greylist);
    fl_dkim_ctx_destroy(&fl_srv.dkim);
    fl_arc_keys_free(&fl_srv.arc_keys);
    fl_dns_destroy(&fl_srv.dns);
    pthread_mutex_lock(&fl_srv.writer_lock);
    verdict_log_close(publish_swap(&fl_srv.verdict_log, NULL));
    pthread_mutex_unlock(&fl_srv.writer_lock);
    fl_server_set_config(NULL);
}

int fl_server_sessions(void)
{
    int n = __atomic_load_n(&fl_srv.sessions, __ATOMIC_ACQUIRE);
    return n;
}

/* Rewrites stats_file (atomically: a temp file renamed over it). */
static void write_stats(const struct fl_config *cfg)
{
    if (*cfg->stats_file == '\0')
        return;
    json_t *o = json_object();
    json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(o, "sessions", json_integer(__atomic_load_n(&fl_srv.sessions, __ATOMIC_RELAXED)));
    if (fl_srv.dns != NULL) {
        struct fl_dns_stats st;
        fl_dns_stats(fl_srv.dns, &st);
        json_t *d = json_object();
        json_object_set_new(d, "queries", json_integer((json_int_t)st.queries));
        json_object_set_new(d, "answered_fast", json_integer((json_int_t)st.answered_fast));
        json_t *status = json_object();
        for (int i = FL_DNS_OK; i <= FL_DNS_LOCAL; i++)
            json_object_set_new(status, fl_dns_status_name((enum fl_dns_status)i),
                                json_integer((json_int_t)st.status[i]));
        json_object_set_new(d, "status", status);
        json_t *lat = json_array();
        for (int i = 0; i < FL_DNS_LATENCY_BUCKETS; i++) {
            json_t *b = json_object();
            if (i < FL_DNS_LATENCY_BUCKETS - 1)
                json_object_set_new(b, "below_ms", json_integer(fl_dns_latency_bounds[i]));
            json_object_set_new(b, "count", json_integer((json_int_t)st.latency[i]));
            json_array_append_new(lat, b);
        }
        json_object_set_new(d, "latency", lat);
        json_object_set_new(o, "dns", d);
    }
    struct fl_dnsbl_lists *lists = fl_server_dnsbl_lists();
    json_t *arr = json_array();
    if (lists != NULL) {
        struct fl_dnsbl_list_stats ls[128];
        size_t n = fl_dnsbl_stats(lists, ls, 128);
        for (size_t i = 0; i < n && i < 128; i++) {
            json_t *l = json_object();
            json_object_set_new(l, "zone", json_string(ls[i].zone));
            json_object_set_new(l, "domain_list", json_boolean(ls[i].domain_list));
            json_object_set_new(l, "disabled", json_boolean(ls[i].disabled));
            json_object_set_new(l, "queries", json_integer((json_int_t)ls[i].queries));
            json_object_set_new(l, "listed", json_integer((json_int_t)ls[i].listed));
            json_object_set_new(l, "not_listed", json_integer((json_int_t)ls[i].not_listed));
            json_object_set_new(l, "error_codes", json_integer((json_int_t)ls[i].error_codes));
            json_object_set_new(l, "timeouts", json_integer((json_int_t)ls[i].timeouts));
            json_object_set_new(l, "failures", json_integer((json_int_t)ls[i].failures));
            json_array_append_new(arr, l);
        }
    }
    fl_dnsbl_lists_unref(&lists);
    json_object_set_new(o, "dnsbl", arr);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", cfg->stats_file);
    if (json_dump_file(o, tmp, JSON_COMPACT) != 0 || rename(tmp, cfg->stats_file) != 0) {
        if (!fl_srv.stats_warned)
            fl_warn("stats_file %s: cannot write it: %s", cfg->stats_file, strerror(errno));
        fl_srv.stats_warned = true;
        unlink(tmp);
    }
    json_decref(o);
}

void fl_server_tune_memory(void)
{
    /* libmilter starts each session's thread with the default attributes:
       8 MB of stack each (RLIMIT_STACK) is address space 1000 sessions do
       not need, and glibc caches only 40 MB of freed stacks. */
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        if (pthread_attr_setstacksize(&attr, FL_SESSION_STACK) != 0 ||
            pthread_setattr_default_np(&attr) != 0)
            fl_warn("cannot set the session threads' stack size");
        pthread_attr_destroy(&attr);
    }
    /* One malloc arena per thread would hold each session's freed memory
       apart; a few arenas keep it shared (and trimmable). */
    mallopt(M_ARENA_MAX, FL_MALLOC_ARENAS);
}

/* Hands freed memory back to the system once the sessions of a burst are
   gone (glibc keeps it in its arenas otherwise), and again when kept
   worker threads have ended since (their malloc caches went back to the
   arenas). */
static void trim_when_idle(unsigned long threads_ended)
{
    unsigned long n = __atomic_load_n(&fl_srv.served, __ATOMIC_RELAXED) + threads_ended;
    if (n == fl_srv.trimmed_at || __atomic_load_n(&fl_srv.sessions, __ATOMIC_ACQUIRE) != 0)
        return;
    fl_srv.trimmed_at = n;
    malloc_trim(0);
}

long long fl_server_periodic(unsigned long threads_ended)
{
    struct fl_config *cfg = fl_server_config();
    long long now = fl_monotonic_ms(), wait = -1;
    if (*cfg->stats_file) {
        if (now >= fl_srv.next_stats) {
            write_stats(cfg);
            fl_srv.next_stats = now + cfg->stats_interval;
        }
        wait = fl_srv.next_stats - now;
    }
    if (fl_srv.greylist != NULL) {
        if (now >= fl_srv.next_sweep) {
            size_t removed = 0;
            struct fl_buf err;
            fl_buf_init(&err);
            if (fl_greylist_sweep(fl_srv.greylist, &removed, &err) < 0)
                fl_error("greylist sweep: %s", err.data);
            else if (removed > 0)
                fl_info("greylist sweep: removed %zu expired entries", removed);
            fl_buf_free(&err);
            fl_srv.next_sweep = now + cfg->greylist_sweep_interval;
        }
        long long w = fl_srv.next_sweep - now;
        wait = wait < 0 || w < wait ? w : wait;
    }
    if (cfg->dnsbl_probe_interval > 0 && fl_srv.dns != NULL) {
        if (now >= fl_srv.next_probe) {
            struct fl_dnsbl_lists *lists = fl_server_dnsbl_lists();
            struct fl_dnsbl_list_health health[64];
            if (lists != NULL)
                fl_dnsbl_probe_lists(lists, fl_srv.dns, now + cfg->dns_timeout, health, 64);
            fl_dnsbl_lists_unref(&lists);
            fl_srv.next_probe = now + cfg->dnsbl_probe_interval;
        }
        long long w = fl_srv.next_probe - now;
        wait = wait < 0 || w < wait ? w : wait;
    }
    trim_when_idle(threads_ended);
    if (wait < 0 || wait > FL_TRIM_INTERVAL_MS)
        wait = FL_TRIM_INTERVAL_MS;
    fl_config_unref(&cfg);
    return wait;
}
