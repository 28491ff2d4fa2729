/* listener: see listener.h. */
#include "milter/listener.h"
#include "milter/readahead.h"
#include "lib/core/log.h"

#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *unix_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    return NULL;
}

/* Removes path if it is a socket no process listens on.  Returns 0 if the
   path is free now, -1 (logged) if it must not be touched. */
static int remove_stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : (fl_error("socket %s: %s", path, strerror(errno)), -1);
    if (!S_ISSOCK(st.st_mode)) {
        fl_error("socket %s exists and is not a socket; refusing to remove it", path);
        return -1;
    }
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        fl_error("socket %s: path too long", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    int err = errno;
    close(fd);
    if (rc == 0) {
        fl_error("socket %s is in use by a running process (another faultline?)", path);
        return -1;
    }
    if (err != ECONNREFUSED) {
        fl_error("socket %s: cannot tell whether it is in use: %s", path, strerror(err));
        return -1;
    }
    if (unlink(path) < 0) {
        fl_error("socket %s: cannot remove stale socket: %s", path, strerror(errno));
        return -1;
    }
    fl_info("removed stale socket %s", path);
    return 0;
}

static int set_unix_owner(const char *path, const struct fl_config *cfg)
{
    if (chmod(path, (mode_t)cfg->socket_mode) < 0) {
        fl_error("socket %s: chmod: %s", path, strerror(errno));
        return -1;
    }
    char owner[256];
    const char *spec = *cfg->socket_owner ? cfg->socket_owner : cfg->user;
    if (*spec == '\0' || geteuid() != 0)
        return 0;
    snprintf(owner, sizeof(owner), "%s", spec);
    char *colon = strchr(owner, ':');
    const char *gname = colon ? colon + 1 : (*cfg->group ? cfg->group : NULL);
    if (colon)
        *colon = '\0';
    struct passwd *pw = getpwnam(owner);
    if (pw == NULL) {
        fl_error("socket owner: unknown user \"%s\"", owner);
        return -1;
    }
    gid_t gid = pw->pw_gid;
    if (gname != NULL && *gname) {
        struct group *gr = getgrnam(gname);
        if (gr == NULL) {
            fl_error("socket owner: unknown group \"%s\"", gname);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (chown(path, pw->pw_uid, gid) < 0) {
        fl_error("socket %s: chown: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* libmilter keeps its listening descriptor private: this finds it, the one
   listening stream socket of the process.  Returns the fd, or -1. */
static int find_listener(void)
{
    struct rlimit rl;
    int maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur
                                                                           : 65536;
    for (int fd = 0; fd < maxfd; fd++) {
        int listening = 0, type = 0;
        socklen_t len = sizeof(listening);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
            continue;
        len = sizeof(type);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
            continue;
        struct sockaddr_storage ss;
        len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
            continue;
        /* Skip the placeholder of fl_listener_stop_accepting (abstract). */
        if (ss.ss_family == AF_UNIX &&
            (len <= sizeof(sa_family_t) || ((struct sockaddr_un *)&ss)->sun_path[0] == '\0'))
            continue;
        if (ss.ss_family == AF_UNIX || ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
            return fd;
    }
    return -1;
}

/* Disables Nagle on the listening TCP socket; Linux copies the option to
   every connection that completes its handshake from now on.  One that
   completed before (between libmilter's listen() and this call) would keep
   Nagle on: accept() below closes that gap. */
static int set_nodelay(void)
{
    int done = 0;
    int fd = find_listener();
    if (fd >= 0) {
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
            fl_error("TCP_NODELAY on the listening socket: %s", strerror(errno));
            return -1;
        }
        done++;
    }
    if (done == 0) {
        fl_error("could not find the listening TCP socket to set TCP_NODELAY");
        return -1;
    }
    return 0;
}

/* libmilter's accept(2), interposed: libmilter keeps its accepted
   sockets to itself, and a connection whose handshake completed before
   set_nodelay() ran (a client connecting while the daemon starts) did not
   inherit TCP_NODELAY.  libmilter calls accept() through the dynamic
   linker, so this definition in the executable is the one it gets; it
   accepts with accept4(2), disables Nagle on every TCP socket it
   returns, before the first byte is read, and hands the socket to
   readahead.c.  Thread-safe. */
int accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len)
{
    int s = accept4(fd, addr, len, 0);
    if (s < 0)
        return s;
    /* The peer's address tells TCP from unix without a system call. */
    int proto = 0, one = 1;
    socklen_t plen = sizeof(proto);
    /* (glibc's __SOCKADDR_ARG is a union of pointers or a pointer) */
    const struct sockaddr *sa;
    memcpy(&sa, &addr, sizeof(sa));
    bool tcp = sa != NULL && len != NULL && *len >= sizeof(sa_family_t)
                   ? sa->sa_family == AF_INET || sa->sa_family == AF_INET6
                   : getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) == 0 &&
                         proto == IPPROTO_TCP;
    if (tcp)
        (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fl_readahead_add(s, tcp);
    return s;
}

int fl_listener_open(const struct fl_config *cfg)
{
    const char *path = unix_path(cfg->socket);
    if (path != NULL && remove_stale_socket(path) < 0)
        return -1;
    fl_readahead_init();
    if (smfi_setconn(cfg->socket) == MI_FAILURE) {
        fl_error("socket %s: libmilter rejected the specification", cfg->socket);
        return -1;
    }
    /* The socket file is created with the umask; tighten, then chmod. */
    mode_t old = umask(0177);
    int rc = smfi_opensocket(false);
    umask(old);
    if (rc == MI_FAILURE) {
        fl_error("socket %s: cannot listen (in use, or no permission)", cfg->socket);
        return -1;
    }
    if (path != NULL)
        return set_unix_owner(path, cfg);
    if (set_nodelay() < 0)
        return -1;
    fl_debug("socket %s: TCP_NODELAY set on the listening socket", cfg->socket);
    return 0;
}

/* True while connections wait in fd's accept queue. */
static bool backlog_pending(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

int fl_listener_stop_accepting(const struct fl_config *cfg, struct fl_listener_drain *drain)
{
    memset(drain, 0, sizeof(*drain));
    int fd = find_listener();
    if (fd < 0)
        return -1;
    drain->addr_len = sizeof(drain->addr);
    if (getsockname(fd, (struct sockaddr *)&drain->addr, &drain->addr_len) < 0)
        drain->addr_len = 0;
    /* A unix socket's name goes first: new connections are refused from
       here on, while the ones already queued are still accepted and served
       by libmilter (closing the socket under them would reset them). */
    const char *path = unix_path(cfg->socket);
    if (path != NULL) {
        fl_listener_cleanup(cfg);
        for (int i = 0; i < 100 && backlog_pending(fd); i++)
            usleep(10000);
    }
    /* Swap a placeholder listening socket (autobound to an abstract unix
       name) in under libmilter's descriptor: the real one closes (the MTA
       gets "connection refused" and applies its milter_default_action),
       while libmilter's accept loop keeps polling harmlessly and the
       sessions in flight go on. */
    int placeholder = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un autobind = {.sun_family = AF_UNIX};
    if (placeholder < 0 ||
        bind(placeholder, (struct sockaddr *)&autobind, sizeof(sa_family_t)) < 0 ||
        listen(placeholder, 1) < 0 || dup2(placeholder, fd) < 0) {
        fl_error("cannot close the listening socket: %s", strerror(errno));
        if (placeholder >= 0)
            close(placeholder);
        return -1;
    }
    close(placeholder);
    fl_listener_cleanup(cfg);
    return 0;
}

/* True if the connected stream socket fd was accepted from the listening
   address of drain: its local address is the listener's. */
static bool accepted_from(int fd, const struct fl_listener_drain *drain)
{
    int listening = 0, type = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || listening)
        return false;
    len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        return false;
    struct sockaddr_storage ss;
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 || len != drain->addr_len ||
        ss.ss_family != drain->addr.ss_family)
        return false;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
        return false; /* not connected (any more) */
    return memcmp(&ss, &drain->addr, len) == 0;
}

int fl_listener_connections(const struct fl_listener_drain *drain)
{
    if (drain->addr_len == 0)
        return 0;
    struct rlimit rl;
    int maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur
                                                                           : 65536;
    int n = 0;
    for (int fd = 0; fd < maxfd; fd++)
        n += accepted_from(fd, drain);
    return n;
}

void fl_listener_cleanup(const struct fl_config *cfg)
{
    const char *path = unix_path(cfg->socket);
    if (path != NULL)
        unlink(path);
}
