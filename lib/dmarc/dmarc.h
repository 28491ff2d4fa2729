/* dmarc: DMARC evaluation as RFC 9989 (DMARCbis) defines it, for one
   message.  The Author Domain comes from the RFC5322.From header
   (lib/dmarc/dmarc_from.c); the DMARC Policy Record and the Organizational Domain
   are found by the DNS Tree Walk (RFC 9989 4.10, lib/dmarc/dmarc_walk.c), whose
   queries all start at end-of-headers through lib/dns and run at the same
   time; records are parsed by lib/dmarc/dmarc_record.c.  At end-of-message the
   SPF and DKIM results are aligned with the Author Domain (strict or
   relaxed), the Domain Owner Assessment Policy (p, sp or np; t=y one level
   less strict) is chosen, the operator's dmarc_* settings turn it into an
   action, and everything an RFC 9990 aggregate report row needs is kept in
   struct fl_dmarc_report.

   Milter calls, in order (one struct fl_dmarc per message):
     fl_dmarc_new            at MAIL FROM or at the first header
     fl_dmarc_hint           optional: the MAIL FROM domain, DKIM d= domains
     fl_dmarc_from_header    for every From header, as libmilter passes it
     fl_dmarc_eoh            end of headers: parses From, starts the walk
     fl_dmarc_eom            end of message: waits, evaluates, fills a result
     fl_dmarc_report(_json)  for the verdict record
     fl_dmarc_free

   Thread-safety: a struct fl_dmarc belongs to one message and is used by
   one thread at a time (it may move between threads between calls).  The
   record and From parsers are pure functions. */
#ifndef FL_LIB_DMARC_H
#define FL_LIB_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/core/config.h"
#include "lib/dkim/dkim.h"
#include "lib/dns/dns.h"
#include "lib/core/result.h"

/* Values of the enum settings (index into their "choices"). */
/* dmarc_reject_action = reject|quarantine|mark */
enum fl_dmarc_reject_action {
    FL_DMARC_REJECT_HONOUR,
    FL_DMARC_REJECT_QUARANTINE,
    FL_DMARC_REJECT_MARK,
};
/* dmarc_quarantine_action = quarantine|header|mark */
enum fl_dmarc_quarantine_action {
    FL_DMARC_QUARANTINE_HOLD,   /* the milter's quarantine (Postfix hold queue) */
    FL_DMARC_QUARANTINE_HEADER, /* accept, add dmarc_quarantine_header */
    FL_DMARC_QUARANTINE_MARK,   /* accept, Authentication-Results only */
};

struct fl_json_out;

/* Domain Owner Assessment Policy (RFC 9989 4.7 p, sp, np). */
enum fl_dmarc_policy {
    FL_DMARC_POLICY_ABSENT = -1,
    FL_DMARC_POLICY_NONE = 0,
    FL_DMARC_POLICY_QUARANTINE,
    FL_DMARC_POLICY_REJECT,
};

enum fl_dmarc_psd {
    FL_DMARC_PSD_U, /* default: use the tree walk */
    FL_DMARC_PSD_Y, /* a Public Suffix Domain */
    FL_DMARC_PSD_N, /* an Organizational Domain */
};

/* One parsed DMARC Policy Record (RFC 9989 4.7, 4.8). */
struct fl_dmarc_record {
    enum fl_dmarc_policy p, sp, np; /* ABSENT when missing or invalid */
    bool p_invalid, sp_invalid, np_invalid; /* present with a bad value */
    bool adkim_strict, aspf_strict;         /* default r (relaxed) */
    bool testing;                           /* t=y */
    enum fl_dmarc_psd psd;
    int pct;            /* legacy RFC 7489 tag: 0..100, -1 absent; never applied */
    char fo[16];        /* as published (validated), default "0" */
    char rua[512];      /* raw URI list, printable ASCII, cut to fit */
    char ruf[512];
    bool rua_valid;     /* at least one syntactically valid URI */
    char problems[256]; /* "duplicate tag p; bad value adkim=x", or "" */
};

/* Parses one TXT record (its character-strings joined; len bytes, may
   hold NUL).  Returns 1 if it is a DMARC Policy Record -- "v=DMARC1" as
   its first tag, the value compared case-sensitively (RFC 9989 4.8) --
   and fills rec; 0 if it is not one (rec then undefined).  Tag names and
   keyword values are case-insensitive, whitespace around "=" and ";" is
   allowed, unknown tags are ignored, an invalid value falls back to the
   default and is named in rec->problems; a repeated tag keeps its first
   value (RFC 9989 4.7: syntax errors are discarded). */
int fl_dmarc_record_parse(const char *txt, size_t len, struct fl_dmarc_record *rec);

const char *fl_dmarc_policy_name(enum fl_dmarc_policy p);

/* RFC 9990 PolicyOverrideType values a dmarc_override_domains entry may
   name (NULL-terminated; the first is the default). */
extern const char *const fl_dmarc_override_types[];

/* What a set of From headers yields (RFC 5322 3.6.2, RFC 6854). */
enum fl_dmarc_from_status {
    FL_DMARC_FROM_OK,          /* exactly one Author Domain */
    FL_DMARC_FROM_MISSING,     /* no From, or no address with a domain */
    FL_DMARC_FROM_MULTIPLE,    /* several From headers, or several domains */
    FL_DMARC_FROM_UNSUPPORTED, /* a non-ASCII (U-label) domain: no A-label
                                  conversion here (RFC 9989 5.3.1) */
};

#define FL_DMARC_MAX_FROM_HEADERS 8

/* Author Domain of a message from its From header values (n of them,
   folded lines joined by "\n" or "\r\n").  Display names, comments,
   quoted local parts, encoded words, groups and obsolete routes are
   understood; addresses of one domain (compared case-insensitively, a
   trailing dot dropped) count once.  On OK domain (lower case, size
   domain_size >= 256) is set; on MULTIPLE or UNSUPPORTED it holds the
   first domain found (sanitised) or "".  *naddr_r (may be NULL) gets the
   number of addresses.  Hostile input (control bytes, 8-bit, unbalanced
   quotes, megabytes) is parsed in linear time without recursion. */
enum fl_dmarc_from_status fl_dmarc_from_parse(const char *const *values, size_t n,
                                              char *domain, size_t domain_size,
                                              unsigned int *naddr_r, const char **why_r);

/* Where the applied record was found (RFC 9989 4.10.1). */
enum fl_dmarc_source {
    FL_DMARC_SOURCE_NONE,   /* no record applies */
    FL_DMARC_SOURCE_AUTHOR, /* at the Author Domain: p */
    FL_DMARC_SOURCE_ORG,    /* at its Organizational Domain: sp or np */
    FL_DMARC_SOURCE_PSD,    /* at its Public Suffix Domain (psd=y): sp or np */
};

#define FL_DMARC_MAX_DKIM 8

/* Everything an RFC 9990 aggregate report row needs from DMARC (the
   source IP, the envelope recipients and the time are the milter's).
   Strings are printable ASCII, NUL-terminated, cut to their buffers. */
struct fl_dmarc_report {
    enum fl_res result;           /* as in the AR header */
    char header_from[256];        /* Author Domain, "" if none */
    unsigned int from_headers;    /* From header fields seen */
    unsigned int from_addresses;  /* addresses in them */
    char envelope_from[256];      /* SPF MAIL FROM domain (HELO if null sender) */
    bool record_found;
    enum fl_dmarc_source source;
    char policy_domain[256];      /* where the applied record was, "" if none */
    char org_domain[256];         /* of the Author Domain, "" if not needed/known */
    unsigned int walk_step;       /* 1 = the Author Domain's own query, 2.. upward */
    unsigned int dns_queries;     /* queries this message started */
    struct fl_dmarc_record record; /* the applied record (when record_found) */
    const char *policy_tag;       /* "p", "sp" or "np": which one applied, or NULL */
    bool author_exists;           /* false only on NXDOMAIN for the Author Domain */
    enum fl_dmarc_policy policy;  /* the published policy chosen (before t=y) */
    enum fl_dmarc_policy disposition; /* applied (t=y, override, settings) */
    const char *override;         /* RFC 9990 PolicyOverrideType, or NULL */
    char override_comment[640];
    bool dkim_aligned, spf_aligned; /* policy_evaluated dkim / spf */
    struct {
        char domain[256];
        char selector[64];
        enum fl_res result;
        bool aligned;
    } dkim[FL_DMARC_MAX_DKIM];
    size_t ndkim;
    char spf_domain[256];
    enum fl_res spf_result;
    const char *spf_scope;        /* "mfrom" (RFC 9990), or NULL without SPF */
    bool add_header;              /* dmarc_quarantine_action = header applied */
    char header_name[64];         /* then: add "header_name: header_value" */
    char header_value[320];
};

struct fl_dmarc;
struct fl_arc;

/* Starts the evaluation of one message.  cfg (dmarc_* settings) and dns
   must outlive it; deadline_ms (monotonic, 0: dns_timeout only) bounds
   every query.  Never fails. */
struct fl_dmarc *fl_dmarc_new(struct fl_dns *dns, const struct fl_config *cfg,
                              long long deadline_ms);
/* Optional, before fl_dmarc_eom: a domain that will probably be an
   Authenticated Identifier (the MAIL FROM domain, a DKIM d=).  Its tree
   walk starts with the author's (at fl_dmarc_eoh, or now if that was
   called) when it may share the Author Domain's Organizational Domain, so
   relaxed alignment costs no extra round trip at end-of-message. */
void fl_dmarc_hint(struct fl_dmarc *d, const char *domain);
/* One From header value as libmilter passes it (any number of calls;
   copies, bounded). */
void fl_dmarc_from_header(struct fl_dmarc *d, const char *value);
/* End of headers: finds the Author Domain and starts every query of its
   tree walk plus the existence check for np (never waits).  Calling it
   again does nothing. */
void fl_dmarc_eoh(struct fl_dmarc *d);

struct fl_dmarc_inputs {
    const struct fl_result *spf_mailfrom; /* SPF of the MAIL FROM identity, or NULL */
    const char *mail_from_domain; /* its domain: RFC 7208 2.4, HELO for the null sender */
    const struct fl_dkim_signature *sigs; /* fl_dkim_signatures(), may be NULL */
    size_t nsigs;
    /* the verified ARC chain (lib/arc/arc.h), or NULL: a trusted sealer's
       ARC-Authentication-Results may override a failure
       (dmarc_arc_trusted_sealers) */
    const struct fl_arc *arc;
};

/* End of message: calls fl_dmarc_eoh if needed, waits for the queries it
   needs (until the deadline), aligns, and fills out (uninitialised;
   method "dmarc"): pass, fail, none, temperror or permerror; props
   header.from and policy.dmarc (the applied disposition, when a record
   was found); reason naming what aligned or why nothing did; reason code
   (dmarc.reject, dmarc.quarantine, dmarc.fail, dmarc.from_missing,
   dmarc.from_multiple, dmarc.from_unsupported, dmarc.dns_sender,
   dns.resolver_down, dns.resolver_timeout; NULL on pass and none), fault,
   detail, and the action the dmarc_* settings ask for (a temperror asks
   for tempfail at most).  Returns 0.  Calling it again copies the same
   result. */
int fl_dmarc_eom(struct fl_dmarc *d, const struct fl_dmarc_inputs *in, struct fl_result *out);

/* After fl_dmarc_eom: the data for the verdict record.  Owned by d. */
const struct fl_dmarc_report *fl_dmarc_report(const struct fl_dmarc *d);
/* Writes the report's members (lib/core/json_out.h): "result",
   "header_from", ... see lib/dmarc/dmarc_json.c. */
void fl_dmarc_report_json(const struct fl_dmarc_report *r, struct fl_json_out *members);

/* Should DMARC run for this client?  False when dmarc_enable is off, or
   the client is trusted and dmarc_skip_trusted is on, or authenticated and
   dmarc_skip_authenticated is on. */
bool fl_dmarc_wanted(const struct fl_config *cfg, bool trusted_client, bool authenticated);

/* Cancels pending queries and frees.  Accepts NULL; sets *d NULL. */
void fl_dmarc_free(struct fl_dmarc **d);

/* As a check (lib/core/check.h): started at MAIL FROM, evaluated at end
   of message after SPF, DKIM and ARC. */
struct fl_check;
extern const struct fl_check fl_check_dmarc;

#endif
