/* config_dns: settings of the DNS layer (lib/dns/dns.c). */
#include "lib/core/config.h"
#include "lib/core/settings.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define OFF(field) offsetof(struct fl_config, field)
#define SEC 1000LL

/* IP[@PORT], as libunbound's forward-addr writes it. */
static int check_forwarder(const char *v, struct fl_buf *err)
{
    char host[64];
    const char *at = strchr(v, '@');
    size_t n = at ? (size_t)(at - v) : strlen(v);
    unsigned char buf[16];
    if (n == 0 || n >= sizeof(host)) {
        fl_buf_puts(err, "expected an IP address, optionally @PORT (127.0.0.1@5353)");
        return -1;
    }
    memcpy(host, v, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1) {
        fl_buf_puts(err, "expected an IP address, optionally @PORT (127.0.0.1@5353)");
        return -1;
    }
    if (at != NULL) {
        char *end;
        long port = strtol(at + 1, &end, 10);
        if (at[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
            fl_buf_puts(err, "port must be 1..65535");
            return -1;
        }
    }
    return 0;
}

const struct fl_setting fl_dns_settings[FL_DNS_SETTINGS_COUNT] = {
    {"dns_forwarders", FL_SET_LIST, "", 0, 0, NULL, OFF(dns_forwarders), FL_SET_RESTART,
     "Recursive resolvers to send every query to, as IP or IP@PORT (127.0.0.1@5353). Empty: "
     "faultline resolves by itself from the root (recommended on a mail server: DNS lists "
     "refuse queries that come through public resolvers). The host's resolv.conf is never "
     "used. With forwarders, names in the documentation ranges (192.0.2.0/24 and the other "
     "RFC 5737 nets, 2001:db8::/32), the private reverse zones (RFC 1918) and test. are "
     "asked too, not answered locally.", check_forwarder},
    {"dns_timeout", FL_SET_DURATION, "5s", 100, 60 * SEC, NULL, OFF(dns_timeout), FL_SET_RESTART,
     "Longest wait for one DNS answer. A query also ends at the message's deadline "
     "(message_deadline), whichever comes first; an unanswered query is a TIMEOUT for that "
     "query, never a hung session.", NULL},
    {"dns_trust_anchor_file", FL_SET_STRING, "", 0, 0, NULL, OFF(dns_trust_anchor_file),
     FL_SET_RESTART,
     "DNSSEC trust anchor file (e.g. /usr/share/dns/root.key). Empty: answers are not "
     "validated and are reported as insecure.", NULL},
    {"dns_cache_size", FL_SET_SIZE, "16M", 1024 * 1024LL, 4096LL * 1024 * 1024, NULL,
     OFF(dns_cache_size), FL_SET_RESTART,
     "Size of the resolver's message cache (the record cache gets twice as much). A "
     "quarter of it more bounds the answer cache in front of the resolver, which answers "
     "a question asked before (within its TTL) in the session's own thread.", NULL},
    {"dns_probe_domain", FL_SET_STRING, "", 0, 0, NULL, OFF(dns_probe_domain), 0,
     "When queries fail, faultline asks for a random name under this domain to learn "
     "whether its own resolver works: if it does, the failure is the sender's (their name "
     "servers); if not, it is ours. Empty: the root zone.", NULL},
    {"dns_probe_timeout", FL_SET_DURATION, "1s", 100, 60 * SEC, NULL, OFF(dns_probe_timeout),
     0,
     "Longest wait for the resolver probe's answer, whatever time the message has left: a "
     "probe is never cut short by a message's deadline, and one that gets no answer in "
     "this time finds our resolver down (then every DNS failure is ours, fault=receiver, "
     "never the sender's).", NULL},
    {"dns_probe_cache", FL_SET_DURATION, "30s", 0, 3600 * SEC, NULL, OFF(dns_probe_cache), 0,
     "How long the result of the resolver probe is reused. While the probe finds our "
     "resolver down, no query is sent: DNS results are temperror with fault=receiver at "
     "once, and a probe in the background looks again each time this has passed, so "
     "results are normal again within this time after the resolver recovers.", NULL},
};
