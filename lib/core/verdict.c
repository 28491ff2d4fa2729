/* verdict: see verdict.h. */
#include "lib/core/verdict.h"
#include "lib/core/json_out.h"
#include "lib/core/attribution.h"
#include "lib/core/sanitize.h"
#include "lib/core/xalloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Longest sender-controlled text copied into a reply or a log line. */
#define MAX_TEXT 200

static int severity(enum fl_action a)
{
    switch (a) {
    case FL_ACTION_REJECT:
        return 3;
    case FL_ACTION_TEMPFAIL:
        return 2;
    case FL_ACTION_QUARANTINE:
        return 1;
    case FL_ACTION_ACCEPT:
        break;
    }
    return 0;
}

void fl_verdict_reply_text(struct fl_buf *out, const char *reason_code, const char *detail,
                           enum fl_fault fault)
{
    fl_buf_puts(out, fl_attribution_find(reason_code)->what);
    if (detail && *detail) {
        fl_buf_puts(out, ": ");
        fl_sanitize_ascii(out, detail, MAX_TEXT);
    }
    fl_buf_printf(out, " (fault=%s)", fl_fault_name(fault));
}

static void set_reply(struct fl_verdict *v, const char *reason_code, const char *detail)
{
    struct fl_buf text;
    fl_buf_init(&text);
    fl_verdict_reply_text(&text, reason_code, detail, v->fault);
    free(v->text);
    v->text = fl_buf_steal(&text);
    fl_buf_free(&text);
}

void fl_verdict_decide(struct fl_verdict *v, const struct fl_result *results, size_t n,
                       const char *internal_error, bool on_error_tempfail)
{
    memset(v, 0, sizeof(*v));
    v->action = FL_ACTION_ACCEPT;
    v->code = 250;
    snprintf(v->dsn, sizeof(v->dsn), "2.0.0");
    const struct fl_result *worst = NULL;
    for (size_t i = 0; i < n; i++) {
        if (results[i].action == FL_ACTION_ACCEPT)
            continue;
        if (worst == NULL || severity(results[i].action) > severity(worst->action))
            worst = &results[i];
    }
    if (worst != NULL) {
        const struct fl_attribution *a = fl_attribution_find(worst->reason_code);
        v->action = worst->action;
        v->fault = worst->fault != FL_FAULT_NONE ? worst->fault : a->fault;
        v->transient = worst->transient || a->transient;
        v->reason_code = fl_strdup(worst->reason_code ? worst->reason_code : "policy");
        if (v->action == FL_ACTION_REJECT || v->action == FL_ACTION_TEMPFAIL) {
            bool temp = v->action == FL_ACTION_TEMPFAIL;
            int code = a->code ? a->code : (temp ? 451 : 550);
            const char *dsn = a->dsn ? a->dsn : (temp ? "4.7.1" : "5.7.1");
            /* A reply class must match the action, whatever the table says. */
            if (temp && code >= 500) {
                code = 451;
                dsn = "4.7.1";
            } else if (!temp && code < 500) {
                code = 550;
                dsn = "5.7.1";
            }
            v->code = code;
            snprintf(v->dsn, sizeof(v->dsn), "%s", dsn);
            set_reply(v, worst->reason_code, worst->detail);
        }
    }
    /* Our own fault overrides a check's request, and never becomes a 5xx. */
    if (internal_error != NULL) {
        free(v->reason_code);
        v->reason_code = fl_strdup(internal_error);
        v->fault = FL_FAULT_RECEIVER;
        v->transient = true;
        if (on_error_tempfail) {
            v->action = FL_ACTION_TEMPFAIL;
            v->code = 451;
            snprintf(v->dsn, sizeof(v->dsn), "4.3.0");
            set_reply(v, internal_error, NULL);
        } else {
            v->action = FL_ACTION_ACCEPT;
            v->code = 250;
            snprintf(v->dsn, sizeof(v->dsn), "2.0.0");
            free(v->text);
            v->text = NULL;
        }
    }
}

void fl_verdict_clear(struct fl_verdict *v)
{
    free(v->text);
    free(v->reason_code);
    memset(v, 0, sizeof(*v));
}

void fl_verdict_checks_list(struct fl_buf *out, const struct fl_result *results, size_t n,
                            const char *skipped_reason)
{
    if (skipped_reason != NULL) {
        fl_buf_printf(out, "skipped:%s", skipped_reason);
        return;
    }
    if (n == 0) {
        fl_buf_puts(out, "none");
        return;
    }
    for (size_t i = 0; i < n; i++)
        fl_buf_printf(out, "%s%s:%s", i ? "," : "", results[i].method,
                      fl_res_name(results[i].result));
}

/* JSON string from sender-controlled text: always valid UTF-8. */
static json_t *jstr(const char *s)
{
    if (s == NULL)
        return json_null();
    struct fl_buf b;
    fl_buf_init(&b);
    fl_sanitize_utf8(&b, s, 0);
    json_t *j = json_stringn(b.data, b.len);
    fl_buf_free(&b);
    return j ? j : json_null();
}

static json_t *result_json(const struct fl_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "method", jstr(r->method));
    json_object_set_new(o, "result", json_string(fl_res_name(r->result)));
    json_object_set_new(o, "reason", jstr(r->reason_code));
    json_object_set_new(o, "fault", json_string(fl_fault_name(r->fault)));
    json_object_set_new(o, "transient", json_boolean(r->transient));
    json_object_set_new(o, "action", json_string(fl_action_name(r->action)));
    json_object_set_new(o, "comment", jstr(r->reason));
    json_object_set_new(o, "detail", jstr(r->detail));
    json_t *props = json_object();
    for (size_t i = 0; i < r->nprops; i++) {
        struct fl_buf key;
        fl_buf_init(&key);
        fl_buf_printf(&key, "%s.%s", r->props[i].ptype, r->props[i].property);
        json_t *k = jstr(key.data);
        const char *name = json_string_value(k);
        json_t *old = json_object_get(props, name);
        if (old == NULL) {
            json_object_set_new(props, name, jstr(r->props[i].value));
        } else {
            /* a property given twice keeps every value, in order */
            if (!json_is_array(old)) {
                json_t *a = json_array();
                json_array_append(a, old);
                json_object_set_new(props, name, a);
                old = a;
            }
            json_array_append_new(old, jstr(r->props[i].value));
        }
        json_decref(k);
        fl_buf_free(&key);
    }
    json_object_set_new(o, "props", props);
    if (r->record_json != NULL) {
        json_t *extra = json_loads(r->record_json, 0, NULL);
        if (json_is_object(extra))
            json_object_update(o, extra);
        json_decref(extra);
    }
    if (r->observe_action != FL_ACTION_ACCEPT) {
        json_t *ob = json_object();
        json_object_set_new(ob, "action", json_string(fl_action_name(r->observe_action)));
        json_object_set_new(ob, "code", json_integer(r->observe_code));
        json_object_set_new(ob, "dsn", json_string(r->observe_dsn));
        json_object_set_new(ob, "text", jstr(r->observe_text));
        json_object_set_new(o, "observe", ob);
    }
    return o;
}

/* The record's "time": UTC with milliseconds. */
static void format_time(char *when, size_t size, const struct fl_verdict_facts *f)
{
    struct tm tm;
    gmtime_r(&f->when.tv_sec, &tm);
    size_t len = strftime(when, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + len, size - len, ".%03ldZ", f->when.tv_nsec / 1000000L);
}

/* "would have refused with 554 5.7.1 TEXT" / "would have deferred with 451
   4.7.1 TEXT": what observe mode kept from happening. */
static void observe_sentence(struct fl_buf *out, const struct fl_result *r)
{
    fl_buf_printf(out, "%s: would have %s with %d %s ", r->method,
                  r->observe_action == FL_ACTION_TEMPFAIL ? "deferred" : "refused",
                  r->observe_code, r->observe_dsn);
    fl_sanitize_ascii(out, r->observe_text ? r->observe_text : "", MAX_TEXT + 100);
}

void fl_verdict_json_jansson(struct fl_buf *out, const struct fl_verdict_facts *f,
                             const struct fl_result *results, size_t n,
                             const struct fl_verdict *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(FL_VERDICT_RECORD_VERSION));
    char when[40];
    format_time(when, sizeof(when), f);
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "queue_id", jstr(f->queue_id ? f->queue_id : "NOQUEUE"));
    json_t *client = json_object();
    json_object_set_new(client, "ip", jstr(f->client_ip));
    json_object_set_new(client, "port", json_integer(f->client_port));
    json_object_set_new(client, "ptr", jstr(f->client_ptr));
    json_object_set_new(client, "helo", jstr(f->helo));
    json_object_set_new(o, "client", client);
    json_object_set_new(o, "mail_from", jstr(f->mail_from));
    json_t *rcpts = json_array();
    for (size_t i = 0; i < f->nrcpts; i++)
        json_array_append_new(rcpts, jstr(f->rcpts[i]));
    json_object_set_new(o, "rcpts", rcpts);
    if (f->rcpts_dropped)
        json_object_set_new(o, "rcpts_not_recorded", json_integer((json_int_t)f->rcpts_dropped));
    if (f->rcpts_refused)
        json_object_set_new(o, "rcpts_refused", json_integer((json_int_t)f->rcpts_refused));
    json_object_set_new(o, "message_id", jstr(f->message_id));
    json_object_set_new(o, "skipped", jstr(f->skipped_reason));
    json_t *checks = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(checks, result_json(&results[i]));
    json_object_set_new(o, "checks", checks);
    json_object_set_new(o, "action", json_string(fl_action_name(v->action)));
    json_t *reply = json_object();
    json_object_set_new(reply, "code", json_integer(v->code));
    json_object_set_new(reply, "dsn", json_string(v->dsn));
    json_object_set_new(reply, "text", jstr(v->text));
    json_object_set_new(o, "reply", reply);
    json_object_set_new(o, "fault", json_string(fl_fault_name(v->fault)));
    json_object_set_new(o, "transient", json_boolean(v->transient));
    json_object_set_new(o, "reason", jstr(v->reason_code));
    json_t *observed = NULL;
    for (size_t i = 0; i < n; i++) {
        if (results[i].observe_action == FL_ACTION_ACCEPT)
            continue;
        struct fl_buf s;
        fl_buf_init(&s);
        observe_sentence(&s, &results[i]);
        if (observed == NULL)
            observed = json_array();
        json_array_append_new(observed, jstr(s.data));
        fl_buf_free(&s);
    }
    if (observed != NULL)
        json_object_set_new(o, "observed", observed);
    json_t *stages = json_object();
    for (size_t i = 0; i < f->nstages; i++)
        json_object_set_new(stages, f->stages[i].stage, json_integer(f->stages[i].ms));
    json_object_set_new(o, "elapsed_ms", stages);
    /* the parts as their writers write them (json_out.c is checked
       against jansson on its own: tests/core/check_json_out) */
    for (size_t i = 0; i < f->nparts; i++) {
        struct fl_buf text;
        fl_buf_init(&text);
        fl_buf_putc(&text, '{');
        struct fl_json_out j;
        fl_json_out_init(&j, &text);
        if (f->parts[i].fill(f->parts[i].data, &j)) {
            fl_buf_putc(&text, '}');
            json_t *part = json_loads(text.data, 0, NULL);
            json_object_set_new(o, f->parts[i].key, part != NULL ? part : json_null());
        }
        fl_buf_free(&text);
    }
    json_object_set_new(o, "work_ms", json_integer(f->work_ms));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fl_buf_puts(out, s);
    free(s);
    json_decref(o);
}

/* The direct writer: the record written straight into the buffer, without
   a jansson tree (building and dumping one was about a tenth of the
   daemon's CPU per message; issue 12).  Its bytes are those of
   fl_verdict_json_jansson, json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER);
   tests/core/check_verdict.c compares the two.  A check's own part (DMARC,
   ARC) is written by its module through lib/core/json_out.h, as is the DNS
   lists' record_json (a compact dump, lib/core/result.h), spliced as it
   is. */

/* Sender-controlled text as a JSON string (always valid UTF-8), or null;
   tmp is scratch space. */
static void json_text(struct fl_buf *out, struct fl_buf *tmp, const char *s)
{
    if (s == NULL) {
        fl_buf_puts(out, "null");
        return;
    }
    fl_buf_reset(tmp);
    fl_sanitize_utf8(tmp, s, 0);
    fl_json_escaped(out, tmp->data ? tmp->data : "", tmp->len);
}

/* A string of ours (a name from a table, a DSN): 7-bit, written as is
   but escaped. */
static void json_name(struct fl_buf *out, const char *s)
{
    fl_json_escaped(out, s, strlen(s));
}

/* ,"key": -- key is a literal of ours (nothing to escape) */
static void json_key(struct fl_buf *out, bool first, const char *key)
{
    fl_buf_puts(out, first ? "\"" : ",\"");
    fl_buf_puts(out, key);
    fl_buf_puts(out, "\":");
}

/* 7-bit text without NUL up to its end: what json_string of it keeps. */
static bool plain_ascii(const char *s, size_t max)
{
    size_t i = 0;
    for (; i < max && s[i]; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return i < max;
}

/* "props": an object keeps a key's first place; a key given twice keeps
   every value in an array, in order. */
static void json_props(struct fl_buf *out, struct fl_buf *tmp, const struct fl_result *r)
{
    char *keys[FL_RESULT_MAX_PROPS];
    size_t np = r->nprops < FL_RESULT_MAX_PROPS ? r->nprops : FL_RESULT_MAX_PROPS;
    for (size_t i = 0; i < np; i++) {
        struct fl_buf raw;
        fl_buf_init(&raw);
        fl_buf_printf(&raw, "%s.%s", r->props[i].ptype, r->props[i].property);
        fl_buf_reset(tmp);
        fl_sanitize_utf8(tmp, raw.data, 0);
        fl_buf_free(&raw);
        /* jansson's keys end at a NUL */
        keys[i] = fl_strdup(tmp->data ? tmp->data : "");
    }
    fl_buf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < np; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(keys[j], keys[i]) == 0;
        if (seen)
            continue;
        size_t count = 1;
        for (size_t k = i + 1; k < np; k++)
            count += strcmp(keys[k], keys[i]) == 0;
        if (!first)
            fl_buf_putc(out, ',');
        first = false;
        fl_json_escaped(out, keys[i], strlen(keys[i]));
        fl_buf_putc(out, ':');
        if (count == 1) {
            json_text(out, tmp, r->props[i].value);
            continue;
        }
        fl_buf_putc(out, '[');
        for (size_t k = i; k < np; k++) {
            if (strcmp(keys[k], keys[i]) != 0)
                continue;
            if (k != i)
                fl_buf_putc(out, ',');
            json_text(out, tmp, r->props[k].value);
        }
        fl_buf_putc(out, ']');
    }
    fl_buf_putc(out, '}');
    for (size_t i = 0; i < np; i++)
        free(keys[i]);
}

/* The members of a compact object dump {"k":v,...}, for splicing: sets
   *body and *len to the text between the braces and returns true when the
   text is such a dump whose top-level keys are plain, distinct and none of
   the keys the check's entry has already (json_object_update would replace
   those in place). */
static bool splice_members(const char *s, bool has_observe, const char **body, size_t *len)
{
    static const char *const fixed[] = {"method", "result",  "reason", "fault", "transient",
                                        "action", "comment", "detail", "props", "observe"};
    size_t n = strlen(s);
    if (n < 2 || s[0] != '{' || s[n - 1] != '}')
        return false;
    const char *keys[64];
    size_t klen[64], nkeys = 0;
    size_t i = 1;
    while (i < n - 1) {
        if (s[i] != '"')
            return false;
        size_t k = ++i;
        while (i < n - 1 && s[i] != '"') {
            if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
                return false;
            i++;
        }
        if (i + 1 >= n - 1 || s[i + 1] != ':' || nkeys == 64)
            return false;
        size_t kl = i - k;
        for (size_t j = 0; j < sizeof(fixed) / sizeof(fixed[0]); j++)
            if (strlen(fixed[j]) == kl && memcmp(fixed[j], s + k, kl) == 0 &&
                (j < 9 || has_observe))
                return false;
        for (size_t j = 0; j < nkeys; j++)
            if (klen[j] == kl && memcmp(keys[j], s + k, kl) == 0)
                return false;
        keys[nkeys] = s + k;
        klen[nkeys++] = kl;
        i += 2;
        /* the value: up to the comma or brace at depth 0 */
        size_t start = i;
        int depth = 0;
        bool in_str = false;
        for (; i < n - 1; i++) {
            char c = s[i];
            if (in_str) {
                /* json_loads refuses a NUL without JSON_ALLOW_NUL */
                if (c == '\\' && strncmp(s + i, "\\u0000", 6) == 0)
                    return false;
                if (c == '\\')
                    i++;
                else if (c == '"')
                    in_str = false;
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                return false;
            if (c == '"')
                in_str = true;
            else if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']')
                depth--;
            else if (c == ',' && depth == 0)
                break;
            if (depth < 0)
                return false;
        }
        if (in_str || depth != 0 || i == start)
            return false;
        if (i < n - 1 && ++i == n - 1) /* the comma, and a member after it */
            return false;
    }
    *body = s + 1;
    *len = n - 2;
    return true;
}

static void json_result(struct fl_buf *out, struct fl_buf *tmp, const struct fl_result *r,
                        const char *extra, size_t extra_len)
{
    json_key(out, true, "method");
    json_text(out, tmp, r->method);
    json_key(out, false, "result");
    json_name(out, fl_res_name(r->result));
    json_key(out, false, "reason");
    json_text(out, tmp, r->reason_code);
    json_key(out, false, "fault");
    json_name(out, fl_fault_name(r->fault));
    json_key(out, false, "transient");
    fl_buf_puts(out, r->transient ? "true" : "false");
    json_key(out, false, "action");
    json_name(out, fl_action_name(r->action));
    json_key(out, false, "comment");
    json_text(out, tmp, r->reason);
    json_key(out, false, "detail");
    json_text(out, tmp, r->detail);
    json_key(out, false, "props");
    json_props(out, tmp, r);
    if (extra_len > 0) {
        fl_buf_putc(out, ',');
        fl_buf_append(out, extra, extra_len);
    }
    if (r->observe_action != FL_ACTION_ACCEPT) {
        json_key(out, false, "observe");
        fl_buf_putc(out, '{');
        json_key(out, true, "action");
        json_name(out, fl_action_name(r->observe_action));
        json_key(out, false, "code");
        fl_buf_printf(out, "%d", r->observe_code);
        json_key(out, false, "dsn");
        json_name(out, r->observe_dsn);
        json_key(out, false, "text");
        json_text(out, tmp, r->observe_text);
        fl_buf_putc(out, '}');
    }
}

/* One sentence of "observed". */
static void json_observed(struct fl_buf *out, struct fl_buf *tmp, const struct fl_result *r)
{
    struct fl_buf s;
    fl_buf_init(&s);
    observe_sentence(&s, r);
    json_text(out, tmp, s.data);
    fl_buf_free(&s);
}

/* A check's part of the record, written by it as the members of an
   object; nothing when it has nothing to say. */
static void json_part(struct fl_buf *out, struct fl_buf *tmp, const struct fl_record_part *p)
{
    fl_buf_reset(tmp);
    struct fl_json_out j;
    fl_json_out_init(&j, tmp);
    if (!p->fill(p->data, &j))
        return;
    json_key(out, false, p->key);
    fl_buf_putc(out, '{');
    fl_buf_append(out, tmp->data ? tmp->data : "", tmp->len);
    fl_buf_putc(out, '}');
}

void fl_verdict_json(struct fl_buf *out, const struct fl_verdict_facts *f,
                     const struct fl_result *results, size_t n, const struct fl_verdict *v)
{
    /* What the direct writer does not reproduce goes the jansson way: a
       record_json it cannot splice, a DSN json_string would refuse. */
    const char **extra = fl_calloc(n + 1, sizeof(*extra));
    size_t *extra_len = fl_calloc(n + 1, sizeof(*extra_len));
    bool plain = plain_ascii(v->dsn, sizeof(v->dsn));
    for (size_t i = 0; i < n && plain; i++) {
        const struct fl_result *r = &results[i];
        extra[i] = NULL;
        extra_len[i] = 0;
        if (r->record_json != NULL)
            plain = splice_members(r->record_json, r->observe_action != FL_ACTION_ACCEPT,
                                   &extra[i], &extra_len[i]);
        if (r->observe_action != FL_ACTION_ACCEPT)
            plain = plain && plain_ascii(r->observe_dsn, sizeof(r->observe_dsn));
    }
    if (!plain) {
        free(extra);
        free(extra_len);
        fl_verdict_json_jansson(out, f, results, n, v);
        return;
    }
    struct fl_buf tmp;
    fl_buf_init(&tmp);
    fl_buf_putc(out, '{');
    json_key(out, true, "v");
    fl_buf_printf(out, "%d", FL_VERDICT_RECORD_VERSION);
    char when[40];
    format_time(when, sizeof(when), f);
    json_key(out, false, "time");
    json_name(out, when);
    json_key(out, false, "queue_id");
    json_text(out, &tmp, f->queue_id ? f->queue_id : "NOQUEUE");
    json_key(out, false, "client");
    fl_buf_putc(out, '{');
    json_key(out, true, "ip");
    json_text(out, &tmp, f->client_ip);
    json_key(out, false, "port");
    fl_buf_printf(out, "%u", f->client_port);
    json_key(out, false, "ptr");
    json_text(out, &tmp, f->client_ptr);
    json_key(out, false, "helo");
    json_text(out, &tmp, f->helo);
    fl_buf_putc(out, '}');
    json_key(out, false, "mail_from");
    json_text(out, &tmp, f->mail_from);
    json_key(out, false, "rcpts");
    fl_buf_putc(out, '[');
    for (size_t i = 0; i < f->nrcpts; i++) {
        if (i)
            fl_buf_putc(out, ',');
        json_text(out, &tmp, f->rcpts[i]);
    }
    fl_buf_putc(out, ']');
    if (f->rcpts_dropped) {
        json_key(out, false, "rcpts_not_recorded");
        fl_buf_printf(out, "%lld", (long long)f->rcpts_dropped);
    }
    if (f->rcpts_refused) {
        json_key(out, false, "rcpts_refused");
        fl_buf_printf(out, "%lld", (long long)f->rcpts_refused);
    }
    json_key(out, false, "message_id");
    json_text(out, &tmp, f->message_id);
    json_key(out, false, "skipped");
    json_text(out, &tmp, f->skipped_reason);
    json_key(out, false, "checks");
    fl_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        fl_buf_puts(out, i ? ",{" : "{");
        json_result(out, &tmp, &results[i], extra[i], extra_len[i]);
        fl_buf_putc(out, '}');
    }
    fl_buf_putc(out, ']');
    json_key(out, false, "action");
    json_name(out, fl_action_name(v->action));
    json_key(out, false, "reply");
    fl_buf_putc(out, '{');
    json_key(out, true, "code");
    fl_buf_printf(out, "%d", v->code);
    json_key(out, false, "dsn");
    json_name(out, v->dsn);
    json_key(out, false, "text");
    json_text(out, &tmp, v->text);
    fl_buf_putc(out, '}');
    json_key(out, false, "fault");
    json_name(out, fl_fault_name(v->fault));
    json_key(out, false, "transient");
    fl_buf_puts(out, v->transient ? "true" : "false");
    json_key(out, false, "reason");
    json_text(out, &tmp, v->reason_code);
    const char *sep = ",\"observed\":[";
    for (size_t i = 0; i < n; i++)
        if (results[i].observe_action != FL_ACTION_ACCEPT) {
            fl_buf_puts(out, sep);
            sep = ",";
            json_observed(out, &tmp, &results[i]);
        }
    if (strcmp(sep, ",") == 0)
        fl_buf_putc(out, ']');
    json_key(out, false, "elapsed_ms");
    fl_buf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < f->nstages; i++) {
        /* a stage given twice keeps its first place and its last time */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(f->stages[j].stage, f->stages[i].stage) == 0;
        if (seen)
            continue;
        long ms = f->stages[i].ms;
        for (size_t k = i + 1; k < f->nstages; k++)
            if (strcmp(f->stages[k].stage, f->stages[i].stage) == 0)
                ms = f->stages[k].ms;
        if (!first)
            fl_buf_putc(out, ',');
        first = false;
        json_name(out, f->stages[i].stage);
        fl_buf_printf(out, ":%ld", ms);
    }
    fl_buf_putc(out, '}');
    for (size_t i = 0; i < f->nparts; i++)
        json_part(out, &tmp, &f->parts[i]);
    json_key(out, false, "work_ms");
    fl_buf_printf(out, "%ld", f->work_ms);
    fl_buf_putc(out, '}');
    fl_buf_free(&tmp);
    free(extra);
    free(extra_len);
}

void fl_verdict_observe_line(struct fl_buf *out, const struct fl_verdict_facts *f,
                             const struct fl_result *r)
{
    fl_buf_puts(out, f->queue_id ? f->queue_id : "NOQUEUE");
    fl_buf_printf(out, ": observe check=%s would=%s code=%d dsn=%s reply=\"", r->method,
                  fl_action_name(r->observe_action), r->observe_code, r->observe_dsn);
    struct fl_buf text;
    fl_buf_init(&text);
    fl_sanitize_ascii(&text, r->observe_text ? r->observe_text : "", MAX_TEXT + 100);
    for (const char *p = text.data; *p; p++)
        fl_buf_putc(out, *p == '"' ? '\'' : *p);
    fl_buf_free(&text);
    fl_buf_puts(out, "\" client=[");
    fl_sanitize_ascii(out, f->client_ip ? f->client_ip : "", 64);
    fl_buf_puts(out, "]");
}

void fl_verdict_summary(struct fl_buf *out, const struct fl_verdict_facts *f,
                        const struct fl_result *results, size_t n, const struct fl_verdict *v)
{
    fl_buf_puts(out, f->queue_id ? f->queue_id : "NOQUEUE");
    fl_buf_printf(out, ": verdict action=%s", fl_action_name(v->action));
    if (v->action == FL_ACTION_REJECT || v->action == FL_ACTION_TEMPFAIL)
        fl_buf_printf(out, " code=%d dsn=%s", v->code, v->dsn);
    fl_buf_printf(out, " fault=%s", fl_fault_name(v->fault));
    if (v->fault != FL_FAULT_NONE && v->transient)
        fl_buf_puts(out, " transient=yes");
    if (v->reason_code)
        fl_buf_printf(out, " reason=%s", v->reason_code);
    fl_buf_puts(out, " client=[");
    fl_sanitize_ascii(out, f->client_ip ? f->client_ip : "", 64);
    fl_buf_puts(out, "] from=<");
    fl_sanitize_ascii(out, f->mail_from ? f->mail_from : "", MAX_TEXT);
    fl_buf_puts(out, "> checks=");
    fl_verdict_checks_list(out, results, n, f->skipped_reason);
    const char *sep = " observe=";
    for (size_t i = 0; i < n; i++) {
        if (results[i].observe_action == FL_ACTION_ACCEPT)
            continue;
        fl_buf_printf(out, "%s%s:%s:%d", sep, results[i].method,
                      fl_action_name(results[i].observe_action), results[i].observe_code);
        sep = ",";
    }
    fl_buf_printf(out, " ms=%ld", f->work_ms);
}
