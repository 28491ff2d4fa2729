/* dns_diag: see dns_diag.h. */
#include "lib/dns/dns_diag.h"
#include "lib/core/clock.h"
#include "lib/core/xalloc.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EDE_CODE 15 /* RFC 8914 option code */

static void take_ede(ldns_pkt *pkt, struct fl_dns_answer *a)
{
    ldns_edns_option_list *opts = ldns_pkt_edns_get_option_list(pkt);
    if (opts == NULL)
        return;
    for (size_t i = 0; i < ldns_edns_option_list_get_count(opts); i++) {
        ldns_edns_option *o = ldns_edns_option_list_get_option(opts, i);
        size_t len = ldns_edns_get_size(o);
        const uint8_t *d = ldns_edns_get_data(o);
        if (ldns_edns_get_code(o) != EDE_CODE || len < 2 || a->ede_code >= 0)
            continue;
        a->ede_code = d[0] << 8 | d[1];
        free(a->ede_text);
        a->ede_text = len > 2 ? fl_strndup((const char *)d + 2, len - 2) : NULL;
    }
    /* the list belongs to the packet */
}

static ldns_resolver *make_resolver(const char *forwarder, long long ms, bool tcp)
{
    char host[64];
    const char *at = strchr(forwarder, '@');
    size_t n = at ? (size_t)(at - forwarder) : strlen(forwarder);
    if (n >= sizeof(host))
        return NULL;
    memcpy(host, forwarder, n);
    host[n] = '\0';
    ldns_rdf *addr = ldns_rdf_new_frm_str(strchr(host, ':') ? LDNS_RDF_TYPE_AAAA
                                                            : LDNS_RDF_TYPE_A, host);
    if (addr == NULL)
        return NULL;
    ldns_resolver *res = ldns_resolver_new();
    ldns_resolver_push_nameserver(res, addr);
    ldns_rdf_deep_free(addr);
    ldns_resolver_set_port(res, at ? (uint16_t)atoi(at + 1) : 53);
    ldns_resolver_set_recursive(res, true);
    ldns_resolver_set_edns_udp_size(res, 1232);
    ldns_resolver_set_retry(res, 1);
    ldns_resolver_set_usevc(res, tcp);
    ldns_resolver_set_fallback(res, false); /* we want to see TC ourselves */
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    ldns_resolver_set_timeout(res, tv);
    return res;
}

/* Sends the query once; returns the packet or NULL. */
static ldns_pkt *ask(const char *forwarder, const struct fl_dns_answer *a, long long ms,
                     bool tcp)
{
    ldns_resolver *res = make_resolver(forwarder, ms, tcp);
    if (res == NULL)
        return NULL;
    ldns_rdf *name = ldns_dname_new_frm_str(a->qname);
    ldns_pkt *pkt = NULL;
    if (name != NULL &&
        ldns_resolver_send(&pkt, res, name, (ldns_rr_type)a->qtype, LDNS_RR_CLASS_IN, LDNS_RD) !=
            LDNS_STATUS_OK)
        pkt = NULL;
    ldns_rdf_deep_free(name);
    ldns_resolver_deep_free(res);
    return pkt;
}

void fl_dns_diagnose(const char *forwarder, struct fl_dns_answer *a, long long deadline_ms)
{
    long long left = deadline_ms - fl_monotonic_ms();
    if (left <= 0)
        return;
    ldns_pkt *udp = ask(forwarder, a, left, false);
    if (udp == NULL)
        return;
    take_ede(udp, a);
    bool truncated = ldns_pkt_tc(udp);
    ldns_pkt_free(udp);
    if (!truncated)
        return;
    left = deadline_ms - fl_monotonic_ms();
    ldns_pkt *tcp = left > 0 ? ask(forwarder, a, left, true) : NULL;
    if (tcp != NULL) {
        take_ede(tcp, a);
        ldns_pkt_free(tcp);
        return;
    }
    a->tcp_refused = true;
    free(a->nameserver);
    a->nameserver = fl_strdup(forwarder);
    a->why = "the answer needs TCP and the name server refuses TCP";
}
