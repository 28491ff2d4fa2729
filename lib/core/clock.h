/* clock: time sources.  Monotonic milliseconds for deadlines and elapsed
   times; struct fl_clock lets tests inject a fake wall clock (greylisting)
   instead of sleeping.  Thread-safe. */
#ifndef FL_LIB_CLOCK_H
#define FL_LIB_CLOCK_H

#include <time.h>

static inline long long fl_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct fl_clock {
    time_t (*now)(void *ctx);
    void *ctx;
};

#endif
