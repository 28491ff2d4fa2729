/* nullmx: does the MAIL FROM domain say it sends no mail?  RFC 7505: a
   domain whose only MX record is "0 ." accepts no mail, so mail from it
   cannot be answered and is refused with 550 5.7.27.  Asynchronous through
   lib/dns: the MX query starts at MAIL FROM. */
#ifndef FL_LIB_NULLMX_H
#define FL_LIB_NULLMX_H

#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/core/result.h"

struct fl_nullmx;

/* Starts the MX query for domain; NULL for an empty domain. */
struct fl_nullmx *fl_nullmx_start(struct fl_dns *dns, const char *domain, long long deadline_ms);
/* Waits for the answer.  Returns 1 and fills out (method "nullmx", not in
   the Authentication-Results header; action from nullmx_reject) if the
   domain publishes a null MX, 0 if it does not or the answer is unknown. */
int fl_nullmx_finish(struct fl_nullmx *n, const struct fl_config *cfg, struct fl_result *out);
void fl_nullmx_free(struct fl_nullmx **n);

/* As a check (lib/core/check.h): started at MAIL FROM, decided at RCPT. */
struct fl_check;
extern const struct fl_check fl_check_nullmx;

#endif
