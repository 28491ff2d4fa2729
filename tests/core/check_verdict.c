/* check_verdict: unit tests for lib/verdict, lib/attribution and
   lib/sanitize.

   - fl_verdict_decide: one table of check results -> action, SMTP code,
     enhanced status code (RFC 3463/7372), fault, reason and reply text,
     including internal errors (never a 5xx) and hostile detail text.
   - The attribution table pinned to DESIGN.md "Attribution examples".
   - fl_verdict_json: parsed back with jansson, every field asserted; hostile
     input still gives valid JSON with U+FFFD replacements; 5000 random
     records byte-identical to fl_verdict_json_jansson (the jansson tree).
   - fl_verdict_summary: golden syslog lines (a stable interface).
   - fl_sanitize_ascii / fl_sanitize_utf8 / fl_is_printable_ascii rows.

   Run by `make check`; single-threaded. */
#include "lib/arc/arc.h"
#include "lib/core/attribution.h"
#include "lib/dmarc/dmarc.h"
#include "lib/core/buf.h"
#include "lib/core/json_out.h"
#include "lib/core/result.h"
#include "lib/core/sanitize.h"
#include "lib/core/verdict.h"

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEMS(a)   (sizeof(a) / sizeof((a)[0]))
#define MAX_RESULTS 3

static const char *str_or_null(const char *s)
{
    return s ? s : "(null)";
}

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* --- fl_verdict_decide ------------------------------------------------------ */

struct check_spec {
    const char *method;
    enum fl_res res;
    enum fl_action action;
    const char *reason_code;
    enum fl_fault fault;
    bool transient;
    const char *detail;
};

struct decide_row {
    const char *label;
    struct check_spec checks[MAX_RESULTS];
    const char *internal_error;
    bool on_error_tempfail;
    enum fl_action want_action;
    int want_code;
    const char *want_dsn;
    enum fl_fault want_fault;
    bool want_transient;
    const char *want_reason; /* v->reason_code */
    const char *want_text;   /* exact reply text, NULL for none */
};

#define SPF_TEXT  "SPF check failed: the sender's domain does not authorise this client"
#define GREY_TEXT "greylisted: a deliberate temporary deferral"
#define LONG_50   "0123456789012345678901234567890123456789012345678X"
#define LONG_200  LONG_50 LONG_50 LONG_50 LONG_50

/* clang-format off */
static const struct decide_row decide_rows[] = {
    {"no results accept with 250 2.0.0 and no fault", {{0}}, NULL, false, FL_ACTION_ACCEPT,
     250, "2.0.0", FL_FAULT_NONE, false, NULL, NULL},
    {"passing results that ask nothing accept cleanly",
     {{"spf", FL_RES_PASS, FL_ACTION_ACCEPT, NULL, FL_FAULT_NONE, false, NULL},
      {"dkim", FL_RES_PASS, FL_ACTION_ACCEPT, NULL, FL_FAULT_NONE, false, NULL}},
     NULL, false, FL_ACTION_ACCEPT, 250, "2.0.0", FL_FAULT_NONE, false, NULL, NULL},
    {"an SPF fail rejected by policy is 550 5.7.23, the sender's fault",
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false, NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.23", FL_FAULT_SENDER, false, "spf.not_permitted",
     SPF_TEXT " (fault=sender)"},
    {"the detail sentence follows the table text",
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_SENDER, false,
       "add 192.0.2.7 to the SPF record of example.org"}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.23", FL_FAULT_SENDER, false, "spf.not_permitted",
     SPF_TEXT ": add 192.0.2.7 to the SPF record of example.org (fault=sender)"},
    {"a DMARC reject is 550 5.7.26",
     {{"dmarc", FL_RES_FAIL, FL_ACTION_REJECT, "dmarc.reject", FL_FAULT_NONE, false, NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.26", FL_FAULT_SENDER, false, "dmarc.reject",
     "DMARC policy of the author's domain rejects this message (fault=sender)"},
    {"a DNSBL listing is 554 5.7.1",
     {{"dnsbl", FL_RES_FAIL, FL_ACTION_REJECT, "dnsbl.listed", FL_FAULT_NONE, false,
       "listed on zen.example"}},
     NULL, false, FL_ACTION_REJECT, 554, "5.7.1", FL_FAULT_SENDER, false, "dnsbl.listed",
     "client address is blocklisted: listed on zen.example (fault=sender)"},
    {"greylisting on first sight is 451 4.7.1, nobody's fault, transient",
     {{"greylist", FL_RES_FAIL, FL_ACTION_TEMPFAIL, "greylist.first_seen", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_TEMPFAIL, 451, "4.7.1", FL_FAULT_NONE, true, "greylist.first_seen",
     GREY_TEXT " (fault=none)"},
    {"the sender's name servers failing is 451 4.7.24, the sender's fault",
     {{"spf", FL_RES_TEMPERROR, FL_ACTION_TEMPFAIL, "spf.dns_sender", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_TEMPFAIL, 451, "4.7.24", FL_FAULT_SENDER, true, "spf.dns_sender",
     "SPF check could not complete: the sender's name servers did not answer (fault=sender)"},
    {"our resolver down is 451 4.4.3, our fault",
     {{"spf", FL_RES_TEMPERROR, FL_ACTION_TEMPFAIL, "dns.resolver_down", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_TEMPFAIL, 451, "4.4.3", FL_FAULT_RECEIVER, true, "dns.resolver_down",
     "our DNS resolver is not answering; please retry later (fault=receiver)"},
    {"a reject with an unknown reason code is 550 5.7.1",
     {{"local", FL_RES_POLICY, FL_ACTION_REJECT, "local.blocked_sender", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.1", FL_FAULT_NONE, false, "local.blocked_sender",
     "message refused by local policy (fault=none)"},
    {"a reject without a reason code is 550 5.7.1 with reason policy",
     {{"local", FL_RES_POLICY, FL_ACTION_REJECT, NULL, FL_FAULT_NONE, false, NULL}}, NULL, false,
     FL_ACTION_REJECT, 550, "5.7.1", FL_FAULT_NONE, false, "policy",
     "message refused by local policy (fault=none)"},
    {"the check's own fault wins over the table's, and the reply says the same",
     {{"local", FL_RES_POLICY, FL_ACTION_REJECT, "local.blocked_sender", FL_FAULT_SENDER, false,
       NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.1", FL_FAULT_SENDER, false, "local.blocked_sender",
     "message refused by local policy (fault=sender)"},
    {"a prefix row covers an unlisted DKIM code",
     {{"dkim", FL_RES_FAIL, FL_ACTION_REJECT, "dkim.body_hash_mismatch", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.20", FL_FAULT_SENDER, false,
     "dkim.body_hash_mismatch", "no valid DKIM signature (fault=sender)"},
    {"the strongest action wins: a reject after a tempfail",
     {{"greylist", FL_RES_FAIL, FL_ACTION_TEMPFAIL, "greylist.first_seen", FL_FAULT_NONE, false,
       NULL},
      {"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false, NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.23", FL_FAULT_SENDER, false, "spf.not_permitted",
     SPF_TEXT " (fault=sender)"},
    {"the strongest action wins: a reject before a tempfail and a quarantine",
     {{"dmarc", FL_RES_FAIL, FL_ACTION_REJECT, "dmarc.reject", FL_FAULT_NONE, false, NULL},
      {"dnsbl", FL_RES_FAIL, FL_ACTION_QUARANTINE, "dnsbl.listed", FL_FAULT_NONE, false, NULL},
      {"greylist", FL_RES_FAIL, FL_ACTION_TEMPFAIL, "greylist.first_seen", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.26", FL_FAULT_SENDER, false, "dmarc.reject",
     "DMARC policy of the author's domain rejects this message (fault=sender)"},
    {"the first of two equally strong requests wins",
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false, NULL},
      {"dmarc", FL_RES_FAIL, FL_ACTION_REJECT, "dmarc.reject", FL_FAULT_NONE, false, NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.23", FL_FAULT_SENDER, false, "spf.not_permitted",
     SPF_TEXT " (fault=sender)"},
    {"a quarantine accepts with 250 2.0.0 and keeps the reason",
     {{"dnsbl", FL_RES_FAIL, FL_ACTION_QUARANTINE, "dnsbl.listed", FL_FAULT_NONE, false, NULL}},
     NULL, false, FL_ACTION_QUARANTINE, 250, "2.0.0", FL_FAULT_SENDER, false, "dnsbl.listed",
     NULL},
    {"a tempfail whose table row is 5xx is corrected to 451 4.7.1: tempfail never yields 5xx",
     {{"spf", FL_RES_FAIL, FL_ACTION_TEMPFAIL, "spf.not_permitted", FL_FAULT_NONE, false, NULL}},
     NULL, false, FL_ACTION_TEMPFAIL, 451, "4.7.1", FL_FAULT_SENDER, false, "spf.not_permitted",
     SPF_TEXT " (fault=sender)"},
    {"a reject whose table row is 4xx is corrected to 550 5.7.1",
     {{"greylist", FL_RES_FAIL, FL_ACTION_REJECT, "greylist.first_seen", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.1", FL_FAULT_NONE, true, "greylist.first_seen",
     GREY_TEXT " (fault=none)"},
    {"a reject whose table row has no code gets 550 5.7.1",
     {{"dnsbl", FL_RES_TEMPERROR, FL_ACTION_REJECT, "dnsbl.error_code", FL_FAULT_NONE, false,
       NULL}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.1", FL_FAULT_RECEIVER, false, "dnsbl.error_code",
     "a DNS list refused our resolver; the list was ignored (fault=receiver)"},
    {"a tempfail whose table row has no code gets 451 4.7.1",
     {{"greylist", FL_RES_TEMPERROR, FL_ACTION_TEMPFAIL, "greylist.store_down", FL_FAULT_NONE,
       false, NULL}},
     NULL, false, FL_ACTION_TEMPFAIL, 451, "4.7.1", FL_FAULT_RECEIVER, false,
     "greylist.store_down", "greylist store unavailable; accepted (fail-open) (fault=receiver)"},
    {"a check's transient flag is kept",
     {{"local", FL_RES_TEMPERROR, FL_ACTION_TEMPFAIL, "local.busy", FL_FAULT_RECEIVER, true,
       NULL}},
     NULL, false, FL_ACTION_TEMPFAIL, 451, "4.7.1", FL_FAULT_RECEIVER, true, "local.busy",
     "message refused by local policy (fault=receiver)"},
    {"an internal error with on_internal_error=accept accepts, our fault",
     {{0}}, "internal.over_budget", false, FL_ACTION_ACCEPT, 250, "2.0.0", FL_FAULT_RECEIVER,
     true, "internal.over_budget", NULL},
    {"an internal error with on_internal_error=tempfail is 451 4.3.0, our fault",
     {{0}}, "internal.over_budget", true, FL_ACTION_TEMPFAIL, 451, "4.3.0", FL_FAULT_RECEIVER,
     true, "internal.over_budget",
     "message exceeded our per-message memory limit; please retry later (fault=receiver)"},
    {"an internal error never yields a 5xx: tempfail mode turns a check's reject into 451 4.3.0",
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false,
       "detail that must not survive"}},
     "internal.mta_call", true, FL_ACTION_TEMPFAIL, 451, "4.3.0", FL_FAULT_RECEIVER, true,
     "internal.mta_call",
     "our filter could not update the message; please retry later (fault=receiver)"},
    {"an internal error never yields a 5xx: accept mode turns a check's reject into accept",
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false, NULL}},
     "internal.mta_call", false, FL_ACTION_ACCEPT, 250, "2.0.0", FL_FAULT_RECEIVER, true,
     "internal.mta_call", NULL},
    {"an internal error in accept mode overrides a check's tempfail too (verdict.h: it yields "
     "accept)",
     {{"greylist", FL_RES_FAIL, FL_ACTION_TEMPFAIL, "greylist.first_seen", FL_FAULT_NONE, false,
       NULL}},
     "internal.over_budget", false, FL_ACTION_ACCEPT, 250, "2.0.0", FL_FAULT_RECEIVER, true,
     "internal.over_budget", NULL},
    {"an unlisted internal error code still says fault=receiver in the reply",
     {{0}}, "bug.assertion", true, FL_ACTION_TEMPFAIL, 451, "4.3.0", FL_FAULT_RECEIVER, true,
     "bug.assertion", "message refused by local policy (fault=receiver)"},
    {"CR, LF and non-ASCII in the detail cannot break the SMTP reply",
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false,
       "fix it\r\n550 5.7.1 fake\x01\xc3\xa9\x7f"}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.23", FL_FAULT_SENDER, false, "spf.not_permitted",
     SPF_TEXT ": fix it??550 5.7.1 fake???? (fault=sender)"},
    {"a detail over 200 bytes is cut and marked with ...",
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false,
       LONG_200 "tail"}},
     NULL, false, FL_ACTION_REJECT, 550, "5.7.23", FL_FAULT_SENDER, false, "spf.not_permitted",
     SPF_TEXT ": " LONG_200 "... (fault=sender)"},
};
/* clang-format on */

static size_t fill_results(const struct check_spec *specs, struct fl_result *results)
{
    size_t n = 0;
    for (; n < MAX_RESULTS && specs[n].method != NULL; n++) {
        const struct check_spec *c = &specs[n];
        fl_result_init(&results[n], c->method, c->res);
        fl_result_set_reason(&results[n], c->reason_code, NULL, c->detail);
        results[n].action = c->action;
        results[n].fault = c->fault;
        results[n].transient = c->transient;
    }
    return n;
}

static void clear_results(struct fl_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fl_result_clear(&results[i]);
}

START_TEST(test_decide)
{
    const struct decide_row *row = &decide_rows[_i];
    struct fl_result results[MAX_RESULTS];
    size_t n = fill_results(row->checks, results);
    struct fl_verdict v;
    fl_verdict_decide(&v, results, n, row->internal_error, row->on_error_tempfail);

    ck_assert_msg(v.action == row->want_action, "%s: action: got %s, want %s", row->label,
                  fl_action_name(v.action), fl_action_name(row->want_action));
    ck_assert_msg(v.code == row->want_code, "%s: code: got %d, want %d", row->label,
                  v.code, row->want_code);
    ck_assert_msg(strcmp(v.dsn, row->want_dsn) == 0, "%s: dsn: got %s, want %s",
                  row->label, v.dsn, row->want_dsn);
    ck_assert_msg(v.fault == row->want_fault, "%s: fault: got %s, want %s", row->label,
                  fl_fault_name(v.fault), fl_fault_name(row->want_fault));
    ck_assert_msg(v.transient == row->want_transient, "%s: transient: got %d, want %d",
                  row->label, v.transient, row->want_transient);
    ck_assert_msg(str_eq(v.reason_code, row->want_reason),
                  "%s: reason_code: got %s, want %s", row->label,
                  str_or_null(v.reason_code), str_or_null(row->want_reason));
    ck_assert_msg(str_eq(v.text, row->want_text), "%s: text:\n got: %s\nwant: %s",
                  row->label, str_or_null(v.text), str_or_null(row->want_text));

    /* Invariants of every decision. */
    if (row->internal_error != NULL)
        ck_assert_msg(v.code < 500, "%s: an internal error gave %d", row->label, v.code);
    if (v.action == FL_ACTION_TEMPFAIL)
        ck_assert_msg(v.code >= 400 && v.code < 500 && v.dsn[0] == '4',
                      "%s: tempfail with %d %s", row->label, v.code, v.dsn);
    if (v.action == FL_ACTION_REJECT)
        ck_assert_msg(v.code >= 500 && v.dsn[0] == '5', "%s: reject with %d %s",
                      row->label, v.code, v.dsn);
    if (v.action == FL_ACTION_ACCEPT || v.action == FL_ACTION_QUARANTINE)
        ck_assert_msg(v.code == 250 && strcmp(v.dsn, "2.0.0") == 0 && v.text == NULL,
                      "%s: %s with %d %s \"%s\"", row->label, fl_action_name(v.action),
                      v.code, v.dsn, str_or_null(v.text));
    if (v.text != NULL)
        ck_assert_msg(fl_is_printable_ascii(v.text),
                      "%s: reply text is not printable ASCII: %s", row->label, v.text);

    fl_verdict_clear(&v);
    ck_assert_msg(v.text == NULL && v.reason_code == NULL,
                  "%s: fl_verdict_clear left pointers", row->label);
    fl_verdict_clear(&v); /* twice is harmless */
    clear_results(results, n);
}
END_TEST

START_TEST(test_decide_resets_verdict)
{
    /* A verdict struct reused for the next message starts from scratch. */
    struct fl_result r;
    fl_result_init(&r, "spf", FL_RES_FAIL);
    fl_result_set_reason(&r, "spf.not_permitted", NULL, NULL);
    r.action = FL_ACTION_REJECT;
    struct fl_verdict v;
    fl_verdict_decide(&v, &r, 1, NULL, false);
    fl_verdict_clear(&v);
    fl_verdict_decide(&v, NULL, 0, NULL, false);
    ck_assert_msg(
        v.action == FL_ACTION_ACCEPT && v.code == 250 && v.text == NULL &&
            v.reason_code == NULL && v.fault == FL_FAULT_NONE,
        "a second decision without results: got %s %d fault=%s, want accept 250 "
        "fault=none",
        fl_action_name(v.action), v.code, fl_fault_name(v.fault));
    fl_verdict_clear(&v);
    fl_result_clear(&r);
}
END_TEST

/* --- attribution table (DESIGN.md "Attribution examples") ------------------ */

struct attr_row {
    const char *label;
    const char *reason_code;
    enum fl_fault fault;
    bool transient;
    int code;             /* 0: none (not rejected or deferred by itself) */
    const char *dsn;      /* NULL: none */
    const char *want_row; /* the row's own reason_code ("dkim.*" for prefix rows) */
};

/* clang-format off */
static const struct attr_row attr_rows[] = {
    {"SPF fail: client not authorised by the sender's record", "spf.not_permitted",
     FL_FAULT_SENDER, false, 550, "5.7.23", "spf.not_permitted"},
    {"SPF permerror: the sender's record is broken", "spf.permerror", FL_FAULT_SENDER, false, 550,
     "5.7.24", "spf.permerror"},
    {"SPF permerror: more than 10 lookups", "spf.too_many_lookups", FL_FAULT_SENDER, false, 550,
     "5.7.24", "spf.too_many_lookups"},
    {"SPF permerror: more than 2 void lookups", "spf.void_lookups", FL_FAULT_SENDER, false, 550,
     "5.7.24", "spf.void_lookups"},
    {"SPF temperror: the sender's name servers fail", "spf.dns_sender", FL_FAULT_SENDER, true,
     451, "4.7.24", "spf.dns_sender"},
    {"our resolver cannot answer anything", "dns.resolver_down", FL_FAULT_RECEIVER, true, 451,
     "4.4.3", "dns.resolver_down"},
    {"our resolver timed out", "dns.resolver_timeout", FL_FAULT_RECEIVER, true, 451, "4.4.3",
     "dns.resolver_timeout"},
    {"DKIM key not published", "dkim.key_missing", FL_FAULT_SENDER, false, 550, "5.7.20",
     "dkim.key_missing"},
    {"DKIM key revoked", "dkim.key_revoked", FL_FAULT_SENDER, false, 550, "5.7.20",
     "dkim.key_revoked"},
    {"DKIM key too short", "dkim.key_too_short", FL_FAULT_SENDER, false, 550, "5.7.21",
     "dkim.key_too_short"},
    {"an unlisted DKIM code takes the dkim.* prefix row", "dkim.anything", FL_FAULT_SENDER, false,
     550, "5.7.20", "dkim.*"},
    {"DMARC fail under p=reject", "dmarc.reject", FL_FAULT_SENDER, false, 550, "5.7.26",
     "dmarc.reject"},
    {"iprev fail", "iprev.fail", FL_FAULT_SENDER, false, 550, "5.7.25", "iprev.fail"},
    {"null MX on the sender's domain (RFC 7505)", "nullmx", FL_FAULT_SENDER, false, 550, "5.7.27",
     "nullmx"},
    {"client listed on a DNSBL", "dnsbl.listed", FL_FAULT_SENDER, false, 554, "5.7.1",
     "dnsbl.listed"},
    {"a DNSBL answered an error code: our side, no reply code", "dnsbl.error_code",
     FL_FAULT_RECEIVER, false, 0, NULL, "dnsbl.error_code"},
    {"greylisted on first sight: nobody's fault", "greylist.first_seen", FL_FAULT_NONE, true, 451,
     "4.7.1", "greylist.first_seen"},
    {"greylisted, retried too early", "greylist.too_early", FL_FAULT_NONE, true, 451, "4.7.1",
     "greylist.too_early"},
    {"greylist store unreachable: our side, accepted", "greylist.store_down", FL_FAULT_RECEIVER,
     false, 0, NULL, "greylist.store_down"},
    {"over the per-message memory budget", "internal.over_budget", FL_FAULT_RECEIVER, true, 451,
     "4.3.0", "internal.over_budget"},
    {"an unlisted internal code takes the internal.* prefix row", "internal.anything",
     FL_FAULT_RECEIVER, true, 451, "4.3.0", "internal.*"},
    {"an unknown code gets the generic row", "nonsense.code", FL_FAULT_NONE, false, 550, "5.7.1",
     ""},
    {"a NULL code gets the generic row", NULL, FL_FAULT_NONE, false, 550, "5.7.1", ""},
    {"\"dkim\" without a dot is not under dkim.*", "dkim", FL_FAULT_NONE, false, 550, "5.7.1", ""},
    {"a prefix row does not match the bare prefix", "internal", FL_FAULT_NONE, false, 550,
     "5.7.1", ""},
};
/* clang-format on */

START_TEST(test_attribution)
{
    const struct attr_row *row = &attr_rows[_i];
    const struct fl_attribution *a = fl_attribution_find(row->reason_code);
    ck_assert_msg(a != NULL, "%s: got NULL", row->label);
    ck_assert_msg(strcmp(a->reason_code, row->want_row) == 0,
                  "%s: row: got \"%s\", want \"%s\"", row->label, a->reason_code,
                  row->want_row);
    ck_assert_msg(a->fault == row->fault, "%s: fault: got %s, want %s", row->label,
                  fl_fault_name(a->fault), fl_fault_name(row->fault));
    ck_assert_msg(a->transient == row->transient, "%s: transient: got %d, want %d",
                  row->label, a->transient, row->transient);
    ck_assert_msg(a->code == row->code, "%s: code: got %d, want %d", row->label, a->code,
                  row->code);
    ck_assert_msg(str_eq(a->dsn, row->dsn), "%s: dsn: got %s, want %s", row->label,
                  str_or_null(a->dsn), str_or_null(row->dsn));
    ck_assert_msg(a->what != NULL && fl_is_printable_ascii(a->what),
                  "%s: what: got \"%s\", want printable text", row->label,
                  str_or_null(a->what));
    /* A code and its enhanced status code agree in class (RFC 3463). */
    if (a->code != 0)
        ck_assert_msg(a->dsn != NULL && a->dsn[0] == '0' + a->code / 100,
                      "%s: code %d with dsn %s", row->label, a->code,
                      str_or_null(a->dsn));
}
END_TEST

/* --- JSON record ------------------------------------------------------------- */

static const char *const plain_rcpts[] = {"b@example.net", "c@example.net"};

/* 2023-11-14T22:13:20.123Z */
#define WHEN                                                                             \
    {                                                                                    \
        1700000000, 123456789                                                            \
    }

static void plain_facts(struct fl_verdict_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->when = (struct timespec)WHEN;
    f->queue_id = "4QxYz1Abc";
    f->client_ip = "192.0.2.7";
    f->client_port = 49152;
    f->client_ptr = "mail.example.org";
    f->helo = "mail.example.org";
    f->mail_from = "a@example.org";
    f->rcpts = plain_rcpts;
    f->nrcpts = 2;
    f->message_id = "<1234@mail.example.org>";
    f->stages[0] = (struct fl_stage_time){"connect", 0};
    f->stages[1] = (struct fl_stage_time){"mail", 12};
    f->stages[2] = (struct fl_stage_time){"eom", 57};
    f->nstages = 3;
    f->work_ms = 3;
}

/* spf fail (reject) with props, dkim none. */
static size_t plain_results(struct fl_result *r)
{
    fl_result_init(&r[0], "spf", FL_RES_FAIL);
    fl_result_set_reason(&r[0], "spf.not_permitted", "client not authorised",
                         "add 192.0.2.7 to the SPF record of example.org");
    r[0].action = FL_ACTION_REJECT;
    r[0].fault = FL_FAULT_SENDER;
    fl_result_add_prop(&r[0], "smtp", "mailfrom", "a@example.org");
    fl_result_add_prop(&r[0], "smtp", "helo", "mail.example.org");
    fl_result_init(&r[1], "dkim", FL_RES_NONE);
    return 2;
}

static json_t *parse_json(const char *label, const char *text)
{
    ck_assert_msg(strchr(text, '\n') == NULL, "%s: the record spans lines: %s", label,
                  text);
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(j != NULL, "%s: invalid JSON (%s at %d): %s", label, err.text,
                  err.position, text);
    ck_assert_msg(json_is_object(j), "%s: not an object: %s", label, text);
    return j;
}

/* Asserts that member path ("a.b") of j is the string want (NULL: JSON null). */
static void assert_jstr(const char *label, json_t *j, const char *path, const char *want)
{
    char key[64];
    snprintf(key, sizeof(key), "%s", path);
    json_t *v = j;
    for (char *part = strtok(key, "."); part != NULL; part = strtok(NULL, "."))
        v = json_object_get(v, part);
    if (want == NULL) {
        ck_assert_msg(v != NULL && json_is_null(v), "%s: %s: got %s, want null", label,
                      path,
                      v ? (json_is_string(v) ? json_string_value(v) : "a non-string")
                        : "(missing)");
        return;
    }
    ck_assert_msg(v != NULL && json_is_string(v), "%s: %s: missing or not a string",
                  label, path);
    ck_assert_msg(strcmp(json_string_value(v), want) == 0,
                  "%s: %s: got \"%s\", want \"%s\"", label, path, json_string_value(v),
                  want);
}

/* Like assert_jstr for a key that itself contains dots ("smtp.mailfrom"). */
static void assert_member(const char *label, json_t *obj, const char *key,
                          const char *want)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(v != NULL && json_is_string(v), "%s: %s: missing or not a string",
                  label, key);
    ck_assert_msg(strcmp(json_string_value(v), want) == 0,
                  "%s: %s: got \"%s\", want \"%s\"", label, key, json_string_value(v),
                  want);
}

static void assert_jint(const char *label, json_t *j, const char *path, long long want)
{
    char key[64];
    snprintf(key, sizeof(key), "%s", path);
    json_t *v = j;
    for (char *part = strtok(key, "."); part != NULL; part = strtok(NULL, "."))
        v = json_object_get(v, part);
    ck_assert_msg(v != NULL && json_is_integer(v), "%s: %s: missing or not an integer",
                  label, path);
    ck_assert_msg(json_integer_value(v) == want, "%s: %s: got %lld, want %lld", label,
                  path, (long long)json_integer_value(v), want);
}

static void assert_jbool(const char *label, json_t *j, const char *path, bool want)
{
    json_t *v = json_object_get(j, path);
    ck_assert_msg(v != NULL && json_is_boolean(v), "%s: %s: missing or not a boolean",
                  label, path);
    ck_assert_msg(json_is_true(v) == want, "%s: %s: got %d, want %d", label, path,
                  json_is_true(v), want);
}

START_TEST(test_json_fields)
{
    const char *label = "a rejected message";
    struct fl_verdict_facts f;
    plain_facts(&f);
    struct fl_result r[MAX_RESULTS];
    size_t n = plain_results(r);
    struct fl_verdict v;
    fl_verdict_decide(&v, r, n, NULL, false);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_verdict_json(&out, &f, r, n, &v);
    json_t *j = parse_json(label, out.data);

    assert_jstr(label, j, "time", "2023-11-14T22:13:20.123Z");
    assert_jstr(label, j, "queue_id", "4QxYz1Abc");
    assert_jstr(label, j, "client.ip", "192.0.2.7");
    assert_jint(label, j, "client.port", 49152);
    assert_jstr(label, j, "client.ptr", "mail.example.org");
    assert_jstr(label, j, "client.helo", "mail.example.org");
    assert_jstr(label, j, "mail_from", "a@example.org");
    json_t *rcpts = json_object_get(j, "rcpts");
    ck_assert_msg(json_array_size(rcpts) == 2, "%s: rcpts: got %zu, want 2", label,
                  json_array_size(rcpts));
    ck_assert_msg(
        strcmp(json_string_value(json_array_get(rcpts, 0)), "b@example.net") == 0 &&
            strcmp(json_string_value(json_array_get(rcpts, 1)), "c@example.net") == 0,
        "%s: rcpts: got %s", label, out.data);
    ck_assert_msg(json_object_get(j, "rcpts_not_recorded") == NULL,
                  "%s: rcpts_not_recorded present though nothing was dropped", label);
    assert_jstr(label, j, "message_id", "<1234@mail.example.org>");
    assert_jstr(label, j, "skipped", NULL);

    json_t *checks = json_object_get(j, "checks");
    ck_assert_msg(json_array_size(checks) == 2, "%s: checks: got %zu, want 2", label,
                  json_array_size(checks));
    json_t *spf = json_array_get(checks, 0);
    assert_jstr(label, spf, "method", "spf");
    assert_jstr(label, spf, "result", "fail");
    assert_jstr(label, spf, "reason", "spf.not_permitted");
    assert_jstr(label, spf, "fault", "sender");
    assert_jbool(label, spf, "transient", false);
    assert_jstr(label, spf, "action", "reject");
    assert_jstr(label, spf, "comment", "client not authorised");
    assert_jstr(label, spf, "detail", "add 192.0.2.7 to the SPF record of example.org");
    json_t *props = json_object_get(spf, "props");
    ck_assert_msg(json_object_size(props) == 2, "%s: spf props: got %zu, want 2", label,
                  json_object_size(props));
    assert_member(label, props, "smtp.mailfrom", "a@example.org");
    assert_member(label, props, "smtp.helo", "mail.example.org");
    json_t *dkim = json_array_get(checks, 1);
    assert_jstr(label, dkim, "method", "dkim");
    assert_jstr(label, dkim, "result", "none");
    assert_jstr(label, dkim, "reason", NULL);
    assert_jstr(label, dkim, "fault", "none");
    assert_jstr(label, dkim, "action", "accept");
    assert_jstr(label, dkim, "comment", NULL);
    assert_jstr(label, dkim, "detail", NULL);
    ck_assert_msg(json_object_size(json_object_get(dkim, "props")) == 0,
                  "%s: dkim props: want an empty object", label);

    assert_jstr(label, j, "action", "reject");
    assert_jint(label, j, "reply.code", 550);
    assert_jstr(label, j, "reply.dsn", "5.7.23");
    assert_jstr(label, j, "reply.text",
                SPF_TEXT
                ": add 192.0.2.7 to the SPF record of example.org (fault=sender)");
    assert_jstr(label, j, "fault", "sender");
    assert_jbool(label, j, "transient", false);
    assert_jstr(label, j, "reason", "spf.not_permitted");
    assert_jint(label, j, "elapsed_ms.connect", 0);
    assert_jint(label, j, "elapsed_ms.mail", 12);
    assert_jint(label, j, "elapsed_ms.eom", 57);
    ck_assert_msg(json_object_size(json_object_get(j, "elapsed_ms")) == 3,
                  "%s: elapsed_ms: want 3 stages: %s", label, out.data);
    assert_jint(label, j, "work_ms", 3);

    json_decref(j);
    fl_buf_free(&out);
    fl_verdict_clear(&v);
    clear_results(r, n);
}
END_TEST

START_TEST(test_json_accept_noqueue)
{
    const char *label = "an accepted message without a queue id";
    struct fl_verdict_facts f;
    memset(&f, 0, sizeof(f));
    f.when = (struct timespec){0, 999999999};
    f.client_ip = "2001:db8::1";
    f.client_port = 25;
    f.mail_from = "";
    f.skipped_reason = "trusted_network";
    f.rcpts_dropped = 7;
    struct fl_verdict v;
    fl_verdict_decide(&v, NULL, 0, NULL, false);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_verdict_json(&out, &f, NULL, 0, &v);
    json_t *j = parse_json(label, out.data);
    assert_jstr(label, j, "time", "1970-01-01T00:00:00.999Z");
    assert_jstr(label, j, "queue_id", "NOQUEUE");
    assert_jstr(label, j, "client.ip", "2001:db8::1");
    assert_jstr(label, j, "client.ptr", NULL);
    assert_jstr(label, j, "client.helo", NULL);
    assert_jstr(label, j, "mail_from", "");
    ck_assert_msg(json_is_array(json_object_get(j, "rcpts")) &&
                      json_array_size(json_object_get(j, "rcpts")) == 0,
                  "%s: rcpts: want []: %s", label, out.data);
    assert_jint(label, j, "rcpts_not_recorded", 7);
    assert_jstr(label, j, "message_id", NULL);
    assert_jstr(label, j, "skipped", "trusted_network");
    ck_assert_msg(json_array_size(json_object_get(j, "checks")) == 0,
                  "%s: checks: want []", label);
    assert_jstr(label, j, "action", "accept");
    assert_jint(label, j, "reply.code", 250);
    assert_jstr(label, j, "reply.dsn", "2.0.0");
    assert_jstr(label, j, "reply.text", NULL);
    assert_jstr(label, j, "fault", "none");
    assert_jstr(label, j, "reason", NULL);
    ck_assert_msg(json_object_size(json_object_get(j, "elapsed_ms")) == 0,
                  "%s: elapsed_ms: want {}", label);
    assert_jint(label, j, "work_ms", 0);
    json_decref(j);
    fl_buf_free(&out);
    fl_verdict_clear(&v);
}
END_TEST

#define FFFD "\xef\xbf\xbd"

START_TEST(test_json_hostile)
{
    const char *label = "hostile sender-controlled text";
    static const char *const rcpts[] = {"\xc3\x28@example.net", "ok@example.net"};
    struct fl_verdict_facts f;
    plain_facts(&f);
    f.helo = "evil\"}\r\n{\"action\":\"accept";
    f.mail_from = "\xff\xfe"
                  "a\\b\"c@example.org";
    f.client_ptr = "ptr\x01\x1b[0m";
    f.rcpts = rcpts;
    f.nrcpts = 2;
    f.message_id = "<j\xc3\xb6rg\xed\xa0\x80@x>";
    struct fl_result r[1];
    fl_result_init(&r[0], "dkim", FL_RES_FAIL);
    fl_result_set_reason(&r[0], "dkim.key_missing", "no key \"x\"\n", "detail\x80");
    fl_result_add_prop(&r[0], "header", "d",
                       "\xe2\x82"
                       "example.org");
    struct fl_verdict v;
    fl_verdict_decide(&v, r, 1, NULL, false);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_verdict_json(&out, &f, r, 1, &v);
    json_t *j = parse_json(label, out.data);
    assert_jstr(label, j, "client.helo", "evil\"}" FFFD FFFD "{\"action\":\"accept");
    assert_jstr(label, j, "mail_from", FFFD FFFD "a\\b\"c@example.org");
    assert_jstr(label, j, "client.ptr", "ptr" FFFD FFFD "[0m");
    assert_jstr(label, j, "message_id", "<j\xc3\xb6rg" FFFD FFFD FFFD "@x>");
    ck_assert_msg(
        strcmp(json_string_value(json_array_get(json_object_get(j, "rcpts"), 0)),
               FFFD "(@example.net") == 0,
        "%s: rcpts[0]: got \"%s\", want \"%s\"", label,
        json_string_value(json_array_get(json_object_get(j, "rcpts"), 0)),
        FFFD "(@example.net");
    json_t *dkim = json_array_get(json_object_get(j, "checks"), 0);
    assert_jstr(label, dkim, "comment", "no key \"x\"" FFFD);
    assert_jstr(label, dkim, "detail", "detail" FFFD);
    assert_member(label, json_object_get(dkim, "props"), "header.d",
                  FFFD FFFD "example.org");
    json_decref(j);
    fl_buf_free(&out);
    fl_verdict_clear(&v);
    clear_results(r, 1);
}
END_TEST

/* --- syslog summary ------------------------------------------------------------ */

struct summary_row {
    const char *label;
    const char *queue_id;
    const char *client_ip;
    const char *mail_from;
    const char *skipped;
    long work_ms;
    struct check_spec checks[MAX_RESULTS];
    const char *internal_error;
    bool on_error_tempfail;
    const char *want;
};

/* clang-format off */
static const struct summary_row summary_rows[] = {
    {"a rejected message",
     "4QxYz1Abc", "192.0.2.7", "a@example.org", NULL, 3,
     {{"spf", FL_RES_FAIL, FL_ACTION_REJECT, "spf.not_permitted", FL_FAULT_NONE, false, NULL},
      {"dkim", FL_RES_NONE, FL_ACTION_ACCEPT, NULL, FL_FAULT_NONE, false, NULL}},
     NULL, false,
     "4QxYz1Abc: verdict action=reject code=550 dsn=5.7.23 fault=sender "
     "reason=spf.not_permitted client=[192.0.2.7] from=<a@example.org> checks=spf:fail,dkim:none "
     "ms=3"},
    {"an accepted message from the null sender without checks",
     "4QxYz1Abd", "198.51.100.1", "", NULL, 0, {{0}}, NULL, false,
     "4QxYz1Abd: verdict action=accept fault=none client=[198.51.100.1] from=<> checks=none "
     "ms=0"},
    {"an accepted message with passing checks",
     "4QxYz1Abe", "2001:db8::25", "a@example.org", NULL, 41,
     {{"spf", FL_RES_PASS, FL_ACTION_ACCEPT, NULL, FL_FAULT_NONE, false, NULL},
      {"dkim", FL_RES_PASS, FL_ACTION_ACCEPT, NULL, FL_FAULT_NONE, false, NULL},
      {"dmarc", FL_RES_PASS, FL_ACTION_ACCEPT, NULL, FL_FAULT_NONE, false, NULL}},
     NULL, false,
     "4QxYz1Abe: verdict action=accept fault=none client=[2001:db8::25] from=<a@example.org> "
     "checks=spf:pass,dkim:pass,dmarc:pass ms=41"},
    {"a message from a trusted network is skipped",
     "4QxYz1Abf", "127.0.0.1", "root@localhost", "trusted_network", 0, {{0}}, NULL, false,
     "4QxYz1Abf: verdict action=accept fault=none client=[127.0.0.1] from=<root@localhost> "
     "checks=skipped:trusted_network ms=0"},
    {"a greylisted message: no fault, so no transient=yes",
     "4QxYz1Abg", "192.0.2.8", "a@example.org", NULL, 1,
     {{"greylist", FL_RES_FAIL, FL_ACTION_TEMPFAIL, "greylist.first_seen", FL_FAULT_NONE, false,
       NULL}},
     NULL, false,
     "4QxYz1Abg: verdict action=tempfail code=451 dsn=4.7.1 fault=none "
     "reason=greylist.first_seen client=[192.0.2.8] from=<a@example.org> checks=greylist:fail "
     "ms=1"},
    {"a transient fault says transient=yes",
     "4QxYz1Abh", "192.0.2.9", "a@example.org", NULL, 5000,
     {{"spf", FL_RES_TEMPERROR, FL_ACTION_TEMPFAIL, "dns.resolver_down", FL_FAULT_NONE, false,
       NULL}},
     NULL, false,
     "4QxYz1Abh: verdict action=tempfail code=451 dsn=4.4.3 fault=receiver transient=yes "
     "reason=dns.resolver_down client=[192.0.2.9] from=<a@example.org> checks=spf:temperror "
     "ms=5000"},
    {"an internal error accepted fail-open",
     "4QxYz1Abi", "192.0.2.10", "a@example.org", NULL, 2, {{0}}, "internal.over_budget", false,
     "4QxYz1Abi: verdict action=accept fault=receiver transient=yes reason=internal.over_budget "
     "client=[192.0.2.10] from=<a@example.org> checks=none ms=2"},
    {"a quarantined message shows no code",
     "4QxYz1Abj", "192.0.2.11", "a@example.org", NULL, 2,
     {{"dnsbl", FL_RES_FAIL, FL_ACTION_QUARANTINE, "dnsbl.listed", FL_FAULT_NONE, false, NULL}},
     NULL, false,
     "4QxYz1Abj: verdict action=quarantine fault=sender reason=dnsbl.listed client=[192.0.2.11] "
     "from=<a@example.org> checks=dnsbl:fail ms=2"},
    {"no queue id yet gives NOQUEUE",
     NULL, "192.0.2.12", "a@example.org", NULL, 0, {{0}}, NULL, false,
     "NOQUEUE: verdict action=accept fault=none client=[192.0.2.12] from=<a@example.org> "
     "checks=none ms=0"},
    {"a sender with CR LF cannot break the line",
     "4QxYz1Abk", "192.0.2.13", "a@example.org>\r\nNOQUEUE: verdict action=reject", NULL, 0,
     {{0}}, NULL, false,
     "4QxYz1Abk: verdict action=accept fault=none client=[192.0.2.13] "
     "from=<a@example.org>??NOQUEUE: verdict action=reject> checks=none ms=0"},
    {"control and non-ASCII bytes in the sender become ?",
     "4QxYz1Abl", "192.0.2.14", "j\xc3\xb6rg\x1b@example.org", NULL, 0, {{0}}, NULL, false,
     "4QxYz1Abl: verdict action=accept fault=none client=[192.0.2.14] "
     "from=<j??rg?@example.org> checks=none ms=0"},
    {"a missing client address and sender give empty brackets",
     "4QxYz1Abm", NULL, NULL, NULL, 0, {{0}}, NULL, false,
     "4QxYz1Abm: verdict action=accept fault=none client=[] from=<> checks=none ms=0"},
};
/* clang-format on */

START_TEST(test_summary)
{
    const struct summary_row *row = &summary_rows[_i];
    struct fl_verdict_facts f;
    memset(&f, 0, sizeof(f));
    f.queue_id = row->queue_id;
    f.client_ip = row->client_ip;
    f.mail_from = row->mail_from;
    f.skipped_reason = row->skipped;
    f.work_ms = row->work_ms;
    struct fl_result results[MAX_RESULTS];
    size_t n = fill_results(row->checks, results);
    struct fl_verdict v;
    fl_verdict_decide(&v, results, n, row->internal_error, row->on_error_tempfail);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_verdict_summary(&out, &f, results, n, &v);
    ck_assert_msg(strcmp(out.data, row->want) == 0, "%s:\n got: %s\nwant: %s", row->label,
                  out.data, row->want);
    ck_assert_msg(fl_is_printable_ascii(out.data), "%s: not one printable line: %s",
                  row->label, out.data);
    fl_buf_free(&out);
    fl_verdict_clear(&v);
    clear_results(results, n);
}
END_TEST

/* A record carries its format version; a check's structured part (the DNS
   lists' array) is merged into its entry; an observed refusal is recorded
   in the entry, in "observed" and in the summary, and refuses nothing. */
START_TEST(test_json_lists_and_observe)
{
    const char *label = "a DNS listing under observe mode";
    struct fl_verdict_facts f;
    plain_facts(&f);
    struct fl_result r[1];
    fl_result_init(&r[0], "dnsbl", FL_RES_FAIL);
    r[0].in_header = false;
    fl_result_set_reason(&r[0], "dnsbl.listed", "listed",
                         "192.0.2.7 is listed on a.example and b.example: the sender's "
                         "provider must get it delisted");
    r[0].fault = FL_FAULT_SENDER;
    r[0].action = FL_ACTION_REJECT;
    fl_result_set_record_json(
        &r[0], "{\"score\":4,\"lists\":[{\"list\":\"a.example\",\"weight\":3},"
               "{\"list\":\"b.example\",\"weight\":1}]}");
    fl_result_observe(&r[0], 554, "5.7.1", "client address is blocklisted: ...");
    /* a property given twice keeps both values (it used to collapse) */
    fl_result_add_prop(&r[0], "policy", "note", "first");
    fl_result_add_prop(&r[0], "policy", "note", "second");
    ck_assert_int_eq(r[0].action, FL_ACTION_ACCEPT);
    struct fl_result copy;
    fl_result_copy(&copy, &r[0]);
    ck_assert_str_eq(copy.record_json, r[0].record_json);
    ck_assert_int_eq(copy.observe_action, FL_ACTION_REJECT);
    ck_assert_str_eq(copy.observe_dsn, "5.7.1");
    fl_result_clear(&copy);
    struct fl_verdict v;
    fl_verdict_decide(&v, r, 1, NULL, false);
    ck_assert_msg(v.action == FL_ACTION_ACCEPT && v.code == 250, "%s: got %s %d", label,
                  fl_action_name(v.action), v.code);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_verdict_json(&out, &f, r, 1, &v);
    json_t *j = parse_json(label, out.data);
    assert_jint(label, j, "v", FL_VERDICT_RECORD_VERSION);
    json_t *c = json_array_get(json_object_get(j, "checks"), 0);
    json_t *lists = json_object_get(c, "lists");
    ck_assert_msg(json_array_size(lists) == 2, "%s: lists: got %s", label, out.data);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lists, 1), "list")),
                     "b.example");
    assert_jint(label, c, "score", 4);
    json_t *note = json_object_get(json_object_get(c, "props"), "policy.note");
    ck_assert_msg(json_array_size(note) == 2 &&
                      strcmp(json_string_value(json_array_get(note, 1)), "second") == 0,
                  "%s: policy.note: %s", label, out.data);
    json_t *ob = json_object_get(c, "observe");
    assert_jstr(label, ob, "action", "reject");
    assert_jint(label, ob, "code", 554);
    assert_jstr(label, ob, "dsn", "5.7.1");
    json_t *observed = json_object_get(j, "observed");
    ck_assert_msg(json_array_size(observed) == 1, "%s: observed: %s", label, out.data);
    ck_assert_str_eq(json_string_value(json_array_get(observed, 0)),
                     "dnsbl: would have refused with 554 5.7.1 client address is "
                     "blocklisted: ...");
    assert_jstr(label, j, "action", "accept");
    json_decref(j);
    fl_buf_reset(&out);
    fl_verdict_summary(&out, &f, r, 1, &v);
    ck_assert_str_eq(out.data, "4QxYz1Abc: verdict action=accept fault=none client=[192.0.2.7] "
                               "from=<a@example.org> checks=dnsbl:fail "
                               "observe=dnsbl:reject:554 ms=3");
    fl_buf_reset(&out);
    fl_verdict_observe_line(&out, &f, &r[0]);
    ck_assert_str_eq(out.data, "4QxYz1Abc: observe check=dnsbl would=reject code=554 dsn=5.7.1 "
                               "reply=\"client address is blocklisted: ...\" "
                               "client=[192.0.2.7]");
    fl_buf_free(&out);
    fl_verdict_clear(&v);
    fl_result_clear(&r[0]);
}
END_TEST

/* --- the direct writer against jansson ----------------------------------------- */

/* fl_verdict_json writes the record directly; fl_verdict_json_jansson
   builds it as a jansson tree and dumps it (the writer of record before
   issue 12).  Random records over every field -- hostile strings with
   control bytes, invalid UTF-8, quotes and backslashes, repeated
   properties, DNS-list record_json, observe mode, repeated stages, DMARC
   report, ARC chain -- must give the same bytes. */

static unsigned long long rng_state;

static unsigned int rnd(unsigned int n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned int)(rng_state >> 33) % n;
}

static const char *const eq_texts[] = {
    NULL,
    "",
    "a@example.org",
    "mail.example.org",
    "evil\"}\r\n{\"action\":\"accept",
    "\xff\xfe"
    "a\\b\"c@example.org",
    "ptr\x01\x1b[0m\x7f",
    "<j\xc3\xb6rg\xed\xa0\x80@x>",
    "tab\there/slash\\u0000",
    "\xe2\x82\xac euro \xf0\x9f\x93\xa7 \xe2\x80\xa8 sep",
    "\xc3\x28@example.net",
    "\b\f\n\r\t\x0b\x1f",
    "192.0.2.7",
    "2001:db8::1",
};

static const char *pick_text(void)
{
    return eq_texts[rnd(NELEMS(eq_texts))];
}

/* A DNS-list record_json as lib/lists/dnsbl_result.c writes it (a compact dump);
   now and then with a NUL in a string, which json_loads refuses (the
   jansson writer then leaves the members out, and so must the direct one). */
static char *eq_lists_json(void)
{
    json_t *top = json_object();
    json_object_set_new(top, "score", json_integer(rnd(10)));
    json_object_set_new(top, "threshold", json_integer(3));
    if (rnd(2))
        json_object_set_new(top, "observe_score", json_integer(rnd(5)));
    json_t *lists = json_array();
    for (unsigned int i = rnd(4); i > 0; i--) {
        json_t *e = json_object();
        json_object_set_new(e, "list", json_string(rnd(2) ? "zen.example" : "dbl.example"));
        json_object_set_new(e, "answers", json_pack("[s,s]", "127.0.0.2", "a \"q\" \\ \t"));
        json_object_set_new(e, "txt", json_stringn("ctl\x01\x1f\n}]{[,\"", rnd(8) ? 12 : 13));
        if (rnd(2))
            json_object_set_new(e, "observe", json_true());
        json_object_set_new(e, "ms", json_integer(-(json_int_t)rnd(3)));
        json_array_append_new(lists, e);
    }
    json_object_set_new(top, "lists", lists);
    if (rnd(4) == 0)
        json_object_set_new(top, "nested", json_pack("{s:{s:[]},s:{},s:n,s:b}", "a", "b",
                                                     "e", "n", "f", false));
    char *s = json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(top);
    return s;
}

static void eq_result(struct fl_result *r)
{
    static const char *const methods[] = {"spf", "dkim", "dmarc", "iprev", "dnsbl", "arc",
                                          "dnswl", "x\"\\\x01\xff"};
    static const char *const ptypes[] = {"smtp", "header", "policy", "dns", "h\xff"};
    static const char *const props[] = {"mailfrom", "d", "iprev", "note", "b\"\\"};
    fl_result_init(r, methods[rnd(NELEMS(methods))], (enum fl_res)rnd(FL_RES_SKIPPED + 1));
    fl_result_set_reason(r, rnd(3) ? "dnsbl.listed" : pick_text(), pick_text(), pick_text());
    r->fault = (enum fl_fault)rnd(3);
    r->transient = rnd(2);
    r->action = (enum fl_action)rnd(FL_ACTION_REJECT + 1);
    for (unsigned int i = rnd(8); i > 0; i--)
        fl_result_add_prop(r, ptypes[rnd(NELEMS(ptypes))], props[rnd(NELEMS(props))],
                           eq_texts[1 + rnd(NELEMS(eq_texts) - 1)]);
    if (rnd(2)) {
        char *s = eq_lists_json();
        fl_result_set_record_json(r, s);
        free(s);
    }
    if (rnd(3) == 0)
        fl_result_observe(r, rnd(2) ? 554 : 451, rnd(2) ? "5.7.1" : "4.7.1", pick_text());
}

static bool dmarc_part(const void *d, struct fl_json_out *j)
{
    fl_dmarc_report_json(d, j);
    return true;
}

static bool arc_part(const void *a, struct fl_json_out *j)
{
    fl_arc_json(a, j);
    return true;
}

static void eq_dmarc(struct fl_dmarc_report *d)
{
    memset(d, 0, sizeof(*d));
    d->result = (enum fl_res)rnd(FL_RES_SKIPPED + 1);
    snprintf(d->header_from, sizeof(d->header_from), "%s", "example.org");
    snprintf(d->envelope_from, sizeof(d->envelope_from), "%s", "b\xff\"x.example");
    d->record_found = rnd(2);
    d->from_headers = 1;
    d->from_addresses = rnd(3);
    d->ndkim = 1;
    snprintf(d->dkim[0].domain, sizeof(d->dkim[0].domain), "%s", "example.org");
    snprintf(d->dkim[0].selector, sizeof(d->dkim[0].selector), "%s", "s\t1");
    d->dkim[0].result = FL_RES_PASS;
}

static struct fl_arc *eq_arc(void)
{
    struct fl_arc *a = fl_arc_new(NULL, NULL, 0, 0);
    fl_arc_header(a, "ARC-Seal", "i=1; a=rsa-sha256; cv=none; d=hop1.example; s=sel; b=AAAA");
    fl_arc_header(a, "ARC-Message-Signature",
                  "i=1; a=rsa-sha256; c=relaxed/relaxed; d=hop1.example; s=sel; "
                  "h=from:to; bh=AAAA; b=AAAA");
    fl_arc_header(a, "ARC-Authentication-Results", "i=1; hop1.example; spf=pass");
    fl_arc_header(a, "From", "a@example.org");
    if (fl_arc_eoh(a))
        fl_arc_body(a, (const unsigned char *)"hi\r\n", 4);
    struct fl_result r;
    fl_arc_eom(a, "192.0.2.7", &r);
    fl_result_clear(&r);
    return a;
}

START_TEST(test_json_direct_equals_jansson)
{
    static const char *const stages[] = {"connect", "helo", "mail", "rcpt", "data", "eoh", "eom"};
    static const char *const internal[] = {NULL, NULL, NULL, "internal.over_budget"};
    struct fl_arc *arc = eq_arc();
    struct fl_dmarc_report dmarc;
    struct fl_buf direct, tree;
    fl_buf_init(&direct);
    fl_buf_init(&tree);
    unsigned int with_lists = 0, with_observe = 0, with_repeats = 0;
    for (unsigned int round = 0; round < 5000; round++) {
        rng_state = round;
        const char *rcpts[4];
        struct fl_verdict_facts f;
        memset(&f, 0, sizeof(f));
        f.when.tv_sec = (time_t)rnd(2000000000);
        f.when.tv_nsec = (long)rnd(1000000000);
        f.queue_id = rnd(3) ? "4QxYz1Abc" : pick_text();
        f.client_ip = pick_text();
        f.client_port = rnd(2) ? 65535u : rnd(70000);
        f.client_ptr = pick_text();
        f.helo = pick_text();
        f.mail_from = pick_text();
        f.nrcpts = rnd(5);
        for (size_t i = 0; i < f.nrcpts; i++)
            rcpts[i] = pick_text();
        f.rcpts = rcpts;
        f.rcpts_dropped = rnd(3) ? 0 : rnd(100);
        f.rcpts_refused = rnd(3) ? 0 : rnd(100);
        f.message_id = pick_text();
        f.skipped_reason = rnd(4) ? NULL : pick_text();
        f.nstages = rnd(FL_VERDICT_MAX_STAGES + 1);
        for (size_t i = 0; i < f.nstages; i++) {
            f.stages[i].stage = stages[rnd(NELEMS(stages))];
            f.stages[i].ms = (long)rnd(100000) - 5;
        }
        f.work_ms = (long)rnd(100000);
        if (rnd(3) == 0) {
            eq_dmarc(&dmarc);
            f.parts[f.nparts++] = (struct fl_record_part){"dmarc", &dmarc, dmarc_part};
        }
        if (rnd(3) == 0)
            f.parts[f.nparts++] = (struct fl_record_part){"arc", arc, arc_part};
        struct fl_result r[6];
        size_t n = rnd(7);
        for (size_t i = 0; i < n; i++) {
            eq_result(&r[i]);
            with_lists += r[i].record_json != NULL;
            with_observe += r[i].observe_action != FL_ACTION_ACCEPT;
            for (size_t a = 0; a < r[i].nprops; a++)
                for (size_t b = a + 1; b < r[i].nprops; b++)
                    with_repeats += strcmp(r[i].props[a].ptype, r[i].props[b].ptype) == 0 &&
                                    strcmp(r[i].props[a].property, r[i].props[b].property) == 0;
        }
        struct fl_verdict v;
        fl_verdict_decide(&v, r, n, internal[rnd(NELEMS(internal))], rnd(2));
        fl_buf_reset(&direct);
        fl_buf_reset(&tree);
        fl_verdict_json(&direct, &f, r, n, &v);
        fl_verdict_json_jansson(&tree, &f, r, n, &v);
        size_t at = 0;
        while (at < direct.len && at < tree.len && direct.data[at] == tree.data[at])
            at++;
        size_t from = at > 80 ? at - 80 : 0;
        ck_assert_msg(direct.len == tree.len && at == tree.len,
                      "round %u, byte %zu:\n direct  ...%.160s\n jansson ...%.160s", round, at,
                      direct.data + from, tree.data + from);
        fl_verdict_clear(&v);
        clear_results(r, n);
    }
    ck_assert_uint_gt(with_lists, 1000);
    ck_assert_uint_gt(with_observe, 1000);
    ck_assert_uint_gt(with_repeats, 1000);
    fl_buf_free(&direct);
    fl_buf_free(&tree);
    fl_arc_free(&arc);
}
END_TEST

START_TEST(test_checks_list)
{
    struct fl_result r[2];
    fl_result_init(&r[0], "spf", FL_RES_SOFTFAIL);
    fl_result_init(&r[1], "iprev", FL_RES_PERMERROR);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_verdict_checks_list(&out, r, 2, NULL);
    ck_assert_msg(strcmp(out.data, "spf:softfail,iprev:permerror") == 0,
                  "two checks: got %s, want %s", out.data,
                  "spf:softfail,iprev:permerror");
    fl_buf_reset(&out);
    fl_verdict_checks_list(&out, r, 2, "authenticated");
    ck_assert_msg(strcmp(out.data, "skipped:authenticated") == 0,
                  "a skip reason wins over results: got %s, want %s", out.data,
                  "skipped:authenticated");
    fl_buf_reset(&out);
    fl_verdict_checks_list(&out, NULL, 0, NULL);
    ck_assert_msg(strcmp(out.data, "none") == 0, "no checks: got %s, want none",
                  out.data);
    fl_buf_free(&out);
    clear_results(r, 2);
}
END_TEST

/* --- sanitize ------------------------------------------------------------------ */

struct sanitize_row {
    const char *label;
    const char *in;
    size_t max;
    const char *want;
};

/* clang-format off */
static const struct sanitize_row ascii_rows[] = {
    {"plain ASCII is kept", "a@example.org", 0, "a@example.org"},
    {"the empty string stays empty", "", 0, ""},
    {"CR and LF become ?", "a\r\nb", 0, "a??b"},
    {"a NUL ends the string", "ab\0cd", 0, "ab"},
    {"TAB becomes ?", "a\tb", 0, "a?b"},
    {"other control bytes become ?", "\x01\x1b\x1f", 0, "???"},
    {"DEL becomes ?", "a\x7f", 0, "a?"},
    {"each byte of UTF-8 becomes ?", "j\xc3\xb6rg", 0, "j??rg"},
    {"high bytes become ?", "\x80\xff", 0, "??"},
    {"printable punctuation is kept", " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 0,
     " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
    {"a longer string is cut at max and marked", "abcdef", 3, "abc..."},
    {"a string exactly max long is not cut", "abc", 3, "abc"},
    {"max 0 means no limit", "abcdefghijklmnopqrstuvwxyz", 0, "abcdefghijklmnopqrstuvwxyz"},
    {"bytes are replaced before the cut marker", "\r\n\r\nabc", 2, "??..."},
};
/* clang-format on */

START_TEST(test_sanitize_ascii)
{
    const struct sanitize_row *row = &ascii_rows[_i];
    struct fl_buf out;
    fl_buf_init(&out);
    fl_buf_puts(&out, ">");
    fl_sanitize_ascii(&out, row->in, row->max);
    ck_assert_msg(strcmp(out.data + 1, row->want) == 0, "%s: got \"%s\", want \"%s\"",
                  row->label, out.data + 1, row->want);
    ck_assert_msg(out.data[0] == '>', "%s: the buffer was not appended to", row->label);
    fl_buf_free(&out);
}
END_TEST

/* clang-format off */
static const struct sanitize_row utf8_rows[] = {
    {"plain ASCII is kept", "a@example.org", 0, "a@example.org"},
    {"a valid 2-byte sequence is kept", "j\xc3\xb6rg", 0, "j\xc3\xb6rg"},
    {"a valid 3-byte sequence is kept", "\xe2\x82\xac 5", 0, "\xe2\x82\xac 5"},
    {"a valid 4-byte sequence is kept", "\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80"},
    {"U+10FFFF, the last code point, is kept", "\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf"},
    {"U+FFFD itself is kept", FFFD, 0, FFFD},
    {"TAB is kept", "a\tb", 0, "a\tb"},
    {"CR and LF are replaced", "a\r\nb", 0, "a" FFFD FFFD "b"},
    {"other control bytes are replaced", "\x01\x1b", 0, FFFD FFFD},
    {"DEL, a control byte, is replaced", "a\x7f" "b", 0, "a" FFFD "b"},
    {"a NUL ends the string", "ab\0cd", 0, "ab"},
    {"an overlong 2-byte encoding of / is two bad bytes", "\xc0\xaf", 0, FFFD FFFD},
    {"an overlong 3-byte encoding is three bad bytes", "\xe0\x80\xaf", 0, FFFD FFFD FFFD},
    {"an overlong 4-byte encoding is four bad bytes", "\xf0\x80\x80\xaf", 0,
     FFFD FFFD FFFD FFFD},
    {"a UTF-16 surrogate is not UTF-8", "\xed\xa0\x80", 0, FFFD FFFD FFFD},
    {"a code point above U+10FFFF is not UTF-8", "\xf4\x90\x80\x80", 0, FFFD FFFD FFFD FFFD},
    {"F5 and above never start a sequence", "\xf5\x80", 0, FFFD FFFD},
    {"a lone continuation byte is replaced", "a\x80" "b", 0, "a" FFFD "b"},
    {"a sequence truncated by the end of the string", "a\xe2\x82", 0, "a" FFFD FFFD},
    {"a sequence truncated by ASCII keeps the ASCII", "\xe2\x82" "A", 0, FFFD FFFD "A"},
    {"Latin-1 bytes are replaced one by one", "caf\xe9", 0, "caf" FFFD},
    {"a longer string is cut at max and marked", "abcdef", 3, "abc..."},
    {"a string exactly max long is not cut", "j\xc3\xb6", 3, "j\xc3\xb6"},
    {"a cut never splits a valid character into U+FFFD", "aj\xc3\xb6rg", 3, "aj..."},
    {"a cut inside a 4-byte character drops the whole character", "a\xf0\x9f\x98\x80z", 3,
     "a..."},
};
/* clang-format on */

START_TEST(test_sanitize_utf8)
{
    const struct sanitize_row *row = &utf8_rows[_i];
    struct fl_buf out;
    fl_buf_init(&out);
    fl_sanitize_utf8(&out, row->in, row->max);
    ck_assert_msg(strcmp(out.data, row->want) == 0, "%s: got \"%s\", want \"%s\"",
                  row->label, out.data, row->want);
    /* Whatever came in, what goes out is valid UTF-8 (jansson checks). */
    json_t *s = json_stringn(out.data, out.len);
    ck_assert_msg(s != NULL, "%s: output is not valid UTF-8: \"%s\"", row->label,
                  out.data);
    json_decref(s);
    fl_buf_free(&out);
}
END_TEST

START_TEST(test_sanitize_utf8_every_byte)
{
    /* Every single byte 0x01..0xff, alone and before ASCII, gives valid
       UTF-8 without control characters but TAB. */
    for (int c = 1; c < 256; c++) {
        char in[3] = {(char)c, 'x', '\0'};
        struct fl_buf out;
        fl_buf_init(&out);
        fl_sanitize_utf8(&out, in, 0);
        json_t *s = json_stringn(out.data, out.len);
        ck_assert_msg(s != NULL, "byte 0x%02x: output is not valid UTF-8", c);
        json_decref(s);
        for (size_t i = 0; i < out.len; i++)
            ck_assert_msg((unsigned char)out.data[i] >= 0x20 || out.data[i] == '\t',
                          "byte 0x%02x: control byte 0x%02x in the output", c,
                          (unsigned char)out.data[i]);
        fl_buf_free(&out);
    }
}
END_TEST

struct printable_row {
    const char *label;
    const char *s;
    bool want;
};

/* clang-format off */
static const struct printable_row printable_rows[] = {
    {"plain text is printable", "a b", true},
    {"the empty string is not", "", false},
    {"a TAB is not", "a\tb", false},
    {"a LF is not", "a\n", false},
    {"DEL is not", "\x7f", false},
    {"UTF-8 is not", "\xc3\xb6", false},
    {"a tilde is", "~", true},
};
/* clang-format on */

START_TEST(test_is_printable_ascii)
{
    const struct printable_row *row = &printable_rows[_i];
    bool got = fl_is_printable_ascii(row->s);
    ck_assert_msg(got == row->want, "%s: got %d, want %d", row->label, got, row->want);
}
END_TEST

/* --- main ------------------------------------------------------------------- */

static Suite *verdict_suite(void)
{
    Suite *s = suite_create("verdict");

    TCase *tc = tcase_create("decide");
    tcase_add_loop_test(tc, test_decide, 0, (int)NELEMS(decide_rows));
    tcase_add_test(tc, test_decide_resets_verdict);
    suite_add_tcase(s, tc);

    tc = tcase_create("attribution");
    tcase_add_loop_test(tc, test_attribution, 0, (int)NELEMS(attr_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    /* 5,000 random records twice (and each part read back by jansson):
       seconds under the sanitizers */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_json_fields);
    tcase_add_test(tc, test_json_accept_noqueue);
    tcase_add_test(tc, test_json_hostile);
    tcase_add_test(tc, test_json_lists_and_observe);
    tcase_add_test(tc, test_json_direct_equals_jansson);
    suite_add_tcase(s, tc);

    tc = tcase_create("summary");
    tcase_add_loop_test(tc, test_summary, 0, (int)NELEMS(summary_rows));
    tcase_add_test(tc, test_checks_list);
    suite_add_tcase(s, tc);

    tc = tcase_create("sanitize");
    tcase_add_loop_test(tc, test_sanitize_ascii, 0, (int)NELEMS(ascii_rows));
    tcase_add_loop_test(tc, test_sanitize_utf8, 0, (int)NELEMS(utf8_rows));
    tcase_add_test(tc, test_sanitize_utf8_every_byte);
    tcase_add_loop_test(tc, test_is_printable_ascii, 0, (int)NELEMS(printable_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(verdict_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
