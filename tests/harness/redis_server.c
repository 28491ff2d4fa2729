/* redis_server: see redis_server.h.  The port comes from binding a
   loopback socket to port 0 and closing it just before redis-server starts
   (a small race another process could win; the start is then retried on a
   new port).  Readiness is a PING answered with +PONG over TCP. */
#include "tests/harness/test_util.h"
#include "tests/harness/redis_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000

static const char *server_path(void)
{
    return fl_test_env_or("REDIS_SERVER", "/usr/bin/redis-server");
}

bool fl_redisd_available(void)
{
    return access(server_path(), X_OK) == 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* True if the server answers PING on its port. */
static bool pong(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    bool ok = false;
    char buf[16] = "";
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof(buf) - 1) >= 7)
        ok = strncmp(buf, "+PONG\r\n", 7) == 0;
    close(fd);
    return ok;
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
        unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

/* Forks and execs redis-server on r->port; waits until it answers.
   Returns 0, 1 if it exited early (port taken?), -1 otherwise. */
static int spawn(struct fl_redisd *r)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    const char *argv[] = {server_path(),
                          "--port",
                          port,
                          "--bind",
                          "127.0.0.1",
                          "--dir",
                          r->dir,
                          "--unixsocket",
                          r->socket,
                          "--unixsocketperm",
                          "700",
                          "--save",
                          "",
                          "--appendonly",
                          "no",
                          "--daemonize",
                          "no",
                          "--logfile",
                          r->log,
                          NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fl_redisd: fork");
        return -1;
    }
    if (pid == 0) {
#ifdef __linux__
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
#else
        (void)parent;
#endif
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        static const char msg[] = "fl_redisd: cannot exec redis-server\n";
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        }
        _exit(127);
    }
    r->pid = pid;
    for (int waited = 0; waited < WAIT_MS; waited += 10) {
        if (pong(r->port))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->pid = 0;
            return 1;
        }
        fl_test_msleep(10);
    }
    fprintf(stderr, "fl_redisd: redis-server did not answer within %d ms (see %s)\n",
            WAIT_MS, r->log);
    return -1;
}

int fl_redisd_start(struct fl_redisd *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s/fl-redisd-XXXXXX", fl_test_env_or("TMPDIR", "/tmp"));
    if (mkdtemp(r->dir) == NULL) {
        perror("fl_redisd: mkdtemp");
        r->dir[0] = '\0';
        return -1;
    }
    snprintf(r->socket, sizeof(r->socket), "%s/redis.sock", r->dir);
    snprintf(r->log, sizeof(r->log), "%s/redis.log", r->dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        if ((r->port = free_port()) < 0) {
            perror("fl_redisd: no free port");
            break;
        }
        snprintf(r->addr, sizeof(r->addr), "127.0.0.1:%d", r->port);
        int rc = spawn(r);
        if (rc == 0)
            return 0;
        if (rc < 0)
            break;
    }
    fprintf(stderr, "fl_redisd: could not start %s\n", server_path());
    fl_redisd_stop(r);
    return -1;
}

void fl_redisd_kill(struct fl_redisd *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

int fl_redisd_restart(struct fl_redisd *r)
{
    fl_redisd_kill(r);
    /* The port was ours a moment ago; another process taking it in
       between would make spawn() fail, and the test with it. */
    return spawn(r) == 0 ? 0 : -1;
}

void fl_redisd_stop(struct fl_redisd *r)
{
    if (r->pid > 0) {
        fl_test_stop_child(r->pid, 5000);
        r->pid = 0;
    }
    if (r->dir[0] != '\0') {
        if (strcmp(fl_test_env_or("FL_REDISD_KEEP", "0"), "1") == 0)
            fprintf(stderr, "fl_redisd: kept %s\n", r->dir);
        else
            remove_dir(r->dir);
        r->dir[0] = '\0';
    }
}
