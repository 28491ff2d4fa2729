/* interpose: what an interposed libc function (readahead.c, workers.c)
   calls on. */
#ifndef FL_MILTER_INTERPOSE_H
#define FL_MILTER_INTERPOSE_H

#include <dlfcn.h>
#include <stdio.h>

/* The sanitizer runtime's interceptor of `name` when one is linked in,
   else the next definition after this executable (libc's).  clang links
   its sanitizer runtime into the executable itself, where RTLD_NEXT does
   not look: calling libc's pthread_create from under it would start
   threads the sanitizer does not know (pthread_join then fails). */
static inline void *fl_interpose_next(const char *name)
{
    char interceptor[64];
    snprintf(interceptor, sizeof(interceptor), "__interceptor_%s", name);
    void *f = dlsym(RTLD_DEFAULT, interceptor);
    return f != NULL ? f : dlsym(RTLD_NEXT, name);
}

#endif
