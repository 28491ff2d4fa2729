/* check_dmarc_dns: lib/dmarc against the hermetic test DNS server
   (tests/dns/zones/dmarc.example.zone, bank.example.zone,
   rfc9989.example.zone): Organizational Domains by the tree walk, policy
   discovery (author, organizational, PSD; p, sp, np), the alignment matrix
   (strict/relaxed x SPF/DKIM x subdomains), t=y, From problems, overrides,
   the operator's actions, DNS faults and their attribution, the report and
   its JSON, the depth limit, and that the queries of a walk overlap.

   Worked examples of RFC 9989 cross-checked here (example.com is
   rfc9989.example, com is example, bank.example is itself):
     "Identifier Alignment Examples": SPF examples 1-3, DKIM examples 1-3;
     "SMTP Session Example";
     "Simple Organizational and Policy Example";
     "Deep Tree Walk Example";
     "Example with a PSD DMARC Policy Record";
     "Identifier Alignment Evaluation": the three a.mail.example.com cases;
     "DNS Tree Walk": the query list for a.b.c.d.e.f.g.h.i.j.mail.example.com
     and the Domain Owner example (in check_dmarc.c). */
#include "tests/dmarc/check_dmarc.h"

#include "lib/core/json_out.h"
#include "lib/core/authres.h"
#include "lib/core/clock.h"
#include "lib/dmarc/dmarc_int.h"
#include "tests/harness/dns_server.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZONES "dmarc.example.zone bank.example.zone rfc9989.example.zone"
/* The TLD "example" is in no zone; a real TLD without a record says NXDOMAIN. */
#define BASE_FAULTS "_dmarc.example TXT nxdomain\n"

static struct fl_dnsd dnsd;

struct env {
    struct fl_config *cfg;
    struct fl_dns *dns;
};

static void env_open(struct env *e, const char *dnsd_addr, const char *extra)
{
    char path[] = "/tmp/fl-dmarc-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns_forwarders = %s\ndns_probe_domain = dmarc.example\ndns_timeout = 2s\n%s\n",
            dnsd_addr, extra ? extra : "");
    fclose(f);
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load(path, &e->cfg, &errors);
    unlink(path);
    ck_assert_msg(rc == 0, "%s", errors.data);
    fl_buf_free(&errors);
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dns_create(e->cfg, &e->dns, &why) == 0, "%s", why.data);
    fl_buf_free(&why);
}

static void env_close(struct env *e)
{
    fl_dns_destroy(&e->dns);
    fl_config_unref(&e->cfg);
}

static void server_start(void)
{
    ck_assert_msg(fl_dnsd_start(&dnsd, ZONES, BASE_FAULTS) == 0, "test DNS server did not start");
}

static void server_stop(void)
{
    fl_dnsd_stop(&dnsd);
}

static const char *prop(const struct fl_result *r, const char *ptype, const char *property)
{
    for (size_t i = 0; i < r->nprops; i++)
        if (strcmp(r->props[i].ptype, ptype) == 0 && strcmp(r->props[i].property, property) == 0)
            return r->props[i].value;
    return NULL;
}

/* One message: From values (NUL-separated list ending in "\0\0" is overkill:
   up to two), SPF and DKIM inputs. */
struct msg {
    const char *from[2];
    size_t nfrom;
    enum fl_res spf; /* FL_RES_SKIPPED: no SPF input */
    const char *mailfrom;
    const char *dkim_pass; /* comma-separated d= */
    const char *dkim_fail;
};

static size_t add_sigs(struct fl_dkim_signature *sigs, size_t n, char *buf, const char *list,
                       bool pass)
{
    if (list == NULL || *list == '\0')
        return n;
    snprintf(buf, 512, "%s", list);
    for (char *tok = strtok(buf, ","); tok && n < 8; tok = strtok(NULL, ",")) {
        sigs[n] = (struct fl_dkim_signature){tok, "sel", "", "rsa-sha256",
                                             pass ? FL_RES_PASS : FL_RES_FAIL, pass, NULL};
        n++;
    }
    return n;
}

/* Evaluates m; the report is copied to rep_r when not NULL. */
static void evaluate(struct env *e, const struct msg *m, struct fl_result *out,
                     struct fl_dmarc_report *rep_r)
{
    struct fl_dmarc *d = fl_dmarc_new(e->dns, e->cfg, fl_monotonic_ms() + 5000);
    for (size_t i = 0; i < m->nfrom; i++)
        fl_dmarc_from_header(d, m->from[i]);
    fl_dmarc_eoh(d);
    struct fl_result spf;
    fl_result_init(&spf, "spf", m->spf);
    struct fl_dkim_signature sigs[8];
    char b1[512], b2[512];
    size_t n = add_sigs(sigs, 0, b1, m->dkim_pass, true);
    n = add_sigs(sigs, n, b2, m->dkim_fail, false);
    struct fl_dmarc_inputs in = {m->spf == FL_RES_SKIPPED ? NULL : &spf, m->mailfrom, sigs, n, NULL};
    fl_dmarc_eom(d, &in, out);
    if (rep_r)
        *rep_r = *fl_dmarc_report(d);
    fl_dmarc_free(&d);
    ck_assert(d == NULL);
    fl_result_clear(&spf);
}

/* --- Organizational Domains (RFC 9989 "Identifier Alignment Evaluation") ------ */

struct org_row {
    const char *label, *start, *want;
};

/* clang-format off */
static const struct org_row org_rows[] = {
    {"RFC 9989: records at mail.example.com and example.com make example.com the org",
     "a.mail.rfc9989.example", "rfc9989.example"},
    {"RFC 9989: psd=n at mail.example.com makes it the org", "a.psdn.rfc9989.example",
     "psdn.rfc9989.example"},
    {"RFC 9989: only psd=y at the top makes the domain below it the org",
     "a.mail.onlypsd.bank.example", "onlypsd.bank.example"},
    {"RFC 9989 PSD example: giant.bank.example is its own org", "giant.bank.example",
     "giant.bank.example"},
    {"RFC 9989 PSD example: mail.giant.bank.example belongs to giant", "mail.giant.bank.example",
     "giant.bank.example"},
    {"RFC 9989 PSD example: mail.mega.bank.example belongs to mega", "mail.mega.bank.example",
     "mega.bank.example"},
    {"RFC 9989 simple example: signing.example.com belongs to example.com",
     "signing.rfc9989.example", "rfc9989.example"},
    {"a domain with psd=y is its own org when the walk starts there", "bank.example",
     "bank.example"},
    {"no record anywhere: the domain itself", "nodmarc.dmarc.example", "nodmarc.dmarc.example"},
    {"two records at one name count as none there", "multi.dmarc.example", "multi.dmarc.example"},
    {"past eight labels the walk skips to seven", "a.b.c.d.e.f.g.h.deep.dmarc.example",
     "deep.dmarc.example"},
};
/* clang-format on */

START_TEST(organizational_domains_come_from_the_tree_walk)
{
    const struct org_row *row = &org_rows[_i];
    struct env e;
    env_open(&e, dnsd.addr, NULL);
    struct fl_dmarc_walk w = {.dns = e.dns, .deadline_ms = fl_monotonic_ms() + 5000};
    char org[256];
    const struct fl_dmarc_name *err = NULL;
    ck_assert_msg(fl_dmarc_walk_org(&w, row->start, org, NULL, &err) == 0, "%s: DNS error at %s",
                  row->label, err ? err->domain : "?");
    ck_assert_msg(strcmp(org, row->want) == 0, "%s: got %s, want %s", row->label, org, row->want);
    fl_dmarc_walk_free(&w);
    env_close(&e);
}
END_TEST

/* --- evaluation table ------------------------------------------------------------ */

struct eval_row {
    const char *label;
    const char *conf;
    struct msg m;
    enum fl_res want;
    const char *policy; /* policy.dmarc, or NULL: absent */
    const char *code;   /* reason code, or NULL */
    enum fl_action action;
    const char *reason; /* substring of the reason, or NULL */
    const char *policy_domain;
};

#define HONOUR "dmarc_reject_action = reject"
#define SKIP   FL_RES_SKIPPED
#define PASS   FL_RES_PASS
#define FAIL   FL_RES_FAIL
#define ACC    FL_ACTION_ACCEPT
#define R      "reject.dmarc.example"

/* clang-format off */
static const struct eval_row eval_rows[] = {
    /* alignment matrix: relaxed (reject.dmarc.example: p=reject) */
    {"DKIM of the author domain itself aligns", HONOUR,
     {{"x@" R}, 1, SKIP, NULL, R, NULL}, PASS, "none", NULL, ACC,
     "DKIM passed for " R ", aligned with " R, R},
    {"relaxed: DKIM of a subdomain aligns", HONOUR,
     {{"x@" R}, 1, SKIP, NULL, "mail." R, NULL}, PASS, "none", NULL, ACC, "aligned", R},
    {"relaxed: DKIM of the parent aligns with a subdomain author", HONOUR,
     {{"x@mail." R}, 1, SKIP, NULL, R, NULL}, PASS, "none", NULL, ACC, "aligned", R},
    {"DKIM of another organisation does not align", HONOUR,
     {{"x@" R}, 1, SKIP, NULL, "quar.dmarc.example", NULL}, FAIL, "reject", "dmarc.reject",
     FL_ACTION_REJECT, "DKIM passed for quar.dmarc.example, not aligned with " R, R},
    {"a failed DKIM signature of the author does not align", HONOUR,
     {{"x@" R}, 1, SKIP, NULL, NULL, R}, FAIL, "reject", "dmarc.reject", FL_ACTION_REJECT,
     "DKIM signature of " R " fail", R},
    {"relaxed: SPF pass of a subdomain MAIL FROM aligns", HONOUR,
     {{"x@" R}, 1, PASS, "bounces." R, NULL, NULL}, PASS, "none", NULL, ACC,
     "SPF passed for bounces." R ", aligned with " R, R},
    {"SPF fail of the author domain does not align", HONOUR,
     {{"x@" R}, 1, FAIL, R, NULL, NULL}, FAIL, "reject", "dmarc.reject", FL_ACTION_REJECT,
     "SPF fail for " R, R},
    {"SPF pass of an unrelated domain: neither aligned, both named", HONOUR,
     {{"x@" R}, 1, PASS, "bounces.example.net", NULL, NULL}, FAIL, "reject", "dmarc.reject",
     FL_ACTION_REJECT,
     "SPF passed for bounces.example.net, not aligned with " R "; no DKIM signature of " R, R},
    {"SPF of the HELO is never DMARC's input: no SPF result", HONOUR,
     {{"x@" R}, 1, SKIP, NULL, NULL, NULL}, FAIL, "reject", "dmarc.reject", FL_ACTION_REJECT,
     "no SPF result; no DKIM signature of " R, R},
    /* strict */
    {"strict: DKIM of a subdomain does not align", HONOUR,
     {{"x@strict.dmarc.example"}, 1, SKIP, NULL, "mail.strict.dmarc.example", NULL}, FAIL,
     "reject", "dmarc.reject", FL_ACTION_REJECT, "(strict)", "strict.dmarc.example"},
    {"strict: DKIM of the identical domain aligns", HONOUR,
     {{"x@strict.dmarc.example"}, 1, SKIP, NULL, "strict.dmarc.example", NULL}, PASS, "none",
     NULL, ACC, NULL, "strict.dmarc.example"},
    {"strict: SPF of a subdomain does not align", HONOUR,
     {{"x@strict.dmarc.example"}, 1, PASS, "mail.strict.dmarc.example", NULL, NULL}, FAIL,
     "reject", "dmarc.reject", FL_ACTION_REJECT, "not aligned with strict.dmarc.example (strict)",
     "strict.dmarc.example"},
    {"strict: SPF of the identical domain aligns", HONOUR,
     {{"x@strict.dmarc.example"}, 1, PASS, "strict.dmarc.example", NULL, NULL}, PASS, "none",
     NULL, ACC, NULL, "strict.dmarc.example"},
    {"odd spacing and case: adkim=S is strict", HONOUR,
     {{"x@odd.dmarc.example"}, 1, SKIP, NULL, "mail.odd.dmarc.example", NULL}, FAIL, "reject",
     "dmarc.reject", FL_ACTION_REJECT, "(strict)", "odd.dmarc.example"},
    /* the operator's actions */
    {"by default p=reject is applied as quarantine with a header (RFC 9989)", "",
     {{"x@" R}, 1, SKIP, NULL, NULL, NULL}, FAIL, "quarantine", "dmarc.quarantine", ACC, NULL, R},
    {"dmarc_reject_action = mark applies none", "dmarc_reject_action = mark",
     {{"x@" R}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC, NULL, R},
    {"p=quarantine with the MTA's quarantine", "dmarc_quarantine_action = quarantine",
     {{"x@quar.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "quarantine",
     "dmarc.quarantine", FL_ACTION_QUARANTINE, NULL, "quar.dmarc.example"},
    {"p=quarantine only marked", "dmarc_quarantine_action = mark",
     {{"x@quar.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC,
     NULL, "quar.dmarc.example"},
    {"p=none fails without consequence", HONOUR,
     {{"x@none.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC, NULL,
     "none.dmarc.example"},
    /* t=y */
    {"t=y turns reject into quarantine", HONOUR "\ndmarc_quarantine_action = quarantine",
     {{"x@testing.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "quarantine",
     "dmarc.quarantine", FL_ACTION_QUARANTINE, NULL, "testing.dmarc.example"},
    {"t=y turns quarantine into none", "dmarc_quarantine_action = quarantine",
     {{"x@testq.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC,
     NULL, "testq.dmarc.example"},
    {"t=y does not touch a pass", HONOUR,
     {{"x@testing.dmarc.example"}, 1, SKIP, NULL, "testing.dmarc.example", NULL}, PASS, "none",
     NULL, ACC, NULL, "testing.dmarc.example"},
    /* policy discovery: p, sp, np */
    {"an existing subdomain without a record gets sp", "dmarc_quarantine_action = quarantine",
     {{"x@exists.org.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "quarantine",
     "dmarc.quarantine", FL_ACTION_QUARANTINE, NULL, "org.dmarc.example"},
    {"a non-existent subdomain (NXDOMAIN) gets np", HONOUR,
     {{"x@ghost.org.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC,
     NULL, "org.dmarc.example"},
    {"without np a non-existent subdomain gets sp", HONOUR,
     {{"x@ghost.nonp.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC,
     NULL, "nonp.dmarc.example"},
    {"without np and sp a non-existent subdomain gets p", "dmarc_quarantine_action = quarantine",
     {{"x@ghost.onlyp.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "quarantine",
     "dmarc.quarantine", FL_ACTION_QUARANTINE, NULL, "onlyp.dmarc.example"},
    {"a subdomain's own record wins over its parent's", HONOUR,
     {{"x@sub.org.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC,
     NULL, "sub.org.dmarc.example"},
    {"psd=n below the org makes its own org", "dmarc_quarantine_action = quarantine",
     {{"x@x.dept.org.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "quarantine",
     "dmarc.quarantine", FL_ACTION_QUARANTINE, NULL, "dept.org.dmarc.example"},
    {"psd=y: a registered domain without a record gets the PSD policy", HONOUR,
     {{"x@shop.psd.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "reject", "dmarc.reject",
     FL_ACTION_REJECT, NULL, "psd.dmarc.example"},
    {"psd=y: alignment stops below the PSD", HONOUR,
     {{"x@shop.psd.dmarc.example"}, 1, PASS, "mail.shop.psd.dmarc.example", NULL, NULL}, PASS,
     "none", NULL, ACC, NULL, "psd.dmarc.example"},
    {"psd=y: the PSD's own signature does not align below it", HONOUR,
     {{"x@own.psd.dmarc.example"}, 1, SKIP, NULL, "psd.dmarc.example", NULL}, FAIL, "none",
     "dmarc.fail", ACC, "not aligned", "own.psd.dmarc.example"},
    {"psd=y: a non-existent domain under the PSD gets its np", HONOUR,
     {{"x@ghost.psd.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "reject", "dmarc.reject",
     FL_ACTION_REJECT, NULL, "psd.dmarc.example"},
    {"past eight labels the org's record applies, not a skipped one", HONOUR,
     {{"x@a.b.c.d.e.f.g.h.deep.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "reject",
     "dmarc.reject", FL_ACTION_REJECT, NULL, "deep.dmarc.example"},
    /* records that are no records */
    {"two records at the author: none there, nothing above", HONOUR,
     {{"x@multi.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FL_RES_NONE, NULL, NULL, ACC,
     "no DMARC record for multi.dmarc.example", NULL},
    {"a DMARC record next to an SPF record counts", "dmarc_quarantine_action = quarantine",
     {{"x@mixed.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "quarantine",
     "dmarc.quarantine", FL_ACTION_QUARANTINE, NULL, "mixed.dmarc.example"},
    {"no p but a valid rua: p=none", HONOUR,
     {{"x@nop.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC, NULL,
     "nop.dmarc.example"},
    {"an invalid p without rua: DMARC does not apply", HONOUR,
     {{"x@nopnorua.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FL_RES_NONE, NULL, NULL, ACC,
     "no valid p=", NULL},
    {"an invalid sp without rua: DMARC does not apply", HONOUR,
     {{"x@badsp.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FL_RES_NONE, NULL, NULL, ACC,
     "no valid p= (or sp=/np=)", NULL},
    {"v=DMARC1 not first: no record", HONOUR,
     {{"x@notfirst.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FL_RES_NONE, NULL, NULL, ACC,
     "no DMARC record", NULL},
    {"legacy pct=0 is not applied: reject stays reject", HONOUR,
     {{"x@pct.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FAIL, "reject", "dmarc.reject",
     FL_ACTION_REJECT, NULL, "pct.dmarc.example"},
    {"no record anywhere: none", HONOUR,
     {{"x@nodmarc.dmarc.example"}, 1, SKIP, NULL, NULL, NULL}, FL_RES_NONE, NULL, NULL, ACC,
     "no DMARC record for nodmarc.dmarc.example", NULL},
    /* From problems */
    {"no From header is rejected by default", "", {{NULL}, 0, SKIP, NULL, NULL, NULL},
     FL_RES_PERMERROR, NULL, "dmarc.from_missing", FL_ACTION_REJECT, "no From header", NULL},
    {"no From header only marked", "dmarc_from_missing_action = mark",
     {{NULL}, 0, SKIP, NULL, NULL, NULL}, FL_RES_PERMERROR, NULL, "dmarc.from_missing", ACC,
     NULL, NULL},
    {"two From headers are rejected by default", "",
     {{"x@" R, "y@none.dmarc.example"}, 2, SKIP, NULL, R, NULL}, FL_RES_PERMERROR, NULL,
     "dmarc.from_multiple", FL_ACTION_REJECT, "more than one From header", NULL},
    {"a From of two domains only marked", "dmarc_from_multiple_action = mark",
     {{"x@" R ", y@none.dmarc.example"}, 1, SKIP, NULL, R, NULL}, FL_RES_PERMERROR, NULL,
     "dmarc.from_multiple", ACC, "more than one domain", NULL},
    {"a From without a domain", "", {{"undisclosed-recipients:;"}, 1, SKIP, NULL, NULL, NULL},
     FL_RES_PERMERROR, NULL, "dmarc.from_missing", FL_ACTION_REJECT, "no address", NULL},
    {"a U-label From domain is not evaluated, never rejected", "",
     {{"x@b\xc3\xbc" "cher.example"}, 1, SKIP, NULL, NULL, NULL}, FL_RES_PERMERROR, NULL,
     "dmarc.from_unsupported", ACC, NULL, NULL},
    /* overrides */
    {"a mailing list's own DKIM signature exempts", HONOUR
     "\ndmarc_override_domains = lists.example.org:mailing_list",
     {{"x@" R}, 1, PASS, "lists.example.org", "lists.example.org", NULL}, FAIL, "none",
     "dmarc.fail", ACC, NULL, R},
    {"an override of the author domain exempts", HONOUR "\ndmarc_override_domains = " R,
     {{"x@mail." R}, 1, SKIP, NULL, NULL, NULL}, FAIL, "none", "dmarc.fail", ACC, NULL, R},
    {"an override of an unauthenticated list does nothing", HONOUR
     "\ndmarc_override_domains = lists.example.org:mailing_list",
     {{"x@" R}, 1, FAIL, "lists.example.org", NULL, NULL}, FAIL, "reject", "dmarc.reject",
     FL_ACTION_REJECT, NULL, R},
    /* RFC 9989 worked examples (example.com = rfc9989.example) */
    {"RFC 9989 SPF example 1: strict alignment", "",
     {{"sender@rfc9989.example"}, 1, PASS, "rfc9989.example", NULL, NULL}, PASS, "none", NULL,
     ACC, NULL, "rfc9989.example"},
    {"RFC 9989 SPF example 2: relaxed alignment", "",
     {{"sender@rfc9989.example"}, 1, PASS, "child.rfc9989.example", NULL, NULL}, PASS, "none",
     NULL, ACC, NULL, "rfc9989.example"},
    {"RFC 9989 SPF example 3: no alignment", HONOUR,
     {{"sender@child.rfc9989.example"}, 1, PASS, "example.net", NULL, NULL}, FAIL, "reject",
     "dmarc.reject", FL_ACTION_REJECT, NULL, "rfc9989.example"},
    {"RFC 9989 DKIM example 1: strict alignment", "",
     {{"sender@rfc9989.example"}, 1, SKIP, NULL, "rfc9989.example", NULL}, PASS, "none", NULL,
     ACC, NULL, "rfc9989.example"},
    {"RFC 9989 DKIM example 2: relaxed alignment", "",
     {{"sender@child.rfc9989.example"}, 1, SKIP, NULL, "rfc9989.example", NULL}, PASS, "none",
     NULL, ACC, NULL, "rfc9989.example"},
    {"RFC 9989 DKIM example 3: no alignment", HONOUR,
     {{"sender@child.rfc9989.example"}, 1, SKIP, NULL, "example.net", NULL}, FAIL, "reject",
     "dmarc.reject", FL_ACTION_REJECT, NULL, "rfc9989.example"},
    {"RFC 9989 SMTP session example: both align", HONOUR,
     {{"a@rfc9989.example"}, 1, PASS, "mail.rfc9989.example", "rfc9989.example", NULL}, PASS,
     "none", NULL, ACC, NULL, "rfc9989.example"},
    {"RFC 9989 simple example: SPF and DKIM of signing.example.com align", HONOUR,
     {{"a@rfc9989.example"}, 1, PASS, "rfc9989.example", "signing.rfc9989.example", NULL}, PASS,
     "none", NULL, ACC, NULL, "rfc9989.example"},
    {"RFC 9989 deep example: the org's record applies and both align", HONOUR,
     {{"a@a.b.c.d.e.f.g.h.i.j.k.rfc9989.example"}, 1, PASS, "rfc9989.example",
      "signing.rfc9989.example", NULL}, PASS, "none", NULL, ACC, NULL, "rfc9989.example"},
    {"RFC 9989 PSD example: SPF aligns, DKIM of mega does not", HONOUR,
     {{"a@giant.bank.example"}, 1, PASS, "mail.giant.bank.example", "mail.mega.bank.example",
      NULL}, PASS, "none", NULL, ACC, "SPF passed for mail.giant.bank.example",
     "giant.bank.example"},
    {"RFC 9989 PSD example without SPF: DKIM of mega fails", "",
     {{"a@giant.bank.example"}, 1, SKIP, NULL, "mail.mega.bank.example", NULL}, FAIL,
     "quarantine", "dmarc.quarantine", ACC, "DKIM passed for mail.mega.bank.example, not aligned",
     "giant.bank.example"},
};
/* clang-format on */

START_TEST(messages_evaluate_as_rfc9989_says)
{
    const struct eval_row *row = &eval_rows[_i];
    struct env e;
    env_open(&e, dnsd.addr, row->conf);
    struct fl_result r;
    struct fl_dmarc_report rep;
    evaluate(&e, &row->m, &r, &rep);
    ck_assert_msg(r.result == row->want, "%s: got %s, want %s (%s)", row->label,
                  fl_res_name(r.result), fl_res_name(row->want), r.reason ? r.reason : "");
    ck_assert_str_eq(r.method, "dmarc");
    const char *pol = prop(&r, "policy", "dmarc");
    ck_assert_msg((pol == NULL) == (row->policy == NULL) &&
                      (pol == NULL || strcmp(pol, row->policy) == 0),
                  "%s: policy.dmarc got %s, want %s", row->label, pol ? pol : "(none)",
                  row->policy ? row->policy : "(none)");
    ck_assert_msg((r.reason_code == NULL) == (row->code == NULL) &&
                      (r.reason_code == NULL || strcmp(r.reason_code, row->code) == 0),
                  "%s: code got %s, want %s", row->label, r.reason_code ? r.reason_code : "NULL",
                  row->code ? row->code : "NULL");
    ck_assert_msg(r.action == row->action, "%s: action got %s, want %s", row->label,
                  fl_action_name(r.action), fl_action_name(row->action));
    if (row->reason)
        ck_assert_msg(r.reason && strstr(r.reason, row->reason), "%s: reason got \"%s\", want \"%s\"",
                      row->label, r.reason ? r.reason : "", row->reason);
    if (row->policy_domain)
        ck_assert_msg(strcmp(rep.policy_domain, row->policy_domain) == 0,
                      "%s: policy domain got \"%s\", want \"%s\"", row->label, rep.policy_domain,
                      row->policy_domain);
    if (r.result == FL_RES_PASS || r.result == FL_RES_FAIL || r.result == FL_RES_NONE)
        ck_assert_msg(prop(&r, "header", "from") != NULL, "%s: no header.from", row->label);
    if (r.action == FL_ACTION_REJECT)
        ck_assert_msg(r.fault == FL_FAULT_SENDER && r.detail && *r.detail, "%s: fault/detail",
                      row->label);
    fl_result_clear(&r);
    env_close(&e);
}
END_TEST

/* --- the report -------------------------------------------------------------------- */

START_TEST(the_report_holds_an_aggregate_report_row)
{
    struct env e;
    env_open(&e, dnsd.addr, "dmarc_override_domains = lists.example.org:mailing_list");
    struct msg m = {{"List <x@mail." R ">"}, 1, PASS, "lists.example.org",
                    "lists.example.org", "mail." R};
    struct fl_result r;
    struct fl_dmarc_report rep;
    evaluate(&e, &m, &r, &rep);
    ck_assert_int_eq(r.result, FL_RES_FAIL);
    ck_assert_str_eq(rep.header_from, "mail." R);
    ck_assert_str_eq(rep.envelope_from, "lists.example.org");
    ck_assert_str_eq(rep.policy_domain, R);
    ck_assert_str_eq(rep.org_domain, R);
    ck_assert_int_eq(rep.source, FL_DMARC_SOURCE_ORG);
    ck_assert_uint_eq(rep.walk_step, 2);
    ck_assert_str_eq(rep.policy_tag, "p");
    ck_assert_int_eq(rep.policy, FL_DMARC_POLICY_REJECT);
    ck_assert_int_eq(rep.disposition, FL_DMARC_POLICY_NONE);
    ck_assert_str_eq(rep.override, "mailing_list");
    ck_assert_msg(strstr(rep.override_comment, "DKIM-passed d=lists.example.org") ||
                      strstr(rep.override_comment, "SPF-passed lists.example.org"),
                  "%s", rep.override_comment);
    ck_assert_uint_eq(rep.ndkim, 2);
    ck_assert_str_eq(rep.dkim[0].domain, "lists.example.org");
    ck_assert_str_eq(rep.dkim[0].selector, "sel");
    ck_assert_int_eq(rep.dkim[1].result, FL_RES_FAIL);
    ck_assert(!rep.dkim_aligned && !rep.spf_aligned);
    ck_assert_str_eq(rep.spf_scope, "mfrom");
    ck_assert_str_eq(rep.record.rua, "mailto:agg@" R);
    /* the part as the record has it, read back (it must be JSON) */
    struct fl_buf part;
    fl_buf_init(&part);
    fl_buf_putc(&part, '{');
    struct fl_json_out j;
    fl_json_out_init(&j, &part);
    fl_dmarc_report_json(&rep, &j);
    fl_buf_putc(&part, '}');
    json_t *o = json_loads(part.data, 0, NULL);
    ck_assert_msg(o != NULL, "not JSON: %s", part.data);
    fl_buf_free(&part);
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(strstr(text, "\"policy_evaluated\":{\"disposition\":\"none\",\"dkim\":\"fail\","
                               "\"reason\":{\"comment\":") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"type\":\"mailing_list\"") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"found_at\":\"organizational\"") != NULL, "%s", text);
    free(text);
    json_decref(o);
    fl_result_clear(&r);

    /* default quarantine as a header: the milter gets name and value */
    env_close(&e);
    env_open(&e, dnsd.addr, NULL);
    struct msg q = {{"x@" R}, 1, SKIP, NULL, NULL, NULL};
    evaluate(&e, &q, &r, &rep);
    ck_assert(rep.add_header);
    ck_assert_str_eq(rep.header_name, "X-Faultline-Quarantine");
    ck_assert_str_eq(rep.header_value, "dmarc=fail header.from=" R " policy.dmarc=quarantine");
    ck_assert_str_eq(rep.override, "local_policy");
    ck_assert_str_eq(rep.override_comment, "dmarc_reject_action = quarantine");
    fl_result_clear(&r);
    env_close(&e);
}
END_TEST

/* --- queries: depth limit, overlap, faults ------------------------------------------ */

START_TEST(a_deep_author_costs_eight_walk_queries_and_skips_the_middle)
{
    struct env e;
    env_open(&e, dnsd.addr, NULL);
    struct msg m = {{"x@a.b.c.d.e.f.g.h.deep.dmarc.example"}, 1, SKIP, NULL, NULL, NULL};
    struct fl_result r;
    struct fl_dmarc_report rep;
    evaluate(&e, &m, &r, &rep);
    ck_assert_uint_eq(rep.dns_queries, 9); /* 8 of the walk + the author's existence */
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "_dmarc.c.d.e.f.g.h.deep.dmarc.example", "TXT"), 0);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "_dmarc.b.c.d.e.f.g.h.deep.dmarc.example", "TXT"), 0);
    ck_assert_int_ge(fl_dnsd_count(&dnsd, "_dmarc.e.f.g.h.deep.dmarc.example", "TXT"), 1);
    ck_assert_str_eq(rep.policy_domain, "deep.dmarc.example");
    ck_assert_uint_eq(rep.walk_step, 6);
    fl_result_clear(&r);
    env_close(&e);
}
END_TEST

START_TEST(the_queries_of_a_walk_overlap)
{
    /* Each of the four names below conc.dmarc.example answers after 250 ms:
       one after the other that is 1 s, together 0.25 s.  (The delay stays
       under libunbound's first retransmission timeout, ~376 ms: past it
       the resolver backs off and probes one query at a time.) */
    fl_dnsd_set_faults(&dnsd, BASE_FAULTS "*.conc.dmarc.example TXT delay 250\n");
    struct env e;
    env_open(&e, dnsd.addr, NULL);
    struct fl_dmarc *d = fl_dmarc_new(e.dns, e.cfg, fl_monotonic_ms() + 5000);
    fl_dmarc_from_header(d, "x@x.y.z.conc.dmarc.example");
    long long t0 = fl_monotonic_ms();
    fl_dmarc_eoh(d);
    long long t_eoh = fl_monotonic_ms() - t0;
    struct fl_dkim_signature sig = {"conc.dmarc.example", "s", "", "", FL_RES_PASS, true, NULL};
    struct fl_dmarc_inputs in = {NULL, NULL, &sig, 1, NULL};
    struct fl_result r;
    fl_dmarc_eom(d, &in, &r);
    long long took = fl_monotonic_ms() - t0;
    ck_assert_msg(t_eoh < 100, "eoh waited %lld ms", t_eoh);
    ck_assert_int_eq(r.result, FL_RES_PASS);
    /* four queries of 250 ms: under 1000 ms only if they overlapped (a loaded
       machine stretches the time, never below the sequential bound) */
    ck_assert_msg(took >= 240 && took < 1000, "walk took %lld ms (sequential: >= 1000)", took);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "_dmarc.x.y.z.conc.dmarc.example", "TXT"), 1);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "_dmarc.z.conc.dmarc.example", "TXT"), 1);
    fl_result_clear(&r);
    fl_dmarc_free(&d);
    env_close(&e);
    fl_dnsd_set_faults(&dnsd, BASE_FAULTS);
}
END_TEST

START_TEST(dns_failures_are_temperror_and_never_reject)
{
    fl_dnsd_set_faults(&dnsd, "_dmarc.broken.dmarc.example TXT servfail\n"
                              "_dmarc.parentfail.dmarc.example TXT servfail\n"
                              "_dmarc.example TXT servfail\n");
    struct env e;
    env_open(&e, dnsd.addr, HONOUR);
    struct fl_result r;
    struct msg m = {{"x@broken.dmarc.example"}, 1, SKIP, NULL, NULL, NULL};
    evaluate(&e, &m, &r, NULL);
    ck_assert_int_eq(r.result, FL_RES_TEMPERROR);
    ck_assert_str_eq(r.reason_code, "dmarc.dns_sender");
    ck_assert_int_eq(r.fault, FL_FAULT_SENDER);
    ck_assert(r.transient);
    ck_assert_int_eq(r.action, FL_ACTION_ACCEPT);
    ck_assert_msg(strstr(r.reason, "_dmarc.broken.dmarc.example (SERVFAIL)"), "%s", r.reason);
    fl_result_clear(&r);
    /* A failure higher up the walk is needed when the author has no record. */
    struct msg p = {{"x@x.parentfail.dmarc.example"}, 1, SKIP, NULL, NULL, NULL};
    evaluate(&e, &p, &r, NULL);
    ck_assert_int_eq(r.result, FL_RES_TEMPERROR);
    fl_result_clear(&r);
    /* ... but not past a psd=n stop (the TLD fails here too). */
    struct msg s = {{"x@x.dept.org.dmarc.example"}, 1, SKIP, NULL, "dept.org.dmarc.example", NULL};
    evaluate(&e, &s, &r, NULL);
    ck_assert_msg(r.result == FL_RES_PASS, "got %s: %s", fl_res_name(r.result), r.reason);
    fl_result_clear(&r);
    env_close(&e);
    env_open(&e, dnsd.addr, "dmarc_temperror_action = tempfail");
    evaluate(&e, &m, &r, NULL);
    ck_assert_int_eq(r.action, FL_ACTION_TEMPFAIL);
    fl_result_clear(&r);
    env_close(&e);
    fl_dnsd_set_faults(&dnsd, BASE_FAULTS);

    /* Our resolver down: the receiver's fault. */
    struct fl_dnsd down;
    ck_assert(fl_dnsd_start(&down, ZONES, "* ANY servfail\n") == 0);
    env_open(&e, down.addr, HONOUR);
    evaluate(&e, &m, &r, NULL);
    ck_assert_int_eq(r.result, FL_RES_TEMPERROR);
    ck_assert_str_eq(r.reason_code, "dns.resolver_down");
    ck_assert_int_eq(r.fault, FL_FAULT_RECEIVER);
    ck_assert_int_eq(r.action, FL_ACTION_ACCEPT);
    fl_result_clear(&r);
    env_close(&e);
    fl_dnsd_stop(&down);
}
END_TEST

START_TEST(eom_twice_and_free_anywhere_are_safe)
{
    struct env e;
    env_open(&e, dnsd.addr, NULL);
    /* freed after eoh with queries in flight */
    struct fl_dmarc *d = fl_dmarc_new(e.dns, e.cfg, 0);
    fl_dmarc_hint(d, "bounces." R);
    fl_dmarc_from_header(d, "x@mail." R);
    fl_dmarc_eoh(d);
    fl_dmarc_free(&d);
    fl_dmarc_free(&d);
    /* eom without eoh, twice; hints start the MAIL FROM walk early */
    d = fl_dmarc_new(e.dns, e.cfg, 0);
    fl_dmarc_hint(d, "Hint." R ".");
    fl_dmarc_from_header(d, "x@mail." R);
    struct fl_result spf, a, b;
    fl_result_init(&spf, "spf", FL_RES_PASS);
    struct fl_dmarc_inputs in = {&spf, "hint." R, NULL, 0, NULL};
    fl_dmarc_eom(d, &in, &a);
    fl_dmarc_eom(d, NULL, &b);
    ck_assert_int_eq(a.result, FL_RES_PASS);
    ck_assert_int_eq(b.result, FL_RES_PASS);
    ck_assert_str_eq(a.reason, b.reason);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "_dmarc.hint." R, "TXT"), 1);
    fl_result_clear(&a);
    fl_result_clear(&b);
    fl_result_clear(&spf);
    fl_dmarc_free(&d);
    fl_dmarc_free(NULL);
    /* wanted */
    ck_assert(fl_dmarc_wanted(e.cfg, false, false));
    ck_assert(!fl_dmarc_wanted(e.cfg, true, false));
    ck_assert(!fl_dmarc_wanted(e.cfg, false, true));
    env_close(&e);
}
END_TEST

/* --- Authentication-Results: what the domain published, what was done ------------ */

struct ar_policy_row {
    const char *label;
    const char *conf;
    const char *from;
    const char *dkim_pass;
    /* the policy.* part of the header the result makes, in order */
    const char *want;
};

/* clang-format off */
static const struct ar_policy_row ar_policy_rows[] = {
    {"p=reject downgraded by default: published reject, evaluated reject, applied quarantine",
     "", "x@" R, NULL,
     "policy.dmarc=quarantine policy.published-domain-policy=reject "
     "policy.applied-disposition=quarantine policy.evaluated-disposition=reject "
     "policy.policy-from=p policy.policy-domain=" R},
    {"p=reject honoured: applied reject", HONOUR, "x@" R, NULL,
     "policy.dmarc=reject policy.published-domain-policy=reject "
     "policy.applied-disposition=reject policy.evaluated-disposition=reject "
     "policy.policy-from=p policy.policy-domain=" R},
    {"a pass: nothing to apply, the published policy is still shown", HONOUR, "x@" R, R,
     "policy.dmarc=none policy.published-domain-policy=reject "
     "policy.applied-disposition=none policy.evaluated-disposition=none "
     "policy.policy-from=p policy.policy-domain=" R},
    {"t=y: evaluated one step less strict than published", HONOUR, "x@testing.dmarc.example",
     NULL,
     "policy.dmarc=quarantine policy.published-domain-policy=reject "
     "policy.applied-disposition=quarantine policy.evaluated-disposition=quarantine "
     "policy.policy-from=p policy.policy-domain=testing.dmarc.example"},
    {"a subdomain: sp of the organisational domain applies, found by the tree walk",
     "dmarc_quarantine_action = quarantine", "x@exists.org.dmarc.example", NULL,
     "policy.dmarc=quarantine policy.published-domain-policy=reject "
     "policy.published-subdomain-policy=quarantine policy.applied-disposition=quarantine "
     "policy.evaluated-disposition=quarantine policy.policy-from=sp "
     "policy.policy-domain=org.dmarc.example"},
    {"a non-existent subdomain: np applies", HONOUR, "x@ghost.org.dmarc.example", NULL,
     "policy.dmarc=none policy.published-domain-policy=reject "
     "policy.published-subdomain-policy=quarantine policy.applied-disposition=none "
     "policy.evaluated-disposition=none policy.policy-from=np "
     "policy.policy-domain=org.dmarc.example"},
};
/* clang-format on */

START_TEST(authentication_results_name_published_and_applied_policy)
{
    const struct ar_policy_row *row = &ar_policy_rows[_i];
    struct env e;
    env_open(&e, dnsd.addr, row->conf);
    struct msg m = {{row->from}, 1, SKIP, NULL, row->dkim_pass, NULL};
    struct fl_result r;
    evaluate(&e, &m, &r, NULL);
    struct fl_buf got;
    fl_buf_init(&got);
    for (size_t i = 0; i < r.nprops; i++)
        if (strcmp(r.props[i].ptype, "policy") == 0)
            fl_buf_printf(&got, "%spolicy.%s=%s", got.len ? " " : "", r.props[i].property,
                          r.props[i].value);
    ck_assert_msg(strcmp(got.data, row->want) == 0, "%s:\n got %s\nwant %s", row->label,
                  got.data, row->want);
    /* and the header carries them */
    struct fl_buf h;
    fl_buf_init(&h);
    fl_authres_build(&h, "mx.example", &r, 1);
    ck_assert_msg(strstr(h.data, "policy.published-domain-policy=") != NULL, "%s: %s",
                  row->label, h.data);
    fl_buf_free(&h);
    fl_buf_free(&got);
    fl_result_clear(&r);
    env_close(&e);
}
END_TEST

TCase *dmarc_dns_tcase(void)
{
    TCase *tc = tcase_create("dns");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, server_start, server_stop);
    tcase_add_loop_test(tc, organizational_domains_come_from_the_tree_walk, 0,
                        (int)NELEMS(org_rows));
    tcase_add_loop_test(tc, messages_evaluate_as_rfc9989_says, 0, (int)NELEMS(eval_rows));
    tcase_add_loop_test(tc, authentication_results_name_published_and_applied_policy, 0,
                        (int)NELEMS(ar_policy_rows));
    tcase_add_test(tc, the_report_holds_an_aggregate_report_row);
    tcase_add_test(tc, a_deep_author_costs_eight_walk_queries_and_skips_the_middle);
    tcase_add_test(tc, the_queries_of_a_walk_overlap);
    tcase_add_test(tc, dns_failures_are_temperror_and_never_reject);
    tcase_add_test(tc, eom_twice_and_free_anywhere_are_safe);
    return tc;
}
