/* verdict: see verdict.h. */
#include "lib/verdict.h"
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

/* The record is written straight into the buffer, without a jansson tree
   (building and dumping one was a tenth of the daemon's CPU per message);
   the bytes are those json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) gave.
   Only the DMARC part comes from lib/dmarc as a jansson object. */

/* A JSON string of n bytes (valid UTF-8) with jansson's escapes. */
static void json_escaped(struct fl_buf *out, const char *s, size_t n)
{
    fl_buf_putc(out, '"');
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char hex[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(hex, sizeof(hex), "\\u%04X", c);
                esc = hex;
            }
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        fl_buf_append(out, s + i - run, run);
        run = 0;
        fl_buf_puts(out, esc);
    }
    fl_buf_append(out, s + n - run, run);
    fl_buf_putc(out, '"');
}

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
    json_escaped(out, tmp->data ? tmp->data : "", tmp->len);
}

/* ,"key": -- key is a literal of ours (nothing to escape) */
static void json_key(struct fl_buf *out, bool first, const char *key)
{
    fl_buf_puts(out, first ? "\"" : ",\"");
    fl_buf_puts(out, key);
    fl_buf_puts(out, "\":");
}

static void json_props(struct fl_buf *out, struct fl_buf *tmp, const struct fl_result *r)
{
    /* an object keeps a key's first place and its last value */
    char **keys = fl_calloc(r->nprops + 1, sizeof(*keys));
    for (size_t i = 0; i < r->nprops; i++) {
        fl_buf_reset(tmp);
        struct fl_buf raw;
        fl_buf_init(&raw);
        fl_buf_printf(&raw, "%s.%s", r->props[i].ptype, r->props[i].property);
        fl_sanitize_utf8(tmp, raw.data, 0);
        fl_buf_free(&raw);
        keys[i] = fl_strndup(tmp->data ? tmp->data : "", tmp->len);
    }
    fl_buf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < r->nprops; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(keys[j], keys[i]) == 0;
        if (seen)
            continue;
        size_t last = i;
        for (size_t k = i + 1; k < r->nprops; k++)
            if (strcmp(keys[k], keys[i]) == 0)
                last = k;
        if (!first)
            fl_buf_putc(out, ',');
        first = false;
        json_escaped(out, keys[i], strlen(keys[i]));
        fl_buf_putc(out, ':');
        json_text(out, tmp, r->props[last].value);
    }
    fl_buf_putc(out, '}');
    for (size_t i = 0; i < r->nprops; i++)
        free(keys[i]);
    free(keys);
}

static void json_result(struct fl_buf *out, struct fl_buf *tmp, const struct fl_result *r)
{
    json_key(out, true, "method");
    json_text(out, tmp, r->method);
    json_key(out, false, "result");
    json_text(out, tmp, fl_res_name(r->result));
    json_key(out, false, "reason");
    json_text(out, tmp, r->reason_code);
    json_key(out, false, "fault");
    json_text(out, tmp, fl_fault_name(r->fault));
    json_key(out, false, "transient");
    fl_buf_puts(out, r->transient ? "true" : "false");
    json_key(out, false, "action");
    json_text(out, tmp, fl_action_name(r->action));
    json_key(out, false, "comment");
    json_text(out, tmp, r->reason);
    json_key(out, false, "detail");
    json_text(out, tmp, r->detail);
    json_key(out, false, "props");
    json_props(out, tmp, r);
}

void fl_verdict_json(struct fl_buf *out, const struct fl_verdict_facts *f,
                     const struct fl_result *results, size_t n, const struct fl_verdict *v)
{
    struct fl_buf tmp;
    fl_buf_init(&tmp);
    char when[40];
    struct tm tm;
    gmtime_r(&f->when.tv_sec, &tm);
    size_t len = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + len, sizeof(when) - len, ".%03ldZ", f->when.tv_nsec / 1000000L);
    fl_buf_putc(out, '{');
    json_key(out, true, "time");
    json_text(out, &tmp, when);
    json_key(out, false, "queue_id");
    json_text(out, &tmp, f->queue_id ? f->queue_id : "NOQUEUE");
    json_key(out, false, "client");
    fl_buf_putc(out, '{');
    json_key(out, true, "ip");
    json_text(out, &tmp, f->client_ip);
    json_key(out, false, "port");
    fl_buf_printf(out, "%lld", (long long)f->client_port);
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
        json_result(out, &tmp, &results[i]);
        fl_buf_putc(out, '}');
    }
    fl_buf_putc(out, ']');
    json_key(out, false, "action");
    json_text(out, &tmp, fl_action_name(v->action));
    json_key(out, false, "reply");
    fl_buf_putc(out, '{');
    json_key(out, true, "code");
    fl_buf_printf(out, "%lld", (long long)v->code);
    json_key(out, false, "dsn");
    json_text(out, &tmp, v->dsn);
    json_key(out, false, "text");
    json_text(out, &tmp, v->text);
    fl_buf_putc(out, '}');
    json_key(out, false, "fault");
    json_text(out, &tmp, fl_fault_name(v->fault));
    json_key(out, false, "transient");
    fl_buf_puts(out, v->transient ? "true" : "false");
    json_key(out, false, "reason");
    json_text(out, &tmp, v->reason_code);
    json_key(out, false, "elapsed_ms");
    fl_buf_putc(out, '{');
    for (size_t i = 0; i < f->nstages; i++) {
        json_key(out, i == 0, f->stages[i].stage);
        fl_buf_printf(out, "%lld", (long long)f->stages[i].ms);
    }
    fl_buf_putc(out, '}');
    if (f->dmarc != NULL) {
        json_t *d = json_object();
        fl_dmarc_report_json(f->dmarc, d);
        char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_key(out, false, "dmarc");
        fl_buf_puts(out, s ? s : "{}");
        free(s);
        json_decref(d);
    }
    json_key(out, false, "work_ms");
    fl_buf_printf(out, "%lld", (long long)f->work_ms);
    fl_buf_putc(out, '}');
    fl_buf_free(&tmp);
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
    fl_buf_printf(out, " ms=%ld", f->work_ms);
}
