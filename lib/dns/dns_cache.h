/* dns_cache: the answer cache in front of libunbound.  A hit is answered
   in the caller's own thread (a copy of the cached answer), without the
   hop to libunbound's thread and back that even its own cache hit costs.
   Final answers are kept (OK, NODATA, NXDOMAIN) for their TTL (at most a
   day); a diagnosed SERVFAIL for a few seconds; other failures (timeouts,
   DNSSEC bogus) always go to libunbound.  Bounded in bytes (least
   recently used entries go first).  Sharded: a lookup locks one of many
   small shards, never the whole cache.
   Thread-safety: every function may be called from any thread. */
#ifndef FL_LIB_DNS_CACHE_H
#define FL_LIB_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/dns/dns.h"

struct fl_dns_cache;

/* A cache of at most max_bytes (0: a cache that keeps nothing). */
struct fl_dns_cache *fl_dns_cache_new(size_t max_bytes);
/* Accepts NULL; sets *cache NULL. */
void fl_dns_cache_free(struct fl_dns_cache **cache);

/* Returns true and fills out (a deep copy the caller clears with
   fl_dns_answer_clear; ttl is what is left of it, elapsed_ms 0) when a
   fresh answer for name/qtype is cached.  now_ms: monotonic. */
bool fl_dns_cache_get(struct fl_dns_cache *cache, const char *name, uint16_t qtype,
                      long long now_ms, struct fl_dns_answer *out);
/* Keeps a copy of a (if its status is final and its TTL not 0). */
void fl_dns_cache_put(struct fl_dns_cache *cache, const struct fl_dns_answer *a,
                      long long now_ms);
/* Keeps a copy of a SERVFAIL answer for a few seconds (FL_DNS_CACHE_FAIL_S). */
#define FL_DNS_CACHE_FAIL_S 2
void fl_dns_cache_put_failure(struct fl_dns_cache *cache, const struct fl_dns_answer *a,
                              long long now_ms);
/* Drops every entry. */
void fl_dns_cache_clear(struct fl_dns_cache *cache);

/* Deep copy of src into dst (dst is overwritten, not cleared first). */
void fl_dns_answer_copy(struct fl_dns_answer *dst, const struct fl_dns_answer *src);

#endif
