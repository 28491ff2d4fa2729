/* dns_spf: see dns_spf.h.  libspf2 asks synchronously; the layer starts
   the query through lib/dns and waits for it (bounded by the deadline),
   then converts the answer to an SPF_dns_rr_t with the resolver's
   h_errno-style status: NXDOMAIN -> HOST_NOT_FOUND, NODATA -> NO_DATA,
   anything that is not an answer -> TRY_AGAIN (RFC 7208 temperror). */
#include "lib/dns_spf.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

struct spf_hook {
    struct fl_dns *dns;
    long long deadline_ms;
    struct fl_spf_dns_counts counts;
};

static int status_rank(enum fl_dns_status s)
{
    switch (s) {
    case FL_DNS_OK:
    case FL_DNS_NODATA:
    case FL_DNS_NXDOMAIN:
        return 0;
    case FL_DNS_MALFORMED:
        return 1;
    case FL_DNS_SERVFAIL:
        return 2;
    case FL_DNS_BOGUS:
        return 3;
    case FL_DNS_TIMEOUT:
        return 4;
    case FL_DNS_LOCAL:
        return 5;
    }
    return 0;
}

static void count(struct spf_hook *h, ns_type type, const struct fl_dns_answer *a)
{
    struct fl_spf_dns_counts *c = &h->counts;
    c->queries++;
    switch ((int)type) {
    case ns_t_txt:
        c->txt++;
        break;
    case ns_t_a:
        c->a++;
        break;
    case ns_t_aaaa:
        c->aaaa++;
        break;
    case ns_t_mx:
        c->mx++;
        break;
    case ns_t_ptr:
        c->ptr++;
        break;
    default:
        break;
    }
    if (a->status == FL_DNS_NXDOMAIN || a->status == FL_DNS_NODATA)
        c->void_lookups++;
    if (status_rank(a->status) > 0)
        c->temp_errors++;
    if (status_rank(a->status) > status_rank(c->worst)) {
        c->worst = a->status;
        snprintf(c->worst_name, sizeof(c->worst_name), "%s", a->qname);
    }
}

/* Copies the answer's records into rr.  Returns 0 or -1 (no memory). */
static int fill_records(SPF_dns_rr_t *rr, ns_type type, const struct fl_dns_answer *a)
{
    int n = 0;
    for (size_t i = 0; i < a->count; i++) {
        const struct fl_dns_record *r = &a->records[i];
        size_t need;
        switch ((int)type) {
        case ns_t_a:
            need = sizeof(struct in_addr);
            break;
        case ns_t_aaaa:
            need = sizeof(struct in6_addr);
            break;
        default:
            need = strlen(r->data) + 1; /* TXT with NUL: cut there */
            break;
        }
        if (SPF_dns_rr_buf_realloc(rr, n, need) != SPF_E_SUCCESS)
            return -1;
        if (type == ns_t_a)
            memcpy(&rr->rr[n]->a, r->addr, sizeof(struct in_addr));
        else if (type == ns_t_aaaa)
            memcpy(&rr->rr[n]->aaaa, r->addr, sizeof(struct in6_addr));
        else
            memcpy(rr->rr[n]->txt, r->data, need);
        n++;
    }
    rr->num_rr = n;
    return 0;
}

static SPF_dns_rr_t *lookup(SPF_dns_server_t *server, const char *domain, ns_type type,
                            int should_cache)
{
    (void)should_cache;
    struct spf_hook *h = server->hook;
    struct fl_dns_query *q = fl_dns_start(h->dns, domain, (uint16_t)type, h->deadline_ms);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    count(h, type, a);
    SPF_dns_stat_t herrno;
    switch (a->status) {
    case FL_DNS_OK:
        herrno = NETDB_SUCCESS;
        break;
    case FL_DNS_NODATA:
        herrno = NO_DATA;
        break;
    case FL_DNS_NXDOMAIN:
        herrno = HOST_NOT_FOUND;
        break;
    default:
        herrno = TRY_AGAIN;
        break;
    }
    SPF_dns_rr_t *rr = SPF_dns_rr_new_init(server, domain, type, (int)a->ttl, herrno);
    if (rr != NULL && herrno == NETDB_SUCCESS && fill_records(rr, type, a) < 0) {
        SPF_dns_rr_free(rr);
        rr = NULL;
    }
    fl_dns_query_free(&q);
    return rr;
}

static void destroy(SPF_dns_server_t *server)
{
    free(server->hook);
    free(server);
}

struct SPF_dns_server_struct *fl_spf_dns_new(struct fl_dns *dns, long long deadline_ms)
{
    SPF_dns_server_t *server = fl_calloc(1, sizeof(*server));
    struct spf_hook *h = fl_calloc(1, sizeof(*h));
    h->dns = dns;
    h->deadline_ms = deadline_ms;
    h->counts.worst = FL_DNS_OK;
    server->destroy = destroy;
    server->lookup = lookup;
    server->get_spf = NULL;
    server->get_exp = NULL;
    server->add_cache = NULL;
    server->layer_below = NULL;
    server->name = "faultline";
    server->hook = h;
    return server;
}

const struct fl_spf_dns_counts *fl_spf_dns_counts(struct SPF_dns_server_struct *layer)
{
    return &((struct spf_hook *)layer->hook)->counts;
}

void fl_spf_dns_free(struct SPF_dns_server_struct *layer)
{
    if (layer != NULL)
        destroy(layer);
}
