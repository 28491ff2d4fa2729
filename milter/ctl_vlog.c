/* ctl_vlog: see ctl_vlog.h. */
#include "milter/ctl_vlog.h"
#include "lib/core/verdict.h"
#include "lib/core/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* A line longer than this is not a verdict record. */
#define MAX_LINE (16u << 20)
#define CHUNK    (1u << 20)

int fl_vlog_parse_time(const char *text, bool until, char out[20])
{
    size_t n = strlen(text);
    char *end;
    /* a duration before now */
    if (n >= 2 && isdigit((unsigned char)text[0]) && strchr("smhd", text[n - 1]) &&
        strspn(text, "0123456789") == n - 1) {
        long v = strtol(text, &end, 10);
        long unit = text[n - 1] == 's' ? 1 : text[n - 1] == 'm' ? 60
                                         : text[n - 1] == 'h'   ? 3600
                                                                : 86400;
        time_t t = time(NULL) - (time_t)(v * unit);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
        return 0;
    }
    /* YYYY-MM-DD[(T| )HH:MM[:SS]] */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (n != 10 && n != 16 && n != 19)
        return -1;
    char t[20];
    for (size_t i = 0; i < n; i++) {
        char c = text[i], s = shape[i];
        if (s == 'd' ? !isdigit((unsigned char)c) : s == 'T' ? (c != 'T' && c != ' ') : c != s)
            return -1;
        t[i] = s == 'T' ? 'T' : c;
    }
    const char *fill = until ? "T23:59:59" : "T00:00:00";
    if (n == 10)
        memcpy(t + 10, fill, 9);
    else if (n == 16)
        memcpy(t + 16, until ? ":59" : ":00", 3);
    t[19] = '\0';
    memcpy(out, t, 20);
    return 0;
}

static void problem(struct fl_vlog_stats *st, bool quiet, const char *file,
                    unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void problem(struct fl_vlog_stats *st, bool quiet, const char *file,
                    unsigned long line, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (!quiet && st->nproblems < FL_VLOG_MAX_PROBLEMS) {
        if (line > 0)
            fprintf(stderr, "%s:%lu: warning: %s\n", file, line, what);
        else
            fprintf(stderr, "%s: warning: %s\n", file, what);
    }
    if (st->nproblems >= FL_VLOG_MAX_PROBLEMS) {
        st->more_problems++;
        return;
    }
    if (st->nproblems == 0)
        st->problems = fl_calloc(FL_VLOG_MAX_PROBLEMS, sizeof(*st->problems));
    struct fl_vlog_problem *p = &st->problems[st->nproblems++];
    p->file = fl_strdup(file);
    p->line = line;
    p->what = fl_strdup(what);
}

/* One line: parse, check, filter, hand over.  Returns the callback's
   answer (1: stop). */
static int one_line(struct fl_cj *cj, char *line, size_t len, const char *file,
                    unsigned long lineno, bool last_unterminated,
                    const struct fl_vlog_window *w, bool quiet, fl_vlog_fn *fn, void *arg,
                    struct fl_vlog_stats *st)
{
    st->lines++;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    size_t blank = 0;
    while (blank < len && isspace((unsigned char)line[blank]))
        blank++;
    if (blank == len)
        return 0;
    const char *why;
    size_t off;
    const struct fl_cj_node *root = fl_cj_parse(cj, line, len, &why, &off);
    if (root == NULL) {
        st->skipped++;
        problem(st, quiet, file, lineno, "not a JSON record: %s at byte %zu%s; skipped", why,
                off + 1, last_unterminated ? " (the file ends inside this line)" : "");
        return 0;
    }
    if (root->type != FL_CJ_OBJ) {
        st->skipped++;
        problem(st, quiet, file, lineno, "not a verdict record (not a JSON object); skipped");
        return 0;
    }
    double v = fl_cj_num(fl_cj_get(cj, root, "v"), 1);
    if (v > FL_VERDICT_RECORD_VERSION) {
        st->skipped++;
        problem(st, quiet, file, lineno,
                "record of format version %g, newer than this faultlinectl reads (%d); "
                "skipped (update faultlinectl)",
                v, FL_VERDICT_RECORD_VERSION);
        return 0;
    }
    const char *t = fl_cj_gets(cj, root, "time");
    if (t == NULL || strlen(t) < 19) {
        st->skipped++;
        problem(st, quiet, file, lineno, "verdict record without a valid \"time\"; skipped");
        return 0;
    }
    if ((w->since[0] && strncmp(t, w->since, 19) < 0) ||
        (w->until[0] && strncmp(t, w->until, 19) > 0)) {
        st->outside_window++;
        return 0;
    }
    st->records++;
    return fn(cj, root, file, lineno, arg);
}

/* A file being read: through zlib when it is gzip-compressed, else with
   plain read(2) (zlib's pass-through would copy every byte once more). */
struct source {
    int fd;
    gzFile gz;
};

static int source_open(struct source *s, const char *file, const char **error_r)
{
    s->gz = NULL;
    s->fd = open(file, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    unsigned char magic[2];
    ssize_t n = pread(s->fd, magic, 2, 0);
    if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        s->gz = gzdopen(s->fd, "rb");
        if (s->gz == NULL) {
            close(s->fd);
            *error_r = "out of memory";
            return -1;
        }
        gzbuffer(s->gz, CHUNK);
    } else if (n < 0) {
        *error_r = strerror(errno);
        close(s->fd);
        return -1;
    }
    return 0;
}

/* Returns bytes read, 0 at the end, -1 with *error_r. */
static long source_read(struct source *s, char *buf, unsigned int len, const char **error_r)
{
    if (s->gz != NULL) {
        int n = gzread(s->gz, buf, len);
        int errnum = Z_OK;
        if (n == 0 && (gzerror(s->gz, &errnum), errnum == Z_BUF_ERROR)) {
            *error_r = "the compressed file ends early (cut short)";
            return -1;
        }
        if (n < 0) {
            const char *msg = gzerror(s->gz, &errnum);
            *error_r = errnum == Z_ERRNO ? strerror(errno) : msg;
        }
        return n;
    }
    ssize_t n;
    do
        n = read(s->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        *error_r = strerror(errno);
    return (long)n;
}

static void source_close(struct source *s)
{
    if (s->gz != NULL)
        gzclose(s->gz); /* closes fd */
    else
        close(s->fd);
}

/* Returns 1 when the callback stopped the run, 0 at end of file, -1 when
   the file cannot be read. */
static int read_file(const char *file, struct fl_cj *cj, const struct fl_vlog_window *w,
                     bool quiet, fl_vlog_fn *fn, void *arg, struct fl_vlog_stats *st)
{
    struct source src;
    const char *err;
    if (source_open(&src, file, &err) < 0) {
        problem(st, quiet, file, 0, "cannot open: %s; skipped", err);
        return -1;
    }
    st->files++;
    size_t cap = 2 * CHUNK + 1, have = 0;
    char *buf = fl_malloc(cap);
    unsigned long lineno = 0;
    int stop = 0;
    bool skipping = false; /* inside an over-long line */
    for (;;) {
        if (cap - have < CHUNK + 1) {
            if (cap > MAX_LINE + CHUNK) {
                /* no newline within MAX_LINE: drop what we have */
                if (!skipping) {
                    problem(st, quiet, file, lineno + 1,
                            "line longer than %u bytes, not a verdict record; skipped",
                            MAX_LINE);
                    st->skipped++;
                }
                skipping = true;
                have = 0;
            } else {
                cap *= 2;
                buf = fl_realloc(buf, cap);
            }
        }
        long n = source_read(&src, buf + have, CHUNK, &err);
        if (n < 0) {
            problem(st, quiet, file, lineno + 1, "read error: %s; the rest is skipped", err);
            break;
        }
        if (n == 0) {
            if (have > 0 && !skipping) {
                lineno++;
                stop = one_line(cj, buf, have, file, lineno, true, w, quiet, fn, arg, st);
            }
            break;
        }
        size_t start = 0, scan = have;
        have += (size_t)n;
        for (;;) {
            char *nl = memchr(buf + scan, '\n', have - scan);
            if (nl == NULL)
                break;
            size_t end = (size_t)(nl - buf);
            lineno++;
            if (skipping)
                skipping = false;
            else
                stop = one_line(cj, buf + start, end - start, file, lineno, false, w, quiet,
                                fn, arg, st);
            start = scan = end + 1;
            if (stop)
                break;
        }
        if (stop)
            break;
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    free(buf);
    source_close(&src);
    return stop;
}

int fl_vlog_read(char *const *files, size_t nfiles, const struct fl_vlog_window *w,
                 bool quiet, fl_vlog_fn *fn, void *arg, struct fl_vlog_stats *st)
{
    struct fl_cj cj;
    fl_cj_init(&cj);
    size_t readable = 0;
    for (size_t i = 0; i < nfiles; i++) {
        int rc = read_file(files[i], &cj, w, quiet, fn, arg, st);
        readable += rc >= 0;
        if (rc == 1)
            break;
    }
    fl_cj_free(&cj);
    if (!quiet && st->more_problems > 0)
        fprintf(stderr, "faultlinectl: %lu more problems like these were not shown\n",
                st->more_problems);
    return readable > 0 || nfiles == 0 ? 0 : -1;
}

struct rotated {
    char *path;
    time_t mtime;
};

static int by_mtime(const void *a, const void *b)
{
    const struct rotated *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    /* same second: FILE.2 is older than FILE.1 */
    return -strcmp(x->path, y->path);
}

int fl_vlog_default_files(const struct fl_config *cfg, char ***files_r, const char **error_r)
{
    const char *log = cfg->verdict_log;
    if (log == NULL || *log == '\0' || strcmp(log, "-") == 0) {
        *error_r = "verdict_log is not a file (empty or \"-\"): give the verdict log files "
                   "as arguments";
        return -1;
    }
    struct rotated *r = NULL;
    size_t n = 0;
    static const char *const suffixes[] = {".*", "-*"};
    for (size_t p = 0; p < 2; p++) {
        char pat[4096];
        snprintf(pat, sizeof(pat), "%s%s", log, suffixes[p]);
        glob_t g;
        if (glob(pat, 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat sb;
            if (stat(g.gl_pathv[i], &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            r = fl_realloc(r, (n + 1) * sizeof(*r));
            r[n].path = fl_strdup(g.gl_pathv[i]);
            r[n++].mtime = sb.st_mtime;
        }
        globfree(&g);
    }
    if (n > 1)
        qsort(r, n, sizeof(*r), by_mtime);
    char **files = fl_calloc(n + 2, sizeof(*files));
    for (size_t i = 0; i < n; i++)
        files[i] = r[i].path;
    files[n] = fl_strdup(log); /* the current one last */
    free(r);
    *files_r = files;
    return (int)n + 1;
}

void fl_vlog_free_files(char **files)
{
    for (size_t i = 0; files != NULL && files[i] != NULL; i++)
        free(files[i]);
    free(files);
}

int fl_vlog_args_files(const struct fl_config *cfg, const char *command, int argc, char **argv,
                       int first, char ***files_r, size_t *nfiles_r, bool *own_r)
{
    *own_r = first >= argc;
    if (!*own_r) {
        *files_r = argv + first;
        *nfiles_r = (size_t)(argc - first);
        return 0;
    }
    const char *why;
    int n = fl_vlog_default_files(cfg, files_r, &why);
    if (n < 0) {
        fprintf(stderr, "faultlinectl: %s: %s\n", command, why);
        return -1;
    }
    *nfiles_r = (size_t)n;
    return 0;
}

void fl_vlog_stats_free(struct fl_vlog_stats *st)
{
    for (size_t i = 0; i < st->nproblems; i++) {
        free(st->problems[i].file);
        free(st->problems[i].what);
    }
    free(st->problems);
    memset(st, 0, sizeof(*st));
}

struct json_t *fl_vlog_problems_json(const struct fl_vlog_stats *st)
{
    json_t *a = json_array();
    for (size_t i = 0; i < st->nproblems; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "file", json_string(st->problems[i].file));
        json_object_set_new(p, "line", json_integer((json_int_t)st->problems[i].line));
        json_object_set_new(p, "problem", json_string(st->problems[i].what));
        json_array_append_new(a, p);
    }
    return a;
}

void fl_vlog_put_clean(FILE *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        putc((c < 0x20 && c != '\n') || c == 0x7f ? '?' : (int)c, out);
    }
}

const char *fl_vlog_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] ? at + 1 : NULL;
}
