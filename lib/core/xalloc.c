/* xalloc: see xalloc.h. */
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
    /* No log call here: the logger itself allocates. */
    fprintf(stderr, "faultline: fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *fl_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *fl_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *fl_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

char *fl_strdup(const char *s)
{
    return fl_strndup(s, strlen(s));
}

char *fl_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = fl_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
