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

#endif
