/* metrics_milter: times the milter callbacks for the per-stage latency
   histograms (faultline_smtp_stage_duration_seconds), by wrapping the
   callback table, so the callbacks themselves carry no metrics code.
   Thread-safety: fl_metrics_milter_desc runs once, in the main thread,
   before libmilter starts; the wrappers then run in any session thread. */
#ifndef FL_MILTER_METRICS_MILTER_H
#define FL_MILTER_METRICS_MILTER_H

#include <libmilter/mfapi.h>

#include "lib/metrics/metrics.h"

/* The callback table to register: desc itself when m is NULL (metrics
   off: no cost), else one whose callbacks call desc's and count the time
   they took into m. */
struct smfiDesc fl_metrics_milter_desc(const struct smfiDesc *desc, struct fl_metrics *m);

#endif
