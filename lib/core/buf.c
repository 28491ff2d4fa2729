/* buf: see buf.h. */
#include "lib/core/buf.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fl_buf_init(struct fl_buf *b)
{
    b->cap = 64;
    b->len = 0;
    b->data = fl_malloc(b->cap);
    b->data[0] = '\0';
}

void fl_buf_reset(struct fl_buf *b)
{
    fl_buf_truncate(b, 0);
}

void fl_buf_truncate(struct fl_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

void fl_buf_free(struct fl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void reserve(struct fl_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = fl_realloc(b->data, cap);
    b->cap = cap;
}

void fl_buf_append(struct fl_buf *b, const void *data, size_t len)
{
    reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void fl_buf_puts(struct fl_buf *b, const char *s)
{
    fl_buf_append(b, s, strlen(s));
}

void fl_buf_putc(struct fl_buf *b, char c)
{
    /* the canonicalisers call this per byte: no memcpy for one */
    reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void fl_buf_vprintf(struct fl_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void fl_buf_printf(struct fl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fl_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *fl_buf_steal(struct fl_buf *b)
{
    char *s = b->data;
    fl_buf_init(b);
    return s;
}
