/* dnsbl_result: turns the scored rows of a connection's lists into its
   outcome (see dnsbl.h): the "dnsbl" result with its props, reason and
   one-sentence detail, the RFC 8904 "dnswl" result, the reject reply and
   the log breakdown.  Attribution: a listing is the sender's to fix
   (fault=sender); an error code, a timeout or a SERVFAIL of a list is
   ours (fault=receiver), and never scores. */
#include "lib/lists/dnsbl_impl.h"
#include "lib/core/json_out.h"
#include "lib/core/verdict.h"
#include "lib/core/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fl_dnsbl_clear_outcome(struct fl_dnsbl *bl)
{
    if (bl->have_outcome) {
        fl_result_clear(&bl->out.result);
        if (bl->out.has_dnswl)
            fl_result_clear(&bl->out.dnswl);
    }
    for (size_t i = 0; bl->evals != NULL && i < bl->out.nchecks; i++) {
        free(bl->evals[i].answers);
        free(bl->evals[i].txt);
        free(bl->evals[i].error_addr);
    }
    free(bl->checks);
    free(bl->evals);
    free(bl->reply_text);
    bl->checks = NULL;
    bl->evals = NULL;
    bl->reply_text = NULL;
    memset(&bl->out, 0, sizeof(bl->out));
    bl->have_outcome = false;
}

static const char *identity_phrase(unsigned int ids)
{
    if (ids & FL_DNSBL_ID_MAILFROM)
        return "the MAIL FROM domain";
    if (ids & FL_DNSBL_ID_FROM)
        return "the From header domain";
    if (ids & FL_DNSBL_ID_HELO)
        return "the HELO name";
    return "the client's host name";
}

/* "zen.example" or "dbl.example/mailfrom+helo". */
static void check_key(struct fl_buf *out, const struct fl_dnsbl_check *c)
{
    fl_buf_puts(out, c->zone);
    if (!c->domain_list)
        return;
    const char *sep = "/";
    for (unsigned int bit = FL_DNSBL_ID_MAILFROM; bit <= FL_DNSBL_ID_PTR; bit <<= 1) {
        if (c->identities & bit) {
            fl_buf_printf(out, "%s%s", sep,
                          fl_dnsbl_identity_name((enum fl_dnsbl_identity)bit));
            sep = "+";
        }
    }
}

static void lower_status(struct fl_buf *out, enum fl_dns_status s)
{
    for (const char *p = fl_dns_status_name(s); *p; p++)
        fl_buf_putc(out, (char)tolower((unsigned char)*p));
}

/* "zen.example=127.0.0.2+127.0.0.4*3", "wl.example=nxdomain*0",
   "bad.example=error:127.255.255.254*0", "slow.example=timeout*0". */
static void check_value(struct fl_buf *out, const struct fl_dnsbl_check *c)
{
    check_key(out, c);
    fl_buf_putc(out, '=');
    switch (c->status) {
    case FL_DNSBL_LISTED:
    case FL_DNSBL_NOT_LISTED:
        if (*c->answers) {
            for (const char *p = c->answers; *p; p++)
                fl_buf_putc(out, *p == ' ' ? '+' : *p);
        } else {
            lower_status(out, c->dns_status);
        }
        break;
    case FL_DNSBL_ERROR_CODE:
        fl_buf_printf(out, "error:%s", c->error_answer ? c->error_answer : "?");
        break;
    case FL_DNSBL_UNAVAILABLE:
        lower_status(out, c->dns_status);
        break;
    case FL_DNSBL_DISABLED:
        fl_buf_puts(out, "disabled");
        break;
    }
    fl_buf_printf(out, "*%d", c->weight);
}

static bool is_failure(const struct fl_dnsbl_check *c)
{
    return c->status == FL_DNSBL_ERROR_CODE || c->status == FL_DNSBL_UNAVAILABLE;
}

/* The sentence for a failed list, naming who fixes it. */
static void failure_sentence(struct fl_buf *out, const struct fl_dnsbl_check *c,
                             int probe_ok)
{
    if (c->status == FL_DNSBL_ERROR_CODE) {
        fl_buf_printf(out, "list %s answered %s: %s; the list was ignored", c->zone,
                      c->error_answer ? c->error_answer : "?", c->error);
        return;
    }
    fl_buf_printf(out, "list %s did not answer (", c->zone);
    lower_status(out, c->dns_status);
    if (probe_ok == 1)
        fl_buf_puts(out,
                    ") while our resolver answers other names: the list's servers are "
                    "down or refuse us; the list was ignored");
    else if (probe_ok == 0)
        fl_buf_puts(out,
                    ") and our resolver does not answer other names either: fix our DNS "
                    "resolver; the list was ignored");
    else
        fl_buf_puts(out, "); the list was ignored");
}

/* The subject of a listing: "192.0.2.7" or "the MAIL FROM domain x.example". */
static void subject(struct fl_buf *out, const struct fl_dnsbl_check *c)
{
    if (c->domain_list)
        fl_buf_printf(out, "%s ", identity_phrase(c->identities));
    fl_buf_puts(out, c->name);
}

/* A listing that added to the score (observed: to the observed score). */
static bool counts(const struct fl_dnsbl_check *c, bool observed)
{
    return c->status == FL_DNSBL_LISTED &&
           (observed ? c->weight + c->observe_weight : c->weight) > 0;
}

static bool same_subject(const struct fl_dnsbl_check *a, const struct fl_dnsbl_check *b)
{
    return a->domain_list == b->domain_list && strcmp(a->name, b->name) == 0;
}

/* Names every list that counted, grouped by the name it listed, top's
   group first: "192.0.2.7 is listed on zen.example and bl2.example; the
   MAIL FROM domain spam.example is listed on dbl.example: the sender must
   get them delisted (zen.example: TXT)".  The TXT comes last, so a cut
   reply loses it before it loses a list. */
static void listed_sentence(struct fl_buf *out, const struct fl_dnsbl_outcome *o,
                            const struct fl_dnsbl_check *top, bool observed)
{
    size_t n = o->nchecks, groups = 0;
    bool any_domain = false;
    bool *done = fl_calloc(n + 1, sizeof(*done));
    const struct fl_dnsbl_check *lead = top;
    while (lead != NULL) {
        size_t total = 0, members = 0;
        for (size_t i = 0; i < n; i++)
            total += !done[i] && counts(&o->checks[i], observed) &&
                     same_subject(&o->checks[i], lead);
        fl_buf_puts(out, groups ? "; " : "");
        subject(out, lead);
        fl_buf_puts(out, " is listed on ");
        any_domain |= lead->domain_list;
        /* the lead first, then the others of its group in order */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < n; i++) {
                const struct fl_dnsbl_check *c = &o->checks[i];
                if (done[i] || !counts(c, observed) || !same_subject(c, lead) ||
                    (pass == 0) != (c == lead))
                    continue;
                done[i] = true;
                members++;
                fl_buf_printf(out, "%s%s",
                              members == 1       ? ""
                              : members == total ? " and "
                                                 : ", ",
                              c->zone);
            }
        }
        groups++;
        /* the next group: its strongest list */
        lead = NULL;
        for (size_t i = 0; i < n; i++)
            if (!done[i] && counts(&o->checks[i], observed) &&
                (lead == NULL || o->checks[i].weight + o->checks[i].observe_weight >
                                     lead->weight + lead->observe_weight))
                lead = &o->checks[i];
    }
    free(done);
    fl_buf_printf(out, ": the sender%s must get %s delisted", any_domain ? "" : "'s provider",
                  groups > 1 ? "them" : "it");
    if (top->txt != NULL)
        fl_buf_printf(out, " (%s: %s)", top->zone, top->txt);
}

/* The verdict record's "lists": every list asked, with the name it was
   asked about, its answer and the weight it added. */
static void member(struct fl_json_out *j, const char *key, const char *s)
{
    fl_json_key(j, key);
    fl_json_str(j, s);
}

static void lists_json(struct fl_result *r, const struct fl_dnsbl_outcome *o)
{
    struct fl_buf text, scratch;
    fl_buf_init(&text);
    fl_buf_init(&scratch);
    struct fl_json_out j;
    fl_json_out_init(&j, &text);
    fl_json_begin(&j, '{');
    fl_json_key(&j, "score");
    fl_json_int(&j, o->score);
    fl_json_key(&j, "threshold");
    fl_json_int(&j, o->threshold);
    fl_json_key(&j, "allow_threshold");
    fl_json_int(&j, o->allow_threshold);
    if (o->observe_score != o->score || o->would_list) {
        fl_json_key(&j, "observe_score");
        fl_json_int(&j, o->observe_score);
    }
    fl_json_key(&j, "lists");
    fl_json_begin(&j, '[');
    for (size_t i = 0; i < o->nchecks; i++) {
        const struct fl_dnsbl_check *c = &o->checks[i];
        fl_json_begin(&j, '{');
        member(&j, "list", c->zone);
        member(&j, "kind", c->domain_list ? "domain" : "ip");
        fl_json_key(&j, "identities");
        fl_json_begin(&j, '[');
        for (unsigned int bit = FL_DNSBL_ID_CLIENT; bit <= FL_DNSBL_ID_PTR; bit <<= 1)
            if (c->identities & bit)
                fl_json_str(&j, fl_dnsbl_identity_name((enum fl_dnsbl_identity)bit));
        fl_json_end(&j, ']');
        member(&j, "name", c->name);
        member(&j, "status", fl_dnsbl_status_name(c->status));
        fl_buf_reset(&scratch);
        if (c->status == FL_DNSBL_DISABLED)
            fl_buf_puts(&scratch, "not_asked");
        else
            lower_status(&scratch, c->dns_status);
        member(&j, "dns", scratch.data ? scratch.data : "");
        fl_json_key(&j, "answers");
        fl_json_begin(&j, '[');
        for (const char *p = c->answers ? c->answers : ""; *p;) {
            size_t len = strcspn(p, " ");
            if (len > 0 && strncmp(p, "...", len) != 0) {
                fl_buf_reset(&scratch);
                fl_buf_append(&scratch, p, len);
                fl_json_str(&j, scratch.data);
            }
            p += len;
            p += *p == ' ';
        }
        fl_json_end(&j, ']');
        fl_json_key(&j, "weight");
        fl_json_int(&j, c->weight);
        if (c->observed) {
            fl_json_key(&j, "observe");
            fl_json_bool(&j, true);
            fl_json_key(&j, "observe_weight");
            fl_json_int(&j, c->observe_weight);
        }
        if (c->error_answer != NULL) {
            member(&j, "error_code", c->error_answer);
            member(&j, "error", c->error ? c->error : "");
        }
        if (c->txt != NULL)
            member(&j, "txt", c->txt);
        fl_json_key(&j, "ms");
        fl_json_int(&j, c->ms);
        fl_json_end(&j, '}');
    }
    fl_json_end(&j, ']');
    fl_json_end(&j, '}');
    fl_result_set_record_json(r, text.data);
    fl_buf_free(&scratch);
    fl_buf_free(&text);
}

/* RFC 8904: the allow list that weighed most, as its own result. */
static void build_dnswl(struct fl_dnsbl *bl)
{
    const struct fl_dnsbl_outcome *o = &bl->out;
    size_t best = o->nchecks;
    for (size_t i = 0; i < o->nchecks; i++) {
        const struct fl_dnsbl_check *c = &o->checks[i];
        if (c->status == FL_DNSBL_LISTED && !c->domain_list && c->weight < 0 &&
            (best == o->nchecks || c->weight < o->checks[best].weight))
            best = i;
    }
    if (best == o->nchecks)
        return;
    const struct fl_dnsbl_check *c = &o->checks[best];
    struct fl_result *r = &bl->out.dnswl;
    bl->out.has_dnswl = true;
    fl_result_init(r, "dnswl", FL_RES_PASS);
    fl_result_add_prop(r, "dns", "zone", c->zone);
    char first[INET_ADDRSTRLEN + 1];
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(c->answers, " "), c->answers);
    fl_result_add_prop(r, "policy", "ip", first);
    if (c->txt != NULL)
        fl_result_add_prop(r, "policy", "txt", c->txt);
    const char *sec = !bl->lists->validating                       ? "na"
                      : bl->evals[best].dnssec == FL_DNSSEC_SECURE ? "yes"
                                                                   : "no";
    fl_result_add_prop(r, "dns", "sec", sec);
}

void fl_dnsbl_build_outcome(struct fl_dnsbl *bl, int probe_ok)
{
    const struct fl_dnsbl_lists *lists = bl->lists;
    struct fl_dnsbl_outcome *o = &bl->out;
    size_t asked = 0, failed = 0, unavailable = 0, first_fail = o->nchecks;
    const struct fl_dnsbl_check *top = NULL, *allow = NULL, *top_obs = NULL;
    for (size_t i = 0; i < o->nchecks; i++) {
        const struct fl_dnsbl_check *c = &o->checks[i];
        if (c->status == FL_DNSBL_DISABLED)
            continue;
        asked++;
        if (is_failure(c)) {
            failed++;
            unavailable += c->status == FL_DNSBL_UNAVAILABLE;
            if (first_fail == o->nchecks)
                first_fail = i;
        }
        if (c->status == FL_DNSBL_LISTED && c->weight > 0) {
            if (top == NULL || c->weight > top->weight)
                top = c;
        }
        if (counts(c, true) && (top_obs == NULL || c->weight + c->observe_weight >
                                                       top_obs->weight + top_obs->observe_weight))
            top_obs = c;
        if (c->status == FL_DNSBL_LISTED && c->weight < 0 &&
            (allow == NULL || c->weight < allow->weight))
            allow = c;
    }
    o->listed = top != NULL && o->score >= lists->threshold;
    o->allow_listed = !o->listed && o->score <= lists->allow_threshold;
    o->would_list = !o->listed && top_obs != NULL && o->observe_score >= lists->threshold;
    o->reject_at_eom = lists->reject_at_eom;
    o->threshold = lists->threshold;
    o->allow_threshold = lists->allow_threshold;
    enum fl_res res = asked > 0 && failed == asked ? FL_RES_TEMPERROR
                      : o->listed || o->would_list ? FL_RES_FAIL
                      : o->allow_listed            ? FL_RES_PASS
                                                   : FL_RES_NONE;
    struct fl_result *r = &o->result;
    fl_result_init(r, "dnsbl", res);
    r->in_header = false; /* RFC 8601 registers no dnsbl method */
    struct fl_buf text;
    fl_buf_init(&text);
    if (o->listed) {
        listed_sentence(&text, o, top, false);
        fl_result_set_reason(r, top->domain_list ? "dnsbl.domain_listed" : "dnsbl.listed",
                             "listed", text.data);
        r->fault = FL_FAULT_SENDER;
        r->action = FL_ACTION_REJECT;
    } else if (o->would_list) {
        /* observe mode: decided and recorded, then not applied (below) */
        listed_sentence(&text, o, top_obs, true);
        fl_result_set_reason(r,
                             top_obs->domain_list ? "dnsbl.domain_listed" : "dnsbl.listed",
                             "listed (observe mode)", text.data);
        r->fault = FL_FAULT_SENDER;
        r->action = FL_ACTION_REJECT;
    } else if (failed > 0) {
        failure_sentence(&text, &o->checks[first_fail], probe_ok);
        if (failed > 1)
            fl_buf_printf(&text, " (%zu other lists failed too)", failed - 1);
        const char *code = unavailable == 0 ? "dnsbl.error_code"
                           : probe_ok == 0  ? "dns.resolver_down"
                                            : "dnsbl.list_unavailable";
        fl_result_set_reason(
            r, code, unavailable ? "list unavailable" : "list error code", text.data);
        r->fault = FL_FAULT_RECEIVER;
        r->transient = unavailable > 0;
    } else if (o->allow_listed && allow != NULL) {
        fl_buf_printf(&text,
                      "%s is allow-listed by %s (score %d, at most %d): trusted for "
                      "greylisting and reporting",
                      allow->name, allow->zone, o->score, lists->allow_threshold);
        fl_result_set_reason(r, NULL, "allow-listed", text.data);
    }
    if (bl->has_ip)
        fl_result_add_prop(r, "policy", "ip", bl->ip);
    char score[32];
    snprintf(score, sizeof(score), "%d", o->score);
    fl_result_add_prop(r, "policy", "score", score);
    lists_json(r, o);
    if (o->listed || o->would_list) {
        /* The reply the verdict writes for this result. */
        struct fl_buf reply;
        fl_buf_init(&reply);
        fl_verdict_reply_text(&reply, r->reason_code, r->detail, FL_FAULT_SENDER);
        bl->reply_text = fl_buf_steal(&reply);
        fl_buf_free(&reply);
        if (o->listed) {
            o->reply_code = lists->reply_code;
            o->reply_dsn = "5.7.1";
            o->reply_text = bl->reply_text;
        } else {
            fl_result_observe(r, lists->reply_code, "5.7.1", bl->reply_text);
        }
    }
    fl_buf_free(&text);
    build_dnswl(bl);
}

void fl_dnsbl_describe(const struct fl_dnsbl_outcome *o, struct fl_buf *out)
{
    fl_buf_printf(out, "score=%d threshold=%d allow=%d", o->score, o->threshold,
                  o->allow_threshold);
    for (size_t i = 0; i < o->nchecks; i++) {
        fl_buf_putc(out, ' ');
        check_value(out, &o->checks[i]);
    }
}
