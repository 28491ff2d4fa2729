/* spf: Sender Policy Framework (RFC 7208) for one identity of one message.
   One call, fl_spf_check, runs check_host() for the MAIL FROM or the HELO
   identity through lib/dns (libspf2 evaluates, lib/spf/dns_spf.c and
   lib/spf/spf_record.c hold it to the RFC) and fills a struct fl_result: the
   RFC 8601 result, smtp.mailfrom= or smtp.helo=, a reason code from the
   attribution table, whose fault a failure is, one sentence naming the
   fix, and the action the spf_* settings ask for.  Loopback and trusted
   clients are the caller's business (spf_skip_trusted): libspf2's
   "localhost always passes" and its whitelist are never used.
   Blocking (DNS lookups one after another, each bounded by the
   deadline): call it on a worker thread.  Thread-safe: every call has
   its own libspf2 server, request and DNS layer. */
#ifndef FL_LIB_SPF_H
#define FL_LIB_SPF_H

#include <stdbool.h>

#include "lib/core/buf.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/core/result.h"

enum fl_spf_identity {
    FL_SPF_MAILFROM, /* RFC 7208 2.4; the null sender is postmaster@HELO */
    FL_SPF_HELO,     /* RFC 7208 2.3 */
};

struct fl_spf_request {
    const char *client_ip; /* text; IPv4-mapped IPv6 is taken as IPv4 */
    const char *helo;      /* HELO/EHLO argument; NULL or "" if none */
    const char *mail_from; /* without <>; "" = null sender */
};

/* What one evaluation found besides the fl_result: for the log line, the
   verdict record and Received-SPF.  Every string is printable ASCII
   (sender-controlled bytes outside it are '?'), NUL-terminated, cut to
   its buffer. */
struct fl_spf_info {
    enum fl_spf_identity identity;
    enum fl_res result;
    char client_ip[46]; /* normalised: IPv4-mapped shown as IPv4 */
    char sender[320];   /* the identity as evaluated: local@domain */
    char helo[256];
    char domain[256];          /* whose policy was evaluated ("" if none) */
    char explanation[256];     /* the domain's exp= text after a fail, or "" */
    char problem[256];         /* why permerror/temperror/none, or "" */
    char receiver[256];        /* authserv_id: who checked */
    unsigned int lookups;      /* DNS-querying terms evaluated (limit 10) */
    unsigned int void_lookups; /* (limit 2) */
    unsigned int queries;      /* DNS queries made */
    long elapsed_ms;
};

/* Runs check_host() for identity which (FL_SPF_HELO: the HELO name,
   sender postmaster@HELO; FL_SPF_MAILFROM: the MAIL FROM address, or
   postmaster@HELO for the null sender) with every DNS query bounded by
   deadline_ms (monotonic, 0: dns_timeout only).  Fills out (method
   "spf"): pass/fail/softfail/neutral/none/temperror/permerror, prop
   smtp.mailfrom=<address> or smtp.helo=<name>, reason (none for pass),
   reason_code (spf.not_permitted for fail and softfail, spf.permerror,
   spf.too_many_lookups, spf.void_lookups, spf.dns_sender,
   dns.resolver_down, dns.resolver_timeout), fault and transient
   (temperror: the resolver probe tells the sender's name servers from
   ours), detail (one sentence naming the fix) and action from
   spf_fail_action, spf_softfail_action, spf_permerror_action and
   spf_temperror_action (FL_SPF_HELO results never ask for more than
   accept: they are reported, not enforced).  A malformed identity
   (RFC 7208 4.3: no valid multi-label domain, an address literal) is
   "none" without any lookup.  info_r (may be NULL) gets the details.
   Returns 0, or -1 if client_ip is not an IP address (out is then
   "none" with reason "no client address"). */
int fl_spf_check(struct fl_dns *dns, const struct fl_config *cfg,
                 const struct fl_spf_request *req, enum fl_spf_identity which,
                 long long deadline_ms, struct fl_result *out,
                 struct fl_spf_info *info_r);

/* Should SPF run for this client at all?  False when spf_enable is off,
   or the client is in trusted_networks and spf_skip_trusted is on, or it
   authenticated (SMTP AUTH) and spf_skip_authenticated is on. */
bool fl_spf_wanted(const struct fl_config *cfg, bool trusted_client, bool authenticated);

/* Appends the value of a Received-SPF header field (RFC 7208 9.1) for
   info, folded nowhere, without the field name and the line end:
     fail (mx.example.net: domain of a@example.org does not designate
     192.0.2.7 as permitted sender) client-ip=192.0.2.7;
     envelope-from="a@example.org"; helo=mail.example.org;
     receiver=mx.example.net; identity=mailfrom
   plus problem="..." for permerror and temperror.  Every value is
   printable ASCII; quoted-strings escape '"' and '\'. */
void fl_spf_received_header(struct fl_buf *out, const struct fl_spf_info *info);

/* As a check (lib/core/check.h): started at MAIL FROM on the worker pool. */
struct fl_check;
struct fl_checks;
extern const struct fl_check fl_check_spf;
/* After end of message: the MAIL FROM result, or NULL when SPF did not run. */
const struct fl_result *fl_spf_mailfrom_result(const struct fl_checks *cs);
/* After end of message: the domain SPF checked for MAIL FROM (the HELO
   name's for the null sender, RFC 7208 2.4), or NULL. */
const char *fl_spf_mailfrom_domain(const struct fl_checks *cs);
/* The MAIL FROM result as soon as it is known (waits until the message
   deadline at most), or NULL. */
const struct fl_result *fl_spf_mailfrom_peek(const struct fl_checks *cs);

#endif
