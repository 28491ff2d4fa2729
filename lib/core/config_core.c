/* config_core: the daemon's own settings table (socket, privileges, logging,
   Authentication-Results, verdict log).  Defaults are written here and only
   here; see settings.h.  Later modules (dns, spf, dkim, ...) add their own
   table to fl_setting_groups. */
#include "lib/core/config.h"
#include "lib/core/settings.h"

#include "lib/core/authres.h"
#include "lib/core/log.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* unix:/path, local:/path, inet:PORT@HOST, inet6:PORT@HOST (libmilter's
   syntax, which Postfix and Sendmail use too). */
static int check_socket(const char *v, struct fl_buf *err)
{
    const char *rest;
    if (strncmp(v, "unix:", 5) == 0 || strncmp(v, "local:", 6) == 0) {
        rest = strchr(v, ':') + 1;
        if (rest[0] != '/') {
            fl_buf_puts(err, "a unix socket needs an absolute path "
                             "(unix:/run/faultline/faultline.sock)");
            return -1;
        }
        return 0;
    }
    if (strncmp(v, "inet:", 5) == 0 || strncmp(v, "inet6:", 6) == 0) {
        rest = strchr(v, ':') + 1;
        char *end;
        long port = strtol(rest, &end, 10);
        if (end == rest || port < 1 || port > 65535 || (*end != '@' && *end != '\0') ||
            (*end == '@' && end[1] == '\0')) {
            fl_buf_puts(
                err, "expected inet:PORT@HOST with PORT 1..65535 (inet:8895@127.0.0.1)");
            return -1;
        }
        return 0;
    }
    fl_buf_puts(err,
                "expected unix:/path, local:/path, inet:PORT@HOST or inet6:PORT@HOST");
    return -1;
}

static int check_log(const char *v, struct fl_buf *err)
{
    if (strcmp(v, "auto") == 0 || fl_log_target_valid(v))
        return 0;
    fl_buf_puts(
        err, "expected auto, stderr or a syslog facility (mail, daemon, local0..local7)");
    return -1;
}

static int check_authserv_id(const char *v, struct fl_buf *err)
{
    /* A host name: longer would not even fit a header line of ours. */
    if (strlen(v) > 253) {
        fl_buf_puts(err, "must be a host name of at most 253 characters");
        return -1;
    }
    if (*v == '\0' || fl_authres_is_token(v))
        return 0;
    fl_buf_puts(
        err, "must be an RFC 2045 token such as a host name (no spaces, ;, quotes or @)");
    return -1;
}

static int check_header_name(const char *v, struct fl_buf *err)
{
    /* RFC 5322 field-name: printable ASCII except colon. */
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == ':') {
            fl_buf_puts(
                err, "must be a header field name (printable ASCII, no spaces or colon)");
            return -1;
        }
    }
    if (*v == '\0') {
        fl_buf_puts(err, "must not be empty");
        return -1;
    }
    return 0;
}

#define OFF(field) offsetof(struct fl_config, field)
#define SEC 1000LL

static const struct fl_setting daemon_settings[] = {
    {"socket", FL_SET_STRING, "inet:8895@127.0.0.1", 0, 0, NULL, OFF(socket), FL_SET_RESTART,
     "Where the milter listens: unix:/path, local:/path, inet:PORT@HOST or inet6:PORT@HOST. "
     "A unix socket is recommended (no TCP overhead); over TCP faultline disables Nagle's "
     "algorithm so replies are not delayed. A stale unix socket is removed at start.", check_socket},
    {"socket_mode", FL_SET_MODE, "0660", 0, 07777, NULL, OFF(socket_mode), FL_SET_RESTART,
     "Permissions of a unix socket (octal).", NULL},
    {"socket_owner", FL_SET_STRING, "", 0, 0, NULL, OFF(socket_owner), FL_SET_RESTART,
     "Owner of a unix socket as user or user:group, so the MTA can connect "
     "(e.g. postfix:postfix). Empty: the daemon's user and group.", NULL},
    {"user", FL_SET_STRING, "faultline", 0, 0, NULL, OFF(user), FL_SET_RESTART,
     "User to run as after the socket is opened. Empty: keep the starting user "
     "(not recommended as root).", NULL},
    {"group", FL_SET_STRING, "", 0, 0, NULL, OFF(group), FL_SET_RESTART,
     "Group to run as. Empty: the primary group of user.", NULL},
    {"pidfile", FL_SET_STRING, "/run/faultline/faultline.pid", 0, 0, NULL, OFF(pidfile),
     FL_SET_RESTART, "File the daemon writes its process id to. Empty: none.", NULL},
    {"log", FL_SET_STRING, "auto", 0, 0, NULL, OFF(log), 0,
     "Where log lines go: a syslog facility (mail, daemon, local0..local7), stderr, or auto "
     "(stderr when running in the foreground with -f, syslog facility mail otherwise).", check_log},
    {"log_level", FL_SET_ENUM, "info", 0, 0, "debug|info|warning|error", OFF(log_level), 0,
     "Least severe level logged.", NULL},
    {"worker_threads", FL_SET_INT, "4", 1, 256, NULL, OFF(worker_threads), FL_SET_RESTART,
     "Size of the bounded worker pool that runs CPU-bound and blocking check work (SPF "
     "evaluations that need DNS answers not yet cached). Work still queued when its "
     "session needs the result is run by the session itself, so a busy pool delays no "
     "message.", NULL},
    {"shutdown_timeout", FL_SET_DURATION, "10s", 0, 600 * SEC, NULL, OFF(shutdown_timeout), 0,
     "On SIGTERM or SIGINT, how long to let sessions in flight finish before exiting.", NULL},
    {"session_idle_timeout", FL_SET_DURATION, "330s", 1 * SEC, 7200 * SEC, NULL,
     OFF(session_idle_timeout), FL_SET_RESTART,
     "How long a milter session may stay silent (the MTA sends no command, or does not read "
     "our reply) before faultline closes it and frees its slot. A healthy session is silent "
     "while the SMTP client is: keep it above the MTA's SMTP idle timeout (Postfix "
     "smtpd_timeout 300s; Sendmail Timeout.datablock). Postfix's own milter_command_timeout "
     "(30s) and milter_content_timeout (300s) bound how long it waits for us, not the "
     "other way round.", NULL},
};

static const struct fl_setting policy_settings[] = {
    {"authserv_id", FL_SET_STRING, "", 0, 0, NULL, OFF(authserv_id), 0,
     "The authserv-id of the Authentication-Results header (RFC 8601 2.5). Existing headers "
     "that claim it are removed as forgeries. Empty: this host's name.", check_authserv_id},
    {"trusted_networks", FL_SET_CIDRS, "127.0.0.0/8, ::1/128", 0, 0, NULL,
     OFF(trusted_networks), 0,
     "Client networks whose mail is not checked (like OpenDKIM's InternalHosts). Forged "
     "Authentication-Results headers are removed from their mail all the same. A value "
     "starting with / names a file with one network per line.", NULL},
    {"trust_authenticated", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(trust_authenticated), 0,
     "Treat SMTP-AUTH authenticated submissions like trusted networks.", NULL},
    {"on_internal_error", FL_SET_ENUM, "accept", 0, 0, "accept|tempfail",
     OFF(on_internal_error), 0,
     "What to do when faultline itself fails (memory budget exceeded, header could not be "
     "added, store or resolver down): accept the message (fault=receiver is logged) or "
     "tempfail it with 451 4.3.0. Our own fault is never a 5xx.", NULL},
    {"message_deadline", FL_SET_DURATION, "20s", 1 * SEC, 290 * SEC, NULL,
     OFF(message_deadline), 0,
     "Time budget for all checks of one message. A check that misses it yields temperror "
     "with the reason. Keep it well below the MTA's milter timeouts (Postfix "
     "milter_content_timeout 300s, Sendmail E:5m).", NULL},
    {"message_memory_limit", FL_SET_SIZE, "4M", 64 * 1024LL, 1024LL * 1024 * 1024, NULL,
     OFF(message_memory_limit), 0,
     "Memory faultline may hold for one message (headers kept for the checks, not the body). "
     "Over the limit the message is treated as an internal error (on_internal_error).", NULL},
    {"max_recipients", FL_SET_INT, "1000", 1, 100000, NULL, OFF(max_recipients), 0,
     "Recipients recorded per message in the verdict; more are counted, not stored.", NULL},
    {"forged_header_action", FL_SET_ENUM, "remove", 0, 0, "remove|rename",
     OFF(forged_header_action), 0,
     "What to do with an Authentication-Results header that claims our authserv-id or "
     "cannot be parsed: remove it, or rename it to forged_header_rename so nothing is lost.", NULL},
    {"forged_header_rename", FL_SET_STRING, "X-Original-Authentication-Results", 0, 0, NULL,
     OFF(forged_header_rename), 0,
     "Header name forged Authentication-Results headers are renamed to.", check_header_name},
};

static const struct fl_setting verdict_settings[] = {
    {"stats_file", FL_SET_STRING, "/run/faultline/stats.json", 0, 0, NULL, OFF(stats_file), 0,
     "File the daemon rewrites every stats_interval with its counters: DNS queries by status "
     "and latency, and per DNS list the queries, listings, error codes, timeouts and "
     "failures. `faultlinectl stats` shows it. Empty: not written.", NULL},
    {"stats_interval", FL_SET_DURATION, "10s", 1000, 3600 * SEC, NULL, OFF(stats_interval), 0,
     "How often stats_file is rewritten.", NULL},
    {"verdict_log", FL_SET_STRING, "", 0, 0, NULL, OFF(verdict_log), 0,
     "File to append one JSON verdict record per message to, or - for standard output. "
     "Empty: no JSON records (the one-line syslog summary is always written).", NULL},
};

#define GROUP(title, table) {title, table, sizeof(table) / sizeof(table[0])}

const struct fl_setting_group fl_setting_groups[] = {
    GROUP("Daemon", daemon_settings),
    GROUP("Policy and Authentication-Results", policy_settings),
    GROUP("Verdict records", verdict_settings),
    {"DNS", fl_dns_settings, FL_DNS_SETTINGS_COUNT},
    {"Client identity: iprev and null MX", fl_ident_settings, FL_IDENT_SETTINGS_COUNT},
    /* SPF group: */
    {"SPF", fl_spf_settings, FL_SPF_SETTINGS_COUNT},
    /* DNSBL group: */
    {"DNS lists: DNSBL, DNSWL, RHSBL", fl_dnsbl_settings, FL_DNSBL_SETTINGS_COUNT},
    /* DKIM group: */
    {"DKIM", fl_dkim_settings, FL_DKIM_SETTINGS_COUNT},
    /* DMARC group: */
    {"DMARC", fl_dmarc_settings, FL_DMARC_SETTINGS_COUNT},
    /* Greylisting group: */
    {"Greylisting", fl_greylist_settings, FL_GREYLIST_SETTINGS_COUNT},
    {"Metrics for Prometheus", fl_metrics_settings, FL_METRICS_SETTINGS_COUNT},
    {"DMARC aggregate reports", fl_report_settings, FL_REPORT_SETTINGS_COUNT},
};
const size_t fl_setting_group_count = sizeof(fl_setting_groups) / sizeof(fl_setting_groups[0]);
