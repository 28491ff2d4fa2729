/* spf: see spf.h.  RFC 7208 check_host() on libspf2 1.2.10: the record
   lookups, the limits and the explanation go through lib/spf/dns_spf.c, which
   holds libspf2 to the RFC; this file prepares the identity (4.3), runs
   the evaluation without libspf2's loopback shortcut
   (SPF_request_query_mailfrom lets 127.0.0.0/8 and ::1 pass whatever the
   record says; SPF_record_interpret does not), and turns the outcome
   into a struct fl_result with attribution and policy. */
#include "lib/spf/spf.h"
#include "lib/core/clock.h"
#include "lib/core/domain.h"
#include "lib/spf/dns_spf.h"
#include "lib/core/log.h"
#include "lib/spf/spf_macro.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <arpa/nameser.h>
#include <spf2/spf.h>


static pthread_once_t libspf2_once = PTHREAD_ONCE_INIT;

static void __attribute__((noreturn))
on_spf_error(const char *file, int line, const char *msg)
{
    /* libspf2 found a broken invariant of its own (a NULL it asserts) */
    fl_log(FL_LOG_ERROR, "libspf2: %s:%d: %s", file ? file : "?", line, msg ? msg : "");
    abort();
}

static void on_spf_message(const char *file, int line, const char *msg)
{
    (void)file;
    (void)line;
    fl_debug("libspf2: %s", msg ? msg : "");
}

static void on_spf_debug(const char *file, int line, const char *msg)
{
    (void)file;
    (void)line;
    (void)msg;
}

static void init_libspf2(void)
{
    SPF_error_handler = on_spf_error;
    SPF_warning_handler = on_spf_message;
    SPF_info_handler = on_spf_message;
    SPF_debug_handler = on_spf_debug;
}

/* snprintf that may cut: details and problems are bounded on purpose. */
static void __attribute__((format(printf, 3, 4)))
put(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}

/* Copies src into dst keeping printable ASCII (and, with space, ' '). */
static void copy_clean(char *dst, size_t len, const char *src, bool space)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && n + 1 < len; p++)
        dst[n++] = ((*p > 0x20 || (space && *p == 0x20)) && *p < 0x7f) ? (char)*p : '?';
    dst[n] = '\0';
}

/* RFC 7208 4.3: a domain to evaluate must be a multi-label domain name
   with labels of 1..63 octets (the last may be empty: a trailing dot),
   at most 253 octets; not an address literal; in ASCII (A-labels).  The
   characters are those of RFC 5321 domains plus '_': anything else (a
   quote, a backslash, a space) is malformed and never reaches the DNS. */
static const char *domain_problem(const char *d)
{
    size_t n = strlen(d);
    if (n == 0)
        return "no domain";
    if (d[0] == '[')
        return "an address literal, not a domain name";
    if (d[n - 1] == '.')
        n--;
    switch (fl_domain_check(d, n, FL_DOMAIN_HOSTCHARS | FL_DOMAIN_TWO_LABELS)) {
    case FL_DOMAIN_OK:
        return NULL;
    case FL_DOMAIN_TOO_LONG:
        return "a domain name longer than 253 octets";
    case FL_DOMAIN_NON_ASCII:
        return "not a domain name in ASCII (A-labels)";
    case FL_DOMAIN_BAD_CHAR:
        return "not a domain name (letters, digits, '-', '_' and '.' only)";
    case FL_DOMAIN_LONG_LABEL:
        return "a domain name with a label longer than 63 octets";
    case FL_DOMAIN_ONE_LABEL:
        return "not a fully qualified domain name";
    default: /* FL_DOMAIN_EMPTY ("."), FL_DOMAIN_EMPTY_LABEL */
        return "a domain name with an empty label";
    }
}

static int parse_client(const char *ip, int *family, unsigned char addr[16], char *text,
                        size_t textlen)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ip == NULL)
        return -1;
    if (inet_pton(AF_INET, ip, addr) == 1) {
        *family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, addr) == 1) {
        *family = AF_INET6;
        if (memcmp(addr, mapped, 12) == 0) { /* RFC 7208 5: IPv4-mapped is IPv4 */
            memmove(addr, addr + 12, 4);
            *family = AF_INET;
        }
    } else {
        return -1;
    }
    inet_ntop(*family, addr, text, (socklen_t)textlen);
    return 0;
}

/* The outcome of the libspf2 run. */
struct outcome {
    enum fl_res res;
    enum fl_spf_dns_limit limit;
    enum fl_dns_status worst;
    char worst_name[256];
};

static enum fl_res map_result(SPF_result_t r, bool dns_failed)
{
    switch (r) {
    case SPF_RESULT_PASS:
        return FL_RES_PASS;
    case SPF_RESULT_FAIL:
        return FL_RES_FAIL;
    case SPF_RESULT_SOFTFAIL:
        return FL_RES_SOFTFAIL;
    case SPF_RESULT_NEUTRAL:
        return FL_RES_NEUTRAL;
    case SPF_RESULT_NONE:
        return FL_RES_NONE;
    case SPF_RESULT_TEMPERROR:
        return FL_RES_TEMPERROR;
    case SPF_RESULT_PERMERROR:
        return FL_RES_PERMERROR;
    case SPF_RESULT_INVALID:
    default:
        /* libspf2 gave no verdict: never show "(invalid)" */
        return dns_failed ? FL_RES_TEMPERROR : FL_RES_PERMERROR;
    }
}

/* One libspf2 server per thread, kept: making one asks the host name
   (uname(2)) and compiles libspf2's default explanation and local policy,
   twice per message otherwise.  Each evaluation lends it its own DNS layer
   (the public field resolver; libspf2 reads it only during the calls). */
static pthread_key_t server_key;
static pthread_once_t server_key_once = PTHREAD_ONCE_INIT;

static void free_server(void *srv)
{
    SPF_server_free(srv);
}

static void make_server_key(void)
{
    if (pthread_key_create(&server_key, free_server) != 0)
        fl_fatal("libspf2: cannot keep a server per thread");
}

static SPF_server_t *thread_server(SPF_dns_server_t *layer, const char *receiver)
{
    pthread_once(&server_key_once, make_server_key);
    SPF_server_t *srv = pthread_getspecific(server_key);
    if (srv == NULL) {
        srv = SPF_server_new_dns(layer, 0);
        if (srv == NULL)
            fl_fatal("libspf2: out of memory");
        SPF_response_t *scratch = NULL;
        /* libspf2's default explanation names openspf.org: ours is none */
        SPF_server_set_explanation(srv, "", &scratch);
        if (scratch != NULL)
            SPF_response_free(scratch);
        /* lib/spf/dns_spf.c counts the limits across includes (libspf2
           restarts its counter in each); keep libspf2's own check out of
           the way */
        SPF_server_set_max_dns_mech(srv, 1000);
        (void)pthread_setspecific(server_key, srv);
    }
    srv->resolver = layer;
    srv->destroy_resolver = 0;
    if (srv->rec_dom == NULL || strcmp(srv->rec_dom, receiver) != 0)
        SPF_server_set_rec_dom(srv, receiver); /* a reload may change it */
    return srv;
}

/* Evaluates info->domain for info->sender; fills info and o. */
static void evaluate(struct fl_dns *dns, long long deadline_ms, int family,
                     const unsigned char *addr, const char *local,
                     struct fl_spf_info *info, struct outcome *o)
{
    SPF_dns_server_t *layer = fl_spf_dns_new(dns, deadline_ms);
    SPF_server_t *srv = thread_server(layer, info->receiver);
    SPF_request_t *req = SPF_request_new(srv);
    SPF_response_t *resp = req ? SPF_response_new(req) : NULL;
    if (resp == NULL)
        fl_fatal("libspf2: out of memory");
    if (family == AF_INET) {
        struct in_addr a4;
        memcpy(&a4, addr, 4);
        SPF_request_set_ipv4(req, a4);
    } else {
        struct in6_addr a6;
        memcpy(&a6, addr, 16);
        SPF_request_set_ipv6(req, a6);
    }
    SPF_request_set_helo_dom(req, info->helo);
    SPF_request_set_env_from(req, info->sender);

    char ip[72];
    fl_spf_macro_ip(family, addr, ip, sizeof(ip));
    struct fl_spf_macro_vars vars = {
        .sender = info->sender,
        .local = local,
        .sender_domain = info->domain,
        .domain = info->domain,
        .ip = ip,
        .ip_text = info->client_ip,
        .version = family == AF_INET ? "in-addr" : "ip6",
        .helo = info->helo,
        .receiver = info->receiver,
        .now = (long long)time(NULL),
    };
    fl_spf_dns_bind(layer, req, &vars);
    /* no local policy, no whitelist: trust is decided by faultline */
    req->use_local_policy = 0;
    req->use_helo = 0;
    req->cur_dom = info->domain;
    SPF_record_t *record = NULL;
    if (SPF_server_get_record(srv, req, resp, &record) == SPF_E_SUCCESS &&
        record != NULL) {
        resp->spf_record_exp = record;
        SPF_record_interpret(record, req, resp, 0);
        SPF_record_free(record);
    } else if (record != NULL) {
        SPF_record_free(record);
    }

    const struct fl_spf_dns_counts *c = fl_spf_dns_counts(layer);
    o->limit = c->limit;
    o->worst = c->worst;
    snprintf(o->worst_name, sizeof(o->worst_name), "%s", c->worst_name);
    if (c->limit != FL_SPF_LIMIT_NONE)
        o->res = FL_RES_PERMERROR;
    else if (c->top == FL_SPF_TOP_NONE)
        o->res = FL_RES_NONE;
    else if (c->top == FL_SPF_TOP_PERMERROR)
        o->res = FL_RES_PERMERROR;
    else if (c->top == FL_SPF_TOP_TEMPERROR)
        o->res = FL_RES_TEMPERROR;
    else
        o->res = map_result(resp->result, c->temp_errors > 0);
    if (o->res == FL_RES_FAIL && resp->explanation != NULL) {
        struct fl_buf exp;
        fl_buf_init(&exp);
        if (fl_spf_dns_explanation(layer, resp->explanation, &exp) > 0)
            copy_clean(info->explanation, sizeof(info->explanation), exp.data, true);
        fl_buf_free(&exp);
    }
    if (c->problem[0] != '\0')
        put(info->problem, sizeof(info->problem), "%s", c->problem);
    else if (o->res == FL_RES_PERMERROR)
        put(info->problem, sizeof(info->problem), "%s", SPF_strerror(resp->err));
    else if (o->res == FL_RES_TEMPERROR && c->worst_name[0] != '\0')
        put(info->problem, sizeof(info->problem), "the lookup of %s failed (%s)",
            c->worst_name, fl_dns_status_name(c->worst));
    info->lookups = c->terms;
    info->void_lookups = c->void_lookups;
    info->queries = c->queries;

    SPF_response_free(resp);
    SPF_request_free(req);
    srv->resolver = NULL; /* the layer goes now */
    fl_spf_dns_free(layer);
}

static enum fl_action mark_or_reject(int setting)
{
    return setting == FL_REJECT ? FL_ACTION_REJECT : FL_ACTION_ACCEPT;
}

/* Reason code, texts, fault and action for the result. */
static void conclude(struct fl_dns *dns, const struct fl_config *cfg,
                     const struct fl_spf_info *info,
                     const struct outcome *o, bool malformed, struct fl_result *out)
{
    const char *ip = info->client_ip, *dom = info->domain;
    char detail[768];
    const char *code = NULL, *reason = NULL;
    enum fl_fault fault = FL_FAULT_NONE;
    bool transient = false;
    enum fl_action action = FL_ACTION_ACCEPT;
    switch (o->res) {
    case FL_RES_PASS:
        put(detail, sizeof(detail), "%s is allowed to send mail for %s", ip, dom);
        break;
    case FL_RES_FAIL:
        code = "spf.not_permitted";
        reason = "client not authorized by the SPF record";
        fault = FL_FAULT_SENDER;
        action = mark_or_reject(cfg->spf_fail_action);
        put(detail, sizeof(detail),
            "%s is not allowed to send mail for %s (%s's SPF record must authorize it)",
            ip, dom, dom);
        break;
    case FL_RES_SOFTFAIL:
        code = "spf.not_permitted";
        reason = "client probably not authorized (softfail)";
        fault = FL_FAULT_SENDER;
        action = mark_or_reject(cfg->spf_softfail_action);
        put(detail, sizeof(detail),
            "%s is probably not allowed to send mail for %s (%s's SPF record must "
            "authorize it)",
            ip, dom, dom);
        break;
    case FL_RES_NEUTRAL:
        reason = "neither permitted nor denied";
        put(detail, sizeof(detail), "%s's SPF record neither permits nor denies %s", dom,
            ip);
        break;
    case FL_RES_NONE:
        reason = malformed ? "no valid domain" : "no SPF record";
        if (malformed)
            put(detail, sizeof(detail), "the %s identity is %s, so it has no SPF policy",
                info->identity == FL_SPF_HELO ? "HELO" : "MAIL FROM", info->problem);
        else
            put(detail, sizeof(detail), "%s publishes no SPF record", dom);
        break;
    case FL_RES_PERMERROR:
        fault = FL_FAULT_SENDER;
        action = mark_or_reject(cfg->spf_permerror_action);
        if (o->limit == FL_SPF_LIMIT_TERMS) {
            code = "spf.too_many_lookups";
            reason = "too many DNS lookups";
            put(detail, sizeof(detail),
                "%s's SPF record needs more than 10 DNS lookups (its owner must reduce "
                "the include, a, mx, ptr and exists terms)",
                dom);
        } else if (o->limit == FL_SPF_LIMIT_VOID) {
            code = "spf.void_lookups";
            reason = "too many void DNS lookups";
            put(detail, sizeof(detail),
                "%s's SPF record names more than 2 domains that do not exist (its owner "
                "must remove them)",
                dom);
        } else {
            code = "spf.permerror";
            reason = "SPF record error";
            put(detail, sizeof(detail),
                "%s's SPF record is broken: %s (its owner must fix it)", dom,
                info->problem);
        }
        break;
    case FL_RES_TEMPERROR: {
        transient = true;
        reason = "DNS lookup failed";
        action = cfg->spf_temperror_action == FL_ON_ERROR_TEMPFAIL ? FL_ACTION_TEMPFAIL
                                                                   : FL_ACTION_ACCEPT;
        if (fl_dns_fault(dns, NULL) == FL_FAULT_SENDER) {
            code = "spf.dns_sender";
            fault = FL_FAULT_SENDER;
            put(detail, sizeof(detail),
                "the SPF check of %s could not complete: %s (the name servers of %s must "
                "answer; a retry may succeed)",
                dom, info->problem[0] ? info->problem : "a DNS lookup failed", dom);
        } else {
            code =
                o->worst == FL_DNS_TIMEOUT ? "dns.resolver_timeout" : "dns.resolver_down";
            fault = FL_FAULT_RECEIVER;
            put(detail, sizeof(detail),
                "our DNS resolver is not answering, so the SPF check of %s could not "
                "complete (the receiving site must fix its resolver)",
                dom);
        }
        break;
    }
    default:
        put(detail, sizeof(detail), "SPF was not evaluated");
        break;
    }
    fl_result_init(out, "spf", o->res);
    fl_result_set_reason(out, code, reason, detail);
    out->fault = fault;
    out->transient = transient;
    out->action = info->identity == FL_SPF_HELO ? FL_ACTION_ACCEPT : action;
}

int fl_spf_check(struct fl_dns *dns, const struct fl_config *cfg,
                 const struct fl_spf_request *req, enum fl_spf_identity which,
                 long long deadline_ms, struct fl_result *out, struct fl_spf_info *info_r)
{
    pthread_once(&libspf2_once, init_libspf2);
    long long t0 = fl_monotonic_ms();
    struct fl_spf_info info;
    memset(&info, 0, sizeof(info));
    info.identity = which;
    copy_clean(info.receiver, sizeof(info.receiver),
               cfg->authserv_id && *cfg->authserv_id ? cfg->authserv_id : "unknown",
               false);
    const char *helo = req->helo ? req->helo : "";
    const char *from = req->mail_from ? req->mail_from : "";
    copy_clean(info.helo, sizeof(info.helo), helo, true);

    /* The identity (RFC 7208 2.3, 2.4, 4.3) */
    const char *domain = helo;
    char local[256] = "postmaster";
    if (which == FL_SPF_MAILFROM && *from != '\0') {
        const char *at = strrchr(from, '@');
        domain = at ? at + 1 : from;
        if (at != NULL && at > from) {
            size_t n = (size_t)(at - from) < sizeof(local) ? (size_t)(at - from)
                                                           : sizeof(local) - 1;
            char raw[256];
            memcpy(raw, from, n);
            raw[n] = '\0';
            copy_clean(local, sizeof(local), raw, true);
        }
    }
    copy_clean(info.domain, sizeof(info.domain), domain, false);
    snprintf(info.sender, sizeof(info.sender), "%s@%s", local, info.domain);

    int family = 0;
    unsigned char addr[16];
    int rc = 0;
    struct outcome o = {.res = FL_RES_NONE};
    const char *bad = domain_problem(domain);
    bool malformed = false;
    if (parse_client(req->client_ip, &family, addr, info.client_ip,
                     sizeof(info.client_ip)) < 0) {
        copy_clean(info.client_ip, sizeof(info.client_ip),
                   req->client_ip ? req->client_ip : "", false);
        put(info.problem, sizeof(info.problem), "no client address");
        rc = -1;
    } else if (bad != NULL) {
        malformed = true;
        put(info.problem, sizeof(info.problem), "%s", bad);
    } else {
        evaluate(dns, deadline_ms, family, addr, local, &info, &o);
    }
    info.result = o.res;
    info.elapsed_ms = (long)(fl_monotonic_ms() - t0);

    conclude(dns, cfg, &info, &o, malformed, out);
    if (rc < 0)
        fl_result_set_reason(out, NULL, "no client address",
                             "the client's address is unknown, so SPF cannot be checked");
    if (which == FL_SPF_HELO)
        fl_result_add_prop(out, "smtp", "helo", helo);
    else if (*from == '\0')
        fl_result_add_prop(out, "smtp", "mailfrom", info.sender);
    else
        fl_result_add_prop(out, "smtp", "mailfrom", from);
    if (info_r != NULL)
        *info_r = info;
    return rc;
}

bool fl_spf_wanted(const struct fl_config *cfg, bool trusted_client, bool authenticated)
{
    if (!cfg->spf_enable)
        return false;
    if (trusted_client && cfg->spf_skip_trusted)
        return false;
    if (authenticated && cfg->spf_skip_authenticated)
        return false;
    return true;
}

/* RFC 5322 dot-atom, or a quoted-string. */
static void put_value(struct fl_buf *out, const char *v)
{
    static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
    bool atom = *v != '\0' && *v != '.' && v[strlen(v) - 1] != '.';
    for (const char *p = v; atom && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr(atext, *p) != NULL ||
              (*p == '.' && p[1] != '.')))
            atom = false;
    if (atom) {
        fl_buf_puts(out, v);
        return;
    }
    fl_buf_putc(out, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fl_buf_putc(out, '\\');
        fl_buf_putc(out, (*p >= 0x20 && *p < 0x7f) ? *p : '?');
    }
    fl_buf_putc(out, '"');
}

/* Comment text: '(', ')' and '\' become quoted-pairs. */
static void put_comment_text(struct fl_buf *out, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '(' || *p == ')' || *p == '\\')
            fl_buf_putc(out, '\\');
        fl_buf_putc(out, (*p >= 0x20 && *p < 0x7f) ? *p : '?');
    }
}

void fl_spf_received_header(struct fl_buf *out, const struct fl_spf_info *info)
{
    const char *who = info->identity == FL_SPF_HELO ? info->helo : info->sender;
    char comment[1024];
    switch (info->result) {
    case FL_RES_PASS:
        snprintf(comment, sizeof(comment),
                 "domain of %s designates %s as permitted sender", who, info->client_ip);
        break;
    case FL_RES_FAIL:
        snprintf(comment, sizeof(comment),
                 "domain of %s does not designate %s as permitted sender", who,
                 info->client_ip);
        break;
    case FL_RES_SOFTFAIL:
        snprintf(comment, sizeof(comment),
                 "domain of transitioning %s does not designate %s as permitted sender",
                 who, info->client_ip);
        break;
    case FL_RES_NEUTRAL:
        snprintf(comment, sizeof(comment),
                 "%s is neither permitted nor denied by domain of %s", info->client_ip,
                 who);
        break;
    case FL_RES_NONE:
        snprintf(comment, sizeof(comment), "domain of %s does not provide an SPF record",
                 who);
        break;
    default:
        snprintf(comment, sizeof(comment),
                 "error in processing during lookup of domain of %s", who);
        break;
    }
    fl_buf_printf(out, "%s (", fl_res_name(info->result));
    put_comment_text(out, info->receiver);
    fl_buf_puts(out, ": ");
    put_comment_text(out, comment);
    fl_buf_puts(out, ") client-ip=");
    put_value(out, info->client_ip);
    fl_buf_puts(out, "; envelope-from=");
    put_value(out, info->sender);
    fl_buf_puts(out, "; helo=");
    put_value(out, info->helo);
    fl_buf_puts(out, "; receiver=");
    put_value(out, info->receiver);
    fl_buf_printf(out, "; identity=%s",
                  info->identity == FL_SPF_HELO ? "helo" : "mailfrom");
    if ((info->result == FL_RES_PERMERROR || info->result == FL_RES_TEMPERROR) &&
        info->problem[0] != '\0') {
        fl_buf_puts(out, "; problem=");
        put_value(out, info->problem);
    }
}
