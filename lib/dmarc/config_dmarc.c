/* config_dmarc: settings of DMARC evaluation (lib/dmarc/dmarc.c, RFC 9989).  The
   enum choices are in the order of the enums in lib/dmarc/dmarc.h and
   lib/core/config.h.  Defaults follow RFC 9989 "Interoperability
   Considerations": a receiver MUST NOT reject solely because of p=reject
   and, without other knowledge, treats it as p=quarantine -- so honouring
   reject is the operator's explicit choice (dmarc_reject_action). */
#include "lib/core/config.h"
#include "lib/dmarc/dmarc.h"
#include "lib/core/settings.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

#define OFF(field) offsetof(struct fl_config, field)

/* RFC 9990 PolicyOverrideType values an operator may give an entry. */
const char *const fl_dmarc_override_types[] = {
    "local_policy", "mailing_list", "trusted_forwarder", "forwarded", "other", NULL,
};

/* "domain" or "domain:type". */
static int check_override(const char *v, struct fl_buf *err)
{
    const char *colon = strchr(v, ':');
    size_t dlen = colon ? (size_t)(colon - v) : strlen(v);
    if (dlen == 0 || dlen > 253) {
        fl_buf_puts(err, "expected a domain, optionally :local_policy, :mailing_list, "
                         ":trusted_forwarder, :forwarded or :other");
        return -1;
    }
    for (size_t i = 0; i < dlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_') {
            fl_buf_puts(err, "a domain has only letters, digits, '-', '_' and dots");
            return -1;
        }
    }
    if (colon != NULL) {
        for (size_t i = 0; fl_dmarc_override_types[i] != NULL; i++)
            if (strcmp(colon + 1, fl_dmarc_override_types[i]) == 0)
                return 0;
        fl_buf_puts(
            err, "unknown override type (local_policy, mailing_list, trusted_forwarder, "
                 "forwarded, other)");
        return -1;
    }
    return 0;
}

/* A domain. */
static int check_sealer(const char *v, struct fl_buf *err)
{
    if (strchr(v, ':') != NULL) {
        fl_buf_puts(err, "expected a domain (the ARC-Seal d= of a trusted sealer)");
        return -1;
    }
    return check_override(v, err);
}

static int check_header(const char *v, struct fl_buf *err)
{
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == ':') {
            fl_buf_puts(
                err, "must be a header field name (printable ASCII, no spaces or colon)");
            return -1;
        }
    }
    if (*v == '\0' || strlen(v) > 60) {
        fl_buf_puts(err, "must be a header field name of 1 to 60 characters");
        return -1;
    }
    return 0;
}

const struct fl_setting fl_dmarc_settings[FL_DMARC_SETTINGS_COUNT] = {
    {"dmarc_enable", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(dmarc_enable), 0,
     "Evaluate DMARC (RFC 9989): find the policy of the From domain by the DNS tree walk, "
     "align SPF and DKIM with it and apply the policy as the dmarc_* settings say. The "
     "tree walk's queries start when the headers are in.",
     NULL},
    {"dmarc_skip_trusted", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(dmarc_skip_trusted), 0,
     "Do not evaluate DMARC for mail from trusted_networks.", NULL},
    {"dmarc_skip_authenticated", FL_SET_BOOL, "yes", 0, 0, NULL,
     OFF(dmarc_skip_authenticated), 0,
     "Do not evaluate DMARC for mail of SMTP-AUTH authenticated clients.", NULL},
    {"dmarc_reject_action", FL_SET_ENUM, "quarantine", 0, 0, "reject|quarantine|mark",
     OFF(dmarc_reject_action), 0,
     "What a DMARC fail under p=reject does: reject (550 5.7.26 naming the domain and what "
     "failed), quarantine (as dmarc_quarantine_action; RFC 9989 asks receivers to do this "
     "unless other knowledge backs a rejection) or mark (Authentication-Results only). A "
     "deviation from the published policy is recorded as a policy override.",
     NULL},
    {"dmarc_quarantine_action", FL_SET_ENUM, "header", 0, 0, "quarantine|header|mark",
     OFF(dmarc_quarantine_action), 0,
     "What a DMARC fail under p=quarantine does: quarantine (the MTA's quarantine, e.g. "
     "Postfix's hold queue), header (accept and add dmarc_quarantine_header, for the "
     "delivery agent to file the message as spam) or mark.",
     NULL},
    {"dmarc_quarantine_header", FL_SET_STRING, "X-Faultline-Quarantine", 0, 0, NULL,
     OFF(dmarc_quarantine_header), 0,
     "Header added to quarantined mail when dmarc_quarantine_action is header.",
     check_header},
    {"dmarc_temperror_action", FL_SET_ENUM, "accept", 0, 0, "accept|tempfail",
     OFF(dmarc_temperror_action), 0,
     "What to do when the DMARC policy could not be looked up (DNS error): accept "
     "(dmarc=temperror) or tempfail with 451 so the sender retries. Never a rejection.",
     NULL},
    {"dmarc_from_missing_action", FL_SET_ENUM, "reject", 0, 0, "mark|reject",
     OFF(dmarc_from_missing_action), 0,
     "What a message without a usable From address does (no From header, no address, no "
     "domain; dmarc=permerror): reject with 550 5.7.26, or mark. Such mail escapes every "
     "DMARC policy.",
     NULL},
    {"dmarc_from_multiple_action", FL_SET_ENUM, "reject", 0, 0, "mark|reject",
     OFF(dmarc_from_multiple_action), 0,
     "What a message with several From headers, or a From naming addresses in several "
     "domains, does (dmarc=permerror): reject with 550 5.7.26, or mark. These are the known "
     "DMARC bypasses (OpenDMARC CVE-2019-16378, CVE-2021-34555).",
     NULL},
    {"dmarc_override_domains", FL_SET_LIST, "", 0, 0, NULL, OFF(dmarc_override_domains), 0,
     "Domains whose failing mail is delivered whatever the DMARC policy says, each "
     "optionally with its RFC 9990 override type: domain or domain:mailing_list (also "
     "local_policy, the default, trusted_forwarder, forwarded, other). An entry matches the "
     "From domain or a domain that passed SPF or DKIM (a mailing list's own signature), "
     "and its subdomains. The verdict records the override and why.",
     check_override},
    {"arc_enable", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(arc_enable), 0,
     "Verify the ARC chain (RFC 8617) of every message DMARC is evaluated for: each "
     "ARC-Message-Signature and ARC-Seal, the cv= rules and the oldest passing instance; "
     "the result is arc=pass|fail|none in Authentication-Results and \"arc\" in the verdict "
     "record. The sealers' key lookups start when the headers are in.",
     NULL},
    {"dmarc_arc_trusted_sealers", FL_SET_LIST, "", 0, 0, NULL,
     OFF(dmarc_arc_trusted_sealers), 0,
     "ARC sealers (RFC 8617) trusted to vouch for mail they forwarded, e.g. the mailing "
     "list servers your users subscribe to. When DMARC fails, the ARC chain passes and a "
     "set sealed (ARC-Seal d=) by one of these domains or a subdomain carries an "
     "ARC-Authentication-Results with dmarc=pass for the From domain (or spf=pass or "
     "dkim=pass aligned with it), the DMARC policy is overridden: the message is accepted, "
     "Authentication-Results says dmarc=fail policy.override=arc, and the verdict records "
     "the RFC 9990 override trusted_forwarder naming the sealer.",
     check_sealer},
};
