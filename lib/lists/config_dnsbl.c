/* config_dnsbl: settings of the DNS block and allow lists (lib/lists/dnsbl.c).
   Defaults are written here and only here (see settings.h); the item
   syntax is checked by lib/lists/dnsbl_spec.c, which also parses it. */
#include "lib/core/config.h"
#include "lib/lists/dnsbl_spec.h"
#include "lib/core/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define OFF(field) offsetof(struct fl_config, field)
#define SEC        1000LL

/* A whole number from -1000 to -1.  (A string setting: FL_SET_INT takes no
   sign.) */
static int check_allow_threshold(const char *v, struct fl_buf *err)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*v != '-' || !isdigit((unsigned char)v[1]) || *end != '\0' || errno != 0 ||
        n < -1000 || n > -1) {
        fl_buf_puts(err, "expected a whole number from -1000 to -1");
        return -1;
    }
    return 0;
}

const struct fl_setting fl_dnsbl_settings[FL_DNSBL_SETTINGS_COUNT] = {
    {"dnsbl_sites", FL_SET_LIST, "", 0, 0, NULL, OFF(dnsbl_sites), 0,
     "DNS lists the client's address is looked up in (RFC 5782), all at once at connect, "
     "in Postfix postscreen_dnsbl_sites syntax: zone[=filter][*weight]. The filter picks "
     "the answers that count, four octets each a number or [N..M;...], e.g. "
     "zen.example=127.0.0.[2..11] or zen.example=127.0.0.[2;4;9]; without one, any "
     "127.0.0.0/8 answer that is not an error code counts. The weight (default 1, -1000 "
     "to 1000) is added to the client's score once per matching entry; give allow lists "
     "(DNSWL) a negative weight, e.g. list.dnswl.example=127.0.[0..255].[1..3]*-5. "
     "A trailing /observe records the list's listings without enforcing them (see "
     "dnsbl_mode). A "
     "zone may appear in several entries with different filters and weights; it is asked "
     "once. Empty: no IP lists.",
     fl_dnsbl_check_ip_spec},
    {"rhsbl_sites", FL_SET_LIST, "", 0, 0, NULL, OFF(rhsbl_sites), 0,
     "Domain lists (RHSBL, e.g. a DBL): zone[=filter][*weight][:identities][/observe], where "
     "identities are the names the list is asked about, joined by +: mailfrom (the MAIL "
     "FROM domain), from (the From header domain), helo (the HELO name), ptr (the "
     "client's verified host name); default all four, e.g. "
     "dbl.example=127.0.1.[2..99]*3:mailfrom+from. Each name is asked as it becomes "
     "known, as written (no parent domains). An entry adds its weight once even when "
     "several identities are listed. Listings by From count only when the decision is "
     "made at end of message (dnsbl_reject_stage = eom). Address literals and one-label "
     "names are not asked.",
     fl_dnsbl_check_domain_spec},
    {"dnsbl_threshold", FL_SET_INT, "1", 1, 1000, NULL, OFF(dnsbl_threshold), 0,
     "A client whose total score reaches this is rejected (dnsbl_reply_code 5.7.1, "
     "fault=sender, naming the list and its TXT reason). The verdict record gets "
     "dnsbl=fail|pass|none|temperror (temperror: every list failed) with policy.ip, "
     "policy.score and a \"lists\" array: every list asked, with the name asked about "
     "(identities, name), status (listed, not_listed, error_code, unavailable, "
     "disabled), DNS status (ok, nxdomain, timeout, servfail ...), answers, error_code, "
     "TXT and the weight it added. The reply names every list that counted. RFC 8601 "
     "registers no dnsbl method, so dnsbl= is not written to Authentication-Results.",
     NULL},
    {"dnsbl_allow_threshold", FL_SET_STRING, "-1", 0, 0, NULL, OFF(dnsbl_allow_threshold),
     0,
     "A client whose total score is at most this (a whole number from -1000 to -1) is "
     "allow-listed: dnsbl=pass, trusted for greylisting and reporting. When an allow "
     "list (negative weight) lists the client, Authentication-Results gets the RFC 8904 "
     "method: dnswl=pass dns.zone=ZONE policy.ip=ANSWER policy.txt=TXT "
     "dns.sec=yes|no|na.",
     check_allow_threshold},
    {"dnsbl_reject_stage", FL_SET_ENUM, "rcpt", 0, 0, "rcpt|eom", OFF(dnsbl_reject_stage),
     0,
     "When a listed client is refused: at the first RCPT TO (saves receiving the "
     "message), or at end of message (the verdict record then has the whole message's "
     "facts, and From-header listings count).",
     NULL},
    {"dnsbl_mode", FL_SET_ENUM, "enforce", 0, 0, "enforce|observe", OFF(dnsbl_mode), 0,
     "enforce: a listed client is refused. observe: every list is asked and its answers "
     "recorded as usual, and the decision is made, but nothing is refused and nothing is "
     "allow-listed; the verdict record (\"observe\" in the dnsbl entry, \"observed\": "
     "\"dnsbl: would have refused with 554 5.7.1 ...\"), the syslog line "
     "(observe=dnsbl:reject:554) and faultlinectl report say what would have happened. "
     "One list can be observed while the others are enforced: add /observe to its entry "
     "in dnsbl_sites or rhsbl_sites (zen.example*3/observe); its weight then counts only "
     "towards the observed decision.",
     NULL},
    {"dnsbl_reply_code", FL_SET_ENUM, "554", 0, 0, "554|550", OFF(dnsbl_reply_code), 0,
     "SMTP reply code for a listed client (enhanced status 5.7.1 either way).", NULL},
    {"dnsbl_error_codes", FL_SET_LIST, "", 0, 0, NULL, OFF(dnsbl_error_codes), 0,
     "Answers that are a list's error codes, not listings, as zone=filter, e.g. "
     "zen.example=127.255.255.254; they apply to that zone and every zone ending in it. "
     "An error code never scores: the list is ignored for that client and the verdict "
     "says fault=receiver (e.g. the list refuses queries through a public resolver). "
     "Built in, always: every answer outside 127.0.0.0/8; every 127.255.255.0/24 answer "
     "unless a filter names that net (127.255.255.[...]); Spamhaus (spamhaus.org, "
     "spamhaus.net) 127.255.255.252, 127.255.255.254 and 127.255.255.255; "
     "dbl.spamhaus.org 127.0.1.255; dnswl.org 127.0.0.255; uribl.com 127.0.0.1. Timeouts "
     "and SERVFAILs of a list never score or reject either.",
     fl_dnsbl_check_error_spec},
    {"dnsbl_fetch_txt", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(dnsbl_fetch_txt), 0,
     "Ask every list for its TXT record at the same time as its A record, so the reject "
     "reply can carry the list's reason or delisting address without another round trip "
     "(printable ASCII, at most 120 characters). This doubles the queries sent to the "
     "lists: turn it off if a list limits your query volume.",
     NULL},
    {"dnsbl_probe_interval", FL_SET_DURATION, "0s", 0, 86400 * SEC, NULL,
     OFF(dnsbl_probe_interval), 0,
     "How often to ask every list for its RFC 5782 test entries (127.0.0.2 or TEST must "
     "be listed, 127.0.0.1 or INVALID must not). A list that lists everything (broken, "
     "or its domain was taken over) or nothing is disabled, logged at error, until it "
     "answers correctly again. 0s: never.",
     NULL},
};
