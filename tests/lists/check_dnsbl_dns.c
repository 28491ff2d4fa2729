/* check_dnsbl_dns: lib/dnsbl against the hermetic test DNS server with
   injected faults -- the reject reply with the list's TXT (and that it is
   the verdict's), timeouts and SERVFAILs that never reject, five slow
   lists in parallel, the health probe disabling a list that lists
   everything or nothing, statistics, hostile answers (huge TXT, control
   bytes, 100 A records), the RFC 8904 dnswl result, the per-list props,
   and the connection/message life cycle.  Part of check_dnsbl. */
#include "lib/core/authres.h"
#include "lib/core/clock.h"
#include "lib/core/verdict.h"
#include "tests/lists/check_dnsbl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LISTED_TXT "Listed by ZEN-EXAMPLE, see https://lists.example/query/ip/192.0.2.7"

static const struct fl_dnsbl_check *row_for(const struct fl_dnsbl_outcome *o,
                                            const char *zone)
{
    for (size_t i = 0; i < o->nchecks; i++)
        if (strcmp(o->checks[i].zone, zone) == 0)
            return &o->checks[i];
    ck_abort_msg("no row for %s", zone);
    return NULL;
}

static const char *prop(const struct fl_result *r, const char *ptype,
                        const char *property)
{
    for (size_t i = 0; i < r->nprops; i++)
        if (strcmp(r->props[i].ptype, ptype) == 0 &&
            strcmp(r->props[i].property, property) == 0)
            return r->props[i].value;
    return NULL;
}

/* Every test runs with stderr captured: a log line the test does not take
   (and check) fails it. */
static struct dnsbl_capture fixture_log;

static void dns_setup(void)
{
    dnsbl_server_start();
    dnsbl_capture_start(&fixture_log);
}

static void dns_teardown(void)
{
    char *log = dnsbl_capture_end(&fixture_log);
    dnsbl_server_stop();
    ck_assert_msg(log[0] == '\0', "unexpected log lines: %s", log);
    free(log);
}

/* What was logged since the test started or last took it (free it). */
static char *log_take(void)
{
    char *log = dnsbl_capture_end(&fixture_log);
    dnsbl_capture_start(&fixture_log);
    return log;
}

/* Takes the log and checks that it is n lines, each containing want. */
static void expect_log(const char *want, int n)
{
    char *log = log_take();
    ck_assert_msg(dnsbl_count(log, want) == n && dnsbl_count(log, "\n") == n,
                  "want %d log lines with \"%s\", got: %s", n, want, log);
    free(log);
}

/* The record's "lists" with what varies between runs masked: answer times
   ("ms":MS) and the error sentences ("error":"ERR", pinned elsewhere). */
/* Check's messages are bounded: say where two long strings part. */
static void assert_golden(const char *got, const char *want)
{
    size_t i = 0;
    while (got[i] && got[i] == want[i])
        i++;
    ck_assert_msg(got[i] == want[i], "differs at byte %zu: got ...%.120s | want ...%.120s",
                  i, got + (i > 20 ? i - 20 : 0), want + (i > 20 ? i - 20 : 0));
}

static char *masked_record(const char *json)
{
    struct fl_buf b;
    fl_buf_init(&b);
    for (const char *p = json; *p;) {
        if (strncmp(p, "\"ms\":", 5) == 0) {
            fl_buf_puts(&b, "\"ms\":MS");
            p += 5;
            p += strspn(p, "-0123456789");
        } else if (strncmp(p, "\"error\":\"", 9) == 0) {
            fl_buf_puts(&b, "\"error\":\"ERR\"");
            p += 9;
            while (*p && *p != '"')
                p += *p == '\\' && p[1] ? 2 : 1;
            p += *p == '"';
        } else {
            fl_buf_putc(&b, *p++);
        }
    }
    char *r = fl_buf_steal(&b);
    fl_buf_free(&b);
    return r;
}

START_TEST(a_listed_client_is_refused_with_the_lists_reason)
{
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example*2");
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, "192.0.2.7", fl_monotonic_ms() + 5000);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    ck_assert(o->listed && !o->reject_at_eom);
    ck_assert_int_eq(o->reply_code, 554);
    ck_assert_str_eq(o->reply_dsn, "5.7.1");
    ck_assert_str_eq(
        o->reply_text,
        "client address is blocklisted: 192.0.2.7 is listed on zen.dnsbl.example: the "
        "sender's provider must get it delisted (zen.dnsbl.example: " LISTED_TXT
        ") (fault=sender)");
    /* A and TXT went out together: one query each, no second round trip. */
    ck_assert_int_eq(fl_dnsd_count(&dnsbl_dnsd, "7.2.0.192.zen.dnsbl.example", "A"), 1);
    ck_assert_int_eq(fl_dnsd_count(&dnsbl_dnsd, "7.2.0.192.zen.dnsbl.example", "TXT"), 1);
    /* The RCPT reply is what the verdict at EOM says. */
    struct fl_verdict v;
    fl_verdict_decide(&v, &o->result, 1, NULL, false);
    ck_assert_int_eq(v.code, 554);
    ck_assert_str_eq(v.text, o->reply_text);
    ck_assert_int_eq(v.fault, FL_FAULT_SENDER);
    fl_verdict_clear(&v);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);

    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example\ndnsbl_reply_code = 550\n"
                       "dnsbl_reject_stage = eom\ndnsbl_fetch_txt = no");
    bl = fl_dnsbl_start(e.lists, e.dns, "192.0.2.33", 0);
    o = fl_dnsbl_finish(bl, 0);
    ck_assert(o->listed && o->reject_at_eom);
    ck_assert_int_eq(o->reply_code, 550);
    ck_assert_str_eq(o->reply_text,
                     "client address is blocklisted: 192.0.2.33 is listed on "
                     "zen.dnsbl.example: the sender's provider must get it delisted "
                     "(fault=sender)");
    ck_assert_int_eq(fl_dnsd_count(&dnsbl_dnsd, "33.2.0.192.zen.dnsbl.example", "TXT"),
                     0);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(a_silent_list_times_out_at_the_deadline_and_never_rejects)
{
    fl_dnsd_set_faults(&dnsbl_dnsd, "*.zen.dnsbl.example ANY drop\n");
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example*5, bl2.dnsbl.example\n"
                       "dns_probe_timeout = 250ms");
    long long t0 = fl_monotonic_ms();
    struct fl_dnsbl *bl = fl_dnsbl_start(e.lists, e.dns, "192.0.2.7", t0 + 5000);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, t0 + 300);
    long long took = fl_monotonic_ms() - t0;
    /* the deadline, then at most the probe's own budget */
    ck_assert_msg(took >= 300 && took < 300 + 250 + 100,
                  "deadline 300 ms: took %lld ms", took);
    const struct fl_dnsbl_check *zen = row_for(o, "zen.dnsbl.example");
    ck_assert_int_eq(zen->status, FL_DNSBL_UNAVAILABLE);
    ck_assert_int_eq(zen->dns_status, FL_DNS_TIMEOUT);
    ck_assert_int_eq(zen->weight, 0);
    /* the other list still counts */
    ck_assert_int_eq(row_for(o, "bl2.dnsbl.example")->status, FL_DNSBL_LISTED);
    ck_assert_int_eq(o->score, 1);
    expect_log("warning: dnsbl list=zen.dnsbl.example status=TIMEOUT fault=receiver", 1);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);

    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example*5");
    t0 = fl_monotonic_ms();
    bl = fl_dnsbl_start(e.lists, e.dns, "192.0.2.7", t0 + 5000);
    o = fl_dnsbl_finish(bl, t0 + 300);
    ck_assert_int_eq(o->result.result, FL_RES_TEMPERROR);
    ck_assert_int_eq(o->result.action, FL_ACTION_ACCEPT);
    ck_assert_int_eq(o->result.fault, FL_FAULT_RECEIVER);
    ck_assert(o->result.transient);
    ck_assert_str_eq(o->result.reason_code, "dnsbl.list_unavailable");
    ck_assert_str_eq(
        o->result.detail,
        "list zen.dnsbl.example did not answer (timeout) while our resolver answers "
        "other names: the list's servers are down or refuse us; the list was ignored");
    expect_log("warning: dnsbl list=zen.dnsbl.example status=TIMEOUT fault=receiver", 1);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(a_servfailing_list_is_ours_to_fix_not_the_senders)
{
    fl_dnsd_set_faults(&dnsbl_dnsd, "*.zen.dnsbl.example ANY servfail\n");
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example*5");
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, "192.0.2.7", fl_monotonic_ms() + 5000);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    ck_assert_int_eq(o->checks[0].status, FL_DNSBL_UNAVAILABLE);
    ck_assert_int_eq(o->checks[0].dns_status, FL_DNS_SERVFAIL);
    ck_assert_int_eq(o->result.result, FL_RES_TEMPERROR);
    ck_assert_int_eq(o->result.fault, FL_FAULT_RECEIVER);
    ck_assert(!o->listed && o->reply_code == 0 && o->reply_text == NULL);
    ck_assert_msg(strstr(o->result.detail, "(servfail) while our resolver answers"), "%s",
                  o->result.detail);
    expect_log("warning: dnsbl list=zen.dnsbl.example status=SERVFAIL fault=receiver", 1);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(five_slow_lists_cost_one_delay_not_five)
{
    fl_dnsd_set_faults(&dnsbl_dnsd, "*.s1.dnsbl.example ANY delay 200\n"
                                    "*.s2.dnsbl.example ANY delay "
                                    "200\n*.s3.dnsbl.example ANY delay "
                                    "200\n*.s4.dnsbl.example ANY delay "
                                    "200\n*.s5.dnsbl.example ANY delay 200\n");
    struct dnsbl_env e;
    dnsbl_env_open(&e,
                   "dnsbl_sites = s1.dnsbl.example, s2.dnsbl.example, s3.dnsbl.example, "
                   "s4.dnsbl.example, s5.dnsbl.example");
    long long t0 = fl_monotonic_ms();
    struct fl_dnsbl *bl = fl_dnsbl_start(e.lists, e.dns, "192.0.2.7", t0 + 5000);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    long long took = fl_monotonic_ms() - t0;
    ck_assert_uint_eq(o->nchecks, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(o->checks[i].status == FL_DNSBL_NOT_LISTED, "%s: %s",
                      o->checks[i].zone, fl_dnsbl_status_name(o->checks[i].status));
    ck_assert_msg(took >= 200 && took < 500, "5 lists of 200 ms (A and TXT) took %lld ms",
                  took);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

#define PROBE_LISTS                                                                      \
    "dnsbl_sites = zen.dnsbl.example, wl.dnsbl.example*-2, hijacked.dnsbl.example, "     \
    "dead.dnsbl.example, parked.dnsbl.example, refusing.dnsbl.example\n"                 \
    "rhsbl_sites = dbl.dnsbl.example"

START_TEST(the_probe_disables_a_list_that_lists_everything_or_nothing)
{
    static const struct {
        const char *zone;
        enum fl_dnsbl_health health;
        bool disabled;
    } want[] = {
        {"zen.dnsbl.example", FL_DNSBL_HEALTHY, false},
        {"wl.dnsbl.example", FL_DNSBL_HEALTHY, false},
        {"hijacked.dnsbl.example", FL_DNSBL_LISTS_EVERYTHING, true},
        {"dead.dnsbl.example", FL_DNSBL_LISTS_NOTHING, true},
        {"parked.dnsbl.example", FL_DNSBL_LISTS_EVERYTHING, true},
        {"refusing.dnsbl.example", FL_DNSBL_REFUSING, false},
        {"dbl.dnsbl.example", FL_DNSBL_HEALTHY, false},
    };
    struct dnsbl_env e;
    dnsbl_env_open(&e, PROBE_LISTS);
    struct fl_dnsbl_list_health h[16];
    struct dnsbl_capture cap;
    dnsbl_capture_start(&cap);
    size_t n = fl_dnsbl_probe_lists(e.lists, e.dns, fl_monotonic_ms() + 3000, h, 16);
    char *log = dnsbl_capture_end(&cap);
    ck_assert_uint_eq(n, NELEMS(want));
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(h[i].zone, want[i].zone);
        ck_assert_msg(h[i].health == want[i].health && h[i].disabled == want[i].disabled,
                      "%s: got %s%s (%s), want %s", h[i].zone,
                      fl_dnsbl_health_name(h[i].health), h[i].disabled ? " disabled" : "",
                      h[i].detail, fl_dnsbl_health_name(want[i].health));
    }
    ck_assert_msg(
        strstr(log, "error: dnsbl list=hijacked.dnsbl.example health=lists_everything "
                    "action=disabled fault=receiver: 127.0.0.1 is listed (answer "
                    "127.0.0.2)"),
        "log: %s", log);
    ck_assert_msg(strstr(log, "error: dnsbl list=dead.dnsbl.example health=lists_nothing "
                              "action=disabled"),
                  "log: %s", log);
    ck_assert_msg(
        strstr(log, "warning: dnsbl list=refusing.dnsbl.example health=refusing"),
        "log: %s", log);
    ck_assert_int_eq(dnsbl_count(log, "zen.dnsbl.example"), 0);
    free(log);
    /* A disabled list is not asked and cannot score. */
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, "192.0.2.50", fl_monotonic_ms() + 5000);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    ck_assert_int_eq(row_for(o, "hijacked.dnsbl.example")->status, FL_DNSBL_DISABLED);
    ck_assert_int_eq(o->score, 0);
    ck_assert_int_eq(
        fl_dnsd_count(&dnsbl_dnsd, "50.2.0.192.hijacked.dnsbl.example", NULL), 0);
    expect_log("warning: dnsbl list=refusing.dnsbl.example answer=127.255.255.254", 1);
    fl_dnsbl_free(&bl);
    /* Once it answers its test entries correctly it is enabled again. */
    fl_dnsd_set_faults(&dnsbl_dnsd, "1.0.0.127.hijacked.dnsbl.example ANY nxdomain\n");
    struct fl_dns *fresh; /* the old answers are cached */
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert(fl_dns_create(e.cfg, &fresh, &why) == 0);
    fl_buf_free(&why);
    dnsbl_capture_start(&cap);
    fl_dnsbl_probe_lists(e.lists, fresh, fl_monotonic_ms() + 3000, h, 16);
    log = dnsbl_capture_end(&cap);
    ck_assert_msg(h[2].health == FL_DNSBL_HEALTHY && !h[2].disabled, "%s", h[2].detail);
    ck_assert_msg(
        strstr(log, "dnsbl list=hijacked.dnsbl.example health=healthy action=enabled"),
        "log: %s", log);
    free(log);
    struct fl_dnsbl_list_stats st[16];
    fl_dnsbl_stats(e.lists, st, 16);
    ck_assert(!st[2].disabled && st[3].disabled);
    fl_dns_destroy(&fresh);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(statistics_count_each_list_once_per_answer)
{
    fl_dnsd_set_faults(&dnsbl_dnsd, "*.bl2.dnsbl.example ANY drop\n");
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example, refusing.dnsbl.example, "
                       "bl2.dnsbl.example");
    static const char *const ips[] = {"192.0.2.7", "192.0.2.50", "192.0.2.21"};
    for (size_t i = 0; i < NELEMS(ips); i++) {
        long long t0 = fl_monotonic_ms();
        struct fl_dnsbl *bl = fl_dnsbl_start(e.lists, e.dns, ips[i], t0 + 5000);
        fl_dnsbl_finish(bl, t0 + 200);
        fl_dnsbl_finish(bl, t0 + 200); /* a second look counts nothing */
        fl_dnsbl_free(&bl);
    }
    struct fl_dnsbl_list_stats st[4];
    ck_assert_uint_eq(fl_dnsbl_stats(e.lists, st, 4), 3);
    ck_assert_str_eq(st[0].zone, "zen.dnsbl.example");
    ck_assert_msg(st[0].queries == 3 && st[0].listed == 1 && st[0].not_listed == 1 &&
                      st[0].error_codes == 1 && st[0].timeouts == 0,
                  "zen: %lu queries %lu listed %lu not %lu errors", st[0].queries,
                  st[0].listed, st[0].not_listed, st[0].error_codes);
    ck_assert(st[1].queries == 3 && st[1].error_codes == 3 && st[1].listed == 0);
    ck_assert_msg(st[2].queries == 3 && st[2].timeouts == 3, "bl2: %lu timeouts",
                  st[2].timeouts);
    /* at most one warning a minute per list */
    char *log = log_take();
    ck_assert_msg(
        dnsbl_count(log, "warning: dnsbl list=refusing.dnsbl.example answer=") == 1 &&
            dnsbl_count(log, "warning: dnsbl list=zen.dnsbl.example answer=") == 1 &&
            dnsbl_count(log, "warning: dnsbl list=bl2.dnsbl.example status=TIMEOUT") ==
                1 &&
            dnsbl_count(log, "\n") == 3,
        "log: %s", log);
    free(log);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(hostile_answers_are_bounded_and_sanitised)
{
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example");
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, "192.0.2.30", fl_monotonic_ms() + 5000);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    const char *txt = o->checks[0].txt;
    ck_assert_msg(txt && strncmp(txt, "huge-00-xxx", 11) == 0 && strlen(txt) == 123 &&
                      strcmp(txt + 120, "...") == 0,
                  "2 kB TXT kept as \"%s\"", txt ? txt : "(none)");
    ck_assert_uint_le(strlen(o->reply_text), 400);
    fl_dnsbl_free(&bl);

    bl = fl_dnsbl_start(e.lists, e.dns, "192.0.2.31", fl_monotonic_ms() + 5000);
    o = fl_dnsbl_finish(bl, 0);
    ck_assert_str_eq(o->checks[0].txt, "evil??Injected: header??tab?end");
    for (const char *p = o->reply_text; *p; p++)
        ck_assert_msg(*p >= 0x20 && *p < 0x7f, "byte %#x in the reply",
                      (unsigned char)*p);
    fl_dnsbl_free(&bl);

    bl = fl_dnsbl_start(e.lists, e.dns, "192.0.2.32", fl_monotonic_ms() + 5000);
    o = fl_dnsbl_finish(bl, 0);
    ck_assert_int_eq(o->checks[0].status, FL_DNSBL_LISTED);
    ck_assert_int_eq(o->score, 1);
    /* 8 of them (in the resolver's order), then "..." */
    const char *ans = o->checks[0].answers;
    ck_assert_msg(dnsbl_count(ans, "127.0.") == 8 &&
                      strcmp(ans + strlen(ans) - 4, " ...") == 0,
                  "answers \"%s\"", ans);
    ck_assert_int_ge(
        fl_dnsd_count_proto(&dnsbl_dnsd, "tcp", "32.2.0.192.zen.dnsbl.example", "A"), 1);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(an_allow_list_gives_an_rfc8904_dnswl_result_in_the_header)
{
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = wl.dnsbl.example*-5, zen.dnsbl.example");
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, "192.0.2.40", fl_monotonic_ms() + 5000);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    ck_assert(o->allow_listed && !o->listed && o->has_dnswl);
    ck_assert_int_eq(o->result.result, FL_RES_PASS);
    ck_assert(!o->result.in_header && o->dnswl.in_header);
    ck_assert_str_eq(o->result.detail,
                     "192.0.2.40 is allow-listed by wl.dnsbl.example (score -5, at most "
                     "-1): trusted for greylisting and reporting");
    ck_assert_str_eq(o->dnswl.method, "dnswl");
    ck_assert_int_eq(o->dnswl.result, FL_RES_PASS);
    ck_assert_str_eq(prop(&o->dnswl, "dns", "zone"), "wl.dnsbl.example");
    ck_assert_str_eq(prop(&o->dnswl, "policy", "ip"), "127.0.10.1");
    ck_assert_str_eq(prop(&o->dnswl, "policy", "txt"),
                     "good.example https://dnswl.example/?d=good.example");
    ck_assert_str_eq(prop(&o->dnswl, "dns", "sec"), "na");
    struct fl_result both[2] = {o->result, o->dnswl};
    struct fl_buf h;
    fl_buf_init(&h);
    fl_authres_build(&h, "mx.example", both, 2);
    ck_assert_msg(strstr(h.data, "dnswl=pass") && !strstr(h.data, "dnsbl="), "%s",
                  h.data);
    fl_buf_free(&h);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(props_and_breakdown_name_every_list)
{
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = zen.dnsbl.example*3, bl2.dnsbl.example, "
                       "wl.dnsbl.example*-1, refusing.dnsbl.example, "
                       "dead.dnsbl.example\nrhsbl_sites = "
                       "dbl.dnsbl.example*2:mailfrom+helo");
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, "192.0.2.7", fl_monotonic_ms() + 5000);
    ck_assert_int_eq(fl_dnsbl_check_domain(bl, FL_DNSBL_ID_HELO, "clean.example", 0), 1);
    ck_assert_int_eq(fl_dnsbl_check_domain(bl, FL_DNSBL_ID_MAILFROM, "a@spam.example", 0),
                     1);
    ck_assert_int_eq(fl_dnsbl_check_domain(bl, FL_DNSBL_ID_FROM, "a@spam.example", 0), 0);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    struct fl_buf d;
    fl_buf_init(&d);
    fl_dnsbl_describe(o, &d);
    ck_assert_str_eq(d.data,
                     "score=5 threshold=1 allow=-1 zen.dnsbl.example=127.0.0.2*3 "
                     "bl2.dnsbl.example=127.0.0.2*1 wl.dnsbl.example=127.0.10.2*-1 "
                     "refusing.dnsbl.example=error:127.255.255.254*0 "
                     "dead.dnsbl.example=nxdomain*0 dbl.dnsbl.example/helo=nxdomain*0 "
                     "dbl.dnsbl.example/mailfrom=127.0.1.2*2");
    const struct fl_result *r = &o->result;
    /* the reply names every list that counted, grouped by what it listed */
    ck_assert_str_eq(r->detail,
                     "192.0.2.7 is listed on zen.dnsbl.example and bl2.dnsbl.example; the "
                     "MAIL FROM domain spam.example is listed on dbl.dnsbl.example: the "
                     "sender must get them delisted (zen.dnsbl.example: " LISTED_TXT ")");
    static const char *const want[][3] = {
        {"policy", "ip", "192.0.2.7"},
        {"policy", "score", "5"},
    };
    ck_assert_uint_eq(r->nprops, NELEMS(want));
    for (size_t i = 0; i < NELEMS(want); i++)
        ck_assert_msg(strcmp(r->props[i].ptype, want[i][0]) == 0 &&
                          strcmp(r->props[i].property, want[i][1]) == 0 &&
                          strcmp(r->props[i].value, want[i][2]) == 0,
                      "prop %zu: got %s.%s=%s, want %s.%s=%s", i, r->props[i].ptype,
                      r->props[i].property, r->props[i].value, want[i][0], want[i][1],
                      want[i][2]);
    /* every list asked survives into the record, structured (golden) */
    ck_assert_ptr_nonnull(r->record_json);
    char *rec = masked_record(r->record_json);
    assert_golden(
        rec,
        "{\"score\":5,\"threshold\":1,\"allow_threshold\":-1,\"lists\":["
        "{\"list\":\"zen.dnsbl.example\",\"kind\":\"ip\",\"identities\":[\"client\"],"
        "\"name\":\"192.0.2.7\",\"status\":\"listed\",\"dns\":\"ok\",\"answers\":["
        "\"127.0.0.2\"],\"weight\":3,\"txt\":\"" LISTED_TXT "\",\"ms\":MS},"
        "{\"list\":\"bl2.dnsbl.example\",\"kind\":\"ip\",\"identities\":[\"client\"],"
        "\"name\":\"192.0.2.7\",\"status\":\"listed\",\"dns\":\"ok\",\"answers\":["
        "\"127.0.0.2\"],\"weight\":1,\"ms\":MS},"
        "{\"list\":\"wl.dnsbl.example\",\"kind\":\"ip\",\"identities\":[\"client\"],"
        "\"name\":\"192.0.2.7\",\"status\":\"listed\",\"dns\":\"ok\",\"answers\":["
        "\"127.0.10.2\"],\"weight\":-1,\"ms\":MS},"
        "{\"list\":\"refusing.dnsbl.example\",\"kind\":\"ip\",\"identities\":["
        "\"client\"],\"name\":\"192.0.2.7\",\"status\":\"error_code\",\"dns\":\"ok\","
        "\"answers\":[\"127.255.255.254\"],\"weight\":0,\"error_code\":"
        "\"127.255.255.254\",\"error\":\"ERR\",\"ms\":MS},"
        "{\"list\":\"dead.dnsbl.example\",\"kind\":\"ip\",\"identities\":[\"client\"],"
        "\"name\":\"192.0.2.7\",\"status\":\"not_listed\",\"dns\":\"nxdomain\","
        "\"answers\":[],\"weight\":0,\"ms\":MS},"
        "{\"list\":\"dbl.dnsbl.example\",\"kind\":\"domain\",\"identities\":[\"helo\"],"
        "\"name\":\"clean.example\",\"status\":\"not_listed\",\"dns\":\"nxdomain\","
        "\"answers\":[],\"weight\":0,\"ms\":MS},"
        "{\"list\":\"dbl.dnsbl.example\",\"kind\":\"domain\",\"identities\":["
        "\"mailfrom\"],\"name\":\"spam.example\",\"status\":\"listed\",\"dns\":\"ok\","
        "\"answers\":[\"127.0.1.2\"],\"weight\":2,\"txt\":"
        "\"https://lists.example/query/dbl?domain=spam.example\",\"ms\":MS}]}");
    free(rec);
    const struct fl_dnsbl_check *c = row_for(o, "refusing.dnsbl.example");
    ck_assert_str_eq(c->error_answer, "127.255.255.254");
    ck_assert_msg(strstr(c->error, "public or open resolver"), "%s", c->error);
    expect_log("warning: dnsbl list=refusing.dnsbl.example answer=127.255.255.254", 1);
    fl_buf_free(&d);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

/* Observe mode: the listing is decided and recorded with the reply it
   would have got, and nothing is refused; an /observe entry counts only
   towards the observed score while the other lists are enforced. */
START_TEST(observed_lists_decide_and_record_but_never_refuse)
{
    static const struct {
        const char *label, *conf;
        bool listed, would;
        int score, observe_score;
    } rows[] = {
        {"dnsbl_mode = observe: the listing would have refused",
         "dnsbl_sites = zen.dnsbl.example*2, bl2.dnsbl.example\ndnsbl_mode = observe", false,
         true, 0, 3},
        {"one list observed, one enforced below the threshold",
         "dnsbl_sites = zen.dnsbl.example*2/observe, bl2.dnsbl.example\ndnsbl_threshold = 2",
         false, true, 1, 3},
        {"one list observed, one enforced over the threshold: refused for real",
         "dnsbl_sites = zen.dnsbl.example*2/observe, bl2.dnsbl.example*2\ndnsbl_threshold = 2",
         true, false, 2, 4},
        {"an observed list below the threshold: nothing would have happened",
         "dnsbl_sites = zen.dnsbl.example*1/observe\ndnsbl_threshold = 2", false, false, 0, 1},
    };
    for (size_t k = 0; k < NELEMS(rows); k++) {
        struct dnsbl_env e;
        dnsbl_env_open(&e, rows[k].conf);
        struct fl_dnsbl *bl =
            fl_dnsbl_start(e.lists, e.dns, "192.0.2.7", fl_monotonic_ms() + 5000);
        const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
        const struct fl_result *r = &o->result;
        ck_assert_msg(o->listed == rows[k].listed && o->would_list == rows[k].would &&
                          o->score == rows[k].score &&
                          o->observe_score == rows[k].observe_score,
                      "%s: got listed=%d would=%d score=%d observe_score=%d", rows[k].label,
                      o->listed, o->would_list, o->score, o->observe_score);
        if (rows[k].would) {
            ck_assert_msg(r->action == FL_ACTION_ACCEPT &&
                              r->observe_action == FL_ACTION_REJECT &&
                              r->observe_code == 554 && o->reply_code == 0,
                          "%s: action %s observe %s %d", rows[k].label,
                          fl_action_name(r->action), fl_action_name(r->observe_action),
                          r->observe_code);
            ck_assert_msg(strstr(r->observe_text, "is listed on zen.dnsbl.example and "
                                                  "bl2.dnsbl.example") != NULL,
                          "%s: %s", rows[k].label, r->observe_text);
            ck_assert_msg(strstr(r->record_json, "\"observe\":true") != NULL, "%s: %s",
                          rows[k].label, r->record_json);
        } else {
            ck_assert_msg(r->observe_action == FL_ACTION_ACCEPT, "%s: observed %s",
                          rows[k].label, fl_action_name(r->observe_action));
            ck_assert_msg(r->action == (rows[k].listed ? FL_ACTION_REJECT : FL_ACTION_ACCEPT),
                          "%s: action %s", rows[k].label, fl_action_name(r->action));
        }
        fl_dnsbl_free(&bl);
        dnsbl_env_close(&e);
        free(log_take());
    }
}
END_TEST

START_TEST(messages_come_and_go_on_one_connection)
{
    struct dnsbl_env e;
    dnsbl_env_open(&e, "rhsbl_sites = dbl.dnsbl.example\ndnsbl_reject_stage = eom");
    /* the connection's deadline: HELO and MAIL FROM are asked within it */
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, "192.0.2.50", fl_monotonic_ms() + 1000);
    fl_dnsbl_check_domain(bl, FL_DNSBL_ID_HELO, "helo.example", 0);
    fl_dnsbl_check_domain(bl, FL_DNSBL_ID_MAILFROM, "a@spam.example", 0);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    ck_assert(o->nchecks == 2 && o->listed && o->reject_at_eom);
    /* RSET, next message: MAIL FROM forgotten, HELO kept */
    fl_dnsbl_new_message(bl);
    fl_dnsbl_check_domain(bl, FL_DNSBL_ID_MAILFROM, "a@clean.example", 0);
    o = fl_dnsbl_finish(bl, 0);
    ck_assert_uint_eq(o->nchecks, 2);
    ck_assert_int_eq(o->result.result, FL_RES_NONE);
    /* at EOM the From header is known, and the outcome is computed again */
    /* ... long after it, with the message's own deadline */
    usleep(1100 * 1000);
    fl_dnsbl_check_domain(bl, FL_DNSBL_ID_FROM, "Phish.Example",
                          fl_monotonic_ms() + 5000);
    o = fl_dnsbl_finish(bl, 0);
    ck_assert_uint_eq(o->nchecks, 3);
    ck_assert_int_eq(o->result.result, FL_RES_FAIL);
    ck_assert_str_eq(o->result.reason_code, "dnsbl.domain_listed");
    ck_assert_str_eq(o->result.detail,
                     "the From header domain phish.example is listed on "
                     "dbl.dnsbl.example: the sender must get it delisted");
    ck_assert_str_eq(o->reply_text,
                     "a domain of the sender is blocklisted: the From header domain "
                     "phish.example is listed on dbl.dnsbl.example: the sender must get "
                     "it delisted (fault=sender)");
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

START_TEST(an_error_code_is_logged_once_a_minute_per_list)
{
    struct dnsbl_env e;
    dnsbl_env_open(&e, "dnsbl_sites = refusing.dnsbl.example");
    struct dnsbl_capture cap;
    dnsbl_capture_start(&cap);
    static const char *const ips[] = {"192.0.2.7", "192.0.2.50", "2001:db8::1"};
    for (size_t i = 0; i < NELEMS(ips); i++) {
        struct fl_dnsbl *bl =
            fl_dnsbl_start(e.lists, e.dns, ips[i], fl_monotonic_ms() + 5000);
        const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
        ck_assert_str_eq(
            o->result.detail,
            "list refusing.dnsbl.example answered 127.255.255.254: query through a "
            "public or open resolver, so the list refuses our resolver: use your own "
            "recursive resolver, not a public one (dns_forwarders); the list was "
            "ignored");
        fl_dnsbl_free(&bl);
    }
    char *log = dnsbl_capture_end(&cap);
    ck_assert_msg(
        dnsbl_count(log, "warning: dnsbl list=refusing.dnsbl.example "
                         "answer=127.255.255.254 fault=receiver: query through") == 1,
        "log: %s", log);
    free(log);
    dnsbl_env_close(&e);
}
END_TEST

TCase *dnsbl_dns_tcase(void)
{
    TCase *tc = tcase_create("dns");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, dns_setup, dns_teardown);
    tcase_add_test(tc, a_listed_client_is_refused_with_the_lists_reason);
    tcase_add_test(tc, a_silent_list_times_out_at_the_deadline_and_never_rejects);
    tcase_add_test(tc, a_servfailing_list_is_ours_to_fix_not_the_senders);
    tcase_add_test(tc, five_slow_lists_cost_one_delay_not_five);
    tcase_add_test(tc, the_probe_disables_a_list_that_lists_everything_or_nothing);
    tcase_add_test(tc, statistics_count_each_list_once_per_answer);
    tcase_add_test(tc, hostile_answers_are_bounded_and_sanitised);
    tcase_add_test(tc, an_allow_list_gives_an_rfc8904_dnswl_result_in_the_header);
    tcase_add_test(tc, props_and_breakdown_name_every_list);
    tcase_add_test(tc, observed_lists_decide_and_record_but_never_refuse);
    tcase_add_test(tc, messages_come_and_go_on_one_connection);
    tcase_add_test(tc, an_error_code_is_logged_once_a_minute_per_list);
    return tc;
}
