/* check_greylist: unit tests for lib/greylist (the policy) on the LMDB
   store in a temp dir, with a fake clock: time moves by assignment, nothing
   sleeps.

   - Scenarios: sequences of attempts with the time between them -- first
     attempt, too early, retry after the delay, retry window, lifetime and
     its refresh, auto-allow after N retries, /24 and /64 grouping, sender
     normalisation (BATV, SRS, VERP), the null sender.
   - Every exemption, on and off, and that an exemption leaves the store
     alone.
   - Normalisation of networks and senders, the record codec.
   - The fl_result of each outcome, and the verdict it yields (451 4.7.1,
     fault=none; a store error accepts with fault=receiver).
   - The sweep and expire, and the admin API (allow, remove, stats).
   Run by `make check`. */
#include "lib/greylist/greylist.h"
#include "lib/greylist/greylist_store.h"
#include "lib/core/log.h"
#include "lib/core/verdict.h"
#include "tests/greylist/greylist_fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

enum want {
    W_FIRST, /* DEFER greylist.first_seen */
    W_EARLY, /* DEFER greylist.too_early */
    W_RETRY, /* PASS, the retry accepted */
    W_KNOWN, /* PASS, a known triplet */
    W_AUTO,  /* EXEMPT auto_allowed */
};

static const char *want_name(enum want w)
{
    static const char *const names[] = {"first_seen", "too_early", "retry accepted",
                                        "known pass", "auto-allowed"};
    return names[w];
}

static bool got_is(const struct fl_greylist_decision *d, enum want w)
{
    switch (w) {
    case W_FIRST:
    case W_EARLY:
        return d->outcome == FL_GREYLIST_DEFER && d->reason_code != NULL &&
               strcmp(d->reason_code,
                      w == W_FIRST ? "greylist.first_seen" : "greylist.too_early") == 0;
    case W_RETRY:
    case W_KNOWN:
        return d->outcome == FL_GREYLIST_PASS && d->retry_accepted == (w == W_RETRY);
    case W_AUTO:
        return d->outcome == FL_GREYLIST_EXEMPT &&
               d->exemption == FL_GREYLIST_EX_AUTO_ALLOWED;
    }
    return false;
}

struct step {
    long advance; /* seconds since the previous step */
    const char *ip, *sender, *rcpt;
    enum want want;
    long retry_after; /* checked for deferrals when >= 0 */
};

#define MAX_STEPS 20
#define A         "alice@example.org"
#define R         "rcpt@example.net"

struct scenario {
    const char *label;
    const char *extra; /* settings */
    struct step steps[MAX_STEPS];
};

/* clang-format off */
static const struct scenario scenarios[] = {
    {"a first attempt is deferred for the whole delay", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, 300}}},
    {"a retry before the delay is deferred as too early, with the seconds left", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, 300}, {100, "192.0.2.10", A, R, W_EARLY, 200},
      {199, "192.0.2.10", A, R, W_EARLY, 1}}},
    {"a retry exactly at the delay is accepted", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, 300}, {300, "192.0.2.10", A, R, W_RETRY, -1}}},
    {"a later delivery of a passed triplet passes as known", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {400, "192.0.2.10", A, R, W_RETRY, -1},
      {HOUR, "192.0.2.10", A, R, W_KNOWN, -1}}},
    {"a retry just inside the two-day retry window is accepted", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {2 * DAY - 1, "192.0.2.10", A, R, W_RETRY, -1}}},
    {"a pending entry expires after the retry window: the next attempt is first again", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {2 * DAY, "192.0.2.10", A, R, W_FIRST, 300}}},
    {"a passed triplet is forgotten after its 35-day lifetime", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {300, "192.0.2.10", A, R, W_RETRY, -1},
      {35 * DAY, "192.0.2.10", A, R, W_FIRST, -1}}},
    {"each use refreshes a passed triplet's lifetime", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {300, "192.0.2.10", A, R, W_RETRY, -1},
      {30 * DAY, "192.0.2.10", A, R, W_KNOWN, -1}, {30 * DAY, "192.0.2.10", A, R, W_KNOWN, -1},
      {34 * DAY, "192.0.2.10", A, R, W_KNOWN, -1}}},
    {"a shorter configured delay and window apply", "greylist_delay = 1m\ngreylist_retry_window = 1h",
     {{0, "192.0.2.10", A, R, W_FIRST, 60}, {59, "192.0.2.10", A, R, W_EARLY, 1},
      {1, "192.0.2.10", A, R, W_RETRY, -1}, {0, "192.0.2.10", "bob@example.org", R, W_FIRST, 60},
      {HOUR, "192.0.2.10", "bob@example.org", R, W_FIRST, 60}}},
    {"pool addresses in one /24 pass together", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {300, "192.0.2.77", A, R, W_RETRY, -1},
      {10, "192.0.2.254", A, R, W_KNOWN, -1}}},
    {"another /24 of the same provider is a new triplet", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {300, "192.0.3.10", A, R, W_FIRST, 300}}},
    {"with greylist_ipv4_prefix = 32 each address is its own triplet", "greylist_ipv4_prefix = 32",
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {300, "192.0.2.11", A, R, W_FIRST, -1},
      {0, "192.0.2.10", A, R, W_RETRY, -1}}},
    {"IPv6 clients in one /64 share a triplet", NULL,
     {{0, "2001:db8:1:2::1", A, R, W_FIRST, -1}, {300, "2001:db8:1:2:ffff::9", A, R, W_RETRY, -1}}},
    {"IPv6 clients in another /64 do not", NULL,
     {{0, "2001:db8:1:2::1", A, R, W_FIRST, -1}, {300, "2001:db8:1:3::1", A, R, W_FIRST, -1}}},
    {"an IPv4-mapped IPv6 client is grouped with its IPv4 network", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {300, "::ffff:192.0.2.99", A, R, W_RETRY, -1}}},
    {"BATV-tagged bounces of one sender share a triplet", NULL,
     {{0, "192.0.2.10", "prvs=1111aaaaaa=alice@example.org", R, W_FIRST, -1},
      {300, "192.0.2.10", "prvs=2222bbbbbb=alice@example.org", R, W_RETRY, -1},
      {10, "192.0.2.10", "alice@example.org", R, W_KNOWN, -1}}},
    {"SRS addresses of one original sender share a triplet", NULL,
     {{0, "192.0.2.10", "SRS0=HHH1=AB=orig.example=alice@fwd.example", R, W_FIRST, -1},
      {300, "192.0.2.10", "SRS0=HHH2=AC=orig.example=alice@fwd.example", R, W_RETRY, -1}}},
    {"VERP addresses of one mailing list share a triplet", NULL,
     {{0, "192.0.2.10", "list-bounces+alice=example.net@lists.example", R, W_FIRST, -1},
      {300, "192.0.2.10", "list-bounces+bob=example.net@lists.example", R, W_RETRY, -1}}},
    {"numbered bounce addresses share a triplet", NULL,
     {{0, "192.0.2.10", "bounce-12345-67@mail.example", R, W_FIRST, -1},
      {300, "192.0.2.10", "bounce-98765-43@mail.example", R, W_RETRY, -1}}},
    {"senders differing in case share a triplet", NULL,
     {{0, "192.0.2.10", "Alice@Example.ORG", R, W_FIRST, -1}, {300, "192.0.2.10", A, "Rcpt@Example.NET", W_RETRY, -1}}},
    {"the null sender is greylisted as <> and its retry accepted", NULL,
     {{0, "192.0.2.10", "", R, W_FIRST, 300}, {300, "192.0.2.10", "", R, W_RETRY, -1}}},
    {"another recipient is another triplet", NULL,
     {{0, "192.0.2.10", A, R, W_FIRST, -1}, {300, "192.0.2.10", A, "other@example.net", W_FIRST, -1}}},
    {"after five successful retries the client network is auto-allowed", NULL,
     {{0, "192.0.2.1", "a1@example.org", R, W_FIRST, -1}, {300, "192.0.2.1", "a1@example.org", R, W_RETRY, -1},
      {0, "192.0.2.2", "a2@example.org", R, W_FIRST, -1}, {300, "192.0.2.2", "a2@example.org", R, W_RETRY, -1},
      {0, "192.0.2.3", "a3@example.org", R, W_FIRST, -1}, {300, "192.0.2.3", "a3@example.org", R, W_RETRY, -1},
      {0, "192.0.2.4", "a4@example.org", R, W_FIRST, -1}, {300, "192.0.2.4", "a4@example.org", R, W_RETRY, -1},
      {0, "192.0.2.5", "a5@example.org", R, W_FIRST, -1}, {300, "192.0.2.5", "a5@example.org", R, W_RETRY, -1},
      {0, "192.0.2.6", "new@example.org", R, W_AUTO, -1}, {0, "192.0.3.6", "new@example.org", R, W_FIRST, -1},
      {34 * DAY, "192.0.2.6", "x@example.org", R, W_AUTO, -1},
      {35 * DAY, "192.0.2.6", "y@example.org", R, W_FIRST, -1}}},
    {"with greylist_auto_allow = 0 a client network is never auto-allowed", "greylist_auto_allow = 0",
     {{0, "192.0.2.1", "a1@example.org", R, W_FIRST, -1}, {300, "192.0.2.1", "a1@example.org", R, W_RETRY, -1},
      {0, "192.0.2.6", "new@example.org", R, W_FIRST, -1}}},
    {"greylist_auto_allow = 2 allows after the second retry", "greylist_auto_allow = 2",
     {{0, "192.0.2.1", "a1@example.org", R, W_FIRST, -1}, {300, "192.0.2.1", "a1@example.org", R, W_RETRY, -1},
      {0, "192.0.2.1", "a1@example.org", R, W_KNOWN, -1},
      {0, "192.0.2.6", "new@example.org", R, W_FIRST, -1}, {300, "192.0.2.6", "new@example.org", R, W_RETRY, -1},
      {0, "192.0.2.7", "next@example.org", R, W_AUTO, -1}}},
};
/* clang-format on */

START_TEST(test_scenario)
{
    const struct scenario *sc = &scenarios[_i];
    struct gl_fixture f;
    glf_setup(&f, sc->extra);
    for (size_t i = 0; i < MAX_STEPS && sc->steps[i].ip != NULL; i++) {
        const struct step *st = &sc->steps[i];
        f.now += st->advance;
        struct fl_greylist_decision d;
        int rc = glf_decide(&f, st->ip, st->sender, st->rcpt, &d);
        ck_assert_msg(got_is(&d, st->want),
                      "%s: step %zu (%s from %s): got %s/%s (%s), want %s", sc->label,
                      i + 1, st->sender, st->ip, fl_greylist_outcome_name(d.outcome),
                      d.reason_code ? d.reason_code : "-",
                      fl_greylist_exemption_name(d.exemption), want_name(st->want));
        int want_rc = st->want == W_FIRST || st->want == W_EARLY ? 0 : 1;
        ck_assert_msg(rc == want_rc, "%s: step %zu: returned %d, want %d", sc->label,
                      i + 1, rc, want_rc);
        if (rc == 0 && st->retry_after >= 0)
            ck_assert_msg(d.retry_after == st->retry_after,
                          "%s: step %zu: retry_after %ld, want %ld", sc->label, i + 1,
                          d.retry_after, st->retry_after);
    }
    glf_teardown(&f);
}
END_TEST

/* --- exemptions ---------------------------------------------------------------- */

struct exempt_row {
    const char *label;
    const char *extra;
    struct fl_greylist_query q;
    enum fl_greylist_exemption want; /* EX_NONE: greylisted (first seen) */
};

#define Q(ip, name, sender, rcpt, spf, trusted, auth, dnswl)                             \
    {                                                                                    \
        ip, name, sender, rcpt, FL_GREYLIST_SPF_##spf, trusted, auth, dnswl              \
    }

/* clang-format off */
static const struct exempt_row exempt_rows[] = {
    {"a trusted client is exempt", NULL,
     Q("192.0.2.1", NULL, A, R, UNKNOWN, true, false, false), FL_GREYLIST_EX_TRUSTED},
    {"a trusted client is greylisted with greylist_exempt_trusted = no", "greylist_exempt_trusted = no",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, true, false, false), FL_GREYLIST_EX_NONE},
    {"an authenticated client is exempt", NULL,
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, true, false), FL_GREYLIST_EX_AUTHENTICATED},
    {"an authenticated client is greylisted with greylist_exempt_authenticated = no",
     "greylist_exempt_authenticated = no",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, true, false), FL_GREYLIST_EX_NONE},
    {"a client without an IP address (local submission) is exempt", NULL,
     Q("unknown", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_NO_ADDRESS},
    {"a client in greylist_allow_clients is exempt", "greylist_allow_clients = 198.51.100.0/24",
     Q("198.51.100.20", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_CLIENT_NETWORK},
    {"a client outside greylist_allow_clients is greylisted", "greylist_allow_clients = 198.51.100.0/24",
     Q("198.51.101.20", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_NONE},
    {"a verified name under .outbound.protection.outlook.com is exempt by default", NULL,
     Q("192.0.2.1", "mail-db8eur05on2100.outbound.protection.outlook.com", A, R, UNKNOWN, false, false, false),
     FL_GREYLIST_EX_CLIENT_NAME},
    {"a name merely ending in the suffix text is not under it", NULL,
     Q("192.0.2.1", "evilgoogle.com", A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_NONE},
    {"a client without a verified name is greylisted", NULL,
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_NONE},
    {"a name without a leading dot matches itself and subdomains", "greylist_allow_client_names = mx.example.com",
     Q("192.0.2.1", "out1.MX.example.com.", A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_CLIENT_NAME},
    {"a DNSWL-listed client is exempt", NULL,
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, true), FL_GREYLIST_EX_DNSWL},
    {"a DNSWL-listed client is greylisted with greylist_exempt_dnswl = no", "greylist_exempt_dnswl = no",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, true), FL_GREYLIST_EX_NONE},
    {"an allowed sender domain with SPF pass is exempt", "greylist_allow_sender_domains = example.org",
     Q("192.0.2.1", NULL, A, R, PASS, false, false, false), FL_GREYLIST_EX_SENDER_DOMAIN},
    {"an allowed sender domain without an SPF result is greylisted", "greylist_allow_sender_domains = example.org",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_NONE},
    {"an allowed sender domain whose SPF does not pass is greylisted (forgery)",
     "greylist_allow_sender_domains = example.org",
     Q("192.0.2.1", NULL, A, R, NOT_PASS, false, false, false), FL_GREYLIST_EX_NONE},
    {"a subdomain of an allowed .domain with SPF pass is exempt", "greylist_allow_sender_domains = .example.org",
     Q("192.0.2.1", NULL, "a@news.example.org", R, PASS, false, false, false), FL_GREYLIST_EX_SENDER_DOMAIN},
    {"SPF pass alone does not exempt by default", NULL,
     Q("192.0.2.1", NULL, A, R, PASS, false, false, false), FL_GREYLIST_EX_NONE},
    {"SPF pass exempts with greylist_spf_pass_exempt = yes", "greylist_spf_pass_exempt = yes",
     Q("192.0.2.1", NULL, A, R, PASS, false, false, false), FL_GREYLIST_EX_SPF_PASS},
    {"postmaster@ of any domain is exempt by default", NULL,
     Q("192.0.2.1", NULL, A, "PostMaster@example.net", UNKNOWN, false, false, false), FL_GREYLIST_EX_RECIPIENT},
    {"an exact allowed recipient is exempt", "greylist_allow_recipients = rcpt@example.net",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_RECIPIENT},
    {"a recipient domain given as @domain is exempt", "greylist_allow_recipients = @example.net",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_RECIPIENT},
    {"another recipient of the domain is not exempt by an exact entry", "greylist_allow_recipients = bob@example.net",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_NONE},
    {"greylist_enable = no exempts everything", "greylist_enable = no",
     Q("192.0.2.1", NULL, A, R, UNKNOWN, false, false, false), FL_GREYLIST_EX_DISABLED},
};
/* clang-format on */

START_TEST(test_exemption)
{
    const struct exempt_row *row = &exempt_rows[_i];
    struct gl_fixture f;
    glf_setup(&f, row->extra);
    struct fl_greylist_decision d;
    int rc = fl_greylist_decide(f.gl, f.cfg, &row->q, &d);
    if (row->want == FL_GREYLIST_EX_NONE) {
        ck_assert_msg(rc == 0 && d.outcome == FL_GREYLIST_DEFER,
                      "%s: got %s (exemption %s), want a deferral", row->label,
                      fl_greylist_outcome_name(d.outcome),
                      fl_greylist_exemption_name(d.exemption));
    } else {
        ck_assert_msg(
            rc == 1 && d.outcome == FL_GREYLIST_EXEMPT && d.exemption == row->want,
            "%s: got %s (exemption %s), want exempt %s", row->label,
            fl_greylist_outcome_name(d.outcome), fl_greylist_exemption_name(d.exemption),
            fl_greylist_exemption_name(row->want));
        /* An exemption leaves the store alone: the same triplet without
           the exemption is still first seen. */
        if (row->want != FL_GREYLIST_EX_DISABLED &&
            row->want != FL_GREYLIST_EX_NO_ADDRESS) {
            f.now += 600;
            rc = glf_decide(&f, "192.0.2.1", row->q.sender, row->q.rcpt, &d);
            ck_assert_msg(d.outcome != FL_GREYLIST_PASS,
                          "%s: the exempt message was stored", row->label);
        }
    }
    glf_teardown(&f);
}
END_TEST

START_TEST(test_admin_allowed_client)
{
    struct gl_fixture f;
    glf_setup(&f, NULL);
    struct fl_buf err;
    fl_buf_init(&err);
    ck_assert_msg(fl_greylist_allow(f.gl, f.cfg, "192.0.2.9", NULL, NULL, 0, &err) == 0,
                  "%s", err.data);
    struct fl_greylist_decision d;
    glf_decide(&f, "192.0.2.200", A, R, &d);
    ck_assert_msg(
        d.outcome == FL_GREYLIST_EXEMPT && d.exemption == FL_GREYLIST_EX_ADMIN_ALLOWED,
        "a client allowed with faultlinectl: got %s/%s, want exempt admin_allowed",
        fl_greylist_outcome_name(d.outcome), fl_greylist_exemption_name(d.exemption));
    f.now += 400 * DAY; /* no --for: never expires */
    glf_decide(&f, "192.0.2.200", A, R, &d);
    ck_assert_msg(d.exemption == FL_GREYLIST_EX_ADMIN_ALLOWED, "admin allow expired");
    ck_assert_msg(fl_greylist_allow(f.gl, f.cfg, "198.51.100.1", "s@example.org",
                                    "r@example.net", HOUR, &err) == 0,
                  "%s", err.data);
    glf_decide(&f, "198.51.100.7", "s@example.org", "r@example.net", &d);
    ck_assert_msg(d.outcome == FL_GREYLIST_PASS, "an allowed triplet: got %s, want pass",
                  fl_greylist_outcome_name(d.outcome));
    f.now += HOUR;
    glf_decide(&f, "198.51.100.7", "s@example.org", "r@example.net", &d);
    ck_assert_msg(d.outcome == FL_GREYLIST_DEFER,
                  "a triplet allowed --for 1h, an hour later: got %s, want defer",
                  fl_greylist_outcome_name(d.outcome));
    long n = fl_greylist_remove(f.gl, f.cfg, "192.0.2.0/24", NULL, NULL, &err);
    ck_assert_msg(n == 1, "remove client: got %ld, want 1 (%s)", n, err.data);
    glf_decide(&f, "192.0.2.200", A, R, &d);
    ck_assert_msg(d.outcome == FL_GREYLIST_DEFER, "a removed client is greylisted again");
    fl_buf_free(&err);
    glf_teardown(&f);
}
END_TEST

/* --- normalisation --------------------------------------------------------------- */

struct norm_row {
    const char *label, *in, *want;
};

/* clang-format off */
static const struct norm_row sender_rows[] = {
    {"a plain address is lower-cased", "Alice@Example.ORG", "alice@example.org"},
    {"angle brackets are dropped", "<alice@example.org>", "alice@example.org"},
    {"the null sender becomes <>", "", "<>"},
    {"the null sender in brackets becomes <>", "<>", "<>"},
    {"BATV prvs= loses its tag", "prvs=0123abcdef=alice@example.org", "alice@example.org"},
    {"BATV in upper case loses its tag", "PRVS=0123ABCDEF=Alice@example.org", "alice@example.org"},
    {"Microsoft's msprvs1= loses its tag", "msprvs1=17963UJsq5jyf=bounces@example.org", "bounces@example.org"},
    {"Barracuda's btv1== loses its tag", "btv1==0aa1bb2cc3d==alice@example.org", "alice@example.org"},
    {"SRS0 keeps the original address, not its hash and day", "SRS0=HHH=TT=orig.example=alice@fwd.example",
     "srs0=orig.example=alice@fwd.example"},
    {"SRS0 with a + separator is reduced alike", "SRS0+x7Kq=ZZ=orig.example=alice@fwd.example",
     "srs0=orig.example=alice@fwd.example"},
    {"SRS1 keeps the first forwarder and the original address",
     "SRS1=HHH=fwd1.example==HHH=TT=orig.example=alice@fwd2.example",
     "srs1=fwd1.example=orig.example=alice@fwd2.example"},
    {"a malformed SRS0 is left as it is", "SRS0=only@fwd.example", "srs0=only@fwd.example"},
    {"a VERP address loses everything from its +", "list-bounces+alice=example.net@lists.example",
     "list-bounces@lists.example"},
    {"a leading + is not a sub-address", "+tag@example.org", "+tag@example.org"},
    {"numbers become #", "bounce-12345-67@mail.example", "bounce-#-#@mail.example"},
    {"long id-like tokens become #", "msg-3f2504e0a1b2@mail.example", "msg-#@mail.example"},
    {"short tokens with digits stay", "user1@example.org", "user1@example.org"},
    {"a name with a year is no id", "john1984x@example.org", "john1984x@example.org"},
    {"a long base32-like id becomes #", "b-k3j5h7g9d2s4a6f8q1@example.org", "b-#@example.org"},
    {"the domain is never changed", "a@mail123.example", "a@mail123.example"},
    {"spaces and control characters become ?", "\"a b\"@example.org", "\"a?b\"@example.org"},
};

static const struct norm_row net_rows[] = {
    {"IPv4 is grouped by /24", "192.0.2.77", "192.0.2.0/24"},
    {"IPv6 is grouped by /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
    {"IPv4-mapped IPv6 is IPv4", "::ffff:192.0.2.1", "192.0.2.0/24"},
    {"Sendmail's IPv6: prefix is accepted", "IPv6:2001:db8::1", "2001:db8::/64"},
    {"a bracketed address is accepted", "[192.0.2.1]", "192.0.2.0/24"},
    {"a network keeps its own prefix", "10.1.2.3/16", "10.1.0.0/16"},
    {"not an address", "unknown", NULL},
};
/* clang-format on */

START_TEST(test_normalize_sender)
{
    const struct norm_row *row = &sender_rows[_i];
    char out[FL_GREYLIST_ADDR_MAX];
    fl_greylist_normalize_sender(row->in, out, sizeof(out));
    ck_assert_msg(strcmp(out, row->want) == 0, "%s: \"%s\" -> \"%s\", want \"%s\"",
                  row->label, row->in, out, row->want);
}
END_TEST

START_TEST(test_network)
{
    const struct norm_row *row = &net_rows[_i];
    char out[FL_GREYLIST_NET_MAX];
    int rc = fl_greylist_network(row->in, 24, 64, out, sizeof(out));
    if (row->want == NULL) {
        ck_assert_msg(rc < 0, "%s: \"%s\" accepted as %s", row->label, row->in, out);
        return;
    }
    ck_assert_msg(rc == 0 && strcmp(out, row->want) == 0,
                  "%s: \"%s\" -> \"%s\", want \"%s\"", row->label, row->in,
                  rc == 0 ? out : "(error)", row->want);
}
END_TEST

START_TEST(test_long_address_is_bounded)
{
    char in[2000], a[FL_GREYLIST_ADDR_MAX], b[FL_GREYLIST_ADDR_MAX];
    memset(in, 'x', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    in[1500] = '@';
    fl_greylist_normalize_rcpt(in, a, sizeof(a));
    in[1600] = 'y';
    fl_greylist_normalize_rcpt(in, b, sizeof(b));
    ck_assert_msg(strlen(a) == FL_GREYLIST_ADDR_MAX - 1, "length %zu", strlen(a));
    ck_assert_msg(strcmp(a, b) != 0,
                  "two long addresses differing at the end collide: %s", a);
}
END_TEST

START_TEST(test_record_codec)
{
    struct fl_greylist_record r = {GLF_T0, GLF_T0 + 5, GLF_T0 + 300, GLF_T0 + 35 * DAY, 3,
                                   1,      7,          true,         "2001:db8::/64"},
                              back;
    char text[FL_GREYLIST_VALUE_MAX];
    size_t n = fl_greylist_record_encode(&r, text, sizeof(text));
    ck_assert_msg(fl_greylist_record_parse(text, n, &back) == 0, "cannot parse \"%s\"",
                  text);
    ck_assert_msg(r.first_seen == back.first_seen && r.last_seen == back.last_seen &&
                      r.passed_at == back.passed_at && r.expires == back.expires &&
                      r.deferred == back.deferred && r.early == back.early &&
                      r.passed == back.passed && r.admin == back.admin &&
                      strcmp(r.net, back.net) == 0,
                  "round trip of \"%s\" differs", text);
    ck_assert_msg(fl_greylist_record_parse("1 2 3", 5, &back) < 0,
                  "a short value parsed");
    ck_assert_msg(fl_greylist_record_parse("2 1 1 1 1 1 1 1 0 -", 19, &back) < 0,
                  "a value of another format version parsed");
    /* found by fuzz_greylist: a network with control bytes (a corrupted
       store value) is not a record */
    static const char corrupt[] = "1 1700000000 1700000300 0 1700086400 1 0 0 0 192.0.2.0/\x05=\x014";
    ck_assert_msg(fl_greylist_record_parse(corrupt, sizeof(corrupt) - 1, &back) < 0,
                  "a network with control bytes parsed");
}
END_TEST

/* --- results and verdicts ----------------------------------------------------------- */

static const char *prop(const struct fl_result *r, const char *property)
{
    for (size_t i = 0; i < r->nprops; i++)
        if (strcmp(r->props[i].property, property) == 0)
            return r->props[i].value;
    return NULL;
}

START_TEST(test_defer_result_and_verdict)
{
    struct gl_fixture f;
    glf_setup(&f, NULL);
    struct fl_greylist_decision d;
    glf_decide(&f, "198.51.100.7", A, R, &d);
    f.now += 120;
    glf_decide(&f, "192.0.2.7", A, R, &d); /* same pair, another network */
    struct fl_result r;
    fl_greylist_result(&d, &r);
    ck_assert_str_eq(r.method, "greylist");
    ck_assert_msg(r.result == FL_RES_POLICY && r.action == FL_ACTION_TEMPFAIL &&
                      r.fault == FL_FAULT_NONE && !r.in_header,
                  "defer: result %s action %s fault %s", fl_res_name(r.result),
                  fl_action_name(r.action), fl_fault_name(r.fault));
    ck_assert_str_eq(r.reason_code, "greylist.first_seen");
    ck_assert_str_eq(r.reason, "greylisted, please retry in 300 seconds");
    ck_assert_msg(strncmp(r.detail, "please retry in 300 seconds (", 29) == 0 &&
                      strstr(r.detail, "deferred from 198.51.100.0/24 120 seconds ago") !=
                          NULL,
                  "detail: %s", r.detail);
    ck_assert_str_eq(prop(&r, "client-net"), "192.0.2.0/24");
    ck_assert_str_eq(prop(&r, "mailfrom"), A);
    ck_assert_str_eq(prop(&r, "rcptto"), R);
    ck_assert_str_eq(prop(&r, "first-seen"), "2026-01-01T00:02:00Z");
    ck_assert_str_eq(prop(&r, "retry-after"), "300");
    ck_assert_str_eq(prop(&r, "other-net"), "198.51.100.0/24");
    struct fl_verdict v;
    fl_verdict_decide(&v, &r, 1, NULL, false);
    ck_assert_msg(v.action == FL_ACTION_TEMPFAIL && v.code == 451 &&
                      strcmp(v.dsn, "4.7.1") == 0 && v.fault == FL_FAULT_NONE,
                  "verdict: %s %d %s fault=%s", fl_action_name(v.action), v.code, v.dsn,
                  fl_fault_name(v.fault));
    ck_assert_msg(strncmp(v.text,
                          "greylisted: a deliberate temporary deferral: please retry in "
                          "300 seconds (first attempt from 192.0.2.0/24",
                          104) == 0,
                  "reply text: %s", v.text);
    fl_verdict_clear(&v);
    fl_result_clear(&r);

    f.now += 100; /* too early */
    glf_decide(&f, "192.0.2.8", A, R, &d);
    fl_greylist_result(&d, &r);
    ck_assert_str_eq(r.reason_code, "greylist.too_early");
    ck_assert_msg(strstr(r.detail, "retried too early: after 100 of 300 seconds") != NULL,
                  "detail: %s", r.detail);
    fl_result_clear(&r);

    f.now += 200;
    glf_decide(&f, "192.0.2.8", A, R, &d);
    fl_greylist_result(&d, &r);
    ck_assert_msg(r.result == FL_RES_PASS && r.action == FL_ACTION_ACCEPT, "pass result");
    ck_assert_str_eq(prop(&r, "waited"), "300");
    fl_result_clear(&r);
    glf_teardown(&f);
}
END_TEST

START_TEST(test_store_error_result_fails_open)
{
    struct fl_greylist_decision d;
    memset(&d, 0, sizeof(d));
    d.outcome = FL_GREYLIST_STORE_ERROR;
    d.reason_code = "greylist.store_down";
    snprintf(d.store, sizeof(d.store), "redis");
    snprintf(d.error, sizeof(d.error), "cannot connect");
    snprintf(d.net, sizeof(d.net), "192.0.2.0/24");
    struct fl_result r;
    fl_greylist_result(&d, &r);
    ck_assert_msg(r.result == FL_RES_TEMPERROR && r.fault == FL_FAULT_RECEIVER &&
                      r.action == FL_ACTION_ACCEPT && !r.in_header,
                  "store error: result %s fault %s action %s", fl_res_name(r.result),
                  fl_fault_name(r.fault), fl_action_name(r.action));
    ck_assert_str_eq(r.reason_code, "greylist.store_down");
    struct fl_verdict v;
    fl_verdict_decide(&v, &r, 1, NULL, true);
    ck_assert_msg(v.action == FL_ACTION_ACCEPT && v.code == 250,
                  "a store error must never refuse mail: %s %d", fl_action_name(v.action),
                  v.code);
    fl_verdict_clear(&v);
    fl_result_clear(&r);
}
END_TEST

START_TEST(test_store_not_open)
{
    struct gl_fixture f;
    memset(&f, 0, sizeof(f));
    glf_config(&f, NULL);
    struct fl_greylist_query q = {.client_ip = "192.0.2.1", .sender = A, .rcpt = R};
    struct fl_greylist_decision d;
    int rc = fl_greylist_decide(NULL, f.cfg, &q, &d);
    ck_assert_msg(rc == -1 && d.outcome == FL_GREYLIST_STORE_ERROR,
                  "enabled without a store: got %s, want store_error (fail-open)",
                  fl_greylist_outcome_name(d.outcome));
    q.trusted = true;
    rc = fl_greylist_decide(NULL, f.cfg, &q, &d);
    ck_assert_msg(rc == 1 && d.exemption == FL_GREYLIST_EX_TRUSTED,
                  "exemptions still apply without a store: got %s",
                  fl_greylist_exemption_name(d.exemption));
    glf_config(&f, "greylist_enable = no");
    rc = fl_greylist_decide(NULL, f.cfg, &q, &d);
    ck_assert_msg(rc == 1 && d.exemption == FL_GREYLIST_EX_DISABLED,
                  "disabled without a store: got %s",
                  fl_greylist_exemption_name(d.exemption));
    glf_teardown(&f);
}
END_TEST

/* --- sweep, expire, stats -------------------------------------------------------------
 */

START_TEST(test_sweep_and_expire)
{
    struct gl_fixture f;
    glf_setup(&f, NULL);
    struct fl_greylist_decision d;
    glf_decide(&f, "192.0.2.1", "old@example.org", R, &d); /* never retried */
    f.now += 3 * DAY;
    glf_decide(&f, "192.0.2.1", "new@example.org", R, &d); /* pending */
    struct fl_greylist_stats st;
    struct fl_buf err;
    fl_buf_init(&err);
    ck_assert(fl_greylist_stats(f.gl, &st, &err) == 0);
    ck_assert_msg(st.triplets == 2 && st.pending == 1 && st.never_retried == 1 &&
                      st.pairs == 2,
                  "stats: triplets %zu pending %zu never_retried %zu pairs %zu",
                  st.triplets, st.pending, st.never_retried, st.pairs);
    size_t removed = 9;
    ck_assert(fl_greylist_sweep(f.gl, &removed, &err) == 0);
    ck_assert_msg(removed == 2,
                  "sweep 3 days on: removed %zu, want 2 (the old triplet and pair)",
                  removed);
    f.now += DAY; /* the new entry's window is not over yet */
    ck_assert(fl_greylist_expire(f.gl, &removed, &err) == 0);
    ck_assert_msg(removed == 0, "expire inside the window removed %zu", removed);
    f.now += DAY;
    ck_assert(fl_greylist_sweep(f.gl, &removed, &err) == 0);
    ck_assert_msg(removed == 0, "the sweep keeps expired entries a day: removed %zu",
                  removed);
    ck_assert(fl_greylist_expire(f.gl, &removed, &err) == 0);
    ck_assert_msg(removed == 2, "expire after the window: removed %zu, want 2", removed);
    ck_assert(fl_greylist_stats(f.gl, &st, &err) == 0);
    ck_assert_msg(st.triplets == 0 && st.pairs == 0, "entries left after expire");
    fl_buf_free(&err);
    glf_teardown(&f);
}
END_TEST

static Suite *greylist_suite(void)
{
    Suite *s = suite_create("greylist");
    TCase *tc = tcase_create("scenarios");
    tcase_add_loop_test(tc, test_scenario, 0, (int)NELEMS(scenarios));
    suite_add_tcase(s, tc);
    tc = tcase_create("exemptions");
    tcase_add_loop_test(tc, test_exemption, 0, (int)NELEMS(exempt_rows));
    tcase_add_test(tc, test_admin_allowed_client);
    suite_add_tcase(s, tc);
    tc = tcase_create("normalisation");
    tcase_add_loop_test(tc, test_normalize_sender, 0, (int)NELEMS(sender_rows));
    tcase_add_loop_test(tc, test_network, 0, (int)NELEMS(net_rows));
    tcase_add_test(tc, test_long_address_is_bounded);
    tcase_add_test(tc, test_record_codec);
    suite_add_tcase(s, tc);
    tc = tcase_create("results");
    tcase_add_test(tc, test_defer_result_and_verdict);
    tcase_add_test(tc, test_store_error_result_fails_open);
    tcase_add_test(tc, test_store_not_open);
    tcase_add_test(tc, test_sweep_and_expire);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fl_log_open("check_greylist", "stderr", FL_LOG_WARN);
    SRunner *sr = srunner_create(greylist_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
