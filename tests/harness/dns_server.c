/* dns_server: see dns_server.h.  Starts tests/dns/fakedns.py with
   --port 0, learns the port from the ready file it writes once both
   sockets listen, and follows fault reloads through the "# faults
   reloaded/rejected" lines the server appends to its query log. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* mkdtemp, strtok_r, kill, nanosleep */
#endif
#include "tests/harness/test_util.h"
#include "tests/harness/dns_server.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000

/* Writes text (NULL: empty) to path atomically: a temp file, then rename,
   so the server never reads half a file. */
static void write_file(const char *path, const char *text)
{
    char tmp[400];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        perror(tmp);
        abort();
    }
    if (text != NULL)
        fputs(text, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        perror(path);
        abort();
    }
}

/* The whole file as a malloc'd string, or NULL if it cannot be read. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        abort();
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Counts the fault-reload lines in the log; *rejected is set if the last
   one says the file was rejected. */
static int reload_count(struct fl_dnsd *d, bool *rejected)
{
    char *log = read_file(d->log);
    int count = 0;
    *rejected = false;
    if (log == NULL)
        return 0;
    for (char *line = log; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl == NULL)
            break; /* a line still being written */
        if (strncmp(line, "# faults reloaded ", 18) == 0) {
            count++;
            *rejected = false;
        } else if (strncmp(line, "# faults rejected ", 18) == 0) {
            count++;
            *rejected = true;
        }
        line = nl + 1;
    }
    free(log);
    return count;
}

/* Appends one server argument; aborts past the array's end. */
static void push_arg(char **argv, size_t *argc, size_t max, char *arg)
{
    if (*argc + 1 >= max) {
        fprintf(stderr, "fl_dnsd: too many zone paths\n");
        abort();
    }
    argv[(*argc)++] = arg;
    argv[*argc] = NULL;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    memcpy(p, s, n);
    return p;
}

/* Resolves one zone path as described in dns_server.h (malloc'd). */
static char *zone_path(const char *srcdir, const char *p)
{
    if (p[0] == '/')
        return xstrdup(p);
    size_t n = strlen(srcdir) + strlen(p) + 32;
    char *full = malloc(n);
    if (full == NULL)
        abort();
    snprintf(full, n, "%s/tests/dns/zones/%s", srcdir, p);
    struct stat st;
    if (stat(full, &st) == 0)
        return full;
    free(full);
    return xstrdup(p);
}

/* $FL_DNSD_KEEP=1 keeps the temp dir (fault file, query log) for a look
   after the test. */
static bool keep_dir(void)
{
    return strcmp(fl_test_env_or("FL_DNSD_KEEP", "0"), "1") == 0;
}

static void remove_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return;
    struct dirent *e;
    char path[600];
    while ((e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_dir(path);
        else
            unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

/* Runs fakedns.py on want_port (0: any free one) with d's zones and files and
   waits until it listens.  Returns 0 with d->pid, d->port and d->addr set,
   or -1 (server stopped, temp dir removed). */
static int spawn(struct fl_dnsd *d, int want_port)
{
    unlink(d->ready);
    char port_arg[16];
    snprintf(port_arg, sizeof(port_arg), "%d", want_port);
    const char *srcdir = fl_test_env_or("top_srcdir", ".");
    size_t sn = strlen(srcdir) + 64;
    char *script = malloc(sn);
    if (script == NULL)
        abort();
    snprintf(script, sn, "%s/tests/dns/fakedns.py", srcdir);

    enum { MAX_ARGS = 160 };
    char *argv[MAX_ARGS];
    size_t argc = 0;
    char *owned[MAX_ARGS];
    size_t nowned = 0;
    push_arg(argv, &argc, MAX_ARGS, (char *)fl_test_env_or("PYTHON3", "/usr/bin/python3"));
    push_arg(argv, &argc, MAX_ARGS, script);
    push_arg(argv, &argc, MAX_ARGS, "--port");
    push_arg(argv, &argc, MAX_ARGS, port_arg);
    push_arg(argv, &argc, MAX_ARGS, "--zones");
    char *list = xstrdup(d->zones);
    char *save = NULL;
    for (char *tok = strtok_r(list, " \t\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\n", &save)) {
        owned[nowned] = zone_path(srcdir, tok);
        push_arg(argv, &argc, MAX_ARGS, owned[nowned++]);
    }
    free(list);
    if (nowned == 0) {
        owned[nowned] = zone_path(srcdir, ".");
        push_arg(argv, &argc, MAX_ARGS, owned[nowned++]);
    }
    push_arg(argv, &argc, MAX_ARGS, "--faults");
    push_arg(argv, &argc, MAX_ARGS, d->faults);
    push_arg(argv, &argc, MAX_ARGS, "--log");
    push_arg(argv, &argc, MAX_ARGS, d->log);
    push_arg(argv, &argc, MAX_ARGS, "--ready-file");
    push_arg(argv, &argc, MAX_ARGS, d->ready);
    push_arg(argv, &argc, MAX_ARGS, "--pidfile");
    push_arg(argv, &argc, MAX_ARGS, d->pidfile);
    if (!keep_dir()) {
        push_arg(argv, &argc, MAX_ARGS, "--remove-dir");
        push_arg(argv, &argc, MAX_ARGS, d->dir);
    }

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
#ifdef __linux__
        /* If the test process dies without fl_dnsd_stop (a failed assertion
           in a checked fixture, a crash, a Check timeout), the server gets
           SIGTERM and removes the temp dir.  Its own process group keeps
           Check's killpg(SIGKILL) of the test's group from cutting that
           short. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
#else
        (void)parent;
#endif
        /* The test may block or ignore signals; the server must see them. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], argv);
        /* Only async-signal-safe calls here: the test may have threads. */
        static const char msg[] = "fl_dnsd: cannot exec $PYTHON3\n";
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        }
        _exit(127);
    }
    free(script);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    if (pid < 0) {
        perror("fl_dnsd: fork");
        fl_dnsd_stop(d);
        return -1;
    }
    d->pid = pid;

    for (int waited = 0; waited < WAIT_MS; waited += 10) {
        char *text = read_file(d->ready);
        if (text != NULL) {
            char *end = NULL;
            long port = strtol(text, &end, 10);
            bool ok = end != text && *end == '\n' && port > 0 && port < 65536;
            free(text);
            if (ok) {
                d->port = (int)port;
                snprintf(d->addr, sizeof(d->addr), "127.0.0.1@%d", d->port);
                return 0;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "fl_dnsd: fakedns.py exited before listening (status %d)\n",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            d->pid = 0;
            fl_dnsd_stop(d);
            return -1;
        }
        fl_test_msleep(10);
    }
    fprintf(stderr, "fl_dnsd: fakedns.py did not listen within %d ms\n", WAIT_MS);
    fl_dnsd_stop(d);
    return -1;
}

int fl_dnsd_start(struct fl_dnsd *d, const char *zone_paths, const char *faults_text)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "%s/fl-dnsd-XXXXXX", fl_test_env_or("TMPDIR", "/tmp"));
    if (mkdtemp(d->dir) == NULL) {
        perror("fl_dnsd: mkdtemp");
        d->dir[0] = '\0';
        return -1;
    }
    snprintf(d->faults, sizeof(d->faults), "%s/faults", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/queries.log", d->dir);
    snprintf(d->ready, sizeof(d->ready), "%s/ready", d->dir);
    snprintf(d->pidfile, sizeof(d->pidfile), "%s/fakedns.pid", d->dir);
    write_file(d->faults, faults_text);
    d->zones = xstrdup(zone_paths != NULL ? zone_paths : "");
    return spawn(d, 0);
}

void fl_dnsd_kill(struct fl_dnsd *d)
{
    if (d->pid > 0) {
        int status;
        kill(d->pid, SIGKILL);
        waitpid(d->pid, &status, 0);
        d->pid = 0;
    }
}

int fl_dnsd_restart(struct fl_dnsd *d, const char *faults_text)
{
    fl_dnsd_kill(d);
    write_file(d->faults, faults_text);
    return spawn(d, d->port);
}

/* Sends SIGHUP and waits for the reload line after those counted before. */
static void reload_and_wait(struct fl_dnsd *d, int before)
{
    bool rejected;
    if (d->pid <= 0 || kill(d->pid, SIGHUP) != 0) {
        fprintf(stderr, "fl_dnsd: server not running\n");
        fl_dnsd_stop(d);
        abort();
    }
    for (int waited = 0; waited < WAIT_MS; waited += 5) {
        if (reload_count(d, &rejected) > before) {
            if (rejected) {
                fprintf(stderr, "fl_dnsd: the server rejected the fault file\n");
                fl_dnsd_stop(d);
                abort();
            }
            return;
        }
        fl_test_msleep(5);
    }
    fprintf(stderr, "fl_dnsd: the server did not reload within %d ms\n", WAIT_MS);
    fl_dnsd_stop(d);
    abort();
}

void fl_dnsd_set_faults(struct fl_dnsd *d, const char *faults_text)
{
    bool rejected;
    int before = reload_count(d, &rejected);
    write_file(d->faults, faults_text);
    reload_and_wait(d, before);
}

void fl_dnsd_reload(struct fl_dnsd *d)
{
    bool rejected;
    reload_and_wait(d, reload_count(d, &rejected));
}

/* Case-insensitive name comparison ignoring one trailing dot on either. */
static bool same_name(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen > 0 && a[alen - 1] == '.')
        alen--;
    if (blen > 0 && b[blen - 1] == '.')
        blen--;
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

int fl_dnsd_count_proto(struct fl_dnsd *d, const char *proto, const char *qname,
                        const char *qtype)
{
    char *log = read_file(d->log);
    int count = 0;
    if (log == NULL)
        return 0;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        /* proto SP qname SP qtype */
        char *sp1 = strchr(line, ' ');
        if (sp1 == NULL)
            continue;
        char *sp2 = strchr(sp1 + 1, ' ');
        if (sp2 == NULL)
            continue;
        if (proto != NULL && !same_name(line, (size_t)(sp1 - line), proto))
            continue;
        if (qname != NULL && !same_name(sp1 + 1, (size_t)(sp2 - sp1 - 1), qname))
            continue;
        if (qtype != NULL && strcasecmp(sp2 + 1, qtype) != 0)
            continue;
        count++;
    }
    free(log);
    return count;
}

int fl_dnsd_count(struct fl_dnsd *d, const char *qname, const char *qtype)
{
    return fl_dnsd_count_proto(d, NULL, qname, qtype);
}

void fl_dnsd_stop(struct fl_dnsd *d)
{
    if (d->pid > 0) {
        if (fl_test_stop_child(d->pid, 5000) < 0)
            fprintf(stderr, "fl_dnsd: fakedns.py ignored SIGTERM; it was killed\n");
        d->pid = 0;
    }
    if (d->dir[0] != '\0') {
        if (keep_dir())
            fprintf(stderr, "fl_dnsd: kept %s\n", d->dir);
        else
            remove_dir(d->dir);
        d->dir[0] = '\0';
    }
    free(d->zones);
    d->zones = NULL;
}
