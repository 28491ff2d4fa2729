/* dns_spf: a libspf2 DNS layer (SPF_dns_server_t) backed by lib/dns, so
   SPF uses the same cache, deadlines and statuses as every other check.
   One layer per SPF evaluation: it carries the evaluation's deadline and
   counts what RFC 7208 4.6.4 limits -- DNS queries by type and void
   lookups (answers that are NXDOMAIN or empty) -- and remembers the worst
   DNS status it saw, for attribution.  Not shared between threads. */
#ifndef FL_LIB_DNS_SPF_H
#define FL_LIB_DNS_SPF_H

#include <stddef.h>

#include "lib/dns.h"

struct SPF_dns_server_struct;

struct fl_spf_dns_counts {
    unsigned int queries;      /* every lookup libspf2 made */
    unsigned int txt, a, aaaa, mx, ptr;
    unsigned int void_lookups; /* NXDOMAIN or NODATA (RFC 7208 4.6.4) */
    unsigned int temp_errors;  /* SERVFAIL, TIMEOUT, MALFORMED, LOCAL, BOGUS */
    enum fl_dns_status worst;  /* FL_DNS_OK if none failed */
    char worst_name[256];      /* the name of that query */
};

/* Creates the layer.  Returns NULL only if libspf2 cannot allocate. */
struct SPF_dns_server_struct *fl_spf_dns_new(struct fl_dns *dns, long long deadline_ms);
/* The counts so far. */
const struct fl_spf_dns_counts *fl_spf_dns_counts(struct SPF_dns_server_struct *layer);
/* Frees the layer (also done by SPF_dns_free / SPF_server_free). */
void fl_spf_dns_free(struct SPF_dns_server_struct *layer);

#endif
