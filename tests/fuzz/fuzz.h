/* fuzz: helpers shared by the libFuzzer targets in tests/fuzz.  Each target
   is one file with LLVMFuzzerTestOneInput; build them with
   `./configure CC=clang --enable-fuzzing && make fuzz-targets` and run them
   with tests/fuzz/run.sh.  Besides crashes, sanitizer reports and leaks,
   each target checks the invariants its parser promises (bounded output,
   NUL termination, no CR or LF where a header line is built) and aborts
   when one breaks, so libFuzzer keeps the input. */
#ifndef FL_TESTS_FUZZ_H
#define FL_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of the input (free it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Aborts with a message when an invariant breaks. */
#define FUZZ_ASSERT(cond, what)                                                         \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", what, __FILE__,      \
                    __LINE__);                                                          \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Loads text[0..len) as a configuration file, read through a memfd the
   way the daemon reads a file.  Returns fl_config_load's result. */
#include "lib/core/buf.h"
#include "lib/core/config.h"

#include <sys/mman.h>
#include <unistd.h>

static inline int fuzz_load_config(const void *text, size_t len, struct fl_config **cfg_r,
                                   struct fl_buf *errors)
{
    int fd = memfd_create("fuzz.conf", 0);
    if (fd < 0 || (len > 0 && write(fd, text, len) != (ssize_t)len))
        abort();
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    *cfg_r = NULL;
    int rc = fl_config_load(path, cfg_r, errors);
    close(fd);
    return rc;
}

#endif
