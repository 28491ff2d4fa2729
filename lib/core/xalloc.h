/* xalloc: allocation that never returns NULL.
   On out-of-memory the process logs and exits: a milter that cannot allocate
   cannot answer the MTA correctly, and the MTA's milter_default_action then
   decides (tempfail by default), so no mail is lost.  Thread-safe. */
#ifndef FL_LIB_XALLOC_H
#define FL_LIB_XALLOC_H

#include <stddef.h>

void *fl_malloc(size_t size);
void *fl_calloc(size_t n, size_t size);
void *fl_realloc(void *ptr, size_t size);
char *fl_strdup(const char *s);
char *fl_strndup(const char *s, size_t n);

#endif
