/* linefile: reads a configuration or list file line by line, defensively.
   Only regular files are read (a FIFO would block the reader, a device such
   as /dev/zero would never end), every line is bounded in length, and a
   read error is an error -- never taken for the end of the file.  One
   reader per thread; no shared state. */
#ifndef FL_LIB_LINEFILE_H
#define FL_LIB_LINEFILE_H

#include "lib/core/buf.h"
#include <stddef.h>

struct fl_linefile {
    int fd;
    size_t max_line; /* longest line accepted, newline excluded */
    char *buf;       /* bytes read; buf[start..len) not yet returned */
    size_t cap, start, len;
    int eof;
    unsigned int lineno; /* number of the line last returned */
};

/* Opens path for reading (without blocking on a FIFO).  Returns 0, or -1
   with the reason appended to err (a sentence or strerror) when the file cannot be
   opened or is not a regular file. */
int fl_linefile_open(struct fl_linefile *lf, const char *path, size_t max_line,
                     struct fl_buf *err);

/* Returns 1 with the next line in *line_r (NUL-terminated, newline removed;
   *len_r its length, which may count embedded NUL bytes; valid until the
   next call), 0 at the end of the file, or -1 with the reason appended to err when the
   line is longer than max_line or reading failed (lf->lineno is then the
   line that failed). */
int fl_linefile_next(struct fl_linefile *lf, char **line_r, size_t *len_r,
                     struct fl_buf *err);

/* Closes the file and frees the buffer; safe to call twice. */
void fl_linefile_close(struct fl_linefile *lf);

#endif
