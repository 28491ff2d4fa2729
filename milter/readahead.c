/* readahead: see readahead.h. */
#include "milter/readahead.h"
#include "milter/interpose.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct slot {
    char *buf;    /* NULL when empty */
    size_t off;   /* next byte to hand out */
    size_t len;   /* bytes in buf */
    size_t avail; /* len - off, read by other threads' poll() (atomic) */
    int on;       /* a libmilter session socket (atomic) */
    bool tcp;
};

static struct slot *slots;
static int nslots;

static ssize_t (*real_read)(int, void *, size_t);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_close)(int);
static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    real_read = (ssize_t(*)(int, void *, size_t))fl_interpose_next("read");
    real_poll = (int (*)(struct pollfd *, nfds_t, int))fl_interpose_next("poll");
    real_close = (int (*)(int))fl_interpose_next("close");
    if (real_read == NULL || real_poll == NULL || real_close == NULL)
        abort(); /* no libc under us: nothing can work */
}

#define REAL(f) (pthread_once(&resolved, resolve), real_##f)

void fl_readahead_init(void)
{
    struct rlimit rl;
    pthread_once(&resolved, resolve);
    if (slots != NULL || getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    /* calloc maps untouched pages lazily: a slot costs memory only once a
       descriptor that high is used. */
    int n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20) ? 1 << 20 : (int)rl.rlim_cur;
    slots = calloc((size_t)n, sizeof(*slots));
    if (slots != NULL)
        nslots = n;
}

static struct slot *slot_of(int fd)
{
    if (fd < 0 || fd >= nslots || !__atomic_load_n(&slots[fd].on, __ATOMIC_ACQUIRE))
        return NULL;
    return &slots[fd];
}

void fl_readahead_add(int fd, bool tcp)
{
    if (fd < 0 || fd >= nslots)
        return;
    struct slot *s = &slots[fd];
    s->buf = NULL;
    s->off = s->len = 0;
    s->tcp = tcp;
    __atomic_store_n(&s->avail, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->on, 1, __ATOMIC_RELEASE);
}

bool fl_readahead_accepted(int fd)
{
    return slot_of(fd) != NULL;
}

size_t fl_readahead_pending(int fd)
{
    struct slot *s = slot_of(fd);
    return s == NULL ? 0 : __atomic_load_n(&s->avail, __ATOMIC_RELAXED);
}

static void drop(struct slot *s)
{
    free(s->buf);
    s->buf = NULL;
    s->off = s->len = 0;
    __atomic_store_n(&s->avail, 0, __ATOMIC_RELAXED);
}

/* A read from the socket itself.  Over TCP it re-arms quick ACKs, which
   the kernel turns off by itself: the MTA writes the commands that get no
   reply back to back, and with Nagle's algorithm on its side each waits
   for the ACK of the one before -- which a receiver that sends no data
   back would delay by up to 40 ms. */
static ssize_t socket_read(const struct slot *s, int fd, void *p, size_t n)
{
    ssize_t got = REAL(read)(fd, p, n);
    if (got > 0 && s->tcp) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    }
    return got;
}

ssize_t read(int fd, void *p, size_t n)
{
    struct slot *s = slot_of(fd);
    if (s == NULL || n == 0)
        return REAL(read)(fd, p, n);
    if (s->buf == NULL) {
        if (n >= FL_READAHEAD_SIZE)
            return socket_read(s, fd, p, n);
        char *b = malloc(FL_READAHEAD_SIZE);
        if (b == NULL)
            return REAL(read)(fd, p, n);
        ssize_t got = socket_read(s, fd, b, FL_READAHEAD_SIZE);
        if (got <= 0) {
            int e = errno;
            free(b);
            errno = e;
            return got;
        }
        s->buf = b;
        s->off = 0;
        s->len = (size_t)got;
    }
    size_t k = s->len - s->off < n ? s->len - s->off : n;
    memcpy(p, s->buf + s->off, k);
    s->off += k;
    if (s->off == s->len)
        drop(s);
    else
        __atomic_store_n(&s->avail, s->len - s->off, __ATOMIC_RELAXED);
    return (ssize_t)k;
}

/* A descriptor whose buffer holds data is readable now: poll() answers
   without asking the kernel, as the kernel would for data in its own
   socket buffer (the others' revents are 0: they were not waited for). */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int ready = 0;
    if (nslots > 0) {
        for (nfds_t i = 0; i < n; i++) {
            const struct slot *s = slot_of(fds[i].fd);
            ready += s != NULL && (fds[i].events & (POLLIN | POLLRDNORM)) &&
                     __atomic_load_n(&s->avail, __ATOMIC_RELAXED) > 0;
        }
    }
    if (ready == 0)
        return REAL(poll)(fds, n, timeout);
    for (nfds_t i = 0; i < n; i++) {
        const struct slot *s = slot_of(fds[i].fd);
        bool buffered = s != NULL && __atomic_load_n(&s->avail, __ATOMIC_RELAXED) > 0;
        fds[i].revents = buffered ? (short)(fds[i].events & (POLLIN | POLLRDNORM)) : 0;
    }
    return ready;
}

int close(int fd)
{
    struct slot *s = slot_of(fd);
    if (s != NULL) {
        drop(s);
        __atomic_store_n(&s->on, 0, __ATOMIC_RELEASE);
    }
    return REAL(close)(fd);
}
