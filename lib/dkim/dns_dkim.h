/* dns_dkim: libopendkim's resolver callbacks (dkim_dns_set_query_*)
   backed by lib/dns, so DKIM key lookups share the cache, deadlines and
   statuses of every other check.  libopendkim's service handle is global
   to its library instance, so a message's deadline travels in a
   thread-local set by the caller before it feeds libopendkim. */
#ifndef FL_LIB_DNS_DKIM_H
#define FL_LIB_DNS_DKIM_H

#include <opendkim/dkim.h>

#include "lib/dns/dns.h"

/* Makes lib's key lookups go through dns. */
void fl_dkim_dns_install(DKIM_LIB *lib, struct fl_dns *dns);
/* Deadline (monotonic ms, 0: none) of the calling thread's lookups. */
void fl_dkim_dns_set_deadline(long long deadline_ms);

#endif
