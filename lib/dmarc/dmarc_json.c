/* dmarc_json: the DMARC part of the verdict record -- everything an RFC
   9990 aggregate report row needs from DMARC, as JSON members (names
   follow RFC 9990's XML elements where there is one: policy_published,
   policy_evaluated, auth_results).  Every string in the report is already
   printable ASCII.  Thread-safety: pure function of its arguments. */
#include "lib/dmarc/dmarc.h"
#include "lib/core/json_out.h"

static void str_or_null(struct fl_json_out *j, const char *key, const char *s)
{
    fl_json_key(j, key);
    fl_json_str(j, s != NULL && *s ? s : NULL);
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

static void policy_or_null(struct fl_json_out *j, const char *key, enum fl_dmarc_policy p)
{
    fl_json_key(j, key);
    fl_json_str(j, p == FL_DMARC_POLICY_ABSENT ? NULL : fl_dmarc_policy_name(p));
}

static void member(struct fl_json_out *j, const char *key, const char *s)
{
    fl_json_key(j, key);
    fl_json_str(j, s);
}

static void published(struct fl_json_out *j, const struct fl_dmarc_report *r)
{
    const struct fl_dmarc_record *rec = &r->record;
    static const char *const psd[] = {"u", "y", "n"};
    fl_json_begin(j, '{');
    member(j, "domain", r->policy_domain);
    member(j, "found_at", source_name(r->source));
    fl_json_key(j, "walk_step");
    fl_json_int(j, r->walk_step);
    policy_or_null(j, "p", rec->p);
    policy_or_null(j, "sp", rec->sp);
    policy_or_null(j, "np", rec->np);
    member(j, "adkim", rec->adkim_strict ? "s" : "r");
    member(j, "aspf", rec->aspf_strict ? "s" : "r");
    member(j, "testing", rec->testing ? "y" : "n");
    member(j, "psd", psd[rec->psd]);
    fl_json_key(j, "pct");
    if (rec->pct >= 0)
        fl_json_int(j, rec->pct);
    else
        fl_json_null(j);
    member(j, "fo", rec->fo);
    str_or_null(j, "rua", rec->rua);
    str_or_null(j, "ruf", rec->ruf);
    str_or_null(j, "problems", rec->problems);
    fl_json_end(j, '}');
}

void fl_dmarc_report_json(const struct fl_dmarc_report *r, struct fl_json_out *j)
{
    member(j, "result", fl_res_name(r->result));
    str_or_null(j, "header_from", r->header_from);
    fl_json_key(j, "from_headers");
    fl_json_int(j, r->from_headers);
    fl_json_key(j, "from_addresses");
    fl_json_int(j, r->from_addresses);
    str_or_null(j, "envelope_from", r->envelope_from);
    str_or_null(j, "org_domain", r->org_domain);
    fl_json_key(j, "policy_published");
    if (r->record_found)
        published(j, r);
    else
        fl_json_null(j);
    policy_or_null(j, "policy_applied", r->policy);
    member(j, "policy_tag", r->policy_tag);
    fl_json_key(j, "author_exists");
    fl_json_bool(j, r->author_exists);
    fl_json_key(j, "policy_evaluated");
    fl_json_begin(j, '{');
    policy_or_null(j, "disposition", r->disposition);
    member(j, "dkim", r->dkim_aligned ? "pass" : "fail");
    member(j, "spf", r->spf_aligned ? "pass" : "fail");
    fl_json_key(j, "reason");
    if (r->override != NULL) {
        fl_json_begin(j, '{');
        member(j, "type", r->override);
        member(j, "comment", r->override_comment);
        fl_json_end(j, '}');
    } else {
        fl_json_null(j);
    }
    fl_json_end(j, '}');
    fl_json_key(j, "dkim");
    fl_json_begin(j, '[');
    for (size_t i = 0; i < r->ndkim; i++) {
        fl_json_begin(j, '{');
        member(j, "domain", r->dkim[i].domain);
        member(j, "selector", r->dkim[i].selector);
        member(j, "result", fl_res_name(r->dkim[i].result));
        fl_json_key(j, "aligned");
        fl_json_bool(j, r->dkim[i].aligned);
        fl_json_end(j, '}');
    }
    fl_json_end(j, ']');
    fl_json_key(j, "spf");
    if (r->spf_scope != NULL) {
        fl_json_begin(j, '{');
        member(j, "domain", r->spf_domain);
        member(j, "scope", r->spf_scope);
        member(j, "result", fl_res_name(r->spf_result));
        fl_json_key(j, "aligned");
        fl_json_bool(j, r->spf_aligned);
        fl_json_end(j, '}');
    } else {
        fl_json_null(j);
    }
    fl_json_key(j, "dns_queries");
    fl_json_int(j, r->dns_queries);
}
