/* pooled: a check that runs on the bounded worker pool (blocking work such
   as a libspf2 evaluation), started when its inputs are known and joined at
   the stage that needs its result, bounded by the message deadline.  If the
   pool is saturated the work runs in the caller when it is joined, so a
   burst never loses a check.  A handle belongs to one session thread. */
#ifndef FL_LIB_CORE_POOLED_H
#define FL_LIB_CORE_POOLED_H

#include "lib/core/pool.h"
#include "lib/core/result.h"

#include <stdbool.h>

struct fl_pooled;

/* work(ctx, out) fills out (fl_result_init'ed by work).  ctx_free(ctx) is
   called once when neither side needs ctx any more. */
struct fl_pooled *fl_pooled_start(struct fl_pool *pool,
                                  void (*work)(void *ctx, struct fl_result *out), void *ctx,
                                  void (*ctx_free)(void *ctx));
/* Like fl_pooled_start, but first tries quick(ctx, out) in the caller's
   thread (e.g. the work from cached data only): when it returns true, out
   is the result and nothing is queued. */
struct fl_pooled *fl_pooled_start_quick(struct fl_pool *pool,
                                        void (*work)(void *ctx, struct fl_result *out),
                                        bool (*quick)(void *ctx, struct fl_result *out),
                                        void *ctx, void (*ctx_free)(void *ctx));
/* Waits until deadline_ms (monotonic); work that no worker has started yet
   is taken back and run in the caller, so a long queue never delays it.  Returns 1 and moves the result into
   out, or 0 if the work did not finish in time (out untouched). */
int fl_pooled_finish(struct fl_pooled *p, long long deadline_ms, struct fl_result *out);
/* Waits like fl_pooled_finish but leaves the result in place: returns it
   (valid until fl_pooled_finish or fl_pooled_free), or NULL. */
const struct fl_result *fl_pooled_peek(struct fl_pooled *p, long long deadline_ms);
/* Releases the handle; work still running finishes on its own. */
void fl_pooled_free(struct fl_pooled **p);

#endif
