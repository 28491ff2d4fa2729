/* dmarc: one message's DMARC evaluation (RFC 9989): From headers in, the
   tree walk started at end-of-headers, and at end-of-message policy
   discovery, identifier alignment, pass/fail, the Domain Owner Assessment
   Policy (p, sp, np, t=y), the operator's overrides and actions, the
   fl_result for Authentication-Results and the verdict, and the report
   data for RFC 9990 aggregate reports.  See dmarc.h for the call order.
   Thread-safety: a struct fl_dmarc belongs to one message. */
#include "lib/dmarc/dmarc.h"

#include "lib/arc/arc.h"
#include "lib/core/clock.h"
#include "lib/dmarc/dmarc_int.h"
#include "lib/core/sanitize.h"
#include "lib/core/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A From value longer than this is not parsed: no MUA writes one. */
#define MAX_FROM_LEN (64 * 1024)
#define MAX_HINTS 8

struct fl_dmarc {
    struct fl_dns *dns;
    const struct fl_config *cfg;
    long long deadline_ms;
    bool arc_overridden; /* dmarc_arc_trusted_sealers decided (policy.override=arc) */
    char *from[FL_DMARC_MAX_FROM_HEADERS];
    unsigned int nfrom; /* seen, may exceed what is stored */
    bool from_too_long;
    bool eoh_done, eom_done;
    enum fl_dmarc_from_status from_status;
    const char *from_why;
    char author[256];
    struct fl_dns_query *exist_q; /* the Author Domain itself, for np */
    char hints[MAX_HINTS][256];
    size_t nhints;
    struct fl_dmarc_walk walk;
    struct fl_result result;
    struct fl_dmarc_report rep;
};

struct fl_dmarc *fl_dmarc_new(struct fl_dns *dns, const struct fl_config *cfg,
                              long long deadline_ms)
{
    struct fl_dmarc *d = fl_calloc(1, sizeof(*d));
    d->dns = dns;
    d->cfg = cfg;
    d->deadline_ms = deadline_ms;
    d->walk.dns = dns;
    d->walk.deadline_ms = deadline_ms;
    return d;
}

/* Lower-cases a domain into out (256 bytes), dropping one trailing dot.
   Returns false if it is empty, too long or not LDH (never aligned). */
static bool norm_domain(const char *in, char *out)
{
    size_t n = in ? strlen(in) : 0;
    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    return true;
}

/* Copies printable ASCII of s into dst (size), others as '?'. */
static void copy_ascii(char *dst, size_t size, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < size; s++)
        dst[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    dst[k] = '\0';
}

/* Labels two domains share at their right end. */
static size_t common_labels(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = 0;
    while (la > 0 && lb > 0 && a[la - 1] == b[lb - 1]) {
        la--;
        lb--;
        if (a[la] == '.')
            n++;
    }
    if ((la == 0 || a[la - 1] == '.') && (lb == 0 || b[lb - 1] == '.'))
        n++;
    return n;
}

static void start_hint(struct fl_dmarc *d, const char *h)
{
    /* Only a domain that may share the author's Organizational Domain can
       need its own walk (alignment of unrelated domains needs no query). */
    if (strcmp(h, d->author) != 0 && common_labels(h, d->author) >= 2)
        fl_dmarc_walk_start(&d->walk, h);
}

void fl_dmarc_hint(struct fl_dmarc *d, const char *domain)
{
    char dom[256];
    if (d->eom_done || d->nhints >= MAX_HINTS || !norm_domain(domain, dom))
        return;
    for (size_t i = 0; i < d->nhints; i++)
        if (strcmp(d->hints[i], dom) == 0)
            return;
    memcpy(d->hints[d->nhints++], dom, strlen(dom) + 1);
    if (d->eoh_done && d->from_status == FL_DMARC_FROM_OK)
        start_hint(d, dom);
}

void fl_dmarc_from_header(struct fl_dmarc *d, const char *value)
{
    if (d->eoh_done)
        return;
    if (d->nfrom < FL_DMARC_MAX_FROM_HEADERS) {
        size_t n = value ? strnlen(value, MAX_FROM_LEN + 1) : 0;
        if (n > MAX_FROM_LEN)
            d->from_too_long = true;
        d->from[d->nfrom] = fl_strndup(value ? value : "", n);
    }
    d->nfrom++;
}

void fl_dmarc_eoh(struct fl_dmarc *d)
{
    if (d->eoh_done)
        return;
    d->eoh_done = true;
    size_t stored = d->nfrom < FL_DMARC_MAX_FROM_HEADERS ? d->nfrom : FL_DMARC_MAX_FROM_HEADERS;
    d->from_status = fl_dmarc_from_parse((const char *const *)d->from, stored, d->author,
                                         sizeof(d->author), &d->rep.from_addresses,
                                         &d->from_why);
    if (d->nfrom > stored) {
        d->from_status = FL_DMARC_FROM_MULTIPLE;
        d->from_why = "more than one From header";
    } else if (d->from_too_long && d->from_status != FL_DMARC_FROM_MULTIPLE) {
        d->from_status = FL_DMARC_FROM_MISSING;
        d->from_why = "From header too long";
    }
    d->rep.from_headers = d->nfrom;
    if (d->from_status != FL_DMARC_FROM_OK)
        return;
    /* Everything the policy discovery can need, at once (RFC 9989 bounds
       the walk to 8 queries; see lib/dmarc/dmarc_walk.c). */
    fl_dmarc_walk_start(&d->walk, d->author);
    if (strlen(d->author) <= 253)
        d->exist_q = fl_dns_start(d->dns, d->author, FL_DNS_A, d->deadline_ms);
    for (size_t i = 0; i < d->nhints; i++)
        start_hint(d, d->hints[i]);
}

/* --- results ----------------------------------------------------------------- */

static void set_result(struct fl_dmarc *d, enum fl_res res, const char *code,
                       const char *reason, const char *detail, enum fl_fault fault)
{
    fl_result_init(&d->result, "dmarc", res);
    fl_result_set_reason(&d->result, code, reason, detail);
    d->result.fault = fault;
    d->rep.result = res;
}

static void permerror(struct fl_dmarc *d)
{
    const struct fl_config *cfg = d->cfg;
    const char *code = "dmarc.from_missing";
    bool reject = cfg->dmarc_from_missing_action == FL_REJECT;
    enum fl_fault fault = FL_FAULT_SENDER;
    const char *fix = "the sender must send exactly one From header with one address";
    if (d->from_status == FL_DMARC_FROM_MULTIPLE) {
        code = "dmarc.from_multiple";
        reject = cfg->dmarc_from_multiple_action == FL_REJECT;
    } else if (d->from_status == FL_DMARC_FROM_UNSUPPORTED) {
        /* Our gap (no A-label conversion), never the sender's fault. */
        code = "dmarc.from_unsupported";
        reject = false;
        fault = FL_FAULT_NONE;
        fix = "DMARC was not evaluated";
    }
    char detail[512];
    snprintf(detail, sizeof(detail), "%s (%s)", d->from_why ? d->from_why : "unusable From",
             fix);
    set_result(d, FL_RES_PERMERROR, code, d->from_why, detail, fault);
    d->result.action = reject ? FL_ACTION_REJECT : FL_ACTION_ACCEPT;
    copy_ascii(d->rep.header_from, sizeof(d->rep.header_from),
               d->from_status == FL_DMARC_FROM_MISSING ? "" : d->author);
}

static void temperror(struct fl_dmarc *d, const char *qname, enum fl_dns_status st)
{
    char reason[400], detail[1100];
    snprintf(reason, sizeof(reason), "DNS error for _dmarc.%s (%s)", qname,
             fl_dns_status_name(st));
    if (fl_dns_fault(d->dns, NULL) == FL_FAULT_SENDER) {
        snprintf(detail, sizeof(detail),
                 "the DMARC policy of %s could not be looked up: %s (the name servers of "
                 "_dmarc.%s must answer; a retry may succeed)",
                 d->author, reason, qname);
        set_result(d, FL_RES_TEMPERROR, "dmarc.dns_sender", reason, detail, FL_FAULT_SENDER);
    } else {
        snprintf(detail, sizeof(detail),
                 "our DNS resolver is not answering, so the DMARC policy of %s could not be "
                 "looked up (the receiving site must fix its resolver)",
                 d->author);
        set_result(d, FL_RES_TEMPERROR,
                   st == FL_DNS_TIMEOUT ? "dns.resolver_timeout" : "dns.resolver_down", reason,
                   detail, FL_FAULT_RECEIVER);
    }
    d->result.transient = true;
    d->result.action = d->cfg->dmarc_temperror_action == FL_ON_ERROR_TEMPFAIL
                           ? FL_ACTION_TEMPFAIL
                           : FL_ACTION_ACCEPT;
    fl_result_add_prop(&d->result, "header", "from", d->author);
}

static void none(struct fl_dmarc *d, const char *reason)
{
    set_result(d, FL_RES_NONE, NULL, reason, NULL, FL_FAULT_NONE);
    fl_result_add_prop(&d->result, "header", "from", d->author);
}

/* --- alignment --------------------------------------------------------------- */

struct alignment {
    char org[256];   /* the Author Domain's Organizational Domain */
    int org_rc;      /* 0 known, -1 DNS error, 1 not computed yet */
    const char *err; /* the name whose query failed */
    enum fl_dns_status err_status;
};

static void author_org(struct fl_dmarc *d, struct alignment *al)
{
    if (al->org_rc != 1)
        return;
    const struct fl_dmarc_name *err = NULL;
    al->org_rc = fl_dmarc_walk_org(&d->walk, d->author, al->org, NULL, &err);
    if (al->org_rc < 0) {
        al->err = err ? err->domain : d->author;
        al->err_status = err ? err->status : FL_DNS_LOCAL;
    } else {
        copy_ascii(d->rep.org_domain, sizeof(d->rep.org_domain), al->org);
    }
}

/* 1 aligned, 0 not, -1 unknown (a query the walk needed failed). */
static int aligned(struct fl_dmarc *d, struct alignment *al, const char *raw, bool strict)
{
    char id[256];
    if (!norm_domain(raw, id))
        return 0;
    if (strcmp(id, d->author) == 0)
        return 1;
    if (strict)
        return 0;
    author_org(d, al);
    if (al->org_rc < 0)
        return -1;
    /* Org(id) is id or one of its parents: outside org(author), no match. */
    if (!fl_dmarc_within(id, al->org))
        return 0;
    char org[256];
    const struct fl_dmarc_name *err = NULL;
    if (fl_dmarc_walk_org(&d->walk, id, org, NULL, &err) < 0) {
        if (al->err == NULL) {
            al->err = err ? err->domain : id;
            al->err_status = err ? err->status : FL_DNS_LOCAL;
        }
        return -1;
    }
    return strcmp(org, al->org) == 0;
}

/* Starts the walks alignment will read, so they run together. */
static void prefetch(struct fl_dmarc *d, struct alignment *al, const struct fl_dmarc_inputs *in,
                     const struct fl_dmarc_record *rec)
{
    char id[256];
    author_org(d, al);
    if (al->org_rc != 0)
        return;
    if (!rec->aspf_strict && in->spf_mailfrom && in->spf_mailfrom->result == FL_RES_PASS &&
        norm_domain(in->mail_from_domain, id) && strcmp(id, d->author) != 0 &&
        fl_dmarc_within(id, al->org))
        fl_dmarc_walk_start(&d->walk, id);
    for (size_t i = 0; !rec->adkim_strict && i < in->nsigs; i++)
        if (in->sigs[i].passed && norm_domain(in->sigs[i].domain, id) &&
            strcmp(id, d->author) != 0 && fl_dmarc_within(id, al->org))
            fl_dmarc_walk_start(&d->walk, id);
}

/* --- policy ------------------------------------------------------------------ */

/* 1 exists, 0 NXDOMAIN, -1 unknown (RFC 9989 "Non-existent Domains"). */
static int author_exists(struct fl_dmarc *d, const struct fl_dmarc_name *a0,
                         enum fl_dns_status *st_r)
{
    if (a0->kind == FL_DMARC_NAME_RECORD || a0->status == FL_DNS_NODATA)
        return 1; /* _dmarc.<author> exists, so the author does */
    if (d->exist_q == NULL)
        return 1;
    const struct fl_dns_answer *a = fl_dns_wait(d->exist_q);
    *st_r = a->status;
    switch (a->status) {
    case FL_DNS_NXDOMAIN:
        return 0;
    case FL_DNS_OK:
    case FL_DNS_NODATA:
        return 1;
    default:
        return -1;
    }
}

static enum fl_dmarc_policy less_strict(enum fl_dmarc_policy p)
{
    return p == FL_DMARC_POLICY_REJECT ? FL_DMARC_POLICY_QUARANTINE : FL_DMARC_POLICY_NONE;
}

/* Sets the override when an entry of dmarc_override_domains matches the
   author or an authenticated (passing) identifier. */
static bool override(struct fl_dmarc *d, const struct fl_dmarc_inputs *in)
{
    const struct fl_strlist *l = &d->cfg->dmarc_override_domains;
    for (size_t i = 0; i < l->count; i++) {
        char entry[256];
        const char *item = l->items[i];
        const char *colon = strchr(item, ':');
        size_t n = colon ? (size_t)(colon - item) : strlen(item);
        if (n >= sizeof(entry))
            continue;
        for (size_t k = 0; k < n; k++)
            entry[k] = (char)tolower((unsigned char)item[k]);
        entry[n] = '\0';
        const char *what = NULL;
        char id[256], via[300] = "";
        if (fl_dmarc_within(d->author, entry)) {
            what = "the From domain";
        } else if (in->spf_mailfrom && in->spf_mailfrom->result == FL_RES_PASS &&
                   norm_domain(in->mail_from_domain, id) && fl_dmarc_within(id, entry)) {
            snprintf(via, sizeof(via), "SPF-passed %s", id);
            what = via;
        } else {
            for (size_t s = 0; s < in->nsigs && what == NULL; s++) {
                if (in->sigs[s].passed && norm_domain(in->sigs[s].domain, id) &&
                    fl_dmarc_within(id, entry)) {
                    snprintf(via, sizeof(via), "DKIM-passed d=%s", id);
                    what = via;
                }
            }
        }
        if (what == NULL)
            continue;
        d->rep.override = fl_dmarc_override_types[0];
        for (size_t t = 0; colon && fl_dmarc_override_types[t]; t++)
            if (strcmp(colon + 1, fl_dmarc_override_types[t]) == 0)
                d->rep.override = fl_dmarc_override_types[t];
        snprintf(d->rep.override_comment, sizeof(d->rep.override_comment),
                 "dmarc_override_domains entry %s matched %s", entry, what);
        return true;
    }
    return false;
}

/* dmarc_arc_trusted_sealers: the chain passed and a set sealed by a
   trusted sealer says what that sealer saw -- dmarc=pass for the Author
   Domain, or spf=pass / dkim=pass for an identifier aligned with it
   (RFC 8617 7.2; RFC 9990 override trusted_forwarder). */
static bool arc_vouches(struct fl_dmarc *d, const struct fl_arc *arc, int i,
                        struct alignment *al, const struct fl_dmarc_record *rec,
                        char *what, size_t size)
{
    char v[256], id[256];
    if (fl_arc_aar_pass(arc, i, "dmarc", "header.from", 0, v, sizeof(v)) &&
        norm_domain(v, id) && strcmp(id, d->author) == 0) {
        snprintf(what, size, "dmarc=pass header.from=%s", id);
        return true;
    }
    if (fl_arc_aar_pass(arc, i, "spf", "smtp.mailfrom", 0, v, sizeof(v))) {
        const char *at = strrchr(v, '@');
        if (aligned(d, al, at ? at + 1 : v, rec->aspf_strict) == 1) {
            snprintf(what, size, "spf=pass smtp.mailfrom=%s", at ? at + 1 : v);
            return true;
        }
    }
    for (size_t k = 0; fl_arc_aar_pass(arc, i, "dkim", "header.d", k, v, sizeof(v)); k++)
        if (aligned(d, al, v, rec->adkim_strict) == 1) {
            snprintf(what, size, "dkim=pass header.d=%s", v);
            return true;
        }
    return false;
}

static bool arc_override(struct fl_dmarc *d, const struct fl_dmarc_inputs *in,
                         struct alignment *al, const struct fl_dmarc_record *rec)
{
    const struct fl_strlist *l = &d->cfg->dmarc_arc_trusted_sealers;
    if (in->arc == NULL || l->count == 0 || fl_arc_chain_result(in->arc) != FL_RES_PASS)
        return false;
    /* a set older than oldest-pass vouched for a message that a later
       hop changed (its AMS no longer verifies): it vouches for nothing */
    int oldest = fl_arc_oldest_pass(in->arc);
    for (int i = (int)fl_arc_nsets(in->arc); i >= 1 && (oldest == 0 || i >= oldest); i--) {
        char sealer[256], entry[256], what[320];
        if (!norm_domain(fl_arc_set(in->arc, i)->sealer, sealer))
            continue;
        bool trusted = false;
        for (size_t k = 0; k < l->count && !trusted; k++)
            trusted = norm_domain(l->items[k], entry) && fl_dmarc_within(sealer, entry);
        if (!trusted || !arc_vouches(d, in->arc, i, al, rec, what, sizeof(what)))
            continue;
        d->rep.override = "trusted_forwarder";
        struct fl_buf c;
        fl_buf_init(&c);
        fl_buf_printf(&c, "arc=pass; ARC set i=%d sealed by %s (dmarc_arc_trusted_sealers) saw %s",
                      i, sealer, what);
        copy_ascii(d->rep.override_comment, sizeof(d->rep.override_comment), c.data);
        fl_buf_free(&c);
        d->arc_overridden = true;
        return true;
    }
    return false;
}

static void local_override(struct fl_dmarc *d, const char *setting)
{
    if (d->rep.override != NULL)
        return;
    d->rep.override = "local_policy";
    snprintf(d->rep.override_comment, sizeof(d->rep.override_comment), "%s", setting);
}

/* The disposition the operator applies (dmarc_reject_action,
   dmarc_quarantine_action); evaluate() turns it into the action. */
static void act(struct fl_dmarc *d)
{
    struct fl_dmarc_report *r = &d->rep;
    const struct fl_config *cfg = d->cfg;
    if (r->disposition == FL_DMARC_POLICY_REJECT) {
        if (cfg->dmarc_reject_action == FL_DMARC_REJECT_HONOUR)
            return;
        bool q = cfg->dmarc_reject_action == FL_DMARC_REJECT_QUARANTINE;
        r->disposition = q ? FL_DMARC_POLICY_QUARANTINE : FL_DMARC_POLICY_NONE;
        local_override(d, q ? "dmarc_reject_action = quarantine" : "dmarc_reject_action = mark");
    }
    if (r->disposition == FL_DMARC_POLICY_QUARANTINE) {
        switch (cfg->dmarc_quarantine_action) {
        case FL_DMARC_QUARANTINE_HOLD:
            break;
        case FL_DMARC_QUARANTINE_HEADER:
            r->add_header = true;
            copy_ascii(r->header_name, sizeof(r->header_name), cfg->dmarc_quarantine_header);
            snprintf(r->header_value, sizeof(r->header_value),
                     "dmarc=fail header.from=%s policy.dmarc=quarantine", r->header_from);
            break;
        default:
            r->disposition = FL_DMARC_POLICY_NONE;
            local_override(d, "dmarc_quarantine_action = mark");
            break;
        }
    }
}

/* What the domain published and what was done, as large receivers write
   it in Authentication-Results: published-domain-policy (p),
   published-subdomain-policy (sp, when published), evaluated-disposition
   (DMARC's own answer, t=y applied), applied-disposition (after overrides
   and local policy), policy-from (which tag applied) and policy-domain
   (where the tree walk found the record). */
static void policy_props(struct fl_result *res, const struct fl_dmarc_report *r,
                         const struct fl_dmarc_record *rec, enum fl_dmarc_policy evaluated)
{
    fl_result_add_prop(res, "policy", "published-domain-policy",
                       fl_dmarc_policy_name(rec->p != FL_DMARC_POLICY_ABSENT
                                                ? rec->p
                                                : FL_DMARC_POLICY_NONE));
    if (rec->sp != FL_DMARC_POLICY_ABSENT)
        fl_result_add_prop(res, "policy", "published-subdomain-policy",
                           fl_dmarc_policy_name(rec->sp));
    fl_result_add_prop(res, "policy", "applied-disposition",
                       fl_dmarc_policy_name(r->disposition));
    fl_result_add_prop(res, "policy", "evaluated-disposition", fl_dmarc_policy_name(evaluated));
    if (r->policy_tag != NULL)
        fl_result_add_prop(res, "policy", "policy-from", r->policy_tag);
    if (r->policy_domain[0] != '\0')
        fl_result_add_prop(res, "policy", "policy-domain", r->policy_domain);
}

/* The reason= text: what aligned, or why nothing did. */
static void explain(struct fl_dmarc *d, const struct fl_dmarc_inputs *in, int spf_al,
                    const int *dkim_al, struct fl_buf *out)
{
    const char *A = d->author;
    const struct fl_dmarc_report *r = &d->rep;
    bool pass = r->result == FL_RES_PASS;
    bool spf_pass = in->spf_mailfrom && in->spf_mailfrom->result == FL_RES_PASS;
    size_t start = out->len;
    for (size_t i = 0; i < in->nsigs; i++) {
        if (dkim_al[i] == 1 && in->sigs[i].passed) {
            char id[256];
            copy_ascii(id, sizeof(id), in->sigs[i].domain);
            fl_buf_printf(out, "%sDKIM passed for %s, aligned with %s",
                          out->len > start ? "; " : "", id, A);
            if (pass)
                break;
        }
    }
    if (spf_pass && spf_al == 1)
        fl_buf_printf(out, "%sSPF passed for %s, aligned with %s", out->len > start ? "; " : "",
                      r->spf_domain, A);
    if (pass)
        return;
    /* Why nothing aligned: SPF first, then DKIM. */
    if (in->spf_mailfrom == NULL)
        fl_buf_puts(out, "no SPF result");
    else if (!spf_pass)
        fl_buf_printf(out, "SPF %s for %s", fl_res_name(in->spf_mailfrom->result),
                      r->spf_domain[0] ? r->spf_domain : "the MAIL FROM");
    else
        fl_buf_printf(out, "SPF passed for %s, %s with %s%s", r->spf_domain,
                      spf_al < 0 ? "alignment unknown" : "not aligned", A,
                      r->record.aspf_strict && spf_al == 0 ? " (strict)" : "");
    bool listed = false, of_author = false;
    for (size_t i = 0; i < in->nsigs; i++) {
        if (!in->sigs[i].passed)
            continue;
        char id[256];
        copy_ascii(id, sizeof(id), in->sigs[i].domain);
        fl_buf_printf(out, "%s%s", listed ? ", " : "; DKIM passed for ", id);
        listed = true;
    }
    if (listed)
        fl_buf_printf(out, ", not aligned with %s%s", A,
                      r->record.adkim_strict ? " (strict)" : "");
    for (size_t i = 0; i < in->nsigs; i++) {
        char id[256];
        if (in->sigs[i].passed || !norm_domain(in->sigs[i].domain, id) ||
            strcmp(id, A) != 0)
            continue;
        fl_buf_printf(out, "; DKIM signature of %s %s", A, fl_res_name(in->sigs[i].result));
        of_author = true;
        break;
    }
    if (!listed && !of_author)
        fl_buf_printf(out, "; no %sDKIM signature of %s", in->nsigs ? "valid " : "", A);
}

static void fill_inputs(struct fl_dmarc *d, const struct fl_dmarc_inputs *in)
{
    struct fl_dmarc_report *r = &d->rep;
    copy_ascii(r->envelope_from, sizeof(r->envelope_from), in->mail_from_domain);
    r->ndkim = in->nsigs < FL_DMARC_MAX_DKIM ? in->nsigs : FL_DMARC_MAX_DKIM;
    for (size_t i = 0; i < r->ndkim; i++) {
        copy_ascii(r->dkim[i].domain, sizeof(r->dkim[i].domain), in->sigs[i].domain);
        copy_ascii(r->dkim[i].selector, sizeof(r->dkim[i].selector), in->sigs[i].selector);
        r->dkim[i].result = in->sigs[i].result;
    }
    if (in->spf_mailfrom != NULL) {
        copy_ascii(r->spf_domain, sizeof(r->spf_domain), in->mail_from_domain);
        r->spf_result = in->spf_mailfrom->result;
        r->spf_scope = "mfrom";
    }
}

/* Policy discovery (RFC 9989 "DMARC Policy Discovery").  Returns the
   record to apply, or NULL after setting the result (none or temperror). */
static const struct fl_dmarc_record *discover(struct fl_dmarc *d, struct alignment *al,
                                              const struct fl_dmarc_name **a0_r)
{
    struct fl_dmarc_report *r = &d->rep;
    const struct fl_dmarc_name *a0 = fl_dmarc_walk_get(&d->walk, d->author);
    *a0_r = a0;
    if (a0 == NULL || a0->kind == FL_DMARC_NAME_ERROR) {
        temperror(d, d->author, a0 ? a0->status : FL_DNS_LOCAL);
        return NULL;
    }
    if (a0->kind == FL_DMARC_NAME_RECORD) {
        r->source = FL_DMARC_SOURCE_AUTHOR;
        copy_ascii(r->policy_domain, sizeof(r->policy_domain), d->author);
        r->walk_step = 1;
        return &a0->rec;
    }
    const struct fl_dmarc_name *psd = NULL, *err = NULL;
    al->org_rc = fl_dmarc_walk_org(&d->walk, d->author, al->org, &psd, &err);
    if (al->org_rc < 0) {
        temperror(d, err ? err->domain : d->author, err ? err->status : FL_DNS_LOCAL);
        return NULL;
    }
    copy_ascii(r->org_domain, sizeof(r->org_domain), al->org);
    const struct fl_dmarc_name *org = NULL;
    if (fl_dmarc_walk_step(d->author, al->org) > 1) /* queried in this walk */
        org = fl_dmarc_walk_get(&d->walk, al->org);
    const struct fl_dmarc_name *use = NULL;
    if (org != NULL && org->kind == FL_DMARC_NAME_RECORD) {
        r->source = FL_DMARC_SOURCE_ORG;
        use = org;
    } else if (psd != NULL) {
        r->source = FL_DMARC_SOURCE_PSD;
        use = psd;
    } else {
        char reason[300];
        snprintf(reason, sizeof(reason), "no DMARC record for %s", d->author);
        none(d, reason);
        return NULL;
    }
    copy_ascii(r->policy_domain, sizeof(r->policy_domain), use->domain);
    r->walk_step = fl_dmarc_walk_step(d->author, use->domain);
    return &use->rec;
}

static void evaluate(struct fl_dmarc *d, const struct fl_dmarc_inputs *in)
{
    struct fl_dmarc_report *r = &d->rep;
    struct alignment al = {.org_rc = 1};
    fill_inputs(d, in);
    r->author_exists = true;
    r->policy = r->disposition = FL_DMARC_POLICY_ABSENT;
    if (d->from_status != FL_DMARC_FROM_OK) {
        permerror(d);
        return;
    }
    copy_ascii(r->header_from, sizeof(r->header_from), d->author);
    const struct fl_dmarc_name *a0;
    const struct fl_dmarc_record *rec = discover(d, &al, &a0);
    if (rec == NULL)
        return;
    r->record_found = true;
    r->record = *rec;
    /* Which tag applies, and the rule for invalid p, sp or np. */
    if (rec->p == FL_DMARC_POLICY_ABSENT || rec->sp_invalid || rec->np_invalid) {
        if (!rec->rua_valid) {
            char reason[400];
            snprintf(reason, sizeof(reason),
                     "DMARC record at _dmarc.%s has no valid p=%s and no rua=: not applied",
                     r->policy_domain, rec->sp_invalid || rec->np_invalid ? " (or sp=/np=)" : "");
            r->record_found = false;
            none(d, reason);
            return;
        }
        r->policy = FL_DMARC_POLICY_NONE; /* RFC 9989: act as if p=none */
        r->policy_tag = "p";
    } else if (r->source == FL_DMARC_SOURCE_AUTHOR) {
        r->policy = rec->p;
        r->policy_tag = "p";
    } else {
        enum fl_dns_status st = FL_DNS_LOCAL;
        int ex = rec->np != FL_DMARC_POLICY_ABSENT ? author_exists(d, a0, &st) : 1;
        if (ex < 0) {
            temperror(d, d->author, st);
            return;
        }
        r->author_exists = ex == 1;
        if (ex == 0) {
            r->policy = rec->np;
            r->policy_tag = "np";
        } else if (rec->sp != FL_DMARC_POLICY_ABSENT) {
            r->policy = rec->sp;
            r->policy_tag = "sp";
        } else {
            r->policy = rec->p;
            r->policy_tag = "p";
        }
    }
    /* Alignment of every Authenticated Identifier (all of them: the
       aggregate report wants each mechanism's aligned result). */
    prefetch(d, &al, in, rec);
    int spf_al = 0, any = 0, unknown = 0;
    int *dkim_al = fl_calloc(in->nsigs + 1, sizeof(int));
    if (in->spf_mailfrom && in->spf_mailfrom->result == FL_RES_PASS)
        spf_al = aligned(d, &al, in->mail_from_domain, rec->aspf_strict);
    r->spf_aligned = spf_al == 1;
    any |= spf_al == 1;
    unknown |= spf_al < 0;
    for (size_t i = 0; i < in->nsigs; i++) {
        if (in->sigs[i].passed)
            dkim_al[i] = aligned(d, &al, in->sigs[i].domain, rec->adkim_strict);
        if (i < FL_DMARC_MAX_DKIM)
            r->dkim[i].aligned = dkim_al[i] == 1;
        r->dkim_aligned |= dkim_al[i] == 1;
        any |= dkim_al[i] == 1;
        unknown |= dkim_al[i] < 0;
    }
    if (!any && unknown) {
        free(dkim_al);
        temperror(d, al.err ? al.err : d->author, al.err_status);
        return;
    }
    r->result = any ? FL_RES_PASS : FL_RES_FAIL;
    struct fl_buf reason;
    fl_buf_init(&reason);
    explain(d, in, spf_al, dkim_al, &reason);
    free(dkim_al);
    char detail[700] = "";
    const char *code = NULL;
    r->disposition = FL_DMARC_POLICY_NONE;
    enum fl_dmarc_policy evaluated = FL_DMARC_POLICY_NONE;
    if (r->result == FL_RES_FAIL) {
        r->disposition = r->policy;
        if (rec->testing) /* t=y: the next less strict policy */
            r->disposition = less_strict(r->disposition);
        evaluated = r->disposition;
        if (r->disposition != FL_DMARC_POLICY_NONE &&
            (override(d, in) || arc_override(d, in, &al, rec)))
            r->disposition = FL_DMARC_POLICY_NONE;
        act(d);
        code = r->disposition == FL_DMARC_POLICY_REJECT       ? "dmarc.reject"
               : r->disposition == FL_DMARC_POLICY_QUARANTINE ? "dmarc.quarantine"
                                                              : "dmarc.fail";
        snprintf(detail, sizeof(detail), "%s (%s=%s%s): %s", d->author, r->policy_tag,
                 fl_dmarc_policy_name(r->policy), rec->testing ? ", t=y" : "", reason.data);
    }
    set_result(d, r->result, code, reason.data, detail[0] ? detail : NULL,
               r->result == FL_RES_FAIL ? FL_FAULT_SENDER : FL_FAULT_NONE);
    fl_buf_free(&reason);
    if (r->disposition == FL_DMARC_POLICY_REJECT)
        d->result.action = FL_ACTION_REJECT;
    else if (r->disposition == FL_DMARC_POLICY_QUARANTINE &&
             d->cfg->dmarc_quarantine_action == FL_DMARC_QUARANTINE_HOLD)
        d->result.action = FL_ACTION_QUARANTINE;
    fl_result_add_prop(&d->result, "header", "from", d->author);
    fl_result_add_prop(&d->result, "policy", "dmarc", fl_dmarc_policy_name(r->disposition));
    policy_props(&d->result, r, rec, evaluated);
    if (d->arc_overridden)
        fl_result_add_prop(&d->result, "policy", "override", "arc");
}

int fl_dmarc_eom(struct fl_dmarc *d, const struct fl_dmarc_inputs *in, struct fl_result *out)
{
    static const struct fl_dmarc_inputs no_inputs = {0};
    if (!d->eom_done) {
        fl_dmarc_eoh(d);
        d->eom_done = true;
        evaluate(d, in ? in : &no_inputs);
        d->rep.dns_queries = d->walk.queries + (d->exist_q ? 1 : 0);
        fl_dmarc_walk_free(&d->walk);
        fl_dns_query_free(&d->exist_q);
    }
    fl_result_copy(out, &d->result);
    return 0;
}

const struct fl_dmarc_report *fl_dmarc_report(const struct fl_dmarc *d)
{
    return &d->rep;
}

bool fl_dmarc_wanted(const struct fl_config *cfg, bool trusted_client, bool authenticated)
{
    if (!cfg->dmarc_enable)
        return false;
    if (trusted_client && cfg->dmarc_skip_trusted)
        return false;
    return !(authenticated && cfg->dmarc_skip_authenticated);
}

void fl_dmarc_free(struct fl_dmarc **dp)
{
    if (dp == NULL || *dp == NULL)
        return;
    struct fl_dmarc *d = *dp;
    fl_dmarc_walk_free(&d->walk);
    fl_dns_query_free(&d->exist_q);
    size_t stored = d->nfrom < FL_DMARC_MAX_FROM_HEADERS ? d->nfrom : FL_DMARC_MAX_FROM_HEADERS;
    for (size_t i = 0; i < stored; i++)
        free(d->from[i]);
    if (d->eom_done)
        fl_result_clear(&d->result);
    free(d);
    *dp = NULL;
}
