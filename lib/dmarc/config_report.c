/* config_report: settings of DMARC aggregate reporting (RFC 9990), read by
   `faultlinectl dmarc-report` (milter/ctl_dmarc_report.c); the daemon
   only records the report rows in its verdict log. */
#include "lib/core/config.h"
#include "lib/core/settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define OFF(field) offsetof(struct fl_config, field)

/* An addr-spec without display name or angle brackets: printable ASCII,
   one "@", something on both sides. */
static int check_address(const char *v, struct fl_buf *err)
{
    if (*v == '\0')
        return 0;
    const char *at = strchr(v, '@');
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>' || *p == '"' || *p == ',') {
            fl_buf_puts(err, "must be a plain address such as dmarc-reports@example.net");
            return -1;
        }
    }
    if (at == NULL || at == v || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
        strlen(v) > 254) {
        fl_buf_puts(err, "must be a plain address such as dmarc-reports@example.net");
        return -1;
    }
    return 0;
}

/* A domain name: letters, digits, hyphens and dots, at most 253. */
static int check_domain(const char *v, struct fl_buf *err)
{
    size_t n = strlen(v);
    for (const char *p = v; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.';
        if (!ok) {
            fl_buf_puts(err, "must be a domain name such as mx.example.net");
            return -1;
        }
    }
    if (n > 253 || (n > 0 && (v[0] == '.' || v[n - 1] == '.' || strstr(v, "..")))) {
        fl_buf_puts(err, "must be a domain name such as mx.example.net");
        return -1;
    }
    return 0;
}

/* Printable ASCII: it goes into XML elements and mail headers as is. */
static int check_text(const char *v, struct fl_buf *err)
{
    for (const char *p = v; *p; p++) {
        if (*p < ' ' || *p >= 0x7f) {
            fl_buf_puts(err, "must be printable ASCII");
            return -1;
        }
    }
    return 0;
}

const struct fl_setting fl_report_settings[FL_REPORT_SETTINGS_COUNT] = {
    {"report_org_name", FL_SET_STRING, "", 0, 0, NULL, OFF(report_org_name), 0,
     "Reporting Organization named in DMARC aggregate reports (RFC 9990 org_name), e.g. "
     "\"Example Net Mail\". Empty: report_submitter.",
     check_text},
    {"report_email", FL_SET_STRING, "", 0, 0, NULL, OFF(report_email), 0,
     "Address of the Reporting Organization: the report's email element and the From of "
     "report messages; mail from it must pass DMARC (RFC 9990: reports are DMARC-aligned). "
     "Empty: faultlinectl dmarc-report needs --email.",
     check_address},
    {"report_submitter", FL_SET_STRING, "", 0, 0, NULL, OFF(report_submitter), 0,
     "Domain of the Mail Receiver that generates the reports: the first part of the report "
     "file name (receiver!policy-domain!begin!end.xml.gz), the Submitter of the Subject and "
     "the right-hand side of the Report-ID. Empty: the domain of report_email.",
     check_domain},
    {"report_extra_contact_info", FL_SET_STRING, "", 0, 0, NULL, OFF(report_extra_contact_info),
     0, "Additional contact details in the reports (extra_contact_info), e.g. a web page. "
     "Empty: none.", check_text},
    {"report_dir", FL_SET_STRING, "/var/lib/faultline/reports", 0, 0, NULL, OFF(report_dir), 0,
     "Directory where faultlinectl dmarc-report writes the gzip-compressed reports and, for "
     "each one sent, a FILE.sent list of the URIs it went to, so a rerun does not send a "
     "report twice.",
     NULL},
    {"report_sendmail", FL_SET_STRING, "/usr/sbin/sendmail", 0, 0, NULL, OFF(report_sendmail),
     0, "The sendmail(1) interface of the local MTA that faultlinectl dmarc-report --send "
     "hands report messages to, with optional arguments separated by spaces (no shell "
     "quoting), e.g. \"/usr/sbin/sendmail -C /etc/postfix-out\". It is run as \"COMMAND -oi "
     "-f REPORT_EMAIL -- RECIPIENT\" with the message on standard input.",
     check_text},
    {"report_max_uris", FL_SET_INT, "2", 1, 20, NULL, OFF(report_max_uris), 0,
     "The most rua= URIs of one policy domain a report is sent to (RFC 9990: up to the "
     "receiver's limits); further URIs are skipped with a logged reason.",
     NULL},
};
