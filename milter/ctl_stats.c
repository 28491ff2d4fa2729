/* ctl_stats: `faultlinectl stats` -- shows the counters the daemon writes
   to stats_file: DNS queries by status and latency, and per DNS list its
   queries, listings, error codes, timeouts and failures.  Single-threaded. */
#include "milter/ctl.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

int fl_ctl_stats(const struct fl_config *cfg, int argc, char **argv)
{
    (void)argv;
    if (argc > 0) {
        fprintf(stderr, "faultlinectl: stats takes no arguments\n");
        return FL_CTL_USAGE;
    }
    if (*cfg->stats_file == '\0') {
        fprintf(stderr, "faultlinectl: stats_file is empty: the daemon writes no statistics\n");
        return FL_CTL_CONFIG;
    }
    json_error_t err;
    json_t *o = json_load_file(cfg->stats_file, 0, &err);
    if (o == NULL) {
        fprintf(stderr, "faultlinectl: %s: %s (is the daemon running?)\n", cfg->stats_file,
                err.text);
        return FL_CTL_UNAVAILABLE;
    }
    time_t when = (time_t)num(o, "time");
    char stamp[64];
    struct tm tm;
    localtime_r(&when, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    printf("faultline pid %lld, written %s (every %llds), %lld session(s) open\n",
           num(o, "pid"), stamp, cfg->stats_interval / 1000, num(o, "sessions"));
    json_t *dns = json_object_get(o, "dns");
    if (dns != NULL) {
        printf("\nDNS: %lld queries, %lld answered from the cache (under 1 ms)\n",
               num(dns, "queries"), num(dns, "answered_fast"));
        json_t *st = json_object_get(dns, "status");
        const char *k;
        json_t *v;
        printf("  by status:");
        json_object_foreach(st, k, v)
            printf(" %s=%lld", k, (long long)json_integer_value(v));
        printf("\n  latency:  ");
        size_t i;
        json_array_foreach(json_object_get(dns, "latency"), i, v)
        {
            json_t *b = json_object_get(v, "below_ms");
            if (b != NULL)
                printf(" <%lldms=%lld", (long long)json_integer_value(b), num(v, "count"));
            else
                printf(" more=%lld", num(v, "count"));
        }
        printf("\n");
    }
    json_t *lists = json_object_get(o, "dnsbl");
    printf("\nDNS lists:%s\n", json_array_size(lists) ? "" : " none configured");
    if (json_array_size(lists))
        printf("  %-32s %-6s %9s %8s %10s %11s %8s %8s\n", "zone", "kind", "queries", "listed",
               "not_listed", "error_codes", "timeouts", "failures");
    size_t i;
    json_t *l;
    json_array_foreach(lists, i, l)
    {
        printf("  %-32s %-6s %9lld %8lld %10lld %11lld %8lld %8lld%s\n",
               json_string_value(json_object_get(l, "zone")),
               json_is_true(json_object_get(l, "domain_list")) ? "domain" : "ip",
               num(l, "queries"), num(l, "listed"), num(l, "not_listed"),
               num(l, "error_codes"), num(l, "timeouts"), num(l, "failures"),
               json_is_true(json_object_get(l, "disabled")) ? "  DISABLED by the probe" : "");
    }
    json_decref(o);
    return FL_CTL_OK;
}
