/* dmarc_int: what lib/dmarc/dmarc.c and lib/dmarc/dmarc_walk.c share -- the
   per-message table of _dmarc queries and the DNS Tree Walk over it
   (RFC 9989 "DNS Tree Walk", "DMARC Policy Discovery", "Identifier
   Alignment Evaluation").  Not for other modules.
   Thread-safety: a walk belongs to one message (see dmarc.h). */
#ifndef FL_LIB_DMARC_INT_H
#define FL_LIB_DMARC_INT_H

#include "lib/dmarc/dmarc.h"
#include "lib/dns/dns.h"

/* RFC 9989: a walk never costs more than eight queries. */
#define FL_DMARC_WALK_MAX 8
/* Names one message may ask about (author walk, identifiers' walks). */
#define FL_DMARC_MAX_NAMES 64

enum fl_dmarc_name_kind {
    FL_DMARC_NAME_PENDING,
    FL_DMARC_NAME_NONE,   /* no record, or several (RFC 9989: all discarded) */
    FL_DMARC_NAME_RECORD, /* exactly one DMARC Policy Record */
    FL_DMARC_NAME_ERROR,  /* the query failed: SERVFAIL, timeout, ... */
};

struct fl_dmarc_name {
    char domain[256]; /* without "_dmarc." */
    struct fl_dns_query *q;
    enum fl_dmarc_name_kind kind;
    enum fl_dns_status status;
    unsigned int nrecords; /* DMARC records at the name */
    struct fl_dmarc_record rec;
};

struct fl_dmarc_walk {
    struct fl_dns *dns;
    long long deadline_ms;
    /* allocated as they are asked about: a message asks a handful, and a
       table of 64 (each with a parsed record) zeroed per message was a
       third of the daemon's peak heap at 1,000 sessions */
    struct fl_dmarc_name *names[FL_DMARC_MAX_NAMES];
    size_t n;
    unsigned int queries; /* started */
};

/* The names a tree walk from domain asks about, in order (RFC 9989: the
   domain, then -- with 8 or more labels -- its 7-label suffix, then each
   parent down to the top-level label).  Returns how many (at most 8). */
size_t fl_dmarc_walk_names(const char *domain, char names[FL_DMARC_WALK_MAX][256]);
/* Number of labels of a domain name. */
size_t fl_dmarc_labels(const char *domain);
/* True if d is parent or a subdomain of parent (case-sensitive: both are
   lower case here). */
bool fl_dmarc_within(const char *d, const char *parent);

/* Starts (never waits) the queries of domain's walk not yet in the table. */
void fl_dmarc_walk_start(struct fl_dmarc_walk *w, const char *domain);
/* The answer for _dmarc.<domain>: starts the query if needed and waits
   (until the deadline) for it.  NULL only when the table is full. */
const struct fl_dmarc_name *fl_dmarc_walk_get(struct fl_dmarc_walk *w, const char *domain);
/* The Organizational Domain of domain (RFC 9989 "Identifier Alignment
   Evaluation": psd=n, then psd=y but not at the start, then the record
   with the fewest labels, else domain itself) into org (256 bytes).
   *psd_r (may be NULL) gets the psd=y record that decided it, or NULL.
   Returns 0, or -1 if a query the walk needed failed (*err_r set). */
int fl_dmarc_walk_org(struct fl_dmarc_walk *w, const char *domain, char *org,
                      const struct fl_dmarc_name **psd_r, const struct fl_dmarc_name **err_r);
/* Position (1-based) of name in domain's walk, or 0. */
unsigned int fl_dmarc_walk_step(const char *domain, const char *name);
/* Cancels what is pending. */
void fl_dmarc_walk_free(struct fl_dmarc_walk *w);

#endif
