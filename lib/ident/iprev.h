/* iprev: forward-confirmed reverse DNS of the client (RFC 8601 section 3,
   the "iprev" method).  The PTR query starts at connect; the forward
   (A/AAAA) queries of the names it returns start as soon as the PTR
   answer is read, all at once; the client passes when one name maps back
   to its address.  Asynchronous through lib/dns; one handle per
   connection, used by one thread at a time. */
#ifndef FL_LIB_IPREV_H
#define FL_LIB_IPREV_H

#include <stdbool.h>

#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/core/result.h"

struct fl_iprev;

/* Starts the PTR query for client_ip (text form; IPv4-mapped IPv6 is
   treated as IPv4).  Returns NULL if client_ip is not an address. */
struct fl_iprev *fl_iprev_start(struct fl_dns *dns, const struct fl_config *cfg,
                                const char *client_ip, long long deadline_ms);
/* If the PTR answer is in, starts the forward queries (never blocks). */
void fl_iprev_advance(struct fl_iprev *ip);
/* Waits (until deadline_ms at most) and fills out: method "iprev",
   pass/fail/temperror/permerror, policy.iprev=<ip>, the confirmed name in
   the detail.  May be called again: returns the same result. */
void fl_iprev_finish(struct fl_iprev *ip, long long deadline_ms, struct fl_result *out);
/* The confirmed name after a pass, else NULL. */
const char *fl_iprev_name(const struct fl_iprev *ip);
void fl_iprev_free(struct fl_iprev **ip);

/* As a check (lib/core/check.h): started at connect. */
struct fl_check;
struct fl_checks;
extern const struct fl_check fl_check_iprev;
/* The client's confirmed name so far (fl_iprev_name), or NULL. */
const char *fl_iprev_client_name(const struct fl_checks *cs);

#endif
