/* attribution: whose side has to act, and which SMTP reply says so, for
   every reason code a check or the daemon can produce (DESIGN.md
   "Attribution examples"; RFC 7372 enhanced status codes).  One table,
   pinned by tests.  Constant data: thread-safe. */
#ifndef FL_LIB_ATTRIBUTION_H
#define FL_LIB_ATTRIBUTION_H

#include <stdbool.h>

#include "lib/core/result.h"

struct fl_attribution {
    const char *reason_code; /* e.g. "spf.not_permitted" */
    enum fl_fault fault;
    bool transient;
    int code;        /* SMTP reply code when the reason rejects or defers */
    const char *dsn; /* RFC 3463/7372 enhanced status code */
    const char *what; /* short text that starts the SMTP reply */
};

/* Returns the row for reason_code; unknown codes get a row for their
   prefix ("spf.*" rows end in ".*"), or a generic row.  Never NULL. */
const struct fl_attribution *fl_attribution_find(const char *reason_code);

#endif
