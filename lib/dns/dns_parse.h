/* dns_parse: turns a libunbound result into a struct fl_dns_answer --
   status, records of the asked type (CNAMEs followed), TTL, DNSSEC state
   and the RFC 8914 Extended DNS Error from the OPT record.  The answer
   packet is parsed with the resolver library's ns_* functions; malformed
   data yields status MALFORMED, never a crash.  Thread-safe. */
#ifndef FL_LIB_DNS_PARSE_H
#define FL_LIB_DNS_PARSE_H

#include "lib/dns/dns.h"

struct ub_result;

/* Fills a (zeroed by the caller) from err/result of a libunbound callback;
   a->qname is set to a copy of qname. */
void fl_dns_parse_result(struct fl_dns_answer *a, const char *qname, uint16_t qtype, int err,
                         const struct ub_result *result);

/* Parses the records of qtype from a DNS message (answer section) into a.
   Returns 0, or -1 if the message is malformed. */
int fl_dns_parse_packet(struct fl_dns_answer *a, const unsigned char *pkt, size_t len,
                        uint16_t qtype);

/* Frees what an answer owns and zeroes it. */
void fl_dns_answer_clear(struct fl_dns_answer *a);

#endif
