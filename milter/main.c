/* main: the faultline daemon -- flags, configuration, socket, privileges,
   signals.
   Signals: libmilter starts a thread that sigwait()s for SIGHUP, SIGTERM
   and SIGINT and stops the milter on any of them -- SIGHUP included.  The
   daemon owns its signals instead: the main thread handles them (SIGHUP
   reloads the configuration, SIGTERM/SIGINT drain and exit), every other
   thread blocks them, and the sigwait() below parks libmilter's signal
   thread for good, so a signal can never reach it -- not even in a burst,
   when the main thread is busy with the previous one. */
#include "config.h"

#include "milter/callbacks.h"
#include "milter/cli.h"
#include "milter/idle.h"
#include "milter/listener.h"
#include "milter/metrics_http.h"
#include "milter/metrics_milter.h"
#include "milter/notify.h"
#include "milter/privs.h"
#include "milter/server.h"
#include "milter/workers.h"
#include "lib/core/clock.h"
#include "lib/core/log.h"
#include "lib/core/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/faultline/faultline.conf"

static int signal_pipe[2] = {-1, -1};

/* libmilter calls sigwait() from its signal thread; this definition takes
   precedence over libc's.  The call that waits for exactly libmilter's set
   (SIGHUP, SIGTERM, SIGINT) parks the calling thread with every signal
   blocked; any other caller gets the real thing. */
int sigwait(const sigset_t *set, int *sig)
{
    if (sigismember(set, SIGHUP) == 1 && sigismember(set, SIGTERM) == 1 &&
        sigismember(set, SIGINT) == 1 && sigismember(set, SIGUSR1) == 0) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        for (;;)
            pause();
    }
    int rc = sigwaitinfo(set, NULL);
    if (rc < 0)
        return errno;
    *sig = rc;
    return 0;
}

static void on_signal(int sig)
{
    int saved = errno;
    char c = sig == SIGHUP ? 'H' : 'T';
    if (write(signal_pipe[1], &c, 1) < 0) {
        /* Pipe full: a reload or stop is already pending. */
    }
    errno = saved;
}

static void *milter_thread(void *arg)
{
    (void)arg;
    if (smfi_main() != MI_SUCCESS)
        fl_error("libmilter main loop failed");
    char c = 'X';
    if (write(signal_pipe[1], &c, 1) < 0) {
        /* nothing more we can do */
    }
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: faultline [-f] [-c FILE]      run the milter\n"
            "       faultline [-c FILE] -n        check the configuration\n"
            "       faultline -d | -m | -V | -h   print and exit\n"
            "\n"
            "  -c FILE        configuration file (default %s\n"
            "                 if it exists, else built-in defaults)\n"
            "  -f             stay in the foreground (log to stderr with log = auto)\n"
            "  -n             check the configuration and exit (0 valid, 2 errors)\n"
            "  -d             print every setting with its default and exit\n"
            "  -m             print the settings section of faultline.conf(5), exit\n"
            "  -V, --version  print the version and exit\n"
            "  -h, --help     print this help and exit\n"
            "\n"
            "Signals: SIGHUP reloads the configuration (kept if the new one has\n"
            "errors); SIGTERM and SIGINT stop accepting and let sessions finish\n"
            "(shutdown_timeout).  See faultline(8) and faultline.conf(5).\n",
            DEFAULT_CONFIG);
}

static void print_version(void)
{
    unsigned int major, minor, patch;
    smfi_version(&major, &minor, &patch);
    printf("faultline %s (libmilter %u.%u.%u, jansson %s)\n", PACKAGE_VERSION, major, minor,
           patch, JANSSON_VERSION);
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        return -1;
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return -1;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    return 0;
}

static int install_signals(void)
{
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Blocks (or restores) our signals in the calling thread, so the threads
   created in between (pool, resolver, libmilter) never receive them. */
static void block_signals(bool block, sigset_t *old)
{
    if (!block) {
        pthread_sigmask(SIG_SETMASK, old, NULL);
        return;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static int load_config(const char *path, bool explicit_path, struct fl_config **cfg_r)
{
    if (!explicit_path && access(DEFAULT_CONFIG, F_OK) != 0)
        path = NULL; /* no file: embedded defaults */
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load(path, cfg_r, &errors);
    if (rc < 0)
        fputs(errors.data, stderr);
    fl_buf_free(&errors);
    return rc;
}

/* Waits up to timeout_ms for the sessions in flight, and for connections
   accepted but not negotiated yet (an MTA negotiates right after connect:
   they are sessions about to start).  Returns how many are left. */
static int drain_sessions(const struct fl_listener_drain *drain, long long timeout_ms)
{
    long long end = fl_monotonic_ms() + timeout_ms;
    for (;;) {
        long long rest = end - fl_monotonic_ms();
        int left = fl_server_wait_idle(rest > 50 ? 50 : rest > 0 ? rest : 0);
        int open = fl_listener_connections(drain);
        if ((left == 0 && open == 0) || fl_monotonic_ms() >= end)
            return left > open ? left : open;
        if (left == 0)
            usleep(20000);
    }
}

/* Waits for signals and the end of the libmilter loop.  Returns when the
   daemon should stop. */
static void serve(void)
{
    for (;;) {
        char c;
        ssize_t n = read(signal_pipe[0], &c, 1);
        if (n < 0 && errno == EAGAIN) {
            fl_idle_reap(&fl_srv.idle);
            long long wait = fl_server_periodic(fl_workers_ended());
            if (wait < 0 || wait > 1000)
                wait = 1000; /* the idle reaper's beat */
            fd_set rfds;
            FD_ZERO(&rfds);
            FD_SET(signal_pipe[0], &rfds);
            struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
            select(signal_pipe[0] + 1, &rfds, NULL, NULL, wait >= 0 ? &tv : NULL);
            continue;
        }
        if (n <= 0)
            continue;
        if (c == 'H') {
            fl_info("SIGHUP: reloading the configuration");
            fl_notify_reloading();
            int reloaded = fl_server_reload();
            fl_metrics_reload(fl_srv.metrics, reloaded == 0);
            fl_notify_reloaded(reloaded);
        } else if (c == 'T') {
            fl_info("stopping: no new connections");
            return;
        } else if (c == 'X') {
            fl_warn("libmilter stopped");
            return;
        }
    }
}

int main(int argc, char **argv)
{
    const char *config_path = DEFAULT_CONFIG;
    bool explicit_path = false, check_only = false, foreground = false;
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0; /* our messages: "faultline: ...", whatever argv[0] is */
    while ((opt = getopt_long(argc, argv, ":c:fndmVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            explicit_path = true;
            break;
        case 'f':
            foreground = true;
            break;
        case 'n':
            check_only = true;
            break;
        case 'd':
            printf("# faultline %s: every setting at its default\n", PACKAGE_VERSION);
            fl_settings_write_sample(stdout);
            return 0;
        case 'm':
            /* The SETTINGS section of faultline.conf(5), from the tables. */
            fl_settings_write_man(stdout);
            return 0;
        case 'V':
            print_version();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fl_cli_bad_option("faultline", opt, argv);
            fprintf(stderr, "(faultline -h lists the options)\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "faultline: unexpected argument \"%s\"\n(faultline -h lists the options)\n",
                argv[optind]);
        return 2;
    }
    fl_srv.foreground = foreground;
    struct fl_config *cfg;
    if (load_config(config_path, explicit_path, &cfg) < 0)
        return 2;
    fl_srv.config_path = cfg->path;
    uid_t uid = 0;
    gid_t gid = 0;
    struct fl_buf err;
    fl_buf_init(&err);
    int switch_user = fl_privs_lookup(cfg, &uid, &gid, &err);
    if (switch_user < 0) {
        fprintf(stderr, "%s: error: user = %s, group = %s: %s\n",
                cfg->path ? cfg->path : "(built-in default)", cfg->user, cfg->group,
                err.data);
        fl_buf_free(&err);
        fl_config_unref(&cfg);
        return 2;
    }
    if (check_only) {
        printf("%s: configuration is valid\n", cfg->path ? cfg->path : "(built-in defaults)");
        fl_buf_free(&err);
        fl_config_unref(&cfg);
        return 0;
    }

    fl_server_apply_log(cfg);
    /* Before the socket opens: a SIGTERM that comes as soon as the socket
       accepts must already find our handler. */
    if (install_signals() < 0) {
        fl_error("signal setup: %s", strerror(errno));
        goto failed;
    }
    if (*cfg->metrics_listen) /* off: nothing is counted */
        fl_srv.metrics = fl_metrics_create(0);
    if (smfi_register(fl_metrics_milter_desc(&fl_srv.timed, &fl_milter_desc, fl_srv.metrics)) == MI_FAILURE) {
        fl_error("smfi_register failed");
        goto failed;
    }
    /* libmilter copies both when smfi_main starts (a restart changes them). */
    int idle_s = (int)((cfg->session_idle_timeout + 999) / 1000);
    smfi_settimeout(idle_s);
    fl_idle_init(&fl_srv.idle, idle_s);
    smfi_setmaxdatasize(FL_MILTER_MAX_DATA);
    if (fl_listener_open(cfg) < 0)
        goto failed;
    if (fl_server_open_verdict_log(cfg) < 0)
        goto failed;
    if (!foreground && daemonize() < 0) {
        fl_error("cannot detach: %s", strerror(errno));
        goto failed;
    }
    if (*cfg->pidfile && fl_pidfile_write(cfg->pidfile, uid, gid) < 0)
        goto failed;
    if (switch_user == 1) {
        fl_server_chown_verdict_log(uid, gid);
        if (*cfg->pidfile && chown(cfg->pidfile, uid, gid) < 0)
            fl_warn("pidfile %s: chown: %s", cfg->pidfile, strerror(errno));
        if (fl_privs_drop(cfg->user, uid, gid) < 0)
            goto failed;
    } else if (geteuid() == 0) {
        fl_warn("running as root: set user in the configuration");
    }
    if (cfg->greylist_enable) {
        /* After the switch: the store's files belong to the daemon's user.
           A store that cannot open is logged; greylisting then fails open. */
        if (fl_greylist_open(cfg, NULL, 0, &fl_srv.greylist, &err) < 0)
            fl_error("greylist store: %s; greylisting fails open (accepts)", err.data);
    }
    sigset_t old_mask;
    block_signals(true, &old_mask);
    fl_server_tune_memory();
    /* libmilter's worker threads run on kept threads (see workers.h). */
    if (fl_workers_init((const void *)smfi_main, FL_WORKERS_MAX_IDLE, FL_WORKERS_IDLE_MS) < 0)
        fl_warn("cannot find libmilter in memory: its worker threads are not kept");
    fl_srv.pool = fl_pool_create((unsigned int)cfg->worker_threads,
                                 (size_t)cfg->worker_threads * 64);
    if (fl_dns_create(cfg, &fl_srv.dns, &err) < 0) {
        fl_error("DNS resolver: %s", err.data);
        goto failed;
    }
    fl_srv.dkim = fl_dkim_ctx_create(fl_srv.dns, &err);
    if (fl_srv.dkim == NULL) {
        fl_error("DKIM: %s", err.data);
        goto failed;
    }
    fl_srv.arc_keys = fl_arc_keys_new();
    struct fl_dnsbl_lists *lists;
    if (fl_server_build_lists(cfg, &lists) < 0)
        goto failed;
    fl_server_set_snapshot(fl_config_ref(cfg), lists);
    if (fl_metrics_http_start(cfg) < 0)
        goto failed;
    pthread_t milter;
    if (pthread_create(&milter, NULL, milter_thread, NULL) != 0) {
        fl_error("cannot start the milter thread");
        goto failed;
    }
    fl_buf_free(&err);
    block_signals(false, &old_mask);
    fl_info("faultline %s listening on %s (authserv-id %s)", PACKAGE_VERSION, cfg->socket,
            cfg->authserv_id);
    fl_notify_ready(cfg->socket);

    serve();
    fl_notify_stopping();

    /* Drain: stop accepting, let the sessions in flight finish (bounded),
       then exit.  smfi_stop() is not used: libmilter's version closes the
       sessions in flight and waits for its accept loop's 5 s poll. */
    struct fl_listener_drain drain;
    fl_listener_stop_accepting(cfg, &drain);
    struct fl_config *now = fl_server_config();
    int left = drain_sessions(&drain, now->shutdown_timeout);
    if (left > 0)
        fl_warn("stopping with %d session(s) still in flight after %lldms", left,
                now->shutdown_timeout);
    if (*cfg->pidfile)
        unlink(cfg->pidfile);
    fl_config_unref(&now);
    fl_config_unref(&cfg);
    if (left == 0) {
        /* A clean stop frees everything, so leak checkers (valgrind,
           LeakSanitizer at exit) see a tidy process. */
        fl_server_teardown();
        fl_info("stopped");
        exit(0);
    }
    fl_info("stopped");
    /* A session outlived shutdown_timeout: it ends with the process, and the
       shared state is not torn down under it. */
    fflush(NULL);
    _exit(0);

failed:
    /* Startup failed: free what was set up, so a leak checker stays quiet
       about the error paths too. */
    fl_buf_free(&err); /* idempotent */
    fl_server_teardown();
    fl_config_unref(&cfg);
    return 1;
}
