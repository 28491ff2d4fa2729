/* check_dmarc: what the two halves of the DMARC unit test share
   (tests/dmarc/check_dmarc.c: parsing without DNS; check_dmarc_dns.c: the
   tree walk and evaluation against the hermetic test DNS server serving
   dmarc.example, bank.example and rfc9989.example). */
#ifndef FL_TESTS_CHECK_DMARC_H
#define FL_TESTS_CHECK_DMARC_H

#include "lib/dmarc/dmarc.h"

#include <check.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The DNS-driven tests (check_dmarc_dns.c). */
TCase *dmarc_dns_tcase(void);

#endif
