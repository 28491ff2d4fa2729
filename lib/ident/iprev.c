/* iprev: see iprev.h.  RFC 8601 2.7.3: pass when the PTR names of the
   address include one whose A/AAAA records include the address; fail when
   none does (or there is no PTR); temperror when a lookup failed in a way a
   retry may fix; permerror when the answer cannot be used. */
#include "lib/ident/iprev.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct fl_iprev {
    struct fl_dns *dns;
    char ip[INET6_ADDRSTRLEN];
    int family;
    unsigned char addr[16];
    long long deadline_ms;
    unsigned int max_names;
    struct fl_dns_query *ptr;
    struct fl_dns_query **fwd; /* one per PTR name, or NULL */
    char **names;
    size_t nnames;
    bool forward_started, finished;
    struct fl_result result;
    char *confirmed;
};

/* Reverse name: d.c.b.a.in-addr.arpa, or 32 nibbles .ip6.arpa. */
static void reverse_name(const struct fl_iprev *ip, char *out, size_t len)
{
    if (ip->family == AF_INET) {
        snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", ip->addr[3], ip->addr[2], ip->addr[1],
                 ip->addr[0]);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (int i = 15; i >= 0 && n + 4 < len; i--) {
        out[n++] = hex[ip->addr[i] & 0xf];
        out[n++] = '.';
        out[n++] = hex[ip->addr[i] >> 4];
        out[n++] = '.';
    }
    snprintf(out + n, len - n, "ip6.arpa");
}

struct fl_iprev *fl_iprev_start(struct fl_dns *dns, const struct fl_config *cfg,
                                const char *client_ip, long long deadline_ms)
{
    struct fl_iprev *ip = fl_calloc(1, sizeof(*ip));
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (inet_pton(AF_INET, client_ip, ip->addr) == 1) {
        ip->family = AF_INET;
    } else if (inet_pton(AF_INET6, client_ip, ip->addr) == 1) {
        ip->family = AF_INET6;
        if (memcmp(ip->addr, mapped, 12) == 0) {
            memmove(ip->addr, ip->addr + 12, 4);
            ip->family = AF_INET;
        }
    } else {
        free(ip);
        return NULL;
    }
    inet_ntop(ip->family, ip->addr, ip->ip, sizeof(ip->ip));
    ip->dns = dns;
    ip->deadline_ms = deadline_ms;
    ip->max_names = (unsigned int)cfg->iprev_max_names;
    char rev[128];
    reverse_name(ip, rev, sizeof(rev));
    ip->ptr = fl_dns_start(dns, rev, FL_DNS_PTR, deadline_ms);
    return ip;
}

static void start_forward(struct fl_iprev *ip, const struct fl_dns_answer *a)
{
    ip->forward_started = true;
    if (a->status != FL_DNS_OK)
        return;
    size_t n = a->count < ip->max_names ? a->count : ip->max_names;
    ip->names = fl_calloc(n ? n : 1, sizeof(*ip->names));
    ip->fwd = fl_calloc(n ? n : 1, sizeof(*ip->fwd));
    uint16_t type = ip->family == AF_INET ? FL_DNS_A : FL_DNS_AAAA;
    for (size_t i = 0; i < n; i++) {
        ip->names[i] = fl_strdup(a->records[i].data);
        ip->fwd[i] = fl_dns_start(ip->dns, ip->names[i], type, ip->deadline_ms);
    }
    ip->nnames = n;
}

void fl_iprev_advance(struct fl_iprev *ip)
{
    if (!ip->forward_started && fl_dns_ready(ip->ptr))
        start_forward(ip, fl_dns_wait(ip->ptr));
}

static bool is_transient(enum fl_dns_status s)
{
    return s == FL_DNS_SERVFAIL || s == FL_DNS_TIMEOUT || s == FL_DNS_LOCAL;
}

static void conclude(struct fl_iprev *ip, enum fl_res res, const char *code, const char *reason,
                     const char *detail, enum fl_fault fault, bool transient)
{
    fl_result_init(&ip->result, "iprev", res);
    fl_result_set_reason(&ip->result, code, reason, detail);
    fl_result_add_prop(&ip->result, "policy", "iprev", ip->ip);
    ip->result.fault = fault;
    ip->result.transient = transient;
}

void fl_iprev_finish(struct fl_iprev *ip, long long deadline_ms, struct fl_result *out)
{
    if (!ip->finished) {
        ip->finished = true;
        (void)deadline_ms; /* queries carry the connection's deadline */
        const struct fl_dns_answer *ptr = fl_dns_wait(ip->ptr);
        if (!ip->forward_started)
            start_forward(ip, ptr);
        char detail[512];
        if (ptr->status == FL_DNS_NXDOMAIN || ptr->status == FL_DNS_NODATA) {
            snprintf(detail, sizeof(detail),
                     "%s has no reverse DNS (PTR) record: the sender's provider must publish "
                     "one that names a host resolving back to it",
                     ip->ip);
            conclude(ip, FL_RES_FAIL, "iprev.fail", "no PTR record", detail, FL_FAULT_SENDER,
                     false);
        } else if (ptr->status != FL_DNS_OK) {
            struct fl_buf why;
            fl_buf_init(&why);
            fl_dns_describe(ptr, &why);
            snprintf(detail, sizeof(detail), "the PTR lookup for %s failed: %s", ip->ip,
                     why.data);
            fl_buf_free(&why);
            bool temp = is_transient(ptr->status);
            /* Whose DNS failed: theirs if our resolver answers a probe. */
            enum fl_fault fault = fl_dns_fault(ip->dns, ptr);
            conclude(ip, temp ? FL_RES_TEMPERROR : FL_RES_PERMERROR,
                     temp ? "iprev.temperror" : "iprev.permerror", "PTR lookup failed", detail,
                     fault, temp);
        } else {
            bool any_temp = false;
            for (size_t i = 0; i < ip->nnames && ip->confirmed == NULL; i++) {
                const struct fl_dns_answer *a = fl_dns_wait(ip->fwd[i]);
                any_temp |= is_transient(a->status);
                for (size_t j = 0; j < a->count; j++) {
                    size_t alen = ip->family == AF_INET ? 4 : 16;
                    if (memcmp(a->records[j].addr, ip->addr, alen) == 0) {
                        ip->confirmed = fl_strdup(ip->names[i]);
                        break;
                    }
                }
            }
            if (ip->confirmed != NULL) {
                snprintf(detail, sizeof(detail), "%s is %s (forward-confirmed)", ip->ip,
                         ip->confirmed);
                conclude(ip, FL_RES_PASS, NULL, NULL, detail, FL_FAULT_NONE, false);
            } else if (any_temp) {
                snprintf(detail, sizeof(detail),
                         "the forward lookups of %s's PTR names failed", ip->ip);
                conclude(ip, FL_RES_TEMPERROR, "iprev.temperror", "forward lookup failed",
                         detail,
                         fl_dns_fault(ip->dns, NULL),
                         true);
            } else {
                snprintf(detail, sizeof(detail),
                         "%s's PTR name %s does not resolve back to it: the sender's provider "
                         "must make the PTR and A/AAAA records agree",
                         ip->ip, ip->nnames ? ip->names[0] : "(none)");
                conclude(ip, FL_RES_FAIL, "iprev.fail", "PTR not confirmed", detail,
                         FL_FAULT_SENDER, false);
            }
        }
    }
    fl_result_copy(out, &ip->result);
}

const char *fl_iprev_name(const struct fl_iprev *ip)
{
    return ip->confirmed;
}

void fl_iprev_free(struct fl_iprev **ipp)
{
    struct fl_iprev *ip = *ipp;
    if (ip == NULL)
        return;
    *ipp = NULL;
    fl_dns_query_free(&ip->ptr);
    for (size_t i = 0; i < ip->nnames; i++) {
        fl_dns_query_free(&ip->fwd[i]);
        free(ip->names[i]);
    }
    free(ip->fwd);
    free(ip->names);
    free(ip->confirmed);
    if (ip->finished)
        fl_result_clear(&ip->result);
    free(ip);
}
