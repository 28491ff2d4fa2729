/* ctl_why: `faultlinectl why ID` -- one message explained for a helpdesk.

   ID is a queue id (4QxYz1Abc), a Message-ID (<...>), or an address (the
   envelope sender or a recipient; narrow it with --since/--until).  The
   matching verdict records (milter/ctl_vlog.c: current and rotated logs,
   .gz too) are explained in plain sentences a helpdesk can paste to a
   sender: the decision and SMTP reply, whose side must act and what to
   fix, then every check with its result, side, fix and DNS evidence
   (which record or list, which answer).  --json gives the same as one
   JSON object.  The explanation is built once as JSON and the text is
   rendered from it, so the two never disagree.  Single-threaded. */
#include "milter/cli.h"
#include "milter/ctl.h"
#include "milter/ctl_vlog.h"
#include "lib/core/xalloc.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX 20

enum id_kind { ID_QUEUE, ID_MSGID, ID_ADDRESS };

struct why {
    enum id_kind kind;
    const char *id;
    char msgid[1024]; /* "<...>" form of a Message-ID or address */
    size_t max, found;
    json_t *matches;
};

/* --- matching ------------------------------------------------------------- */

static bool matches(const struct why *w, const struct fl_cj *cj, const struct fl_cj_node *r)
{
    const char *mid = fl_cj_gets(cj, r, "message_id");
    switch (w->kind) {
    case ID_QUEUE: {
        const char *q = fl_cj_gets(cj, r, "queue_id");
        return q != NULL && strcmp(q, w->id) == 0;
    }
    case ID_MSGID:
        return mid != NULL && strcmp(mid, w->msgid) == 0;
    case ID_ADDRESS: {
        const char *from = fl_cj_gets(cj, r, "mail_from");
        if ((from != NULL && strcasecmp(from, w->id) == 0) ||
            (mid != NULL && strcmp(mid, w->msgid) == 0))
            return true;
        const struct fl_cj_node *rc = fl_cj_get(cj, r, "rcpts");
        for (const struct fl_cj_node *e = fl_cj_first(cj, rc); e; e = fl_cj_next(cj, e))
            if (fl_cj_str(e) != NULL && strcasecmp(fl_cj_str(e), w->id) == 0)
                return true;
        return false;
    }
    }
    return false;
}

/* --- sentences -------------------------------------------------------------- */

static const char *method_label(const char *m)
{
    static const char *const names[][2] = {
        {"spf", "SPF"},
        {"dkim", "DKIM"},
        {"dmarc", "DMARC"},
        {"iprev", "Reverse DNS (iprev)"},
        {"dnsbl", "DNS lists"},
        {"dnswl", "DNS allow list"},
        {"greylist", "Greylisting"},
        {"nullmx", "Null MX"},
        {"arc", "ARC"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(m, names[i][0]) == 0)
            return names[i][1];
    return m;
}

static const char *side_of(const char *fault)
{
    if (fault != NULL && strcmp(fault, "sender") == 0)
        return "sender";
    if (fault != NULL && strcmp(fault, "receiver") == 0)
        return "receiver";
    return "nobody";
}

/* "The sender's side must act" and friends. */
static const char *side_sentence(const char *side)
{
    if (strcmp(side, "sender") == 0)
        return "The sender's side must act";
    return "Our side (the receiving mail system) must act; the sender need not do "
           "anything";
}

static const char *prop(const struct fl_cj *cj, const struct fl_cj_node *c, const char *key)
{
    return fl_cj_gets(cj, fl_cj_get(cj, c, "props"), key);
}

/* What the check looked at: "MAIL FROM a@example.org", "d=example.org". */
static void subject_of(struct fl_buf *out, const struct fl_cj *cj, const char *method,
                       const struct fl_cj_node *c)
{
    const char *v;
    if (strcmp(method, "spf") == 0) {
        if ((v = prop(cj, c, "smtp.mailfrom")) != NULL)
            fl_buf_printf(out, "MAIL FROM %s", *v ? v : "<> (null sender)");
        else if ((v = prop(cj, c, "smtp.helo")) != NULL)
            fl_buf_printf(out, "HELO %s", v);
    } else if (strcmp(method, "dkim") == 0) {
        if ((v = prop(cj, c, "header.d")) != NULL) {
            fl_buf_printf(out, "signature d=%s", v);
            if ((v = prop(cj, c, "header.s")) != NULL)
                fl_buf_printf(out, " s=%s", v);
        }
    } else if (strcmp(method, "dmarc") == 0 || strcmp(method, "nullmx") == 0) {
        if ((v = prop(cj, c, "header.from")) != NULL)
            fl_buf_printf(out, "From domain %s", v);
        else if ((v = prop(cj, c, "smtp.mailfrom")) != NULL)
            fl_buf_printf(out, "MAIL FROM %s", v);
    } else if (strcmp(method, "iprev") == 0) {
        if ((v = prop(cj, c, "policy.iprev")) != NULL)
            fl_buf_printf(out, "client %s", v);
    } else if (strcmp(method, "dnsbl") == 0) {
        if ((v = prop(cj, c, "policy.ip")) != NULL)
            fl_buf_printf(out, "client %s", v);
    } else if (strcmp(method, "greylist") == 0) {
        const char *net = prop(cj, c, "policy.client-net");
        const char *from = prop(cj, c, "smtp.mailfrom");
        const char *to = prop(cj, c, "smtp.rcptto");
        if (net != NULL)
            fl_buf_printf(out, "network %s, <%s> to <%s>", net, from ? from : "",
                          to ? to : "");
    }
}

/* One line per DNS list asked: the evidence of the DNS lists check. */
static void list_evidence(json_t *ev, const struct fl_cj *cj, const struct fl_cj_node *c)
{
    const struct fl_cj_node *lists = fl_cj_get(cj, c, "lists");
    for (const struct fl_cj_node *l = fl_cj_first(cj, lists); l; l = fl_cj_next(cj, l)) {
        struct fl_buf b;
        fl_buf_init(&b);
        const char *zone = fl_cj_gets(cj, l, "list"), *name = fl_cj_gets(cj, l, "name");
        const char *status = fl_cj_gets(cj, l, "status"), *dns = fl_cj_gets(cj, l, "dns");
        fl_buf_printf(&b, "%s asked about %s: ", zone ? zone : "?", name ? name : "?");
        struct fl_buf answers;
        fl_buf_init(&answers);
        const struct fl_cj_node *a = fl_cj_get(cj, l, "answers");
        for (const struct fl_cj_node *e = fl_cj_first(cj, a); e; e = fl_cj_next(cj, e))
            fl_buf_printf(&answers, "%s%s", answers.len ? " " : "",
                          fl_cj_str(e) ? fl_cj_str(e) : "?");
        int weight = (int)fl_cj_num(fl_cj_get(cj, l, "weight"), 0);
        int oweight = (int)fl_cj_num(fl_cj_get(cj, l, "observe_weight"), 0);
        if (status == NULL) {
            fl_buf_puts(&b, "no status recorded");
        } else if (strcmp(status, "listed") == 0) {
            fl_buf_printf(&b, "listed (answer %s, weight %d", answers.data,
                          weight ? weight : oweight);
            const char *txt = fl_cj_gets(cj, l, "txt");
            if (txt != NULL)
                fl_buf_printf(&b, ", TXT \"%s\"", txt);
            fl_buf_puts(&b, ")");
        } else if (strcmp(status, "not_listed") == 0) {
            if (answers.len)
                fl_buf_printf(&b, "not listed (answer %s matches no entry)", answers.data);
            else
                fl_buf_printf(&b, "not listed (%s)", dns ? dns : "no answer");
        } else if (strcmp(status, "error_code") == 0) {
            const char *err = fl_cj_gets(cj, l, "error");
            fl_buf_printf(&b, "answered the error code %s, not a listing: %s",
                          fl_cj_gets(cj, l, "error_code") ? fl_cj_gets(cj, l, "error_code")
                                                          : "?",
                          err ? err : "the list was ignored");
        } else if (strcmp(status, "unavailable") == 0) {
            fl_buf_printf(&b, "did not answer (%s); the list was ignored",
                          dns ? dns : "no answer");
        } else if (strcmp(status, "disabled") == 0) {
            fl_buf_puts(&b, "not asked: the list was disabled by its health probe");
        } else {
            fl_buf_printf(&b, "%s", status);
        }
        if (fl_cj_true(fl_cj_get(cj, l, "observe")))
            fl_buf_puts(&b, " [observed, not enforced]");
        json_array_append_new(ev, json_string(b.data));
        fl_buf_free(&answers);
        fl_buf_free(&b);
    }
}

/* DMARC: what the domain published and what was done with it. */
static void dmarc_evidence(json_t *ev, const struct fl_cj *cj, const struct fl_cj_node *c)
{
    const char *pub = prop(cj, c, "policy.published-domain-policy");
    if (pub == NULL)
        return;
    const char *sub = prop(cj, c, "policy.published-subdomain-policy");
    const char *from = prop(cj, c, "policy.policy-from");
    const char *dom = prop(cj, c, "policy.policy-domain");
    const char *eval = prop(cj, c, "policy.evaluated-disposition");
    const char *applied = prop(cj, c, "policy.applied-disposition");
    struct fl_buf b;
    fl_buf_init(&b);
    fl_buf_printf(&b, "DMARC record at _dmarc.%s: p=%s", dom ? dom : "?", pub);
    if (sub != NULL)
        fl_buf_printf(&b, " sp=%s", sub);
    if (from != NULL)
        fl_buf_printf(&b, "; the %s= policy applies", from);
    if (eval != NULL && applied != NULL) {
        fl_buf_printf(&b, "; DMARC asked for %s, we applied %s", eval, applied);
        if (strcmp(eval, applied) != 0)
            fl_buf_puts(&b, " (our local policy)");
    }
    json_array_append_new(ev, json_string(b.data));
    fl_buf_free(&b);
}

static json_t *explain_check(const struct fl_cj *cj, const struct fl_cj_node *c)
{
    const char *method = fl_cj_gets(cj, c, "method");
    const char *result = fl_cj_gets(cj, c, "result");
    const char *comment = fl_cj_gets(cj, c, "comment");
    const char *detail = fl_cj_gets(cj, c, "detail");
    const char *side = side_of(fl_cj_gets(cj, c, "fault"));
    method = method ? method : "?";
    result = result ? result : "?";
    json_t *o = json_object();
    json_object_set_new(o, "method", json_string(method));
    json_object_set_new(o, "label", json_string(method_label(method)));
    json_object_set_new(o, "result", json_string(result));
    struct fl_buf b;
    fl_buf_init(&b);
    subject_of(&b, cj, method, c);
    json_object_set_new(o, "subject", b.len ? json_string(b.data) : json_null());
    fl_buf_reset(&b);
    fl_buf_printf(&b, "%s", method_label(method));
    struct fl_buf subj;
    fl_buf_init(&subj);
    subject_of(&subj, cj, method, c);
    if (subj.len)
        fl_buf_printf(&b, " for %s", subj.data);
    fl_buf_free(&subj);
    fl_buf_printf(&b, ": %s", result);
    if (comment != NULL)
        fl_buf_printf(&b, " (%s)", comment);
    fl_buf_puts(&b, ".");
    json_object_set_new(o, "explanation", json_string(b.data));
    json_object_set_new(o, "reason", fl_cj_gets(cj, c, "reason")
                                         ? json_string(fl_cj_gets(cj, c, "reason"))
                                         : json_null());
    json_object_set_new(o, "must_act", json_string(side));
    json_object_set_new(o, "transient", json_boolean(fl_cj_true(fl_cj_get(cj, c, "transient"))));
    json_object_set_new(o, "fix", detail ? json_string(detail) : json_null());
    json_t *ev = json_array();
    const struct fl_cj_node *props = fl_cj_get(cj, c, "props");
    for (const struct fl_cj_node *p = fl_cj_first(cj, props); p; p = fl_cj_next(cj, p)) {
        /* the DMARC policy members are told in one sentence below */
        if (strncmp(p->key, "policy.published", 16) == 0 ||
            strstr(p->key, "disposition") != NULL || strcmp(p->key, "policy.policy-from") == 0)
            continue;
        /* a property given more than once is an array of its values */
        const struct fl_cj_node *v = p->type == FL_CJ_ARR ? fl_cj_first(cj, p) : p;
        for (; v != NULL; v = p->type == FL_CJ_ARR ? fl_cj_next(cj, v) : NULL) {
            if (fl_cj_str(v) == NULL)
                continue;
            fl_buf_reset(&b);
            fl_buf_printf(&b, "%s=%s", p->key, fl_cj_str(v));
            json_array_append_new(ev, json_string(b.data));
        }
    }
    if (strcmp(method, "dmarc") == 0)
        dmarc_evidence(ev, cj, c);
    if (strcmp(method, "dnsbl") == 0)
        list_evidence(ev, cj, c);
    json_object_set_new(o, "evidence", ev);
    const struct fl_cj_node *ob = fl_cj_get(cj, c, "observe");
    if (ob != NULL && ob->type == FL_CJ_OBJ) {
        const char *act = fl_cj_gets(cj, ob, "action");
        fl_buf_reset(&b);
        fl_buf_printf(&b, "observe mode: would have %s with %d %s %s; nothing was done",
                      act && strcmp(act, "tempfail") == 0 ? "deferred" : "refused",
                      (int)fl_cj_num(fl_cj_get(cj, ob, "code"), 0),
                      fl_cj_gets(cj, ob, "dsn") ? fl_cj_gets(cj, ob, "dsn") : "",
                      fl_cj_gets(cj, ob, "text") ? fl_cj_gets(cj, ob, "text") : "");
        json_object_set_new(o, "observed", json_string(b.data));
    }
    fl_buf_free(&b);
    return o;
}

static const char *decision_of(const char *action)
{
    if (action == NULL)
        return "unknown";
    if (strcmp(action, "reject") == 0)
        return "refused";
    if (strcmp(action, "tempfail") == 0)
        return "deferred";
    if (strcmp(action, "quarantine") == 0)
        return "quarantined";
    return "accepted";
}

static json_t *jstr_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static json_t *explain(const struct fl_cj *cj, const struct fl_cj_node *r, const char *file,
                       unsigned long line)
{
    json_t *o = json_object();
    struct fl_buf b;
    fl_buf_init(&b);
    fl_buf_printf(&b, "%s:%lu", file, line);
    json_object_set_new(o, "source", json_string(b.data));
    json_object_set_new(o, "time", jstr_or_null(fl_cj_gets(cj, r, "time")));
    json_object_set_new(o, "queue_id", jstr_or_null(fl_cj_gets(cj, r, "queue_id")));
    json_object_set_new(o, "message_id", jstr_or_null(fl_cj_gets(cj, r, "message_id")));
    const struct fl_cj_node *cl = fl_cj_get(cj, r, "client");
    json_t *client = json_object();
    json_object_set_new(client, "ip", jstr_or_null(fl_cj_gets(cj, cl, "ip")));
    json_object_set_new(client, "ptr", jstr_or_null(fl_cj_gets(cj, cl, "ptr")));
    json_object_set_new(client, "helo", jstr_or_null(fl_cj_gets(cj, cl, "helo")));
    json_object_set_new(o, "client", client);
    json_object_set_new(o, "mail_from", jstr_or_null(fl_cj_gets(cj, r, "mail_from")));
    json_t *rcpts = json_array();
    const struct fl_cj_node *rc = fl_cj_get(cj, r, "rcpts");
    for (const struct fl_cj_node *e = fl_cj_first(cj, rc); e; e = fl_cj_next(cj, e))
        json_array_append_new(rcpts, jstr_or_null(fl_cj_str(e)));
    json_object_set_new(o, "rcpts", rcpts);

    const char *action = fl_cj_gets(cj, r, "action");
    const struct fl_cj_node *reply = fl_cj_get(cj, r, "reply");
    int code = (int)fl_cj_num(fl_cj_get(cj, reply, "code"), 0);
    const char *dsn = fl_cj_gets(cj, reply, "dsn"), *text = fl_cj_gets(cj, reply, "text");
    const char *reason = fl_cj_gets(cj, r, "reason");
    const char *side = side_of(fl_cj_gets(cj, r, "fault"));
    bool transient = fl_cj_true(fl_cj_get(cj, r, "transient"));
    json_object_set_new(o, "decision", json_string(decision_of(action)));
    fl_buf_reset(&b);
    fl_buf_printf(&b, "%d %s", code, dsn ? dsn : "");
    if (text != NULL)
        fl_buf_printf(&b, " %s", text);
    json_object_set_new(o, "reply", json_string(b.data));
    json_object_set_new(o, "reason", jstr_or_null(reason));
    json_object_set_new(o, "must_act", json_string(side));

    /* the check that decided: the one whose reason is the verdict's */
    json_t *checks = json_array();
    const char *fix = NULL, *decided_by = NULL;
    const struct fl_cj_node *cs = fl_cj_get(cj, r, "checks");
    for (const struct fl_cj_node *c = fl_cj_first(cj, cs); c; c = fl_cj_next(cj, c)) {
        json_array_append_new(checks, explain_check(cj, c));
        const char *cr = fl_cj_gets(cj, c, "reason");
        if (decided_by == NULL && reason != NULL && cr != NULL && strcmp(cr, reason) == 0) {
            decided_by = fl_cj_gets(cj, c, "method");
            fix = fl_cj_gets(cj, c, "detail");
        }
    }
    json_object_set_new(o, "decided_by", jstr_or_null(decided_by));
    json_object_set_new(o, "fix", jstr_or_null(fix));

    /* the summary a helpdesk pastes */
    fl_buf_reset(&b);
    const char *skipped = fl_cj_gets(cj, r, "skipped");
    const char *dec = decision_of(action);
    if (strcmp(dec, "refused") == 0 || strcmp(dec, "deferred") == 0)
        fl_buf_printf(&b, "The message was %s with %d %s", dec, code, dsn ? dsn : "");
    else
        fl_buf_printf(&b, "The message was %s", dec);
    if (decided_by != NULL)
        fl_buf_printf(&b, " because of the %s check (%s)", method_label(decided_by), reason);
    else if (reason != NULL)
        fl_buf_printf(&b, " (%s)", reason);
    fl_buf_puts(&b, ". ");
    if (skipped != NULL)
        fl_buf_printf(&b, "Checks were skipped for this client (%s). ", skipped);
    if (strcmp(side, "sender") == 0) {
        fl_buf_puts(&b, "The sender's side must act");
        if (fix != NULL)
            fl_buf_printf(&b, ": %s", fix);
        fl_buf_puts(&b, ".");
        if (transient)
            fl_buf_puts(&b, " The problem looks temporary: a later retry may succeed.");
    } else if (strcmp(side, "receiver") == 0) {
        fl_buf_puts(&b, "The fault is on our side (the receiving mail system), not the "
                        "sender's");
        if (fix != NULL)
            fl_buf_printf(&b, ": %s", fix);
        fl_buf_puts(&b, ".");
        if (strcmp(dec, "deferred") == 0)
            fl_buf_puts(&b, " The sending server retries by itself.");
    } else if (strcmp(dec, "deferred") == 0) {
        fl_buf_puts(&b, "This is deliberate (greylisting): nobody needs to act, the sending "
                        "server retries by itself and the retry is accepted.");
    } else {
        /* accepted: the failures that did not decide are still worth a word */
        size_t problems = 0;
        for (const struct fl_cj_node *c = fl_cj_first(cj, cs); c; c = fl_cj_next(cj, c)) {
            const char *cside = side_of(fl_cj_gets(cj, c, "fault"));
            const char *m = fl_cj_gets(cj, c, "method");
            const char *cres = fl_cj_gets(cj, c, "result");
            const char *det = fl_cj_gets(cj, c, "detail");
            if (strcmp(cside, "nobody") == 0 || m == NULL)
                continue;
            fl_buf_printf(&b, "%s%s: %s %s, %s should act", problems ? " " : "",
                          problems ? "Also" : "Not fatal, but worth fixing", method_label(m),
                          cres ? cres : "?",
                          strcmp(cside, "sender") == 0 ? "the sender's side" : "our side");
            if (det != NULL)
                fl_buf_printf(&b, ": %s", det);
            fl_buf_puts(&b, ".");
            problems++;
        }
        if (problems == 0)
            fl_buf_puts(&b, "Nobody needs to act.");
    }
    json_object_set_new(o, "summary", json_string(b.data));
    json_object_set_new(o, "checks", checks);
    json_t *observed = json_array();
    const struct fl_cj_node *obs = fl_cj_get(cj, r, "observed");
    for (const struct fl_cj_node *e = fl_cj_first(cj, obs); e; e = fl_cj_next(cj, e))
        json_array_append_new(observed, jstr_or_null(fl_cj_str(e)));
    json_object_set_new(o, "observed", observed);
    fl_buf_free(&b);
    return o;
}

static int on_record(const struct fl_cj *cj, const struct fl_cj_node *root, const char *file,
                     unsigned long line, void *arg)
{
    struct why *w = arg;
    if (!matches(w, cj, root))
        return 0;
    w->found++;
    json_array_append_new(w->matches, explain(cj, root, file, line));
    /* keep the most recent max */
    if (json_array_size(w->matches) > w->max)
        json_array_remove(w->matches, 0);
    return 0;
}

/* --- text -------------------------------------------------------------------- */

static const char *s_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Writes text wrapped at 78 columns, every line prefixed with indent
   (the first with first). */
static void wrap(FILE *out, const char *first, const char *indent, const char *text)
{
    size_t col = (size_t)fprintf(out, "%s", first);
    size_t ind = strlen(indent);
    const char *p = text;
    bool line_start = true;
    while (*p) {
        size_t wl = strcspn(p, " ");
        if (!line_start && col + 1 + wl > 78) {
            fprintf(out, "\n%s", indent);
            col = ind;
            line_start = true;
        }
        if (!line_start) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, wl, out);
        col += wl;
        line_start = false;
        p += wl;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void print_text(FILE *out, json_t *m)
{
    json_t *client = json_object_get(m, "client");
    fprintf(out, "%s  %s  (%s)\n", s_of(m, "queue_id"), s_of(m, "time"), s_of(m, "source"));
    struct fl_buf b;
    fl_buf_init(&b);
    fl_buf_printf(&b, "From <%s> to", s_of(m, "mail_from"));
    json_t *rc = json_object_get(m, "rcpts");
    for (size_t i = 0; i < json_array_size(rc); i++)
        fl_buf_printf(&b, "%s <%s>", i ? "," : "", json_string_value(json_array_get(rc, i))
                                                      ? json_string_value(json_array_get(rc, i))
                                                      : "");
    if (json_array_size(rc) == 0)
        fl_buf_puts(&b, " (no recipient accepted)");
    fl_buf_printf(&b, ", client %s", s_of(client, "ip"));
    if (*s_of(client, "ptr"))
        fl_buf_printf(&b, " (%s)", s_of(client, "ptr"));
    if (*s_of(client, "helo"))
        fl_buf_printf(&b, ", HELO %s", s_of(client, "helo"));
    wrap(out, "  ", "    ", b.data);
    if (*s_of(m, "message_id"))
        fprintf(out, "  Message-ID %s\n", s_of(m, "message_id"));
    fputc('\n', out);
    wrap(out, "  ", "  ", s_of(m, "summary"));
    fl_buf_reset(&b);
    fl_buf_printf(&b, "SMTP reply: %s", s_of(m, "reply"));
    wrap(out, "  ", "    ", b.data);
    json_t *obs = json_object_get(m, "observed");
    for (size_t i = 0; i < json_array_size(obs); i++) {
        fl_buf_reset(&b);
        fl_buf_printf(&b, "Observe mode, %s; nothing was refused or deferred.",
                      json_string_value(json_array_get(obs, i)));
        wrap(out, "  ", "    ", b.data);
    }
    fputs("\n  Checks:\n", out);
    json_t *checks = json_object_get(m, "checks");
    if (json_array_size(checks) == 0)
        fputs("  - none were run\n", out);
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        wrap(out, "  - ", "    ", s_of(c, "explanation"));
        const char *side = s_of(c, "must_act");
        if (json_is_string(json_object_get(c, "fix"))) {
            fl_buf_reset(&b);
            if (strcmp(side, "nobody") == 0)
                fl_buf_printf(&b, "Note: %s.", s_of(c, "fix"));
            else
                fl_buf_printf(&b, "%s: %s.", side_sentence(side), s_of(c, "fix"));
            wrap(out, "    ", "    ", b.data);
        }
        if (json_is_string(json_object_get(c, "observed"))) {
            fl_buf_reset(&b);
            fl_buf_printf(&b, "(%s)", s_of(c, "observed"));
            wrap(out, "    ", "    ", b.data);
        }
        json_t *ev = json_object_get(c, "evidence");
        for (size_t k = 0; k < json_array_size(ev); k++)
            wrap(out, "    evidence: ", "      ", json_string_value(json_array_get(ev, k)));
    }
    fl_buf_free(&b);
}

/* --- command ----------------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: faultlinectl [-c FILE] why [--json] [--since T] [--until T] [--max N]\n"
          "                    ID [VERDICT-LOG...]\n"
          "  ID: a queue id, a Message-ID (<...>), or an address (sender or\n"
          "  recipient; narrow it with --since/--until).  Without VERDICT-LOG\n"
          "  files: verdict_log and its rotations (.gz too).  T: 2026-12-01,\n"
          "  2026-12-01T10:00[:00] (UTC), or 90m/24h/7d ago.  --max: the most\n"
          "  recent N matches (default 20).\n"
          "exit status: 0 found, 1 not found, 64 usage, 66 no log readable,\n"
          "  78 configuration errors\n",
          out);
}

int fl_ctl_why(const struct fl_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"since", required_argument, NULL, 's'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"max", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct fl_vlog_window win = {{0}, {0}};
    bool json = false;
    struct why w = {.max = DEFAULT_MAX};
    int opt;
    optind = 0; /* glibc: a full re-initialisation after main's getopt */
    opterr = 0; /* our messages: "faultlinectl: why: ..." */
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = true;
            break;
        case 's':
        case 'u':
            if (fl_vlog_parse_time(optarg, opt == 'u', opt == 's' ? win.since : win.until) <
                0) {
                fprintf(stderr, "faultlinectl: why: bad time \"%s\"\n", optarg);
                usage(stderr);
                return FL_CTL_USAGE;
            }
            break;
        case 'm': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 1 || n > 100000) {
                fprintf(stderr, "faultlinectl: why: bad --max \"%s\"\n", optarg);
                return FL_CTL_USAGE;
            }
            w.max = (size_t)n;
            break;
        }
        case 'h':
            usage(stdout);
            return FL_CTL_OK;
        default:
            fl_cli_bad_option("faultlinectl: why", opt, argv);
            usage(stderr);
            return FL_CTL_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "faultlinectl: why: no ID given\n");
        usage(stderr);
        return FL_CTL_USAGE;
    }
    w.id = argv[optind++];
    size_t idlen = strlen(w.id);
    if (idlen == 0 || idlen > sizeof(w.msgid) - 3) {
        fprintf(stderr, "faultlinectl: why: bad ID\n");
        return FL_CTL_USAGE;
    }
    if (w.id[0] == '<') {
        w.kind = ID_MSGID;
        snprintf(w.msgid, sizeof(w.msgid), "%s", w.id);
    } else {
        w.kind = strchr(w.id, '@') ? ID_ADDRESS : ID_QUEUE;
        snprintf(w.msgid, sizeof(w.msgid), "<%s>", w.id);
    }
    char **files = NULL;
    size_t nfiles;
    if (optind < argc) {
        files = argv + optind;
        nfiles = (size_t)(argc - optind);
    } else {
        const char *why;
        int n = fl_vlog_default_files(cfg, &files, &why);
        if (n < 0) {
            fprintf(stderr, "faultlinectl: why: %s\n", why);
            return FL_CTL_USAGE;
        }
        nfiles = (size_t)n;
    }
    w.matches = json_array();
    struct fl_vlog_stats st = {0};
    int rc = fl_vlog_read(files, nfiles, &win, json, on_record, &w, &st);
    if (optind >= argc)
        fl_vlog_free_files(files);
    int status = rc < 0 ? FL_CTL_NOINPUT : w.found ? FL_CTL_OK : FL_CTL_NOTHING;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "query", json_string(w.id));
        json_object_set_new(o, "kind", json_string(w.kind == ID_QUEUE   ? "queue_id"
                                                   : w.kind == ID_MSGID ? "message_id"
                                                                        : "address"));
        json_object_set_new(o, "found", json_integer((json_int_t)w.found));
        json_object_set_new(o, "records_read", json_integer((json_int_t)st.records));
        json_object_set_new(o, "matches", json_incref(w.matches));
        json_object_set_new(o, "problems", fl_vlog_problems_json(&st));
        json_object_set_new(o, "more_problems", json_integer((json_int_t)st.more_problems));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else if (w.found == 0) {
        printf("No verdict record matches %s (%lu records read from %lu files).\n", w.id,
               st.records, st.files);
    } else {
        if (w.found > json_array_size(w.matches))
            printf("%zu records match %s; the most recent %zu follow (--max).\n\n", w.found,
                   w.id, json_array_size(w.matches));
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        for (size_t i = 0; mem != NULL && i < json_array_size(w.matches); i++) {
            if (i)
                fputs("\n", mem);
            print_text(mem, json_array_get(w.matches, i));
        }
        if (mem != NULL && fclose(mem) == 0)
            fl_vlog_put_clean(stdout, text, len);
        free(text);
    }
    json_decref(w.matches);
    fl_vlog_stats_free(&st);
    return status;
}
