/* dmarc_json: the DMARC part of the verdict record -- everything an RFC
   9990 aggregate report row needs from DMARC, as JSON members (names
   follow RFC 9990's XML elements where there is one: policy_published,
   policy_evaluated, auth_results).  Every string in the report is already
   printable ASCII.  Thread-safety: pure function of its arguments. */
#include "lib/dmarc/dmarc.h"

#include <jansson.h>

static json_t *str_or_null(const char *s)
{
    return s != NULL && *s ? json_string(s) : json_null();
}

static const char *source_name(enum fl_dmarc_source s)
{
    switch (s) {
    case FL_DMARC_SOURCE_AUTHOR:
        return "author";
    case FL_DMARC_SOURCE_ORG:
        return "organizational";
    case FL_DMARC_SOURCE_PSD:
        return "psd";
    case FL_DMARC_SOURCE_NONE:
        break;
    }
    return "none";
}

static json_t *policy_or_null(enum fl_dmarc_policy p)
{
    return p == FL_DMARC_POLICY_ABSENT ? json_null() : json_string(fl_dmarc_policy_name(p));
}

static json_t *published(const struct fl_dmarc_report *r)
{
    const struct fl_dmarc_record *rec = &r->record;
    static const char *const psd[] = {"u", "y", "n"};
    json_t *o = json_object();
    json_object_set_new(o, "domain", json_string(r->policy_domain));
    json_object_set_new(o, "found_at", json_string(source_name(r->source)));
    json_object_set_new(o, "walk_step", json_integer(r->walk_step));
    json_object_set_new(o, "p", policy_or_null(rec->p));
    json_object_set_new(o, "sp", policy_or_null(rec->sp));
    json_object_set_new(o, "np", policy_or_null(rec->np));
    json_object_set_new(o, "adkim", json_string(rec->adkim_strict ? "s" : "r"));
    json_object_set_new(o, "aspf", json_string(rec->aspf_strict ? "s" : "r"));
    json_object_set_new(o, "testing", json_string(rec->testing ? "y" : "n"));
    json_object_set_new(o, "psd", json_string(psd[rec->psd]));
    json_object_set_new(o, "pct", rec->pct >= 0 ? json_integer(rec->pct) : json_null());
    json_object_set_new(o, "fo", json_string(rec->fo));
    json_object_set_new(o, "rua", str_or_null(rec->rua));
    json_object_set_new(o, "ruf", str_or_null(rec->ruf));
    json_object_set_new(o, "problems", str_or_null(rec->problems));
    return o;
}

void fl_dmarc_report_json(const struct fl_dmarc_report *r, void *obj)
{
    json_t *o = obj;
    json_object_set_new(o, "result", json_string(fl_res_name(r->result)));
    json_object_set_new(o, "header_from", str_or_null(r->header_from));
    json_object_set_new(o, "from_headers", json_integer(r->from_headers));
    json_object_set_new(o, "from_addresses", json_integer(r->from_addresses));
    json_object_set_new(o, "envelope_from", str_or_null(r->envelope_from));
    json_object_set_new(o, "org_domain", str_or_null(r->org_domain));
    json_object_set_new(o, "policy_published", r->record_found ? published(r) : json_null());
    json_object_set_new(o, "policy_applied", policy_or_null(r->policy));
    json_object_set_new(o, "policy_tag", r->policy_tag ? json_string(r->policy_tag) : json_null());
    json_object_set_new(o, "author_exists", json_boolean(r->author_exists));
    json_t *ev = json_object();
    json_object_set_new(ev, "disposition", policy_or_null(r->disposition));
    json_object_set_new(ev, "dkim", json_string(r->dkim_aligned ? "pass" : "fail"));
    json_object_set_new(ev, "spf", json_string(r->spf_aligned ? "pass" : "fail"));
    if (r->override != NULL) {
        json_t *ov = json_object();
        json_object_set_new(ov, "type", json_string(r->override));
        json_object_set_new(ov, "comment", json_string(r->override_comment));
        json_object_set_new(ev, "reason", ov);
    } else {
        json_object_set_new(ev, "reason", json_null());
    }
    json_object_set_new(o, "policy_evaluated", ev);
    json_t *dkim = json_array();
    for (size_t i = 0; i < r->ndkim; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "domain", json_string(r->dkim[i].domain));
        json_object_set_new(s, "selector", json_string(r->dkim[i].selector));
        json_object_set_new(s, "result", json_string(fl_res_name(r->dkim[i].result)));
        json_object_set_new(s, "aligned", json_boolean(r->dkim[i].aligned));
        json_array_append_new(dkim, s);
    }
    json_object_set_new(o, "dkim", dkim);
    if (r->spf_scope != NULL) {
        json_t *spf = json_object();
        json_object_set_new(spf, "domain", json_string(r->spf_domain));
        json_object_set_new(spf, "scope", json_string(r->spf_scope));
        json_object_set_new(spf, "result", json_string(fl_res_name(r->spf_result)));
        json_object_set_new(spf, "aligned", json_boolean(r->spf_aligned));
        json_object_set_new(o, "spf", spf);
    } else {
        json_object_set_new(o, "spf", json_null());
    }
    json_object_set_new(o, "dns_queries", json_integer(r->dns_queries));
}
