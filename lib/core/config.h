/* config: the configuration snapshot.  A struct fl_config is immutable once
   loaded and reference-counted: SIGHUP loads a new one and swaps it in only
   if it is valid, and every session keeps the snapshot it started with.
   Thread-safe for readers; fl_config_ref/unref are atomic. */
#ifndef FL_LIB_CONFIG_H
#define FL_LIB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/core/cidr.h"

struct fl_strlist {
    char **items;
    size_t count;
};

enum fl_internal_error_action {
    FL_ON_ERROR_ACCEPT,
    FL_ON_ERROR_TEMPFAIL,
};

enum fl_mark_or_reject {
    FL_MARK,
    FL_REJECT,
};

enum fl_forged_action {
    FL_FORGED_REMOVE,
    FL_FORGED_RENAME,
};

struct fl_config {
    int refcount;
    char *path; /* file it came from, or NULL for embedded defaults */

    /* Daemon (lib/core/config_core.c) */
    char *socket;
    long long socket_mode;
    char *socket_owner;
    char *user;
    char *group;
    char *pidfile;
    char *log;
    int log_level;
    long long worker_threads;
    long long shutdown_timeout;
    long long session_idle_timeout;

    /* Policy (lib/core/config_core.c) */
    char *authserv_id;
    struct fl_cidr_list trusted_networks;
    bool trust_authenticated;
    int on_internal_error;
    long long message_deadline;
    long long message_memory_limit;
    long long max_recipients;
    int forged_header_action;
    char *forged_header_rename;

    /* Verdict (lib/core/config_core.c) */
    char *verdict_log;
    char *stats_file;
    long long stats_interval;
    char *metrics_listen; /* lib/metrics/config_metrics.c */

    /* DNS (lib/dns/config_dns.c) */
    struct fl_strlist dns_forwarders;
    long long dns_timeout;
    char *dns_trust_anchor_file;
    long long dns_cache_size;
    char *dns_probe_domain;
    long long dns_probe_cache;
    long long dns_probe_timeout;

    /* iprev and null MX (lib/ident/config_ident.c) */
    bool iprev_enable;
    int iprev_action;
    long long iprev_max_names;
    bool nullmx_reject;

    /* SPF (lib/spf/config_spf.c) */
    bool spf_enable;
    bool spf_check_helo;
    int spf_fail_action;      /* enum fl_mark_or_reject */
    int spf_softfail_action;  /* enum fl_mark_or_reject */
    int spf_permerror_action; /* enum fl_mark_or_reject */
    int spf_temperror_action; /* FL_ON_ERROR_ACCEPT or FL_ON_ERROR_TEMPFAIL */
    bool spf_received_header;
    bool spf_skip_trusted;
    bool spf_skip_authenticated;

    /* DNSBL, DNSWL, RHSBL (lib/lists/config_dnsbl.c) */
    struct fl_strlist dnsbl_sites;
    struct fl_strlist rhsbl_sites;
    long long dnsbl_threshold;
    char *dnsbl_allow_threshold; /* "-1": a whole number, checked */
    int dnsbl_reject_stage;      /* enum fl_dnsbl_stage */
    int dnsbl_reply_code;        /* enum fl_dnsbl_reply */
    int dnsbl_mode;              /* 0 enforce, 1 observe (FL_MODE_) */
    struct fl_strlist dnsbl_error_codes;
    bool dnsbl_fetch_txt;
    long long dnsbl_probe_interval;

    /* DKIM (lib/dkim/config_dkim.c) */
    bool dkim_enable;
    bool dkim_skip_trusted;
    bool dkim_skip_authenticated;
    long long dkim_max_signatures;
    long long dkim_min_rsa_bits;
    int dkim_rsa_sha1;
    long long dkim_clock_skew;
    int dkim_body_length;
    int dkim_added_headers;
    int dkim_testing_keys;
    int dkim_fail_action;

    /* DMARC (lib/dmarc/config_dmarc.c) */
    bool dmarc_enable;
    bool dmarc_skip_trusted;
    bool dmarc_skip_authenticated;
    int dmarc_reject_action;     /* enum fl_dmarc_reject_action (lib/dmarc/dmarc.h) */
    int dmarc_quarantine_action; /* enum fl_dmarc_quarantine_action (lib/dmarc/dmarc.h) */
    char *dmarc_quarantine_header;
    int dmarc_temperror_action;     /* FL_ON_ERROR_ACCEPT or FL_ON_ERROR_TEMPFAIL */
    int dmarc_from_missing_action;  /* enum fl_mark_or_reject */
    int dmarc_from_multiple_action; /* enum fl_mark_or_reject */
    struct fl_strlist dmarc_override_domains;
    bool arc_enable;                         /* lib/arc/arc.c (issue 19) */
    struct fl_strlist dmarc_arc_trusted_sealers;

    /* DMARC aggregate reports (lib/dmarc/config_report.c) */
    char *report_org_name;
    char *report_email;
    char *report_submitter;
    char *report_extra_contact_info;
    char *report_dir;
    char *report_sendmail;
    long long report_max_uris;

    /* Greylisting (lib/greylist/config_greylist.c) */
    bool greylist_enable;
    int greylist_mode; /* 0 enforce, 1 observe (FL_MODE_) */
    int greylist_store; /* enum fl_greylist_store_type (lib/greylist/greylist.h) */
    char *greylist_lmdb_dir;
    long long greylist_lmdb_map_size;
    int greylist_lmdb_sync; /* enum fl_greylist_lmdb_sync (lib/greylist/greylist.h) */
    char *greylist_redis_server;
    char *greylist_redis_password;
    long long greylist_redis_db;
    char *greylist_redis_prefix;
    long long greylist_redis_timeout;
    long long greylist_redis_pool_size;
    long long greylist_delay;
    long long greylist_retry_window;
    long long greylist_lifetime;
    long long greylist_sweep_interval;
    long long greylist_ipv4_prefix;
    long long greylist_ipv6_prefix;
    long long greylist_auto_allow;
    bool greylist_exempt_trusted;
    bool greylist_exempt_authenticated;
    bool greylist_exempt_dnswl;
    bool greylist_spf_pass_exempt;
    struct fl_cidr_list greylist_allow_clients;
    struct fl_strlist greylist_allow_client_names;
    struct fl_strlist greylist_allow_sender_domains;
    struct fl_strlist greylist_allow_recipients;
};

/* Loads path (every key optional; missing keys take their defaults).
   path NULL means embedded defaults only.  Returns 0 and sets *cfg_r
   (refcount 1), or -1 with one "file:line: error: ..." line per problem
   appended to errors. */
int fl_config_load(const char *path, struct fl_config **cfg_r, struct fl_buf *errors);
/* Defaults only; never fails. */
struct fl_config *fl_config_defaults(void);
struct fl_config *fl_config_ref(struct fl_config *cfg);
void fl_config_unref(struct fl_config **cfg);

/* Appends the current value of setting name in configuration syntax. */
void fl_config_format_value(const struct fl_config *cfg, const char *name, struct fl_buf *out);
/* Appends one line per FL_SET_RESTART setting that differs between a and b. */
void fl_config_restart_changes(const struct fl_config *a, const struct fl_config *b,
                               struct fl_buf *out);

#endif
