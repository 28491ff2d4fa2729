/* dns_parse: see dns_parse.h. */
#include "lib/dns/dns_parse.h"
#include "lib/core/buf.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>

#define OPT_EDE 15 /* RFC 8914 */

void fl_dns_answer_clear(struct fl_dns_answer *a)
{
    for (size_t i = 0; i < a->count; i++)
        free(a->records[i].data);
    free(a->records);
    free(a->qname);
    free(a->canonname);
    free(a->ede_text);
    free(a->packet);
    free(a->nameserver);
    memset(a, 0, sizeof(*a));
}

static struct fl_dns_record *add_record(struct fl_dns_answer *a, uint16_t type, uint32_t ttl)
{
    a->records = fl_realloc(a->records, (a->count + 1) * sizeof(*a->records));
    struct fl_dns_record *r = &a->records[a->count++];
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->ttl = ttl;
    return r;
}

/* Expands a (possibly compressed) domain name at p; strips the root dot. */
static int get_name(const ns_msg *msg, const unsigned char *p, char **out)
{
    char name[NS_MAXDNAME];
    if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), p, name, sizeof(name)) < 0)
        return -1;
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        name[--n] = '\0';
    *out = fl_strdup(name);
    return 0;
}

/* RFC 7208 3.3 / RFC 6376 3.6.2.2: one TXT record's character-strings
   joined without separators. */
static int get_txt(const unsigned char *rd, size_t len, struct fl_dns_record *r)
{
    struct fl_buf b;
    fl_buf_init(&b);
    size_t i = 0;
    while (i < len) {
        size_t n = rd[i++];
        if (i + n > len) {
            fl_buf_free(&b);
            return -1;
        }
        fl_buf_append(&b, rd + i, n);
        i += n;
    }
    r->len = b.len;
    r->data = fl_buf_steal(&b);
    fl_buf_free(&b);
    return 0;
}

static int parse_rr(struct fl_dns_answer *a, const ns_msg *msg, const ns_rr *rr)
{
    uint16_t type = ns_rr_type(*rr);
    const unsigned char *rd = ns_rr_rdata(*rr);
    size_t len = ns_rr_rdlen(*rr);
    struct fl_dns_record *r = add_record(a, type, ns_rr_ttl(*rr));
    char text[INET6_ADDRSTRLEN];
    switch (type) {
    case FL_DNS_A:
    case FL_DNS_AAAA: {
        size_t want = type == FL_DNS_A ? 4 : 16;
        if (len != want)
            return -1;
        memcpy(r->addr, rd, want);
        inet_ntop(type == FL_DNS_A ? AF_INET : AF_INET6, rd, text, sizeof(text));
        r->data = fl_strdup(text);
        r->len = strlen(text);
        return 0;
    }
    case FL_DNS_MX:
        if (len < 3)
            return -1;
        r->pref = (uint16_t)(rd[0] << 8 | rd[1]);
        if (get_name(msg, rd + 2, &r->data) < 0)
            return -1;
        r->len = strlen(r->data);
        return 0;
    case FL_DNS_PTR:
    case FL_DNS_CNAME:
    case FL_DNS_NS:
        if (get_name(msg, rd, &r->data) < 0)
            return -1;
        r->len = strlen(r->data);
        return 0;
    case FL_DNS_TXT:
        return get_txt(rd, len, r);
    default:
        r->data = fl_strndup((const char *)rd, 0);
        return 0;
    }
}

static void parse_ede(struct fl_dns_answer *a, const ns_rr *opt)
{
    const unsigned char *p = ns_rr_rdata(*opt);
    size_t len = ns_rr_rdlen(*opt), i = 0;
    while (i + 4 <= len) {
        unsigned int code = (unsigned int)(p[i] << 8 | p[i + 1]);
        size_t olen = (size_t)(p[i + 2] << 8 | p[i + 3]);
        i += 4;
        if (i + olen > len)
            return;
        if (code == OPT_EDE && olen >= 2 && a->ede_code < 0) {
            a->ede_code = p[i] << 8 | p[i + 1];
            if (olen > 2)
                a->ede_text = fl_strndup((const char *)p + i + 2, olen - 2);
        }
        i += olen;
    }
}

int fl_dns_parse_packet(struct fl_dns_answer *a, const unsigned char *pkt, size_t len,
                        uint16_t qtype)
{
    ns_msg msg;
    if (len > 65535 || ns_initparse(pkt, (int)len, &msg) < 0)
        return -1;
    uint32_t min_ttl = UINT32_MAX;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
            return -1;
        if (ns_rr_type(rr) != qtype || ns_rr_class(rr) != ns_c_in)
            continue; /* CNAMEs of the chain; the resolver followed them */
        if (parse_rr(a, &msg, &rr) < 0)
            return -1;
        if (ns_rr_ttl(rr) < min_ttl)
            min_ttl = ns_rr_ttl(rr);
    }
    for (int i = 0; i < ns_msg_count(msg, ns_s_ar); i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_ar, i, &rr) < 0)
            return -1;
        if (ns_rr_type(rr) == ns_t_opt)
            parse_ede(a, &rr);
    }
    if (a->count > 0)
        a->ttl = min_ttl;
    return 0;
}

void fl_dns_parse_result(struct fl_dns_answer *a, const char *qname, uint16_t qtype, int err,
                         const struct ub_result *result)
{
    a->qname = fl_strdup(qname);
    a->qtype = qtype;
    a->rcode = -1;
    a->ede_code = -1;
    if (err != 0 || result == NULL) {
        a->status = err == UB_SERVFAIL ? FL_DNS_SERVFAIL : FL_DNS_LOCAL;
        a->why = err == UB_SERVFAIL ? "our resolver's DNS service failed"
                                    : "our resolver failed (no memory, socket or pipe error)";
        return;
    }
    a->rcode = result->rcode;
    a->ttl = result->ttl > 0 ? (uint32_t)result->ttl : 0;
    a->dnssec = result->secure ? FL_DNSSEC_SECURE
                               : result->bogus ? FL_DNSSEC_BOGUS : FL_DNSSEC_INSECURE;
    if (result->canonname && strcasecmp(result->canonname, qname) != 0) {
        a->canonname = fl_strdup(result->canonname);
        size_t n = strlen(a->canonname);
        if (n > 1 && a->canonname[n - 1] == '.')
            a->canonname[n - 1] = '\0';
        if (strcasecmp(a->canonname, qname) == 0) {
            free(a->canonname);
            a->canonname = NULL;
        }
    }
    if (result->answer_packet != NULL && result->answer_len > 0) {
        a->packet_len = (size_t)result->answer_len;
        a->packet = fl_malloc(a->packet_len);
        memcpy(a->packet, result->answer_packet, a->packet_len);
    }
    if (a->packet != NULL && fl_dns_parse_packet(a, a->packet, a->packet_len, qtype) < 0) {
        a->status = FL_DNS_MALFORMED;
        a->why = "the answer could not be parsed";
        return;
    }
    if (result->bogus) {
        a->status = FL_DNS_BOGUS;
        a->why = "DNSSEC validation failed";
    } else if (result->rcode == ns_r_nxdomain) {
        a->status = FL_DNS_NXDOMAIN;
        a->why = "the name does not exist";
    } else if (result->rcode != ns_r_noerror) {
        a->status = FL_DNS_SERVFAIL;
        a->why = result->rcode == ns_r_refused ? "the name server refused the query"
                                               : "the name servers failed to answer";
    } else if (a->count > 0) {
        a->status = FL_DNS_OK;
    } else {
        a->status = FL_DNS_NODATA;
        a->why = "no records of that type";
    }
}
