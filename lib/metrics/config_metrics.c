/* config_metrics: settings of the Prometheus metrics endpoint
   (lib/metrics/metrics.c, milter/metrics_http.c). */
#include "lib/core/config.h"
#include "lib/metrics/metrics.h"
#include "lib/core/settings.h"

#include <stddef.h>

#define OFF(field) offsetof(struct fl_config, field)

static int check_listen(const char *v, struct fl_buf *err)
{
    if (*v == '\0')
        return 0;
    return fl_metrics_parse_listen(v, NULL, NULL, err);
}

const struct fl_setting fl_metrics_settings[FL_METRICS_SETTINGS_COUNT] = {
    {"metrics_listen", FL_SET_STRING, "", 0, 0, NULL, OFF(metrics_listen), FL_SET_RESTART,
     "Address the Prometheus metrics endpoint (HTTP GET /metrics, text format 0.0.4) listens "
     "on: IPv4:PORT or [IPv6]:PORT, numeric, e.g. 127.0.0.1:9795; port 0 picks a free port "
     "(logged at start). It opens after privileges are dropped, so use a port above 1023. "
     "The endpoint has no authentication: keep it on a local or otherwise protected "
     "address. Empty: no endpoint, and nothing is counted.",
     check_listen},
};
