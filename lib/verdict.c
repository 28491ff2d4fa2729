/* verdict: see verdict.h. */
#include "lib/verdict.h"
#include "lib/arc.h"
#include "lib/attribution.h"
#include "lib/dmarc.h"
#include "lib/sanitize.h"
#include "lib/xalloc.h"

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

static void set_reply(struct fl_verdict *v, const struct fl_attribution *a, const char *detail)
{
    struct fl_buf text;
    fl_buf_init(&text);
    fl_buf_puts(&text, a->what);
    if (detail && *detail) {
        fl_buf_puts(&text, ": ");
        fl_sanitize_ascii(&text, detail, MAX_TEXT);
    }
    fl_buf_printf(&text, " (fault=%s)", fl_fault_name(v->fault));
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
            set_reply(v, a, worst->detail);
        }
    }
    /* Our own fault overrides a check's request, and never becomes a 5xx. */
    if (internal_error != NULL) {
        const struct fl_attribution *a = fl_attribution_find(internal_error);
        free(v->reason_code);
        v->reason_code = fl_strdup(internal_error);
        v->fault = FL_FAULT_RECEIVER;
        v->transient = true;
        if (on_error_tempfail) {
            v->action = FL_ACTION_TEMPFAIL;
            v->code = 451;
            snprintf(v->dsn, sizeof(v->dsn), "4.3.0");
            set_reply(v, a, NULL);
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

/* "would have refused with 554 5.7.1 TEXT" / "would have deferred with 451
   4.7.1 TEXT": what observe mode kept from happening. */
static void observe_sentence(struct fl_buf *out, const struct fl_result *r)
{
    fl_buf_printf(out, "%s: would have %s with %d %s ", r->method,
                  r->observe_action == FL_ACTION_TEMPFAIL ? "deferred" : "refused",
                  r->observe_code, r->observe_dsn);
    fl_sanitize_ascii(out, r->observe_text ? r->observe_text : "", MAX_TEXT + 100);
}

void fl_verdict_json(struct fl_buf *out, const struct fl_verdict_facts *f,
                     const struct fl_result *results, size_t n, const struct fl_verdict *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(FL_VERDICT_RECORD_VERSION));
    char when[40];
    struct tm tm;
    gmtime_r(&f->when.tv_sec, &tm);
    size_t len = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + len, sizeof(when) - len, ".%03ldZ", f->when.tv_nsec / 1000000L);
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
    if (f->dmarc != NULL) {
        json_t *d = json_object();
        fl_dmarc_report_json(f->dmarc, d);
        json_object_set_new(o, "dmarc", d);
    }
    if (f->arc != NULL) {
        json_t *a = json_object();
        fl_arc_json(f->arc, a);
        json_object_set_new(o, "arc", a);
    }
    json_object_set_new(o, "work_ms", json_integer(f->work_ms));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fl_buf_puts(out, s);
    free(s);
    json_decref(o);
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
