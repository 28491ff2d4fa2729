/* linefile: see linefile.h. */
#include "lib/core/linefile.h"
#include "lib/core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

int fl_linefile_open(struct fl_linefile *lf, const char *path, size_t max_line,
                     struct fl_buf *err)
{
    memset(lf, 0, sizeof(*lf));
    lf->fd = -1;
    /* O_NONBLOCK: opening a FIFO without a writer must not hang us. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        fl_buf_puts(err, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        fl_buf_puts(err, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fl_buf_puts(err, "not a regular file");
        close(fd);
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        fl_buf_puts(err, strerror(errno));
        close(fd);
        return -1;
    }
    lf->fd = fd;
    lf->max_line = max_line;
    return 0;
}

/* Reads more bytes after the unreturned ones.  Returns bytes read, 0 at end
   of file, -1 on error. */
static ssize_t fill(struct fl_linefile *lf)
{
    if (lf->start > 0) {
        memmove(lf->buf, lf->buf + lf->start, lf->len - lf->start);
        lf->len -= lf->start;
        lf->start = 0;
    }
    if (lf->cap - lf->len < CHUNK + 1) {
        lf->cap = lf->len + CHUNK + 1;
        lf->buf = fl_realloc(lf->buf, lf->cap);
    }
    for (;;) {
        ssize_t n = read(lf->fd, lf->buf + lf->len, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0)
            lf->len += (size_t)n;
        return n;
    }
}

int fl_linefile_next(struct fl_linefile *lf, char **line_r, size_t *len_r,
                     struct fl_buf *err)
{
    if (lf->fd < 0) {
        fl_buf_puts(err, "file not open");
        return -1;
    }
    size_t scanned = 0;
    for (;;) {
        /* nothing read yet: no buffer (and NULL + 0 is undefined) */
        char *base = lf->buf != NULL ? lf->buf + lf->start : NULL;
        size_t avail = lf->len - lf->start;
        char *nl = avail > scanned ? memchr(base + scanned, '\n', avail - scanned) : NULL;
        if (nl != NULL || (lf->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - base) : avail;
            lf->lineno++;
            if (n > lf->max_line) {
                fl_buf_puts(err, "line too long");
                return -1;
            }
            if (nl == NULL) { /* last line without a newline: room for the NUL */
                if (lf->len == lf->cap)
                    lf->buf = fl_realloc(lf->buf, ++lf->cap);
                base = lf->buf + lf->start;
            }
            base[n] = '\0';
            lf->start += nl ? n + 1 : n;
            *line_r = base;
            *len_r = n;
            return 1;
        }
        if (lf->eof)
            return 0;
        if (avail > lf->max_line) {
            lf->lineno++;
            fl_buf_puts(err, "line too long");
            return -1;
        }
        scanned = avail;
        ssize_t r = fill(lf);
        if (r < 0) {
            lf->lineno++;
            fl_buf_puts(err, strerror(errno));
            return -1;
        }
        if (r == 0)
            lf->eof = 1;
    }
}

void fl_linefile_close(struct fl_linefile *lf)
{
    if (lf->fd >= 0)
        close(lf->fd);
    lf->fd = -1;
    free(lf->buf);
    lf->buf = NULL;
    lf->cap = lf->start = lf->len = 0;
}
