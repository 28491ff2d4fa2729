/* test_util: see test_util.h. */
#include "tests/harness/test_util.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fl_test_msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

const char *fl_test_env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

int fl_test_stop_child(int pid, int timeout_ms)
{
    int status;
    kill(pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (waitpid(pid, &status, WNOHANG) != 0)
            return 0;
        fl_test_msleep(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

size_t fl_test_headers(const char *m, size_t len,
                       void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    size_t p = 0;
    while (p < len) {
        if (m[p] == '\n' || (m[p] == '\r' && p + 1 < len && m[p + 1] == '\n'))
            return p + (m[p] == '\r' ? 2 : 1); /* the empty line */
        size_t start = p, end;
        for (;;) { /* to the end of the field: a line not followed by WSP */
            const char *nl = memchr(m + p, '\n', len - p);
            end = nl ? (size_t)(nl - m) : len;
            p = nl ? end + 1 : len;
            if (p >= len || (m[p] != ' ' && m[p] != '\t'))
                break;
        }
        if (end > start && m[end - 1] == '\r')
            end--;
        const char *colon = memchr(m + start, ':', end - start);
        if (colon == NULL)
            continue;
        char *name = strndup(m + start, (size_t)(colon - (m + start)));
        const char *val = colon + 1;
        while (val < m + end && (*val == ' ' || *val == '\t'))
            val++;
        char *value = malloc((size_t)(m + end - val) + 1);
        if (name == NULL || value == NULL)
            abort();
        size_t n = 0;
        for (const char *c = val; c < m + end; c++)
            if (!(*c == '\r' && c + 1 < m + end && c[1] == '\n'))
                value[n++] = *c; /* folds as "\n", as Postfix passes them */
        value[n] = '\0';
        fn(arg, name, value);
        free(name);
        free(value);
    }
    return len;
}
