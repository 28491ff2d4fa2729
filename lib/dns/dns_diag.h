/* dns_diag: why did a query fail?  libunbound reports a failed lookup as
   SERVFAIL and drops what the upstream resolver said about it.  When
   faultline forwards to a resolver, one diagnostic query (ldns, EDNS on,
   sent straight to that forwarder, only after a failure) recovers the
   evidence attribution needs: the RFC 8914 Extended DNS Error code and
   text, and whether the answer needed TCP that the server refused.
   Thread-safe; blocking, bounded by the deadline given. */
#ifndef FL_LIB_DNS_DIAG_H
#define FL_LIB_DNS_DIAG_H

#include "lib/dns/dns.h"

/* forwarder is "IP" or "IP@PORT".  Updates a->ede_code/ede_text,
   a->tcp_refused and a->nameserver. */
void fl_dns_diagnose(const char *forwarder, struct fl_dns_answer *a, long long deadline_ms);

#endif
