/* check_dnsbl: what the two halves of the DNSBL unit test share
   (tests/lists/check_dnsbl.c: syntax and scoring rows; check_dnsbl_dns.c:
   timeouts, TXT, parallelism, probe, statistics, hostile answers).  One
   test DNS server serving tests/dns/zones/dnsbl.example.zone. */
#ifndef FL_TESTS_CHECK_DNSBL_H
#define FL_TESTS_CHECK_DNSBL_H

#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/lists/dnsbl.h"
#include "tests/harness/dns_server.h"

#include <check.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

extern struct fl_dnsd dnsbl_dnsd;

struct dnsbl_env {
    struct fl_config *cfg;
    struct fl_dns *dns;
    struct fl_dnsbl_lists *lists;
};

/* Loads a config forwarding to the test server (dns_timeout 2s,
   dns_probe_domain dnsbl.example) plus extra lines.  NULL on errors
   (appended to errors); the settings are on line 4 on. */
struct fl_config *dnsbl_load_conf(const char *extra, struct fl_buf *errors);
/* Config, resolver and lists from conf; fails the test on errors. */
void dnsbl_env_open(struct dnsbl_env *e, const char *conf);
void dnsbl_env_close(struct dnsbl_env *e);
void dnsbl_server_start(void);
void dnsbl_server_stop(void);

/* Log lines go to stderr: capture_start sends them to a temp file,
   capture_end restores stderr and returns what was logged (free it). */
struct dnsbl_capture {
    int saved;
    char path[64];
};
void dnsbl_capture_start(struct dnsbl_capture *c);
char *dnsbl_capture_end(struct dnsbl_capture *c);
/* How often needle occurs in text. */
int dnsbl_count(const char *text, const char *needle);

/* The DNS-driven tests (check_dnsbl_dns.c). */
TCase *dnsbl_dns_tcase(void);

#endif
