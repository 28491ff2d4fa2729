/* result: see result.h. */
#include "lib/core/result.h"
#include "lib/core/xalloc.h"

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

void fl_result_init(struct fl_result *r, const char *method, enum fl_res res)
{
    memset(r, 0, sizeof(*r));
    r->method = fl_strdup(method);
    r->result = res;
    r->in_header = true;
}

static void replace(char **field, const char *value)
{
    free(*field);
    *field = value ? fl_strdup(value) : NULL;
}

void fl_result_set_reason(struct fl_result *r, const char *code, const char *reason,
                          const char *detail)
{
    replace(&r->reason_code, code);
    replace(&r->reason, reason);
    replace(&r->detail, detail);
}

int fl_result_add_prop(struct fl_result *r, const char *ptype, const char *property,
                       const char *value)
{
    if (r->nprops >= FL_RESULT_MAX_PROPS)
        return -1;
    struct fl_prop *p = &r->props[r->nprops++];
    p->ptype = fl_strdup(ptype);
    p->property = fl_strdup(property);
    p->value = fl_strdup(value);
    return 0;
}

void fl_result_copy(struct fl_result *dst, const struct fl_result *src)
{
    fl_result_init(dst, src->method, src->result);
    fl_result_set_reason(dst, src->reason_code, src->reason, src->detail);
    for (size_t i = 0; i < src->nprops; i++)
        fl_result_add_prop(dst, src->props[i].ptype, src->props[i].property, src->props[i].value);
    dst->fault = src->fault;
    dst->transient = src->transient;
    dst->in_header = src->in_header;
    dst->action = src->action;
    fl_result_set_record_json(dst, src->record_json);
    dst->observe_action = src->observe_action;
    dst->observe_code = src->observe_code;
    memcpy(dst->observe_dsn, src->observe_dsn, sizeof(dst->observe_dsn));
    replace(&dst->observe_text, src->observe_text);
}

void fl_result_set_record_json(struct fl_result *r, const char *json)
{
    replace(&r->record_json, json);
}

void fl_result_observe(struct fl_result *r, int code, const char *dsn, const char *text)
{
    if (r->action == FL_ACTION_ACCEPT)
        return;
    r->observe_action = r->action;
    r->observe_code = code;
    snprintf(r->observe_dsn, sizeof(r->observe_dsn), "%s", dsn ? dsn : "");
    replace(&r->observe_text, text);
    r->action = FL_ACTION_ACCEPT;
}

void fl_result_clear(struct fl_result *r)
{
    free(r->method);
    free(r->reason_code);
    free(r->reason);
    free(r->detail);
    free(r->record_json);
    free(r->observe_text);
    for (size_t i = 0; i < r->nprops; i++) {
        free(r->props[i].ptype);
        free(r->props[i].property);
        free(r->props[i].value);
    }
    memset(r, 0, sizeof(*r));
}
