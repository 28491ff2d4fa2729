/* attribution: see attribution.h.  RFC 7372 codes: 5.7.20 no passing DKIM
   signature, 5.7.21 no acceptable DKIM signature, 5.7.23 SPF validation
   failed, 5.7.24 SPF validation error, 5.7.25 reverse DNS validation failed,
   5.7.26 multiple authentication checks failed (DMARC), 5.7.27 sender
   address has null MX. */
#include "lib/core/attribution.h"

#include <string.h>

static const struct fl_attribution table[] = {
    /* SPF (RFC 7208) */
    {"spf.not_permitted", FL_FAULT_SENDER, false, 550, "5.7.23",
     "SPF check failed: the sender's domain does not authorise this client"},
    {"spf.permerror", FL_FAULT_SENDER, false, 550, "5.7.24",
     "SPF record of the sender's domain is broken"},
    {"spf.too_many_lookups", FL_FAULT_SENDER, false, 550, "5.7.24",
     "SPF record of the sender's domain needs more than 10 DNS lookups"},
    {"spf.void_lookups", FL_FAULT_SENDER, false, 550, "5.7.24",
     "SPF record of the sender's domain has more than 2 void lookups"},
    {"spf.dns_sender", FL_FAULT_SENDER, true, 451, "4.7.24",
     "SPF check could not complete: the sender's name servers did not answer"},
    /* our own resolver */
    {"dns.resolver_down", FL_FAULT_RECEIVER, true, 451, "4.4.3",
     "our DNS resolver is not answering; please retry later"},
    {"dns.resolver_timeout", FL_FAULT_RECEIVER, true, 451, "4.4.3",
     "our DNS resolver timed out; please retry later"},
    /* DKIM (RFC 6376, 8301) */
    {"dkim.key_missing", FL_FAULT_SENDER, false, 550, "5.7.20",
     "DKIM key of the signing domain is not published"},
    {"dkim.key_revoked", FL_FAULT_SENDER, false, 550, "5.7.20",
     "DKIM key of the signing domain is revoked"},
    {"dkim.key_too_short", FL_FAULT_SENDER, false, 550, "5.7.21",
     "DKIM key of the signing domain is too short"},
    {"dkim.*", FL_FAULT_SENDER, false, 550, "5.7.20", "no valid DKIM signature"},
    /* DMARC (RFC 9989) */
    {"dmarc.reject", FL_FAULT_SENDER, false, 550, "5.7.26",
     "DMARC policy of the author's domain rejects this message"},
    {"dmarc.from_missing", FL_FAULT_SENDER, false, 550, "5.7.26",
     "message has no usable From header"},
    {"dmarc.from_multiple", FL_FAULT_SENDER, false, 550, "5.7.26",
     "message has more than one From header or address"},
    {"dmarc.quarantine", FL_FAULT_SENDER, false, 0, NULL,
     "DMARC policy of the author's domain quarantines this message"},
    {"dmarc.fail", FL_FAULT_SENDER, false, 0, NULL,
     "message fails DMARC; the author's domain asks for no action"},
    {"dmarc.from_unsupported", FL_FAULT_NONE, false, 0, NULL,
     "DMARC not evaluated: internationalised From domain"},
    {"dmarc.dns_sender", FL_FAULT_SENDER, true, 451, "4.4.3",
     "DMARC policy of the author's domain could not be looked up; please retry later"},
    /* iprev, null MX */
    {"iprev.fail", FL_FAULT_SENDER, false, 550, "5.7.25",
     "reverse DNS of the client does not confirm its address"},
    {"nullmx", FL_FAULT_SENDER, false, 550, "5.7.27",
     "the sender's domain publishes a null MX: it sends no mail"},
    /* DNSBL / DNSWL */
    {"dnsbl.listed", FL_FAULT_SENDER, false, 554, "5.7.1", "client address is blocklisted"},
    {"dnsbl.error_code", FL_FAULT_RECEIVER, false, 0, NULL,
     "a DNS list refused our resolver; the list was ignored"},
    {"dnsbl.domain_listed", FL_FAULT_SENDER, false, 554, "5.7.1",
     "a domain of the sender is blocklisted"},
    {"dnsbl.list_unavailable", FL_FAULT_RECEIVER, true, 0, NULL,
     "a DNS list did not answer; the list was ignored"},
    /* greylisting */
    {"greylist.first_seen", FL_FAULT_NONE, true, 451, "4.7.1",
     "greylisted: a deliberate temporary deferral"},
    {"greylist.too_early", FL_FAULT_NONE, true, 451, "4.7.1",
     "greylisted: retried before the delay expired"},
    {"greylist.store_down", FL_FAULT_RECEIVER, false, 0, NULL,
     "greylist store unavailable; accepted (fail-open)"},
    /* faultline itself */
    {"internal.over_budget", FL_FAULT_RECEIVER, true, 451, "4.3.0",
     "message exceeded our per-message memory limit; please retry later"},
    {"internal.mta_call", FL_FAULT_RECEIVER, true, 451, "4.3.0",
     "our filter could not update the message; please retry later"},
    {"internal.*", FL_FAULT_RECEIVER, true, 451, "4.3.0",
     "our filter had an internal error; please retry later"},
};

static const struct fl_attribution generic = {
    "", FL_FAULT_NONE, false, 550, "5.7.1", "message refused by local policy"};

const struct fl_attribution *fl_attribution_find(const char *reason_code)
{
    if (reason_code == NULL)
        return &generic;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].reason_code, reason_code) == 0)
            return &table[i];
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const char *rc = table[i].reason_code;
        size_t n = strlen(rc);
        if (n >= 2 && strcmp(rc + n - 2, ".*") == 0 && strncmp(rc, reason_code, n - 1) == 0)
            return &table[i];
    }
    return &generic;
}
