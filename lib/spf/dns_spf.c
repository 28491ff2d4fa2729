/* dns_spf: see dns_spf.h.  libspf2 asks synchronously; the layer starts
   the query through lib/dns and waits for it (bounded by the deadline),
   then converts the answer to an SPF_dns_rr_t with the resolver's
   h_errno-style status: NXDOMAIN -> HOST_NOT_FOUND, NODATA -> NO_DATA,
   anything that is not an answer -> TRY_AGAIN (RFC 7208 temperror).

   Which term asked: libspf2 1.2.10 evaluates one mechanism at a time and
   tells its lookups apart only by type and by the should_cache flag
   (FALSE for "exists" and for the %{p} macro's lookups, TRUE otherwise).
   An MX or PTR answer opens a window of follow-up address lookups (its
   names, in order); an address lookup that is the next name of the
   window is a follow-up, any other one is a new term ("a" or "exists").
   Records come through get_spf: the first is the evaluated domain's own,
   every later one an include or redirect (a term). */
#include "lib/spf/dns_spf.h"
#include "lib/core/domain.h"
#include "lib/spf/spf_record.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#define MAX_NAME        253
#define EXP_MARK        '\001'
#define MAX_EXPLANATION 1024

enum window_kind { WIN_NONE, WIN_MX, WIN_PTR, WIN_PTR_MACRO };

struct spf_hook {
    struct fl_dns *dns;
    long long deadline_ms;
    struct fl_spf_dns_counts counts;
    /* bound to an evaluation */
    SPF_request_t *req;
    struct fl_spf_macro_vars vars;
    int family;
    unsigned char addr[16];
    unsigned int records; /* get_spf calls */
    char **names;         /* copies of current domains, alive to the end */
    size_t nnames;
    /* follow-up window */
    enum window_kind win;
    bool win_any; /* answers match any address (mx/0) */
    char *win_names[FL_SPF_MAX_NAMES];
    size_t win_count, win_next;
    /* the last exp= seen by get_exp, looked up only on request */
    unsigned int exp_gen;
    char exp_name[1024]; /* as expanded: may exceed 253 octets (7.3) */
    char exp_domain[MAX_NAME + 2];
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

static bool is_void(enum fl_dns_status s)
{
    return s == FL_DNS_NXDOMAIN || s == FL_DNS_NODATA;
}

static void count(struct spf_hook *h, uint16_t type, const struct fl_dns_answer *a,
                  bool term)
{
    struct fl_spf_dns_counts *c = &h->counts;
    c->queries++;
    switch (type) {
    case FL_DNS_TXT:
        c->txt++;
        break;
    case FL_DNS_A:
        c->a++;
        break;
    case FL_DNS_AAAA:
        c->aaaa++;
        break;
    case FL_DNS_MX:
        c->mx++;
        break;
    case FL_DNS_PTR:
        c->ptr++;
        break;
    default:
        break;
    }
    if (term && is_void(a->status))
        c->void_lookups++;
    if (status_rank(a->status) > 0)
        c->temp_errors++;
    if (status_rank(a->status) > status_rank(c->worst)) {
        c->worst = a->status;
        snprintf(c->worst_name, sizeof(c->worst_name), "%s", a->qname);
    }
}

/* Writes the name to query into out: without a trailing dot, cut on the
   left to 253 octets (RFC 7208 7.3), the any-address tag removed (*any
   set).  Returns false if no DNS name can be made of it (empty or
   over-long labels): the name does not exist. */
static bool prepare_name(const char *in, char out[MAX_NAME + 2], bool *any)
{
    size_t n = strlen(in);
    const size_t tlen = sizeof(FL_SPF_ANY_ADDRESS_TAG) - 1;
    *any = false;
    if (n > tlen + 1 && strcasecmp(in + n - tlen, FL_SPF_ANY_ADDRESS_TAG) == 0 &&
        in[n - tlen - 1] == '.') {
        *any = true;
        n -= tlen + 1;
    }
    if (n > 0 && in[n - 1] == '.')
        n--;
    const char *p = in;
    while (n > MAX_NAME) {
        const char *dot = memchr(p, '.', n);
        if (dot == NULL)
            return false;
        n -= (size_t)(dot - p) + 1;
        p = dot + 1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return fl_domain_check(out, n, FL_DOMAIN_EMPTY_LAST) == FL_DOMAIN_OK;
}

/* Copies the answer's records into rr.  Returns 0 or -1 (no memory). */
static int fill_records(SPF_dns_rr_t *rr, uint16_t type, const struct fl_dns_answer *a,
                        size_t max, const unsigned char *any_addr)
{
    int n = 0;
    for (size_t i = 0; i < a->count && i < max; i++) {
        const struct fl_dns_record *r = &a->records[i];
        size_t need;
        switch (type) {
        case FL_DNS_A:
            need = sizeof(struct in_addr);
            break;
        case FL_DNS_AAAA:
            need = sizeof(struct in6_addr);
            break;
        default:
            need = strlen(r->data) + 1; /* TXT with NUL: cut there (unbound use only) */
            break;
        }
        if (SPF_dns_rr_buf_realloc(rr, n, need) != SPF_E_SUCCESS)
            return -1;
        const unsigned char *addr = any_addr ? any_addr : r->addr;
        if (type == FL_DNS_A)
            memcpy(&rr->rr[n]->a, addr, sizeof(struct in_addr));
        else if (type == FL_DNS_AAAA)
            memcpy(&rr->rr[n]->aaaa, addr, sizeof(struct in6_addr));
        else
            memcpy(rr->rr[n]->txt, r->data, need);
        n++;
    }
    rr->num_rr = n;
    return 0;
}

static SPF_dns_rr_t *make_rr(SPF_dns_server_t *server, const char *domain, uint16_t type,
                             const struct fl_dns_answer *a, size_t max,
                             const unsigned char *any_addr)
{
    SPF_dns_stat_t herrno;
    switch (a ? a->status : FL_DNS_NXDOMAIN) {
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
    SPF_dns_rr_t *rr =
        SPF_dns_rr_new_init(server, domain, (ns_type)type, a ? (int)a->ttl : 0, herrno);
    if (rr != NULL && herrno == NETDB_SUCCESS &&
        fill_records(rr, type, a, max, any_addr) < 0) {
        SPF_dns_rr_free(rr);
        rr = NULL;
    }
    return rr;
}

static SPF_dns_rr_t *try_again(SPF_dns_server_t *server, const char *domain,
                               uint16_t type)
{
    return SPF_dns_rr_new_init(server, domain, (ns_type)type, 0, TRY_AGAIN);
}

static void window_clear(struct spf_hook *h)
{
    for (size_t i = 0; i < h->win_count; i++)
        free(h->win_names[i]);
    h->win_count = h->win_next = 0;
    h->win = WIN_NONE;
    h->win_any = false;
}

static void window_open(struct spf_hook *h, enum window_kind kind,
                        const struct fl_dns_answer *a, bool any)
{
    window_clear(h);
    h->win = kind;
    h->win_any = any;
    for (size_t i = 0; a->status == FL_DNS_OK && i < a->count && i < FL_SPF_MAX_NAMES;
         i++)
        h->win_names[h->win_count++] = fl_strdup(a->records[i].data);
}

/* Stops the evaluation at a limit of RFC 7208 4.6.4. */
static void stop(struct spf_hook *h, enum fl_spf_dns_limit limit, const char *problem)
{
    if (h->counts.limit == FL_SPF_LIMIT_NONE) {
        h->counts.limit = limit;
        snprintf(h->counts.problem, sizeof(h->counts.problem), "%s", problem);
    }
}

/* A term's lookup: counts it; false (and the evaluation stopped) if it is
   one term too many. */
static bool count_term(struct spf_hook *h)
{
    window_clear(h);
    if (++h->counts.terms > FL_SPF_MAX_TERMS) {
        stop(h, FL_SPF_LIMIT_TERMS,
             "more than 10 DNS-querying mechanisms and modifiers (RFC 7208 4.6.4)");
        return false;
    }
    return true;
}

static SPF_dns_rr_t *lookup_unbound(SPF_dns_server_t *server, const char *domain,
                                    uint16_t type)
{
    struct spf_hook *h = server->hook;
    struct fl_dns_query *q = fl_dns_start(h->dns, domain, type, h->deadline_ms);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    count(h, type, a, true);
    SPF_dns_rr_t *rr = make_rr(server, domain, type, a, (size_t)-1, NULL);
    fl_dns_query_free(&q);
    return rr;
}

static SPF_dns_rr_t *lookup(SPF_dns_server_t *server, const char *domain, ns_type ns_type,
                            int should_cache)
{
    struct spf_hook *h = server->hook;
    uint16_t type = (uint16_t)ns_type;
    if (h->req == NULL)
        return lookup_unbound(server, domain, type);
    if (h->counts.limit != FL_SPF_LIMIT_NONE)
        return try_again(server, domain, type);

    /* Which term is asking? */
    enum window_kind follow = WIN_NONE;
    bool term = false;
    if (type == FL_DNS_A || type == FL_DNS_AAAA) {
        bool want_flag = h->win == WIN_PTR_MACRO ? !should_cache : should_cache != 0;
        if (h->win != WIN_NONE && h->win_next < h->win_count && want_flag &&
            strcasecmp(domain, h->win_names[h->win_next]) == 0) {
            follow = h->win;
            h->win_next++;
        } else {
            term = true; /* "a", or "exists" */
        }
    } else if (type == FL_DNS_PTR && !should_cache) {
        /* the %{p} macro: not a term (RFC 7208 4.6.4 counts terms) */
    } else {
        term = true; /* "mx", "ptr" */
    }
    bool win_any = h->win_any;
    if (term && !count_term(h))
        return try_again(server, domain, type);

    char name[MAX_NAME + 2];
    bool any;
    struct fl_dns_query *q = NULL;
    struct fl_dns_answer local = {.status = FL_DNS_NXDOMAIN};
    const struct fl_dns_answer *a = &local;
    if (prepare_name(domain, name, &any)) {
        q = fl_dns_start(h->dns, name, type, h->deadline_ms);
        a = fl_dns_wait(q);
        count(h, type, a, term);
    } else if (term) {
        h->counts.void_lookups++; /* a name that cannot exist (RFC 7208 4.3, 4.6.4) */
    }

    SPF_dns_rr_t *rr = NULL;
    size_t max = (size_t)-1;
    const unsigned char *any_addr = NULL;
    if (term && is_void(a->status) && h->counts.void_lookups > FL_SPF_MAX_VOID) {
        stop(h, FL_SPF_LIMIT_VOID, "more than 2 void DNS lookups (RFC 7208 4.6.4)");
        rr = try_again(server, domain, type);
    } else if (type == FL_DNS_MX) {
        if (a->status == FL_DNS_OK && a->count > FL_SPF_MAX_NAMES) {
            stop(h, FL_SPF_LIMIT_MX,
                 "an mx mechanism found more than 10 MX records "
                 "(RFC 7208 4.6.4)");
            rr = try_again(server, domain, type);
        } else {
            window_open(h, WIN_MX, a, any);
        }
    } else if (type == FL_DNS_PTR) {
        /* RFC 7208 4.6.4, 5.5: only the first 10 names are used */
        max = FL_SPF_MAX_NAMES;
        window_open(h, should_cache ? WIN_PTR : WIN_PTR_MACRO, a, false);
    } else if (follow == WIN_PTR && status_rank(a->status) > 0) {
        /* RFC 7208 5.5: a DNS error on a PTR name's address skips it */
        local.status = FL_DNS_NXDOMAIN;
        a = &local;
    } else if ((term && any) || (follow == WIN_MX && win_any)) {
        any_addr = h->addr; /* a/0, mx/0: any address of the name matches */
    }
    if (rr == NULL)
        rr = make_rr(server, domain, type, a, max, any_addr);
    fl_dns_query_free(&q);
    return rr;
}

/* Keeps a copy of name alive until the layer is freed. */
static const char *keep(struct spf_hook *h, const char *name)
{
    h->names = fl_realloc(h->names, (h->nnames + 1) * sizeof(*h->names));
    h->names[h->nnames] = fl_strdup(name);
    return h->names[h->nnames++];
}

/* Notes why a record lookup gave no record to evaluate; for the first
   one (the evaluated domain's own) that decides the result. */
static SPF_errcode_t record_error(struct spf_hook *h, bool top, enum fl_spf_dns_top what,
                                  SPF_response_t *resp, SPF_errcode_t err,
                                  const char *problem)
{
    if (top)
        h->counts.top = what;
    if (h->counts.problem[0] == '\0' || top) {
        size_t n = 0;
        for (const char *p = problem; *p && n < sizeof(h->counts.problem) - 1; p++)
            h->counts.problem[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        h->counts.problem[n] = '\0';
    }
    if (what == FL_SPF_TOP_NONE)
        resp->result = SPF_RESULT_NONE;
    else if (what == FL_SPF_TOP_PERMERROR)
        resp->result = SPF_RESULT_PERMERROR;
    return SPF_response_add_error(resp, err, "%s", h->counts.problem);
}

/* libspf2's record lookup (the evaluated domain, includes, redirects). */
static SPF_errcode_t get_spf(SPF_server_t *srv, SPF_request_t *req, SPF_response_t *resp,
                             SPF_record_t **recordp)
{
    struct spf_hook *h = srv->resolver->hook;
    bool top = h->records++ == 0;
    *recordp = NULL;
    if (h->counts.limit != FL_SPF_LIMIT_NONE || (!top && !count_term(h)))
        return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "%s", h->counts.problem);
    char name[MAX_NAME + 2];
    bool any;
    bool valid = prepare_name(req->cur_dom, name, &any);
    /* %{d} is the domain without its trailing dot (RFC 7208 7.1) */
    req->cur_dom = keep(h, valid ? name : req->cur_dom);
    if (top)
        snprintf(h->counts.domain, sizeof(h->counts.domain), "%s", req->cur_dom);
    struct fl_dns_query *q = NULL;
    const struct fl_dns_answer *a = NULL;
    if (valid) {
        q = fl_dns_start(h->dns, name, FL_DNS_TXT, h->deadline_ms);
        a = fl_dns_wait(q);
        count(h, FL_DNS_TXT, a, !top);
    } else if (!top) {
        h->counts.void_lookups++;
    }
    SPF_errcode_t err = SPF_E_SUCCESS;
    char problem[320];
    if (a != NULL && status_rank(a->status) > 0) {
        snprintf(problem, sizeof(problem), "the TXT lookup for %s failed (%s)", name,
                 fl_dns_status_name(a->status));
        err = record_error(h, top, FL_SPF_TOP_TEMPERROR, resp, SPF_E_DNS_ERROR, problem);
    } else if (!top && (a == NULL || is_void(a->status)) &&
               h->counts.void_lookups > FL_SPF_MAX_VOID) {
        stop(h, FL_SPF_LIMIT_VOID, "more than 2 void DNS lookups (RFC 7208 4.6.4)");
        err = SPF_response_add_error(resp, SPF_E_DNS_ERROR, "%s", h->counts.problem);
    } else {
        size_t found = 0, idx = 0;
        for (size_t i = 0; a != NULL && a->status == FL_DNS_OK && i < a->count; i++)
            if (fl_spf_record_is_spf(a->records[i].data, a->records[i].len)) {
                found++;
                idx = i;
            }
        if (found == 0) {
            snprintf(problem, sizeof(problem), "%s publishes no SPF record",
                     req->cur_dom);
            err = record_error(h, top, FL_SPF_TOP_NONE, resp, SPF_E_NOT_SPF, problem);
        } else if (found > 1) {
            snprintf(problem, sizeof(problem), "%s publishes more than one SPF record",
                     req->cur_dom);
            err = record_error(h, top, FL_SPF_TOP_PERMERROR, resp, SPF_E_MULTIPLE_RECORDS,
                               problem);
        } else {
            struct fl_buf text;
            fl_buf_init(&text);
            struct fl_buf why;
            fl_buf_init(&why);
            struct fl_spf_macro_vars vars = h->vars;
            vars.domain = req->cur_dom;
            struct fl_spf_record_ctx ctx = {.family = h->family, .vars = &vars};
            if (fl_spf_record_normalise(a->records[idx].data, a->records[idx].len, &ctx,
                                        &text, &why) < 0) {
                snprintf(problem, sizeof(problem),
                         "the SPF record of %s is invalid: %.199s", req->cur_dom,
                         why.data);
                err = record_error(h, top, FL_SPF_TOP_PERMERROR, resp, SPF_E_SYNTAX,
                                   problem);
            } else {
                err = SPF_record_compile(srv, resp, recordp, text.data);
                if (err != SPF_E_SUCCESS) {
                    if (*recordp != NULL)
                        SPF_record_free(*recordp);
                    *recordp = NULL;
                    snprintf(problem, sizeof(problem),
                             "libspf2 cannot evaluate the SPF record of %s: %s",
                             req->cur_dom, SPF_strerror(err));
                    err = record_error(h, top, FL_SPF_TOP_PERMERROR, resp, err, problem);
                } else if (top) {
                    h->counts.top = FL_SPF_TOP_FOUND;
                }
            }
            fl_buf_free(&text);
            fl_buf_free(&why);
        }
    }
    fl_dns_query_free(&q);
    return err;
}

/* libspf2 asks for the explanation at every fail, softfail, neutral and
   none, inside includes too; RFC 7208 6.2 wants it only for the final
   fail.  So nothing is looked up here: the name and the current domain
   are remembered and a marker left, fl_spf_dns_explanation does the rest
   if the caller wants it. */
static SPF_errcode_t get_exp(SPF_server_t *srv, const char *domain, char **bufp,
                             size_t *lenp)
{
    struct spf_hook *h = srv->resolver->hook;
    h->exp_gen++;
    snprintf(h->exp_name, sizeof(h->exp_name), "%s", domain);
    snprintf(h->exp_domain, sizeof(h->exp_domain), "%s", h->req->cur_dom);
    char mark[16];
    int n = snprintf(mark, sizeof(mark), "%c%u", EXP_MARK, h->exp_gen);
    if (*bufp == NULL || *lenp < (size_t)n + 1) {
        *bufp = fl_realloc(*bufp, (size_t)n + 1); /* libspf2 frees it with free() */
        *lenp = (size_t)n + 1;
    }
    memcpy(*bufp, mark, (size_t)n + 1);
    return SPF_E_SUCCESS;
}

static const char *validated_name(void *ctx)
{
    return SPF_request_get_client_dom(ctx);
}

int fl_spf_dns_explanation(struct SPF_dns_server_struct *layer, const char *marker,
                           struct fl_buf *out)
{
    struct spf_hook *h = layer->hook;
    char mark[16];
    snprintf(mark, sizeof(mark), "%c%u", EXP_MARK, h->exp_gen);
    if (h->req == NULL || marker == NULL || h->exp_gen == 0 || strcmp(marker, mark) != 0)
        return 0;
    char name[MAX_NAME + 2];
    bool any;
    if (!prepare_name(h->exp_name, name, &any))
        return 0;
    struct fl_dns_query *q = fl_dns_start(h->dns, name, FL_DNS_TXT, h->deadline_ms);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    count(h, FL_DNS_TXT, a, false); /* not a term, never void (6.2, 4.6.4) */
    int rc = 0;
    struct fl_buf why; /* unused: an invalid explanation is just not given */
    fl_buf_init(&why);
    if (a->status == FL_DNS_OK && a->count == 1 && a->records[0].len <= MAX_EXPLANATION &&
        fl_spf_macro_check(a->records[0].data, a->records[0].len, FL_SPF_MACRO_EXP,
                           &why) == 0) {
        struct fl_spf_macro_vars vars = h->vars;
        vars.domain = h->exp_domain;
        vars.validated_name = validated_name;
        vars.ctx = h->req;
        fl_spf_macro_expand(a->records[0].data, a->records[0].len, &vars, out);
        rc = 1;
    }
    fl_buf_free(&why);
    fl_dns_query_free(&q);
    return rc;
}

static void destroy(SPF_dns_server_t *server)
{
    struct spf_hook *h = server->hook;
    window_clear(h);
    for (size_t i = 0; i < h->nnames; i++)
        free(h->names[i]);
    free(h->names);
    free(h);
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

void fl_spf_dns_bind(struct SPF_dns_server_struct *layer, struct SPF_request_struct *req,
                     const struct fl_spf_macro_vars *vars)
{
    struct spf_hook *h = layer->hook;
    h->req = req;
    h->vars = *vars;
    h->family = req->client_ver;
    if (req->client_ver == AF_INET)
        memcpy(h->addr, &req->ipv4, 4);
    else
        memcpy(h->addr, &req->ipv6, 16);
    layer->get_spf = get_spf;
    layer->get_exp = get_exp;
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
