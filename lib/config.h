/* config: the configuration snapshot.  A struct fl_config is immutable once
   loaded and reference-counted: SIGHUP loads a new one and swaps it in only
   if it is valid, and every session keeps the snapshot it started with.
   Thread-safe for readers; fl_config_ref/unref are atomic. */
#ifndef FL_LIB_CONFIG_H
#define FL_LIB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/cidr.h"

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

    /* Daemon (lib/config_core.c) */
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

    /* Policy (lib/config_core.c) */
    char *authserv_id;
    struct fl_cidr_list trusted_networks;
    bool trust_authenticated;
    int on_internal_error;
    long long message_deadline;
    long long message_memory_limit;
    long long max_recipients;
    int forged_header_action;
    char *forged_header_rename;

    /* Verdict (lib/config_core.c) */
    char *verdict_log;

    /* DNS (lib/config_dns.c) */
    struct fl_strlist dns_forwarders;
    long long dns_timeout;
    char *dns_trust_anchor_file;
    long long dns_cache_size;
    char *dns_probe_domain;
    long long dns_probe_cache;

    /* iprev and null MX (lib/config_ident.c) */
    bool iprev_enable;
    int iprev_action;
    long long iprev_max_names;
    bool nullmx_reject;

    /* SPF (lib/config_spf.c) */

    /* DNSBL, DNSWL, RHSBL (lib/config_dnsbl.c) */

    /* DKIM (lib/config_dkim.c) */

    /* Greylisting (lib/config_greylist.c) */
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
