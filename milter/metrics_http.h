/* metrics_http: the Prometheus endpoint.  A libmicrohttpd server with one
   internal thread on metrics_listen answers GET (and HEAD) /metrics with
   the exposition of the daemon's counters (lib/metrics/metrics.h) plus the ones
   read at scrape time: sessions in flight, the DNS layer's and the DNS
   lists' statistics.  Other paths get 404, other methods 405.  A scrape
   takes no lock that the message path holds for long: the counters are
   summed from their shards, the DNS statistics copied under the
   resolver's own lock.
   Thread-safety: start and stop from the main thread; the server thread
   only reads shared state. */
#ifndef FL_MILTER_METRICS_HTTP_H
#define FL_MILTER_METRICS_HTTP_H

#include "lib/core/config.h"

struct fl_metrics_http;

/* Starts the endpoint on cfg->metrics_listen (nothing when it is empty)
   for fl_srv.metrics, and logs the address it listens on.  Call with the
   daemon's signals blocked: the server thread inherits the mask.  Returns
   0 (fl_srv.metrics_http set when started), or -1 with the reason logged
   (address in use, cannot bind). */
int fl_metrics_http_start(const struct fl_config *cfg);
/* Stops the server and closes its socket.  Accepts NULL; sets *h NULL. */
void fl_metrics_http_stop(struct fl_metrics_http **h);

#endif
