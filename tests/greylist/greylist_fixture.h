/* greylist_fixture: what the greylisting tests share -- a temp directory
   with a configuration file, an open store on a fake clock (struct
   fl_clock: tests move fix->now, nothing sleeps), a decision helper, and a
   capture of the log lines (stderr) a step writes.  Header-only (static
   inline) so each check_greylist_*.c stays one translation unit. */
#ifndef FL_TESTS_GREYLIST_FIXTURE_H
#define FL_TESTS_GREYLIST_FIXTURE_H

#include "lib/core/config.h"
#include "lib/greylist/greylist.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* 2026-01-01T00:00:00Z: a fixed start, so expiries are easy to read. */
#define GLF_T0 ((time_t)1767225600)
#define MIN    60
#define HOUR   3600
#define DAY    86400

struct gl_fixture {
    char dir[256]; /* temp dir; the LMDB store is dir/store */
    char store[300];
    char conf[300];
    struct fl_config *cfg;
    struct fl_greylist *gl;
    time_t now; /* the fake clock */
    struct fl_clock clock;
};

static inline time_t glf_clock_now(void *ctx)
{
    return *(const time_t *)ctx;
}

static inline void glf_rmtree(const char *dir)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return;
    struct dirent *e;
    char path[600];
    while ((e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
            continue;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            glf_rmtree(path);
        else
            unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

/* Loads a configuration: greylisting on, the LMDB store in f->store, then
   extra (settings, one per line; may be NULL).  Does not open the store. */
static inline void glf_config(struct gl_fixture *f, const char *extra)
{
    if (f->dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof(f->dir), "%s/fl-gl-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_msg(mkdtemp(f->dir) != NULL, "mkdtemp failed");
        snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
        snprintf(f->conf, sizeof(f->conf), "%s/faultline.conf", f->dir);
    }
    FILE *fp = fopen(f->conf, "w");
    ck_assert_msg(fp != NULL, "cannot write %s", f->conf);
    bool sets_enable = extra != NULL && strstr(extra, "greylist_enable") != NULL;
    fprintf(fp, "%sgreylist_lmdb_dir = %s\n%s\n",
            sets_enable ? "" : "greylist_enable = yes\n", f->store, extra ? extra : "");
    fclose(fp);
    struct fl_buf err;
    fl_buf_init(&err);
    if (f->cfg != NULL)
        fl_config_unref(&f->cfg);
    ck_assert_msg(fl_config_load(f->conf, &f->cfg, &err) == 0, "config: %s", err.data);
    fl_buf_free(&err);
}

static inline void glf_open(struct gl_fixture *f)
{
    struct fl_buf err;
    fl_buf_init(&err);
    f->clock.now = glf_clock_now;
    f->clock.ctx = &f->now;
    ck_assert_msg(fl_greylist_open(f->cfg, &f->clock, 0, &f->gl, &err) == 0, "open: %s",
                  err.data);
    fl_buf_free(&err);
}

/* Configuration and store, clock at GLF_T0. */
static inline void glf_setup(struct gl_fixture *f, const char *extra)
{
    memset(f, 0, sizeof(*f));
    f->now = GLF_T0;
    glf_config(f, extra);
    glf_open(f);
}

static inline void glf_teardown(struct gl_fixture *f)
{
    fl_greylist_close(&f->gl);
    fl_config_unref(&f->cfg);
    if (f->dir[0] != '\0')
        glf_rmtree(f->dir);
    f->dir[0] = '\0';
}

/* One decision for a plain query (no flags, SPF unknown). */
static inline int glf_decide(struct gl_fixture *f, const char *ip, const char *sender,
                             const char *rcpt, struct fl_greylist_decision *d)
{
    struct fl_greylist_query q = {.client_ip = ip, .sender = sender, .rcpt = rcpt};
    return fl_greylist_decide(f->gl, f->cfg, &q, d);
}

/* --- log capture: stderr into a file for the duration of a step ---------- */

struct glf_capture {
    char path[300];
    int saved;
};

static inline void glf_capture_start(struct glf_capture *c, const struct gl_fixture *f)
{
    snprintf(c->path, sizeof(c->path), "%s/stderr.log", f->dir);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_msg(fd >= 0 && c->saved >= 0, "cannot capture stderr");
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* Restores stderr; returns what was written (free it). */
static inline char *glf_capture_end(struct glf_capture *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    FILE *fp = fopen(c->path, "r");
    char *text = calloc(1, 65536);
    ck_assert(text != NULL);
    if (fp != NULL) {
        size_t n = fread(text, 1, 65535, fp);
        text[n] = '\0';
        fclose(fp);
    }
    unlink(c->path);
    return text;
}

#endif
