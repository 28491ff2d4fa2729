/* metrics_milter: times the milter callbacks for the per-stage latency
   histograms (faultline_smtp_stage_duration_seconds), by wrapping the
   callback table, so the callbacks themselves carry no metrics code.
   Thread-safety: fl_metrics_milter_desc runs once, in the main thread,
   before libmilter starts; the wrappers then run in any session thread. */
#ifndef FL_MILTER_METRICS_MILTER_H
#define FL_MILTER_METRICS_MILTER_H

#include <libmilter/mfapi.h>

#include "lib/metrics/metrics.h"

/* The wrapped table and its counters: set once before libmilter starts
   its threads, read-only afterwards.  The daemon's lives in fl_srv.timed:
   libmilter's callbacks have no other way to it. */
struct fl_metrics_milter {
    struct smfiDesc inner;
    struct fl_metrics *metrics;
};

/* The callback table to register: desc itself when m is NULL (metrics
   off: no cost), else one whose callbacks call desc's and count the time
   they took into m (both kept in *t, which must be fl_srv.timed). */
struct smfiDesc fl_metrics_milter_desc(struct fl_metrics_milter *t, const struct smfiDesc *desc,
                                       struct fl_metrics *m);

#endif
