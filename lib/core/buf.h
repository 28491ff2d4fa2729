/* buf: the one growable string builder.  data is always NUL-terminated
   (never NULL after fl_buf_init).  Not thread-safe: one owner at a time. */
#ifndef FL_LIB_BUF_H
#define FL_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct fl_buf {
    char *data;
    size_t len;
    size_t cap;
};

void fl_buf_init(struct fl_buf *b);
void fl_buf_reset(struct fl_buf *b);
/* Cuts b back to its first len bytes (a larger len: no change), dropping what was
   appended since: e.g. the error of an attempt that is retried. */
void fl_buf_truncate(struct fl_buf *b, size_t len);
void fl_buf_free(struct fl_buf *b);
void fl_buf_append(struct fl_buf *b, const void *data, size_t len);
void fl_buf_puts(struct fl_buf *b, const char *s);
void fl_buf_putc(struct fl_buf *b, char c);
void fl_buf_printf(struct fl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fl_buf_vprintf(struct fl_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Hands the string to the caller (free() it) and re-initialises b. */
char *fl_buf_steal(struct fl_buf *b);

#endif
