/* result: see result.h. */
#include "lib/core/result.h"
#include "lib/core/xalloc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const res_names[] = {
    [FL_RES_NONE] = "none",           [FL_RES_PASS] = "pass",
    [FL_RES_FAIL] = "fail",           [FL_RES_SOFTFAIL] = "softfail",
    [FL_RES_NEUTRAL] = "neutral",     [FL_RES_POLICY] = "policy",
    [FL_RES_TEMPERROR] = "temperror", [FL_RES_PERMERROR] = "permerror",
    [FL_RES_SKIPPED] = "skipped",
};

const char *fl_res_name(enum fl_res res)
{
    if ((size_t)res < sizeof(res_names) / sizeof(res_names[0]) && res_names[res])
        return res_names[res];
    return "unknown";
}

const char *fl_fault_name(enum fl_fault fault)
{
    switch (fault) {
    case FL_FAULT_SENDER:
        return "sender";
    case FL_FAULT_RECEIVER:
        return "receiver";
    case FL_FAULT_NONE:
        break;
    }
    return "none";
}

const char *fl_action_name(enum fl_action action)
{
    switch (action) {
    case FL_ACTION_QUARANTINE:
        return "quarantine";
    case FL_ACTION_TEMPFAIL:
        return "tempfail";
    case FL_ACTION_REJECT:
        return "reject";
    case FL_ACTION_ACCEPT:
        break;
    }
    return "accept";
}

/* Every string field of r, for moving them with their block. */
static size_t fields(struct fl_result *r, char ***out)
{
    size_t n = 0;
    out[n++] = &r->method;
    out[n++] = &r->reason_code;
    out[n++] = &r->reason;
    out[n++] = &r->detail;
    out[n++] = &r->record_json;
    out[n++] = &r->observe_text;
    for (size_t i = 0; i < r->nprops; i++) {
        out[n++] = &r->props[i].ptype;
        out[n++] = &r->props[i].property;
        out[n++] = &r->props[i].value;
    }
    return n;
}

enum { MAX_FIELDS = 6 + 3 * FL_RESULT_MAX_PROPS };

/* Offset of p in r's block, or -1 when it points elsewhere (or NULL). */
static ptrdiff_t offset_in(const struct fl_result *r, const char *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)r->strings;
    return p != NULL && r->strings != NULL && a >= base && a < base + r->strings_len
               ? (ptrdiff_t)(a - base)
               : -1;
}

/* Copies value into r's block (which may move: every field is moved with
   it, and so is value when it points into the block); returns the copy. */
static char *put(struct fl_result *r, const char *value)
{
    if (value == NULL)
        return NULL;
    size_t n = strlen(value) + 1;
    if (r->strings_cap - r->strings_len < n) {
        char **f[MAX_FIELDS];
        ptrdiff_t off[MAX_FIELDS];
        size_t nf = fields(r, f);
        for (size_t i = 0; i < nf; i++)
            off[i] = offset_in(r, *f[i]);
        ptrdiff_t voff = offset_in(r, value);
        size_t cap = r->strings_cap ? r->strings_cap : 256;
        while (cap - r->strings_len < n)
            cap *= 2;
        r->strings = fl_realloc(r->strings, cap);
        r->strings_cap = cap;
        for (size_t i = 0; i < nf; i++)
            if (off[i] >= 0)
                *f[i] = r->strings + off[i];
        if (voff >= 0)
            value = r->strings + voff;
    }
    char *copy = r->strings + r->strings_len;
    memmove(copy, value, n);
    r->strings_len += n;
    return copy;
}

void fl_result_init(struct fl_result *r, const char *method, enum fl_res res)
{
    memset(r, 0, sizeof(*r));
    r->method = put(r, method);
    r->result = res;
    r->in_header = true;
}

void fl_result_set_reason(struct fl_result *r, const char *code, const char *reason,
                          const char *detail)
{
    r->reason_code = put(r, code);
    r->reason = put(r, reason);
    r->detail = put(r, detail);
}

int fl_result_add_prop(struct fl_result *r, const char *ptype, const char *property,
                       const char *value)
{
    if (r->nprops >= FL_RESULT_MAX_PROPS)
        return -1;
    /* counted only once its strings are in place (put moves the others) */
    char *t = put(r, ptype);
    ptrdiff_t toff = offset_in(r, t);
    char *pr = put(r, property);
    ptrdiff_t proff = offset_in(r, pr);
    char *v = put(r, value);
    struct fl_prop *p = &r->props[r->nprops++];
    p->ptype = toff >= 0 ? r->strings + toff : NULL;
    p->property = proff >= 0 ? r->strings + proff : NULL;
    p->value = v;
    return 0;
}

void fl_result_copy(struct fl_result *dst, const struct fl_result *src)
{
    *dst = *src;
    if (src->strings != NULL) {
        dst->strings = fl_malloc(src->strings_cap);
        memcpy(dst->strings, src->strings, src->strings_len);
    }
    char **f[MAX_FIELDS];
    size_t nf = fields(dst, f);
    for (size_t i = 0; i < nf; i++) {
        ptrdiff_t off = offset_in(src, *f[i]);
        if (off >= 0)
            *f[i] = dst->strings + off;
        else if (*f[i] != NULL) /* not from this API: a string of its own */
            *f[i] = put(dst, *f[i]);
    }
}

void fl_result_set_record_json(struct fl_result *r, const char *json)
{
    r->record_json = put(r, json);
}

void fl_result_observe(struct fl_result *r, int code, const char *dsn, const char *text)
{
    if (r->action == FL_ACTION_ACCEPT)
        return;
    r->observe_action = r->action;
    r->observe_code = code;
    snprintf(r->observe_dsn, sizeof(r->observe_dsn), "%s", dsn ? dsn : "");
    r->observe_text = put(r, text);
    r->action = FL_ACTION_ACCEPT;
}

void fl_result_clear(struct fl_result *r)
{
    free(r->strings);
    memset(r, 0, sizeof(*r));
}
