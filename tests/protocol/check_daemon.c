/* check_daemon: the daemon's life cycle -- flags, sockets (stale, in use,
   mode, TCP_NODELAY), privileges, pid file, SIGHUP reload (good, broken,
   rapid), SIGTERM drain, and many concurrent sessions. */
#include "tests/harness/dns_server.h"
#include "tests/protocol/session.h"
#include "tests/harness/test_util.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static const char *simple = "From: a@dns.example\nSubject: s\n\nbody\n";

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs the daemon binary with args; returns exit status, output in out. */
static int run_flags(const char *args, char *out, size_t outlen)
{
    char cmd[1024];
    const char *bin = getenv("FAULTLINE");
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bin ? bin : "milter/faultline", args);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The AR header a session from 192.0.2.2 gets (its PTR host.dns.example
   resolves back to it: iprev=pass). */
#define AR_PASS(id)                                                                         \
    id ";\n\tiprev=pass policy.iprev=192.0.2.2;\n"                                            \
       "\tspf=pass smtp.mailfrom=sender@txt.dns.example;\n"                                      \
       "\tspf=none reason=\"no SPF record\" smtp.helo=host.dns.example;\n\tdkim=none;\n\tarc=none;\n"     \
       "\tdmarc=none reason=\"no DMARC record for dns.example\"\n\theader.from=dns.example"

static const char *ar_value(struct fl_daemon *d, struct fl_mc_session *s)
{
    struct fl_test_env env = {.client_ip = "192.0.2.2"};
    fl_test_run(d, &env, simple, s);
    const struct fl_mc_mod *ins;
    fl_test_count_mods(fl_test_reply(s, FL_MC_STEP_EOM), 'i', &ins);
    ck_assert_ptr_nonnull(ins);
    return ins->value;
}

START_TEST(flags_version_defaults_check)
{
    char out[65536];
    ck_assert_int_eq(run_flags("-V", out, sizeof(out)), 0);
    ck_assert_msg(strncmp(out, "faultline ", 10) == 0, "-V: %s", out);
    ck_assert_int_eq(run_flags("-d", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "\nsocket = inet:8895@127.0.0.1\n") != NULL, "-d lacks socket");
    ck_assert_msg(strstr(out, "\non_internal_error = accept\n") != NULL, "-d lacks a key");
    ck_assert_int_eq(run_flags("-x", out, sizeof(out)), 2);
    ck_assert_int_eq(run_flags("-n -c /nonexistent/faultline.conf", out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "/nonexistent/faultline.conf: error: cannot read") != NULL,
                  "%s", out);
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    char args[512];
    snprintf(args, sizeof(args), "-n -c %s", d.conf);
    ck_assert_int_eq(run_flags(args, out, sizeof(out)), 0);
    fl_daemon_write_conf(&d, NULL, "on_internal_error = maybe\nsocket_mod = 0600\n", true);
    ck_assert_int_eq(run_flags(args, out, sizeof(out)), 2);
    char want[512];
    /* the base configuration has 9 lines, and 3 more for the test DNS server */
    snprintf(want, sizeof(want), "%s:13: error: on_internal_error = maybe: expected one of accept|tempfail", d.conf);
    ck_assert_msg(strstr(out, want) != NULL, "got: %s", out);
    snprintf(want, sizeof(want), "%s:14: error: unknown key \"socket_mod\" (did you mean "
             "\"socket_mode\"?)", d.conf);
    ck_assert_msg(strstr(out, want) != NULL, "got: %s", out);
    fl_daemon_cleanup(&d);
}
END_TEST

START_TEST(sighup_reloads_and_broken_config_keeps_old)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;
    ck_assert_str_eq(ar_value(&d, &s), AR_PASS("mx.faultline.example"));
    fl_mc_session_clear(&s);

    /* a good change is applied */
    fl_daemon_write_conf(&d, NULL, "", false);
    FILE *f = fopen(d.conf, "w");
    fprintf(f, "socket = %s\nuser =\nlog = stderr\nauthserv_id = mx2.faultline.example\n"
               "verdict_log = %s\npidfile = %s\n%s", d.socket, d.verdicts, d.pidfile,
            fl_daemon_dns_conf());
    fclose(f);
    fl_daemon_signal(&d, SIGHUP);
    ck_assert(fl_daemon_wait_log(&d, "configuration reloaded", 5000));
    ck_assert_str_eq(ar_value(&d, &s), AR_PASS("mx2.faultline.example"));
    fl_mc_session_clear(&s);

    /* a broken one is reported and the running one keeps serving */
    f = fopen(d.conf, "a");
    fprintf(f, "dns_timout = 5s\n");
    fclose(f);
    fl_daemon_signal(&d, SIGHUP);
    ck_assert(fl_daemon_wait_log(&d, "keeping the running configuration", 5000));
    ck_assert(fl_daemon_wait_log(&d, "unknown key \"dns_timout\"", 1000));
    ck_assert_str_eq(ar_value(&d, &s), AR_PASS("mx2.faultline.example"));
    fl_mc_session_clear(&s);

    /* a burst of SIGHUPs never stops the daemon (libmilter's own signal
       thread would stop the milter on one that reached it) */
    for (int i = 0; i < 300; i++)
        fl_daemon_signal(&d, SIGHUP);
    msleep(500);
    ck_assert(fl_daemon_alive(&d));
    ck_assert_str_eq(ar_value(&d, &s), AR_PASS("mx2.faultline.example"));
    fl_mc_session_clear(&s);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

START_TEST(sigterm_lets_inflight_session_finish)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    const char *err;
    struct fl_mc *mc = fl_mc_create(NULL);
    struct fl_mc_reply r = {0};
    ck_assert(fl_mc_open(mc, d.socket, &err) == 0);
    ck_assert(fl_mc_connect(mc, "[192.0.2.7]", '4', 1, "192.0.2.7", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    const char *from[] = {"<a@example.com>", NULL}, *to[] = {"<b@example.net>", NULL};
    ck_assert(fl_mc_mail(mc, from, &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_rcpt(mc, to, &r, &err) == 0);
    fl_mc_reply_clear(&r);
    fl_daemon_signal(&d, SIGTERM);
    ck_assert(fl_daemon_wait_log(&d, "stopping: no new connections", 5000));
    ck_assert(fl_daemon_alive(&d));
    ck_assert(fl_mc_header(mc, "From", " a@dns.example", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_header(mc, "Subject", " x", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_eoh(mc, &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert_msg(fl_mc_eom(mc, &r, &err) == 0, "eom after SIGTERM: %s", err);
    ck_assert_uint_eq(fl_test_count_mods(&r, 'i', NULL), 1);
    fl_mc_reply_clear(&r);
    fl_mc_quit(mc, &err);
    fl_mc_destroy(&mc);
    ck_assert_int_eq(fl_daemon_stop(&d), 0); /* already stopping: reaps it */
    struct stat st;
    ck_assert_msg(stat(d.pidfile, &st) < 0, "pid file left behind");
    ck_assert_msg(stat(d.socket + 5, &st) < 0, "unix socket left behind");
    fl_daemon_cleanup(&d);
}
END_TEST

START_TEST(sigterm_wait_is_bounded_by_shutdown_timeout)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "shutdown_timeout = 1s\n");
    ck_assert(fl_daemon_start(&d) == 0);
    const char *err;
    struct fl_mc *mc = fl_mc_create(NULL);
    struct fl_mc_reply r = {0};
    ck_assert(fl_mc_open(mc, d.socket, &err) == 0);
    ck_assert(fl_mc_connect(mc, "[192.0.2.7]", '4', 1, "192.0.2.7", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    /* the client now goes silent and never finishes */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = fl_daemon_stop(&d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_int_eq(status, 0);
    ck_assert_msg(secs < (getenv("FL_DAEMON_WRAPPER") ? 20.0 : 5.0), "took %.1fs", secs);
    ck_assert(fl_daemon_wait_log(&d, "still in flight", 100));
    fl_mc_destroy(&mc);
    fl_daemon_cleanup(&d);
}
END_TEST

START_TEST(stale_socket_is_removed_but_other_files_are_not)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    const char *path = d.socket + 5;
    /* a socket file nobody listens on, as a crashed daemon leaves it */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    ck_assert(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    ck_assert(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
    close(fd);
    ck_assert(fl_daemon_start(&d) == 0);
    ck_assert(fl_daemon_wait_log(&d, "removed stale socket", 1000));
    /* the socket accepts before its mode is set: wait for the start line */
    ck_assert(fl_daemon_wait_log(&d, "listening on", 20000));
    struct stat st;
    ck_assert(stat(path, &st) == 0);
    ck_assert_msg((st.st_mode & 07777) == 0660, "socket mode %o", st.st_mode & 07777);

    /* a second daemon on the same socket refuses to steal it */
    struct fl_daemon d2;
    fl_daemon_prepare(&d2, d.socket, NULL);
    char args[512], out[4096];
    snprintf(args, sizeof(args), "-f -c %s", d2.conf);
    ck_assert_int_eq(run_flags(args, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "is in use by a running process") != NULL, "%s", out);
    fl_daemon_cleanup(&d2);
    struct fl_mc_session s;
    ck_assert_str_eq(ar_value(&d, &s), AR_PASS("mx.faultline.example")); /* first one serves */
    fl_mc_session_clear(&s);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);

    /* a regular file at the socket path is left alone */
    FILE *f = fopen(path, "w");
    fputs("precious\n", f);
    fclose(f);
    ck_assert(fl_daemon_start_expect_failure(&d) == 0);
    char *content = fl_daemon_read(path);
    ck_assert_str_eq(content, "precious\n");
    free(content);
    fl_daemon_cleanup(&d);
}
END_TEST

START_TEST(unix_socket_mode_is_configurable)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "socket_mode = 0600\n");
    ck_assert(fl_daemon_start(&d) == 0);
    ck_assert(fl_daemon_wait_log(&d, "listening on", 20000));
    struct stat st;
    ck_assert(stat(d.socket + 5, &st) == 0);
    ck_assert_msg((st.st_mode & 07777) == 0600, "socket mode %o", st.st_mode & 07777);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* Counts the daemon's accepted sockets on TCP port (taking a copy of each
   of its descriptors with pidfd_getfd(2)), and those without TCP_NODELAY
   (*without_r), listening socket included. */
static int accepted_sockets(pid_t pid, int port, int *without_r)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    ck_assert_msg(pidfd >= 0, "pidfd_open: %s", strerror(errno));
    int accepted = 0;
    *without_r = 0;
    for (int fd = 0; fd < 1024; fd++) {
        int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        if (copy < 0)
            continue;
        int listening = 0, type = 0;
        socklen_t len = sizeof(int);
        struct sockaddr_in local;
        socklen_t llen = sizeof(local);
        if (getsockopt(copy, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
            getsockname(copy, (struct sockaddr *)&local, &llen) == 0 &&
            local.sin_family == AF_INET && ntohs(local.sin_port) == port) {
            len = sizeof(int);
            getsockopt(copy, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
            int nodelay = 0;
            len = sizeof(int);
            ck_assert(getsockopt(copy, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0);
            if (!nodelay)
                (*without_r)++;
            if (!listening)
                accepted++;
        }
        close(copy);
    }
    close(pidfd);
    return accepted;
}

/* Accepted TCP connections must have Nagle disabled. */
START_TEST(tcp_connections_have_nodelay)
{
    char spec[64];
    int port = fl_daemon_free_port();
    snprintf(spec, sizeof(spec), "inet:%d@127.0.0.1", port);
    struct fl_daemon d;
    fl_daemon_prepare(&d, spec, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    const char *err;
    struct fl_mc *mc = fl_mc_create(NULL);
    struct fl_mc_reply r = {0};
    ck_assert(fl_mc_open(mc, spec, &err) == 0);
    ck_assert(fl_mc_connect(mc, "[192.0.2.7]", '4', 1, "192.0.2.7", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    int without;
    ck_assert_msg(accepted_sockets(d.pid, port, &without) >= 1,
                  "no accepted socket found in the daemon");
    ck_assert_msg(without == 0, "%d socket(s) without TCP_NODELAY", without);
    fl_mc_destroy(&mc);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* A client that connects while the daemon starts: libmilter's socket
   listens before TCP_NODELAY is set on it, and a connection that completed
   in between did not inherit it (the flaky failure under CPU load: the
   harness's own readiness probe was such a connection); the daemon now
   sets it on every socket libmilter accepts.  strace delays every
   setsockopt(2) of the daemon by 200 ms, which widens that window from
   microseconds to a certainty, while a thread keeps connecting from before
   the daemon starts and keeps its connections open; each one the daemon
   accepted must have the option. */
struct connector {
    int port;
    volatile int stop;
    int fds[256]; /* the last connections made (a ring: 5 s of them) */
    int n;        /* connections made */
};

static void *connect_loop(void *arg)
{
    struct connector *c = arg;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    const int ring = (int)(sizeof(c->fds) / sizeof(c->fds[0]));
    while (!c->stop) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
            if (c->n >= ring)
                close(c->fds[c->n % ring]);
            c->fds[c->n++ % ring] = fd;
        } else if (fd >= 0) {
            close(fd);
        }
        fl_test_msleep(20);
    }
    return NULL;
}

START_TEST(tcp_connections_during_startup_have_nodelay)
{
    char spec[64], wrapper[512];
    struct connector c = {.port = fl_daemon_free_port()};
    snprintf(spec, sizeof(spec), "inet:%d@127.0.0.1", c.port);
    snprintf(wrapper, sizeof(wrapper),
             "strace -f -qq -o /dev/null -e trace=setsockopt "
             "-e inject=setsockopt:delay_enter=200000 %s",
             fl_test_env_or("FL_DAEMON_WRAPPER", ""));
    setenv("FL_DAEMON_WRAPPER", wrapper, 1); /* this test's process only */
    /* LeakSanitizer cannot run under ptrace: in an ASan build it would
       abort the daemon at exit.  The other tests check for leaks. */
    char asan[512];
    snprintf(asan, sizeof(asan), "%s:detect_leaks=0", fl_test_env_or("ASAN_OPTIONS", ""));
    setenv("ASAN_OPTIONS", asan, 1);
    struct fl_daemon d;
    fl_daemon_prepare(&d, spec, NULL);
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, connect_loop, &c) == 0);
    ck_assert(fl_daemon_start(&d) == 0);
    ck_assert(fl_daemon_wait_log(&d, "listening on", 30000));
    fl_test_msleep(300); /* libmilter accepts what is queued */
    c.stop = 1;
    pthread_join(t, NULL);
    char *pidtext = fl_daemon_read(d.pidfile);
    pid_t pid = (pid_t)atoi(pidtext); /* the daemon's, not strace's */
    free(pidtext);
    ck_assert_msg(pid > 0, "no pid file");
    /* A socket libmilter is accepting right now gets the option once its
       (delayed) setsockopt returns, before anything is read from it: give
       the queue 10 s to drain.  One that never gets it fails. */
    int without = 0, accepted = 0;
    for (int i = 0; i < 50; i++) {
        accepted = accepted_sockets(pid, c.port, &without);
        if (accepted >= 1 && without == 0)
            break;
        fl_test_msleep(200);
    }
    ck_assert_msg(accepted >= 1, "no accepted socket found in the daemon");
    ck_assert_msg(without == 0, "%d of %d accepted socket(s) without TCP_NODELAY (%d connects)",
                  without, accepted, c.n);
    for (int i = 0; i < c.n && i < (int)(sizeof(c.fds) / sizeof(c.fds[0])); i++)
        close(c.fds[i]);
    /* Stop the daemon itself; strace then exits with its status (a
       SIGTERM to strace could cut the daemon's exit short). */
    kill(pid, SIGTERM);
    int status = -1;
    for (int i = 0; i < 600 && waitpid(d.pid, &status, WNOHANG) == 0; i++)
        fl_test_msleep(50);
    d.pid = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon's exit status: %#x",
                  status);
    fl_daemon_cleanup(&d);
}
END_TEST

START_TEST(privileges_are_dropped_after_binding)
{
    struct passwd *pw = getpwnam("nobody");
    ck_assert_ptr_nonnull(pw);
    ck_assert_msg(geteuid() == 0, "this test needs root (CI runs as root)");
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    fl_daemon_write_conf(&d, NULL, "", false);
    FILE *f = fopen(d.conf, "w");
    fprintf(f, "socket = %s\nuser = nobody\nlog = stderr\nauthserv_id = mx.faultline.example\n"
               "verdict_log = %s\npidfile = %s\n%s", d.socket, d.verdicts, d.pidfile,
            fl_daemon_dns_conf());
    fclose(f);
    ck_assert(fl_daemon_start(&d) == 0);
    /* the socket accepts before the switch: wait for it */
    ck_assert(fl_daemon_wait_log(&d, "running as user nobody", 20000));
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)d.pid);
    f = fopen(path, "r");
    bool seen = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned int ruid, euid, suid, fsuid;
        if (sscanf(line, "Uid: %u %u %u %u", &ruid, &euid, &suid, &fsuid) == 4) {
            ck_assert_msg(ruid == pw->pw_uid && euid == pw->pw_uid && suid == pw->pw_uid,
                          "%s", line);
            seen = true;
        }
    }
    fclose(f);
    ck_assert(seen);
    char *pid = fl_daemon_read(d.pidfile);
    ck_assert_int_eq(atoi(pid), d.pid);
    free(pid);
    struct fl_mc_session s;
    ck_assert_str_eq(ar_value(&d, &s), AR_PASS("mx.faultline.example")); /* still serving */
    fl_mc_session_clear(&s);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

struct load_arg {
    struct fl_daemon *d;
    int n, ok;
};

static void *load_thread(void *p)
{
    struct load_arg *a = p;
    struct fl_mc_message *msg;
    const char *err;
    fl_mc_message_parse(simple, strlen(simple), &msg, &err);
    for (int i = 0; i < a->n; i++) {
        struct fl_mc *mc = fl_mc_create(NULL);
        const char *rcpts[] = {"r@example.net", NULL};
        struct fl_mc_envelope e = {.client_addr = "192.0.2.50", .helo = "h.example",
                                   .sender = "s@example.com", .rcpts = rcpts,
                                   .queue_id = "4QLOAD"};
        struct fl_mc_session s = {0};
        if (fl_mc_run_session(mc, a->d->socket, &e, msg, &s, &err) == 0 &&
            fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', NULL) == 1)
            a->ok++;
        fl_mc_session_clear(&s);
        fl_mc_destroy(&mc);
    }
    fl_mc_message_free(&msg);
    return NULL;
}

START_TEST(many_concurrent_sessions_all_complete)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    enum { THREADS = 16, PER = 25 };
    pthread_t t[THREADS];
    struct load_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct load_arg){&d, PER, 0};
        pthread_create(&t[i], NULL, load_thread, &a[i]);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].ok;
    }
    ck_assert_int_eq(ok, THREADS * PER);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

static Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = tcase_create("life cycle");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, flags_version_defaults_check);
    tcase_add_test(tc, sighup_reloads_and_broken_config_keeps_old);
    tcase_add_test(tc, sigterm_lets_inflight_session_finish);
    tcase_add_test(tc, sigterm_wait_is_bounded_by_shutdown_timeout);
    tcase_add_test(tc, stale_socket_is_removed_but_other_files_are_not);
    tcase_add_test(tc, unix_socket_mode_is_configurable);
    tcase_add_test(tc, tcp_connections_have_nodelay);
    tcase_add_test(tc, tcp_connections_during_startup_have_nodelay);
    tcase_add_test(tc, privileges_are_dropped_after_binding);
    tcase_add_test(tc, many_concurrent_sessions_all_complete);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_test_main(daemon_suite(), NULL);
}
