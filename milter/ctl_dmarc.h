/* ctl_dmarc: `faultlinectl dmarc-report` -- DMARC aggregate reports (RFC
   9990) from the verdict records of one or many MX hosts.
     milter/ctl_dmarc_report.c  options, reading the logs, grouping rows
     milter/ctl_dmarc_xml.c     the XML document, gzip, the report file
     milter/ctl_dmarc_send.c    rua= URIs, external destination
                                verification, mail through sendmail(1)
   Private to those files.  Single-threaded. */
#ifndef FL_MILTER_CTL_DMARC_H
#define FL_MILTER_CTL_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/core/buf.h"
#include "lib/core/config.h"
#include "milter/ctl_smap.h"

/* Exit statuses beyond milter/ctl.h (sysexits.h values). */
#define FL_DR_SKIPPED   1  /* reports written; some URI skipped (malformed,
                              not authorised, over its size limit) */
#define FL_DR_CANTCREAT 73 /* EX_CANTCREAT: a report could not be written */
#define FL_DR_TEMPFAIL  75 /* EX_TEMPFAIL: a delivery failed; run again */

/* Keeps the worse of two exit statuses (73 > 75 > 1 > 0). */
int fl_dr_worse(int a, int b);

struct fl_dr_reason {
    char *type, *comment; /* comment may be NULL */
};

struct fl_dr_auth {
    char *domain, *selector, *result; /* SPF: selector holds the scope */
};

/* One <record>: messages alike in source IP, identifiers and results. */
struct fl_dr_row {
    unsigned long count;
    char *ip, *header_from;
    char *envelope_from; /* NULL: unknown; "": null reverse-path */
    char *disposition;   /* ActionDispositionType */
    bool dkim_pass, spf_pass;
    struct fl_dr_reason *reasons;
    size_t nreasons;
    struct fl_dr_auth *dkim;
    size_t ndkim;
    struct fl_dr_auth spf;
    bool has_spf;
    char *key; /* the grouping key (sort order) */
};

/* One report: a DMARC Policy Domain that published rua=. */
struct fl_dr_domain {
    char *domain, *org_domain;
    char *rua;                                   /* latest seen */
    char *p, *sp, *np, *adkim, *aspf, *testing, *fo;
    char *errors;                                /* record problems, "; " joined */
    unsigned long messages;
    size_t *rows;
    size_t nrows, caprows;
};

struct fl_dr_settings {
    const char *org_name, *email, *submitter, *extra_contact, *out_dir, *sendmail;
    long long begin, end; /* the reporting period, seconds since the epoch */
    unsigned long max_uris;
    bool send, dry_run;
};

/* The finished report of one domain. */
struct fl_dr_report {
    const struct fl_dr_domain *d;
    char report_id[600];
    char file_name[600];  /* receiver!policy-domain!begin!end.xml.gz */
    unsigned char *gz;
    size_t gz_len, xml_len;
};

/* One rua= URI. */
struct fl_dr_uri {
    char text[520];           /* as published (control bytes as '?'), for the log */
    char addr[320];           /* the mailto: address, percent-decoded */
    char host[256];           /* its domain, lower case */
    unsigned long long limit; /* the "!" size limit in bytes; 0: none */
};

/* Parses one URI of rua= (text[0..n), spaces around it allowed): mailto:
   only, "?hfields" ignored, an optional size limit "!" digits [k|m|g|t]
   (powers of 1024).  Returns 0, or -1 with *why_r (static text). */
int fl_dr_parse_uri(const char *text, size_t n, struct fl_dr_uri *u, const char **why_r);

/* A lower-case domain name of LDH labels, two or more, at most 253
   characters (what goes into a file name, a DNS query, an address). */
bool fl_dr_domain_ok(const char *d);

/* Writes the RFC 9990 XML of d (rows[] holds every row) into out. */
void fl_dr_xml(const struct fl_dr_settings *s, const struct fl_dr_domain *d,
               struct fl_dr_row *const *rows, const char *report_id, struct fl_buf *out);

/* gzip (RFC 1952) of data into a new buffer (*out_r, free()).  The header
   has no name and no time, so equal input gives equal files.  Returns 0,
   or -1 with *error_r. */
int fl_dr_gzip(const char *data, size_t len, unsigned char **out_r, size_t *out_len_r,
               const char **error_r);

/* Writes data to dir/name atomically (a temporary file renamed).
   Returns 0, or -1 with errno set. */
int fl_dr_write_file(const char *dir, const char *name, const void *data, size_t len);

/* Sends (or with s->dry_run, writes to s->out_dir) the report to each of
   its domain's rua= URIs, after RFC 9990 section 4 verification of
   external destinations (DNS through lib/dns, created on first use).
   One line per URI on stdout.  Returns an exit status. */
struct fl_dr_sender;
struct fl_dr_sender *fl_dr_sender_new(const struct fl_config *cfg, const struct fl_dr_settings *s);
int fl_dr_send(struct fl_dr_sender *snd, const struct fl_dr_report *rep);
void fl_dr_sender_free(struct fl_dr_sender **snd);

#endif
