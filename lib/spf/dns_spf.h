/* dns_spf: a libspf2 DNS layer (SPF_dns_server_t) backed by lib/dns, so
   SPF uses the same cache, deadlines and statuses as every other check.
   One layer per SPF evaluation: it carries the evaluation's deadline,
   counts its lookups and remembers the worst DNS status it saw, for
   attribution.

   Bound to an evaluation (fl_spf_dns_bind, done by lib/spf/spf.c) the layer
   also corrects libspf2 1.2.10 where RFC 7208 and libspf2 disagree:
     - it serves the SPF records itself (get_spf): one TXT lookup, record
       selection (4.5), the record checked against the ABNF and rewritten
       by lib/spf/spf_record.c before libspf2 compiles it;
     - it counts, across includes and redirects, the terms that query the
       DNS (at most 10) and their void lookups (at most 2), stops an MX
       answer of more than 10 names (4.6.4) and keeps the first 10 PTR
       names (4.6.4, 5.5); a limit ends the evaluation (the caller turns
       it into permerror);
     - a failed address lookup of a PTR name skips that name (5.5);
     - names longer than 253 octets lose labels on the left (7.3), names
       that cannot exist (empty or long labels) are non-existent without
       a query;
     - "any address" targets (the rewritten a/0, mx/0) match any address;
     - explanations (exp=, 6.2) are looked up only when the caller asks,
       after a fail, and expanded by lib/spf/spf_macro.c.
   Not shared between threads. */
#ifndef FL_LIB_DNS_SPF_H
#define FL_LIB_DNS_SPF_H

#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/dns/dns.h"
#include "lib/spf/spf_macro.h"

struct SPF_dns_server_struct;
struct SPF_request_struct;

/* RFC 7208 4.6.4 */
#define FL_SPF_MAX_TERMS 10
#define FL_SPF_MAX_VOID  2
#define FL_SPF_MAX_NAMES 10 /* MX names (more: permerror), PTR names (more: ignored) */

enum fl_spf_dns_limit {
    FL_SPF_LIMIT_NONE,
    FL_SPF_LIMIT_TERMS, /* an 11th term that queries the DNS */
    FL_SPF_LIMIT_VOID,  /* a 3rd void lookup */
    FL_SPF_LIMIT_MX,    /* an MX answer of more than 10 names */
};

/* What became of the first (the evaluated domain's own) record lookup. */
enum fl_spf_dns_top {
    FL_SPF_TOP_PENDING,   /* not looked up yet */
    FL_SPF_TOP_FOUND,     /* one valid record, handed to libspf2 */
    FL_SPF_TOP_NONE,      /* no record (NXDOMAIN, no TXT, no v=spf1) */
    FL_SPF_TOP_PERMERROR, /* several records, or an invalid one */
    FL_SPF_TOP_TEMPERROR, /* the lookup failed */
};

struct fl_spf_dns_counts {
    unsigned int queries; /* every lookup made through the layer */
    unsigned int txt, a, aaaa, mx, ptr;
    /* NXDOMAIN or NODATA answers to the lookups RFC 7208 4.6.4 counts
       (unbound: every lookup; bound: the terms' own lookups) */
    unsigned int void_lookups;
    unsigned int temp_errors; /* SERVFAIL, TIMEOUT, MALFORMED, LOCAL, BOGUS */
    enum fl_dns_status worst; /* FL_DNS_OK if none failed */
    char worst_name[256];     /* the name of that query */
    /* Bound to an evaluation: */
    unsigned int terms; /* include, a, mx, ptr, exists, redirect evaluated */
    enum fl_spf_dns_limit limit;
    enum fl_spf_dns_top top;
    char domain[256];  /* the domain whose record was looked up first */
    char problem[256]; /* why a record was refused or a limit hit; printable ASCII */
};

/* Creates the layer.  Returns NULL only if libspf2 cannot allocate. */
struct SPF_dns_server_struct *fl_spf_dns_new(struct fl_dns *dns, long long deadline_ms);

/* Binds the layer to one evaluation: req is the libspf2 request (client
   address, identities), vars the values of the macro letters (copied;
   the strings must outlive the layer).  Enables record serving, limits
   and corrections (see above). */
void fl_spf_dns_bind(struct SPF_dns_server_struct *layer, struct SPF_request_struct *req,
                     const struct fl_spf_macro_vars *vars);

/* The counts so far. */
const struct fl_spf_dns_counts *fl_spf_dns_counts(struct SPF_dns_server_struct *layer);

/* After a fail: given the explanation libspf2 produced (marker, which the
   layer left there when the deciding record had exp=), looks up the exp
   TXT record and appends its expansion to out.  Returns 1 if appended, 0
   if there is none (no exp=, no or several TXT records, a DNS error, a
   syntax error: RFC 7208 6.2 then says "no explanation"). */
int fl_spf_dns_explanation(struct SPF_dns_server_struct *layer, const char *marker,
                           struct fl_buf *out);

/* Frees the layer (also done by SPF_dns_free / SPF_server_free). */
void fl_spf_dns_free(struct SPF_dns_server_struct *layer);

#endif
