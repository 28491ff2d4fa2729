/* daemon: see daemon.h. */
#include "tests/harness/test_util.h"
#include "tests/protocol/daemon.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static char dns_addr[64];
static char dns_conf[256];

/* The directory every daemon dir of this test program is made in, by
   fl_daemon_begin in the Check runner's process: a test that fails exits
   at once (Check's forked test process calls _exit, no handlers run), so
   its daemon dir can only be removed from outside -- by fl_daemon_end. */
static char base_dir[64] = "/tmp";

static void remove_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%.400s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int fl_daemon_begin(void)
{
    snprintf(base_dir, sizeof(base_dir), "/tmp/fl-proto-XXXXXX");
    if (mkdtemp(base_dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    chmod(base_dir, 0755);
    return 0;
}

void fl_daemon_end(void)
{
    if (strcmp(base_dir, "/tmp") != 0)
        remove_dir(base_dir);
    snprintf(base_dir, sizeof(base_dir), "/tmp");
}

void fl_daemon_use_dns(const char *addr)
{
    snprintf(dns_addr, sizeof(dns_addr), "%s", addr ? addr : "");
    if (dns_addr[0])
        snprintf(dns_conf, sizeof(dns_conf),
                 "dns_forwarders = %s\ndns_timeout = 2s\ndns_probe_domain = dns.example\n",
                 dns_addr);
    else
        dns_conf[0] = '\0';
}

const char *fl_daemon_dns_conf(void)
{
    return dns_conf;
}

void fl_daemon_write_conf(struct fl_daemon *d, const char *socket_spec, const char *extra,
                          bool with_base)
{
    FILE *f = fopen(d->conf, "w");
    if (f == NULL) {
        perror(d->conf);
        abort();
    }
    if (socket_spec)
        snprintf(d->socket, sizeof(d->socket), "%s", socket_spec);
    if (with_base)
        fprintf(f,
                "socket = %s\nuser =\nlog = stderr\nlog_level = debug\n"
                "authserv_id = mx.faultline.example\nverdict_log = %s\npidfile = %s\n"
                "stats_file = %s/stats.json\nstats_interval = 1s\n",
                d->socket, d->verdicts, d->pidfile, d->dir);
    if (with_base)
        fputs(dns_conf, f);
    if (extra)
        fputs(extra, f);
    fclose(f);
}

int fl_daemon_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    ck_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd);
    return ntohs(sin.sin_port);
}

void fl_daemon_prepare(struct fl_daemon *d, const char *socket_spec, const char *extra)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "%s/fl-proto-XXXXXX", base_dir);
    if (mkdtemp(d->dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    chmod(d->dir, 0755);
    snprintf(d->conf, sizeof(d->conf), "%s/faultline.conf", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/faultline.log", d->dir);
    snprintf(d->verdicts, sizeof(d->verdicts), "%s/verdicts.jsonl", d->dir);
    snprintf(d->pidfile, sizeof(d->pidfile), "%s/faultline.pid", d->dir);
    if (socket_spec == NULL)
        snprintf(d->socket, sizeof(d->socket), "unix:%s/milter.sock", d->dir);
    fl_daemon_write_conf(d, socket_spec, extra, true);
}

static int try_connect(const char *spec)
{
    int fd = -1;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(spec + 5) >= sizeof(sun.sun_path))
            return -1;
        memcpy(sun.sun_path, spec + 5, strlen(spec + 5) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            close(fd);
            return -1;
        }
    } else if (strncmp(spec, "inet:", 5) == 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        sin.sin_port = htons((unsigned short)atoi(spec + 5));
        const char *at = strchr(spec, '@');
        inet_pton(AF_INET, at ? at + 1 : "127.0.0.1", &sin.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
            close(fd);
            return -1;
        }
    } else {
        return -1;
    }
    close(fd);
    return 0;
}

/* Starts the daemon; expect_failure: the caller wants it to refuse to
   start, so its log is printed as an expected error. */
static int start(struct fl_daemon *d, bool expect_failure)
{
    struct stat st;
    size_t log_start = stat(d->log, &st) == 0 ? (size_t)st.st_size : 0; /* this run's part */
    const char *bin = getenv("FAULTLINE");
    if (bin == NULL)
        bin = "milter/faultline";
    const char *wrapper = getenv("FL_DAEMON_WRAPPER");
    char *argv[32];
    int argc = 0;
    char *wcopy = NULL;
    if (wrapper && *wrapper) {
        wcopy = strdup(wrapper);
        for (char *tok = strtok(wcopy, " "); tok && argc < 24; tok = strtok(NULL, " "))
            argv[argc++] = tok;
    }
    argv[argc++] = (char *)bin;
    argv[argc++] = "-f";
    argv[argc++] = "-c";
    argv[argc++] = d->conf;
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        /* A test killed by Check's timeout takes its daemon along. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        close(fd);
        execvp(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    free(wcopy);
    d->pid = pid;
    bool slow = wrapper && *wrapper;
    for (int i = 0; i < (slow ? 600 : 200); i++) {
        if (try_connect(d->socket) == 0)
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            d->pid = 0;
            break;
        }
        fl_test_msleep(50);
    }
    char *log = fl_daemon_read(d->log);
    const char *part = strlen(log) >= log_start ? log + log_start : log;
    if (expect_failure)
        fprintf(stderr, "the daemon refused to start, as this test expects; "
                        "expected error follows:\n%s(end of expected error)\n", part);
    else
        fprintf(stderr, "daemon did not start; its log:\n%s\n", part);
    free(log);
    return -1;
}

int fl_daemon_start(struct fl_daemon *d)
{
    return start(d, false);
}

int fl_daemon_start_expect_failure(struct fl_daemon *d)
{
    return start(d, true) < 0 ? 0 : -1;
}

int fl_daemon_stop(struct fl_daemon *d)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 600; i++) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == d->pid) {
            d->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        fl_test_msleep(50);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    return -1;
}

void fl_daemon_signal(struct fl_daemon *d, int sig)
{
    if (d->pid > 0)
        kill(d->pid, sig);
}

bool fl_daemon_alive(struct fl_daemon *d)
{
    int status;
    return d->pid > 0 && waitpid(d->pid, &status, WNOHANG) == 0;
}

char *fl_daemon_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

bool fl_daemon_wait_log(struct fl_daemon *d, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        char *log = fl_daemon_read(d->log);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        fl_test_msleep(20);
    }
    return false;
}

void fl_daemon_cleanup(struct fl_daemon *d)
{
    if (d->pid > 0)
        fl_daemon_stop(d);
    remove_dir(d->dir);
}
