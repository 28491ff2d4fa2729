/* check_spf: lib/spf, lib/spf_record and lib/spf_macro.  Table-driven:
   the record checker and rewriter, macro expansion (the RFC 7208 7.4
   examples), evaluations against tests/spf/spf.example.zone on the
   hermetic test DNS server (results, identities, IPv6 and IPv4-mapped
   clients, loopback, explanations, the 10-lookup and void limits counted
   across includes), the policy settings through fl_verdict_decide and the
   attribution table, temperror attribution with the resolver probe,
   Received-SPF, and hostile input.  The RFC 7208 suite itself is
   check_spf_rfc7208.c. */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/spf/spf.h"
#include "lib/spf/spf_macro.h"
#include "lib/spf/spf_record.h"
#include "lib/core/verdict.h"
#include "tests/harness/dns_server.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct fl_dnsd dnsd;

/* ------------------------------------------------------------------ */
/* The record checker and rewriter (no DNS)                            */

struct record_row {
    const char *label;
    const char *record;
    int family;
    const char *want;       /* normalised text, or NULL: invalid */
    const char *want_error; /* part of the error text when invalid */
};

static const struct record_row record_rows[] = {
    {"a plain record keeps its mechanisms, qualifiers made explicit", "v=spf1 a mx -all",
     AF_INET, "v=spf1 +a +mx -all", NULL},
    {"the version is case-insensitive and spaces may repeat and trail",
     "V=SpF1  IP4:192.0.2.1   ", AF_INET, "v=spf1 +ip4:192.0.2.1", NULL},
    {"an empty record is valid", "v=spf1", AF_INET, "v=spf1", NULL},
    {"unknown modifiers with '.', '-' and '_' in their names are dropped",
     "v=spf1 moo.cow-far_out=man:dog/cat ip4:192.0.2.1 -all", AF_INET,
     "v=spf1 +ip4:192.0.2.1 -all", NULL},
    {"redirect= moves after the mechanisms",
     "v=spf1 redirect=_spf.example.org ip4:192.0.2.1", AF_INET,
     "v=spf1 +ip4:192.0.2.1 redirect=_spf.example.org", NULL},
    {"redirect= is dropped when the record has all",
     "v=spf1 redirect=_spf.example.org ~all", AF_INET, "v=spf1 ~all", NULL},
    {"exp= goes before redirect= at the end",
     "v=spf1 redirect=r.example.org exp=e.example.org", AF_INET,
     "v=spf1 exp=e.example.org redirect=r.example.org", NULL},
    {"ip4 /0 becomes two /1 networks", "v=spf1 ip4:198.51.100.1/0", AF_INET,
     "v=spf1 +ip4:0.0.0.0/1 +ip4:128.0.0.0/1", NULL},
    {"ip6 /0 becomes two /1 networks", "v=spf1 -ip6:2001:db8::/0", AF_INET6,
     "v=spf1 -ip6:::/1 -ip6:8000::/1", NULL},
    {"/32 and /128 are the default and dropped", "v=spf1 ip4:192.0.2.1/32 ip6:::1/128",
     AF_INET, "v=spf1 +ip4:192.0.2.1 +ip6:::1", NULL},
    {"a keeps the IPv4 length for an IPv4 client", "v=spf1 a/24//64", AF_INET,
     "v=spf1 +a/24", NULL},
    {"a keeps the IPv6 length for an IPv6 client", "v=spf1 a/24//64", AF_INET6,
     "v=spf1 +a//64", NULL},
    {"a/0 becomes the any-address target", "v=spf1 a/0", AF_INET,
     "v=spf1 +a:%{d}." FL_SPF_ANY_ADDRESS_TAG, NULL},
    {"mx:name//0 becomes the any-address target for IPv6", "v=spf1 mx:example.org.//0",
     AF_INET6, "v=spf1 +mx:example.org." FL_SPF_ANY_ADDRESS_TAG, NULL},
    {"a colon and a slash may appear inside a domain-spec",
     "v=spf1 a:foo:bar/baz.example.com", AF_INET, "v=spf1 +a:foo:bar/baz.example.com",
     NULL},
    {"a top label with dashes is valid", "v=spf1 a:foo.example.xn--zckzah", AF_INET,
     "v=spf1 +a:foo.example.xn--zckzah", NULL},
    {"a domain-spec may end in a macro", "v=spf1 exists:%{i}.%{l2r-}.user.%{d2}", AF_INET,
     "v=spf1 +exists:%{i}.%{l2r-}.user.%{d2}", NULL},
    {"an upper-case R transformer becomes r", "v=spf1 exists:%{IR}.bl.example.org",
     AF_INET, "v=spf1 +exists:%{Ir}.bl.example.org", NULL},
    {"a DIGIT above 128 is cut to 128", "v=spf1 exists:%{d200}.example.org", AF_INET,
     "v=spf1 +exists:%{d128}.example.org", NULL},
    {"an unknown mechanism is invalid", "v=spf1 ip4:192.0.2.1 -all moo", AF_INET, NULL,
     "unknown mechanism \"moo\""},
    {"a modifier name with '/' before '=' is invalid",
     "v=spf1 moo.cow/far_out=man:dog/cat -all", AF_INET, NULL, "unknown mechanism"},
    {"a qualifier on a modifier is invalid", "v=spf1 -redirect=example.org", AF_INET,
     NULL, "qualifier"},
    {"redirect= twice is invalid", "v=spf1 redirect=a.example.org redirect=b.example.org",
     AF_INET, NULL, "twice"},
    {"exp= twice is invalid", "v=spf1 exp=a.example.org -all exp=b.example.org", AF_INET,
     NULL, "twice"},
    {"a stray '%' is invalid", "v=spf1 exists:foo%.example.org", AF_INET, NULL, "'%'"},
    {"a '%' in an unknown modifier is invalid", "v=spf1 -all foo=%abc", AF_INET, NULL,
     "'%'"},
    {"the letters c, r, t are invalid outside explanations",
     "v=spf1 exp=%{r}.example.org", AF_INET, NULL, "only in explanations"},
    {"an unknown macro letter is invalid", "v=spf1 a:%{a}.example.org", AF_INET, NULL,
     "unknown macro letter"},
    {"a DIGIT of 0 is invalid", "v=spf1 exists:%{d0}.example.org", AF_INET, NULL, "zero"},
    {"'|' is not an RFC 7208 delimiter", "v=spf1 exists:%{l|}.example.org", AF_INET, NULL,
     "delimiter"},
    {"a domain without a dot is invalid", "v=spf1 a:foo-bar", AF_INET, NULL, "top-level"},
    {"an all-numeric top label is invalid", "v=spf1 a:192.0.2.1", AF_INET, NULL,
     "top-level"},
    {"a top label starting with '-' is invalid", "v=spf1 mx:example.-org", AF_INET, NULL,
     "top-level"},
    {"an empty domain-spec is invalid", "v=spf1 include:", AF_INET, NULL, "empty"},
    {"include needs a domain", "v=spf1 include", AF_INET, NULL, "missing"},
    {"ip4 needs an address", "v=spf1 ip4", AF_INET, NULL, "needs an address"},
    {"ip4 with a leading zero is invalid", "v=spf1 ip4:192.0.2.01", AF_INET, NULL,
     "IPv4 network"},
    {"ip4 /33 is invalid", "v=spf1 ip4:192.0.2.1/33", AF_INET, NULL, "CIDR"},
    {"a CIDR with a leading zero is invalid", "v=spf1 ip4:192.0.2.1/032", AF_INET, NULL,
     "CIDR"},
    {"a dual CIDR on ip4 is invalid", "v=spf1 ip4:192.0.2.1//32", AF_INET, NULL, "CIDR"},
    {"ptr takes no CIDR", "v=spf1 ptr/24", AF_INET, NULL, "CIDR"},
    {"all takes no argument", "v=spf1 -all:foo", AF_INET, NULL, "argument"},
    {"a tab is not a term separator", "v=spf1 a\t-all", AF_INET, NULL,
     "control character"},
    {"a non-ASCII byte is invalid", "v=spf1 a:\xc3\xa9.example.org -all", AF_INET, NULL,
     "non-ASCII"},
    {"v=spf10 is not an SPF record", "v=spf10 -all", AF_INET, NULL, "not an SPF record"},
};

START_TEST(records_are_checked_and_rewritten)
{
    const struct record_row *row = &record_rows[_i];
    struct fl_buf out;
    fl_buf_init(&out);
    struct fl_buf why;
    fl_buf_init(&why);
    struct fl_spf_record_ctx ctx = {.family = row->family};
    int rc = fl_spf_record_normalise(row->record, strlen(row->record), &ctx, &out, &why);
    if (row->want != NULL) {
        ck_assert_msg(rc == 0, "%s: rejected: %s", row->label, why.data);
        ck_assert_msg(strcmp(out.data, row->want) == 0, "%s: got \"%s\", want \"%s\"",
                      row->label, out.data, row->want);
    } else {
        ck_assert_msg(rc < 0, "%s: accepted as \"%s\"", row->label, out.data);
        ck_assert_msg(strstr(why.data, row->want_error) != NULL,
                      "%s: error \"%s\", want \"%s\"", row->label, why.data,
                      row->want_error);
    }
    fl_buf_free(&why);
    fl_buf_free(&out);
}
END_TEST

START_TEST(a_nul_byte_makes_a_record_invalid)
{
    static const char rec[] = "v=spf1 a:foo.example.com\0 -all";
    struct fl_buf out;
    fl_buf_init(&out);
    struct fl_buf why;
    fl_buf_init(&why);
    struct fl_spf_record_ctx ctx = {.family = AF_INET};
    ck_assert_int_eq(fl_spf_record_normalise(rec, sizeof(rec) - 1, &ctx, &out, &why), -1);
    ck_assert_ptr_nonnull(strstr(why.data, "control character"));
    fl_buf_free(&why);
    fl_buf_free(&out);
}
END_TEST

START_TEST(macros_are_rewritten_with_the_evaluation_values)
{
    struct fl_spf_macro_vars v = {.sender = "a/b%c@example.org",
                                  .local = "a/b%c",
                                  .sender_domain = "example.org",
                                  .domain = "example.org"};
    static const struct {
        const char *label, *in, *want;
    } rows[] = {
        {"a DIGIT of at least the part count is dropped", "%{d5}.x.example",
         "%{d}.x.example"},
        {"a smaller DIGIT stays", "%{d1}.x.example", "%{d1}.x.example"},
        {"a '/' delimiter is expanded in place, '%' escaped", "%{L/}.x.example",
         "a.b%%25c.x.example"},
        {"%{p} is never looked up here", "%{p2}.x.example", "%{p2}.x.example"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct fl_buf out;
        fl_buf_init(&out);
        fl_spf_macro_rewrite(rows[i].in, strlen(rows[i].in), &v, &out);
        ck_assert_msg(strcmp(out.data, rows[i].want) == 0, "%s: got \"%s\", want \"%s\"",
                      rows[i].label, out.data, rows[i].want);
        fl_buf_free(&out);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Macros: RFC 7208 7.4                                                 */

struct macro_row {
    const char *label;
    const char *macro;
    bool v6;
    const char *want;
};

static const struct macro_row macro_rows[] = {
    {"s is the sender", "%{s}", false, "strong-bad@email.example.com"},
    {"o is the sender's domain", "%{o}", false, "email.example.com"},
    {"d4 keeps all of a three-part domain", "%{d4}", false, "email.example.com"},
    {"d2 keeps the right-most two parts", "%{d2}", false, "example.com"},
    {"d1 keeps one part", "%{d1}", false, "com"},
    {"dr reverses", "%{dr}", false, "com.example.email"},
    {"d2r reverses, then keeps two", "%{d2r}", false, "example.email"},
    {"l is the local-part", "%{l}", false, "strong-bad"},
    {"l- splits on '-'", "%{l-}", false, "strong.bad"},
    {"lr- reverses on '-'", "%{lr-}", false, "bad.strong"},
    {"l1r- keeps one reversed part", "%{l1r-}", false, "strong"},
    {"ir.v builds the IPv4 reverse name", "%{ir}.%{v}._spf.%{d2}", false,
     "3.2.0.192.in-addr._spf.example.com"},
    {"macros combine with literals", "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", false,
     "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
    {"the IPv6 nibbles are upper case", "%{ir}.%{v}._spf.%{d2}", true,
     "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example."
     "com"},
    {"c is the readable address", "%{c}", true, "2001:db8::cb01"},
    {"an upper-case letter URL-encodes", "%{S}", false, "strong-bad%40email.example.com"},
    {"%%, %_ and %- are a percent, a space and %20", "a%%b%_c%-d", false, "a%b c%20d"},
    {"spaces stay in explanations", "see  %{d2}", false, "see  example.com"},
    {"r and p fall back to unknown", "%{p} %{r}", false, "unknown unknown"},
};

START_TEST(macros_expand_as_rfc7208_shows)
{
    const struct macro_row *row = &macro_rows[_i];
    unsigned char a6[16];
    inet_pton(AF_INET6, "2001:db8::cb01", a6);
    unsigned char a4[4] = {192, 0, 2, 3};
    char ip[80];
    fl_spf_macro_ip(row->v6 ? AF_INET6 : AF_INET, row->v6 ? a6 : a4, ip, sizeof(ip));
    struct fl_spf_macro_vars v = {
        .sender = "strong-bad@email.example.com",
        .local = "strong-bad",
        .sender_domain = "email.example.com",
        .domain = "email.example.com",
        .ip = ip,
        .ip_text = row->v6 ? "2001:db8::cb01" : "192.0.2.3",
        .version = row->v6 ? "ip6" : "in-addr",
        .helo = "mx.example.org",
    };
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(
        fl_spf_macro_check(row->macro, strlen(row->macro), FL_SPF_MACRO_EXP, &why) == 0,
        "%s: %s", row->label, why.data);
    fl_buf_free(&why);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_spf_macro_expand(row->macro, strlen(row->macro), &v, &out);
    ck_assert_msg(strcmp(out.data, row->want) == 0, "%s: got \"%s\", want \"%s\"",
                  row->label, out.data, row->want);
    fl_buf_free(&out);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Evaluations against the test DNS server                              */

static struct fl_config *make_config(const char *forwarder, const char *timeout,
                                     const char *extra)
{
    char path[] = "/tmp/fl-spf-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "dns_forwarders = %s\ndns_timeout = %s\ndns_probe_domain = spf.example\n"
            "authserv_id = mx.example.net\n%s",
            forwarder, timeout, extra ? extra : "");
    fclose(f);
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_msg(fl_config_load(path, &cfg, &errors) == 0, "%s", errors.data);
    fl_buf_free(&errors);
    unlink(path);
    return cfg;
}

static struct fl_dns *make_dns(const struct fl_config *cfg)
{
    struct fl_dns *dns;
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dns_create(cfg, &dns, &why) == 0, "fl_dns_create: %s", why.data);
    fl_buf_free(&why);
    return dns;
}

static void setup(void)
{
    char zone[512];
    const char *top = getenv("top_srcdir");
    snprintf(zone, sizeof(zone), "%s/tests/spf/spf.example.zone",
             top && *top ? top : ".");
    ck_assert_msg(fl_dnsd_start(&dnsd, zone, "tempfail.spf.example TXT servfail\n") == 0,
                  "test DNS server did not start");
}

static void teardown(void)
{
    fl_dnsd_stop(&dnsd);
}

/* Runs one check with the given settings. */
static void check(const char *extra, const char *ip, const char *helo, const char *from,
                  enum fl_spf_identity which, struct fl_result *r,
                  struct fl_spf_info *info)
{
    struct fl_config *cfg = make_config(dnsd.addr, "2s", extra);
    struct fl_dns *dns = make_dns(cfg);
    struct fl_spf_request req = {.client_ip = ip, .helo = helo, .mail_from = from};
    fl_spf_check(dns, cfg, &req, which, fl_monotonic_ms() + 10000, r, info);
    fl_dns_destroy(&dns);
    fl_config_unref(&cfg);
}

struct eval_row {
    const char *label;
    const char *ip, *helo, *from;
    enum fl_spf_identity which;
    enum fl_res want;
    const char *want_code; /* NULL: none */
    enum fl_fault want_fault;
    const char *want_prop; /* "mailfrom=..." or "helo=..." */
    unsigned int want_lookups;
};

static const struct eval_row eval_rows[] = {
    {"a listed IPv4 client passes", "192.0.2.7", "mail.spf.example", "a@pass.spf.example",
     FL_SPF_MAILFROM, FL_RES_PASS, NULL, FL_FAULT_NONE, "mailfrom=a@pass.spf.example", 0},
    {"an unlisted client fails with -all, the sender's fault", "192.0.2.7",
     "mail.spf.example", "a@fail.spf.example", FL_SPF_MAILFROM, FL_RES_FAIL,
     "spf.not_permitted", FL_FAULT_SENDER, "mailfrom=a@fail.spf.example", 0},
    {"~all gives softfail", "192.0.2.7", "mail.spf.example", "a@softfail.spf.example",
     FL_SPF_MAILFROM, FL_RES_SOFTFAIL, "spf.not_permitted", FL_FAULT_SENDER, NULL, 0},
    {"?all gives neutral", "192.0.2.7", "mail.spf.example", "a@neutral.spf.example",
     FL_SPF_MAILFROM, FL_RES_NEUTRAL, NULL, FL_FAULT_NONE, NULL, 0},
    {"a domain without v=spf1 gives none", "192.0.2.7", "mail.spf.example",
     "a@none.spf.example", FL_SPF_MAILFROM, FL_RES_NONE, NULL, FL_FAULT_NONE, NULL, 0},
    {"a name that does not exist gives none", "192.0.2.7", "mail.spf.example",
     "a@nowhere.spf.example", FL_SPF_MAILFROM, FL_RES_NONE, NULL, FL_FAULT_NONE, NULL, 0},
    {"a broken record gives permerror, the sender's fault", "192.0.2.7",
     "mail.spf.example", "a@broken.spf.example", FL_SPF_MAILFROM, FL_RES_PERMERROR,
     "spf.permerror", FL_FAULT_SENDER, NULL, 0},
    {"two SPF records give permerror", "192.0.2.7", "mail.spf.example",
     "a@twice.spf.example", FL_SPF_MAILFROM, FL_RES_PERMERROR, "spf.permerror",
     FL_FAULT_SENDER, NULL, 0},
    {"the null sender is checked as postmaster@HELO", "192.0.2.25", "mail.spf.example",
     "", FL_SPF_MAILFROM, FL_RES_PASS, NULL, FL_FAULT_NONE,
     "mailfrom=postmaster@mail.spf.example", 1},
    {"the HELO identity is reported as smtp.helo", "192.0.2.25", "mail.spf.example",
     "a@fail.spf.example", FL_SPF_HELO, FL_RES_PASS, NULL, FL_FAULT_NONE,
     "helo=mail.spf.example", 1},
    {"a HELO that is not a FQDN gives none without a lookup", "192.0.2.25", "localhost",
     "", FL_SPF_HELO, FL_RES_NONE, NULL, FL_FAULT_NONE, "helo=localhost", 0},
    {"an address-literal HELO gives none", "192.0.2.25", "[192.0.2.25]", "",
     FL_SPF_MAILFROM, FL_RES_NONE, NULL, FL_FAULT_NONE, NULL, 0},
    {"a listed IPv6 client passes", "2001:db8::7", "mail.spf.example",
     "a@v6only.spf.example", FL_SPF_MAILFROM, FL_RES_PASS, NULL, FL_FAULT_NONE, NULL, 0},
    {"an IPv4 client does not match ip6", "192.0.2.7", "mail.spf.example",
     "a@v6only.spf.example", FL_SPF_MAILFROM, FL_RES_FAIL, "spf.not_permitted",
     FL_FAULT_SENDER, NULL, 0},
    {"an IPv4-mapped client is checked as IPv4", "::ffff:192.0.2.7", "mail.spf.example",
     "a@pass.spf.example", FL_SPF_MAILFROM, FL_RES_PASS, NULL, FL_FAULT_NONE, NULL, 0},
    {"a loopback client gets no free pass", "127.0.0.1", "mail.spf.example",
     "a@loopback.spf.example", FL_SPF_MAILFROM, FL_RES_FAIL, "spf.not_permitted",
     FL_FAULT_SENDER, NULL, 0},
    {"::1 gets no free pass either", "::1", "mail.spf.example", "a@loopback.spf.example",
     FL_SPF_MAILFROM, FL_RES_FAIL, "spf.not_permitted", FL_FAULT_SENDER, NULL, 0},
    {"10 lookups across two includes are allowed", "192.0.2.7", "mail.spf.example",
     "a@ten.spf.example", FL_SPF_MAILFROM, FL_RES_PASS, NULL, FL_FAULT_NONE, NULL, 10},
    {"an 11th lookup inside an include is permerror", "192.0.2.7", "mail.spf.example",
     "a@eleven.spf.example", FL_SPF_MAILFROM, FL_RES_PERMERROR, "spf.too_many_lookups",
     FL_FAULT_SENDER, NULL, 11},
    {"2 void lookups across an include are allowed", "192.0.2.7", "mail.spf.example",
     "a@void2.spf.example", FL_SPF_MAILFROM, FL_RES_PASS, NULL, FL_FAULT_NONE, NULL, 3},
    {"a 3rd void lookup in another include is permerror", "192.0.2.7", "mail.spf.example",
     "a@void3.spf.example", FL_SPF_MAILFROM, FL_RES_PERMERROR, "spf.void_lookups",
     FL_FAULT_SENDER, NULL, 5},
    {"a SERVFAIL while our resolver works is the sender's temperror", "192.0.2.7",
     "mail.spf.example", "a@tempfail.spf.example", FL_SPF_MAILFROM, FL_RES_TEMPERROR,
     "spf.dns_sender", FL_FAULT_SENDER, NULL, 0},
    {"a DIGIT larger than the domain's part count keeps the whole domain", "192.0.2.7",
     "mail.spf.example", "a@digits.spf.example", FL_SPF_MAILFROM, FL_RES_PASS, NULL,
     FL_FAULT_NONE, NULL, 1},
    {"the ',' delimiter (unknown to libspf2) works", "192.0.2.7", "mail.spf.example",
     "first,last@comma.spf.example", FL_SPF_MAILFROM, FL_RES_PASS, NULL, FL_FAULT_NONE,
     NULL, 1},
    {"a client that is not an address gives none", "unknown", "mail.spf.example",
     "a@pass.spf.example", FL_SPF_MAILFROM, FL_RES_NONE, NULL, FL_FAULT_NONE, NULL, 0},
};

START_TEST(evaluations_against_the_fixture_zone)
{
    const struct eval_row *row = &eval_rows[_i];
    struct fl_result r;
    struct fl_spf_info info;
    check(NULL, row->ip, row->helo, row->from, row->which, &r, &info);
    ck_assert_msg(r.result == row->want, "%s: got %s (%s), want %s", row->label,
                  fl_res_name(r.result), info.problem, fl_res_name(row->want));
    ck_assert_str_eq(r.method, "spf");
    ck_assert_msg((row->want_code == NULL && r.reason_code == NULL) ||
                      (row->want_code && r.reason_code &&
                       strcmp(row->want_code, r.reason_code) == 0),
                  "%s: reason code %s, want %s", row->label, r.reason_code,
                  row->want_code);
    ck_assert_msg(r.fault == row->want_fault, "%s: fault %s, want %s", row->label,
                  fl_fault_name(r.fault), fl_fault_name(row->want_fault));
    ck_assert_msg(r.detail != NULL && *r.detail, "%s: no detail", row->label);
    ck_assert_msg(r.result == FL_RES_PASS ? r.reason == NULL : r.reason != NULL,
                  "%s: reason \"%s\"", row->label, r.reason);
    if (row->want_prop) {
        char got[400];
        snprintf(got, sizeof(got), "%s=%s", r.props[0].property, r.props[0].value);
        ck_assert_msg(strcmp(got, row->want_prop) == 0, "%s: prop %s, want %s",
                      row->label, got, row->want_prop);
    }
    if (row->want_lookups)
        ck_assert_msg(info.lookups == row->want_lookups, "%s: %u lookups, want %u",
                      row->label, info.lookups, row->want_lookups);
    fl_result_clear(&r);
}
END_TEST

START_TEST(details_name_the_client_the_domain_and_the_fix)
{
    struct fl_result r;
    struct fl_spf_info info;
    check(NULL, "192.0.2.7", "mail.spf.example", "a@fail.spf.example", FL_SPF_MAILFROM,
          &r, &info);
    ck_assert_str_eq(r.detail,
                     "192.0.2.7 is not allowed to send mail for fail.spf.example "
                     "(fail.spf.example's SPF record must authorize it)");
    ck_assert_str_eq(info.domain, "fail.spf.example");
    ck_assert_str_eq(info.sender, "a@fail.spf.example");
    ck_assert_str_eq(info.explanation, "");
    fl_result_clear(&r);
    check(NULL, "192.0.2.7", "mail.spf.example", "a@eleven.spf.example", FL_SPF_MAILFROM,
          &r, &info);
    ck_assert_ptr_nonnull(strstr(r.detail, "more than 10 DNS lookups"));
    fl_result_clear(&r);
    check(NULL, "192.0.2.7", "mail.spf.example", "a@broken.spf.example", FL_SPF_MAILFROM,
          &r, &info);
    ck_assert_ptr_nonnull(strstr(r.detail, "ip4:192.0.2.300"));
    ck_assert_ptr_nonnull(strstr(info.problem, "invalid IPv4 network"));
    fl_result_clear(&r);
}
END_TEST

START_TEST(the_explanation_comes_from_the_record_after_a_fail)
{
    struct fl_result r;
    struct fl_spf_info info;
    check(NULL, "192.0.2.7", "mail.spf.example", "Joe.Bloggs@exp.spf.example",
          FL_SPF_MAILFROM, &r, &info);
    ck_assert_int_eq(r.result, FL_RES_FAIL);
    ck_assert_str_eq(info.explanation, "192.0.2.7 may not send for exp.spf.example: see "
                                       "https://spf.example/why?Joe.Bloggs");
    fl_result_clear(&r);
    /* after a pass nobody asks for it */
    int before = fl_dnsd_count(&dnsd, "why.spf.example", "TXT");
    check(NULL, "192.0.2.7", "mail.spf.example", "a@pass.spf.example", FL_SPF_MAILFROM,
          &r, &info);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "why.spf.example", "TXT"), before);
    fl_result_clear(&r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Policy: result x settings -> verdict                                 */

struct policy_row {
    const char *label;
    const char *from;
    enum fl_spf_identity which;
    const char *settings;
    enum fl_res want_res;
    enum fl_action want_action;
    int want_code;
    const char *want_dsn;
};

static const struct policy_row policy_rows[] = {
    {"fail rejects by default with 550 5.7.23", "a@fail.spf.example", FL_SPF_MAILFROM,
     NULL, FL_RES_FAIL, FL_ACTION_REJECT, 550, "5.7.23"},
    {"fail with spf_fail_action = mark is accepted", "a@fail.spf.example",
     FL_SPF_MAILFROM, "spf_fail_action = mark\n", FL_RES_FAIL, FL_ACTION_ACCEPT, 250,
     "2.0.0"},
    {"softfail is accepted by default", "a@softfail.spf.example", FL_SPF_MAILFROM, NULL,
     FL_RES_SOFTFAIL, FL_ACTION_ACCEPT, 250, "2.0.0"},
    {"softfail with spf_softfail_action = reject gets 550 5.7.23",
     "a@softfail.spf.example", FL_SPF_MAILFROM, "spf_softfail_action = reject\n",
     FL_RES_SOFTFAIL, FL_ACTION_REJECT, 550, "5.7.23"},
    {"permerror is accepted by default", "a@broken.spf.example", FL_SPF_MAILFROM, NULL,
     FL_RES_PERMERROR, FL_ACTION_ACCEPT, 250, "2.0.0"},
    {"permerror with spf_permerror_action = reject gets 550 5.7.24",
     "a@broken.spf.example", FL_SPF_MAILFROM, "spf_permerror_action = reject\n",
     FL_RES_PERMERROR, FL_ACTION_REJECT, 550, "5.7.24"},
    {"too many lookups with spf_permerror_action = reject gets 550 5.7.24",
     "a@eleven.spf.example", FL_SPF_MAILFROM, "spf_permerror_action = reject\n",
     FL_RES_PERMERROR, FL_ACTION_REJECT, 550, "5.7.24"},
    {"too many void lookups with spf_permerror_action = reject gets 550 5.7.24",
     "a@void3.spf.example", FL_SPF_MAILFROM, "spf_permerror_action = reject\n",
     FL_RES_PERMERROR, FL_ACTION_REJECT, 550, "5.7.24"},
    {"temperror is accepted by default", "a@tempfail.spf.example", FL_SPF_MAILFROM, NULL,
     FL_RES_TEMPERROR, FL_ACTION_ACCEPT, 250, "2.0.0"},
    {"temperror with spf_temperror_action = tempfail gets 451 4.7.24",
     "a@tempfail.spf.example", FL_SPF_MAILFROM, "spf_temperror_action = tempfail\n",
     FL_RES_TEMPERROR, FL_ACTION_TEMPFAIL, 451, "4.7.24"},
    {"pass is accepted whatever the settings", "a@pass.spf.example", FL_SPF_MAILFROM,
     "spf_fail_action = reject\nspf_softfail_action = reject\n"
     "spf_permerror_action = reject\n",
     FL_RES_PASS, FL_ACTION_ACCEPT, 250, "2.0.0"},
    {"neutral is accepted whatever the settings", "a@neutral.spf.example",
     FL_SPF_MAILFROM, "spf_softfail_action = reject\n", FL_RES_NEUTRAL, FL_ACTION_ACCEPT,
     250, "2.0.0"},
    {"none is accepted whatever the settings", "a@none.spf.example", FL_SPF_MAILFROM,
     "spf_permerror_action = reject\n", FL_RES_NONE, FL_ACTION_ACCEPT, 250, "2.0.0"},
    {"a HELO fail is reported, never enforced", "", FL_SPF_HELO,
     "spf_fail_action = reject\n", FL_RES_FAIL, FL_ACTION_ACCEPT, 250, "2.0.0"},
};

START_TEST(policy_settings_map_to_the_verdict)
{
    const struct policy_row *row = &policy_rows[_i];
    struct fl_result r;
    struct fl_spf_info info;
    check(row->settings, "192.0.2.7",
          row->which == FL_SPF_HELO ? "bad-helo.spf.example" : "mail.spf.example",
          row->from, row->which, &r, &info);
    ck_assert_msg(r.result == row->want_res, "%s: result %s, want %s", row->label,
                  fl_res_name(r.result), fl_res_name(row->want_res));
    struct fl_verdict v;
    fl_verdict_decide(&v, &r, 1, NULL, false);
    ck_assert_msg(v.action == row->want_action, "%s: action %s, want %s", row->label,
                  fl_action_name(v.action), fl_action_name(row->want_action));
    ck_assert_msg(v.code == row->want_code && strcmp(v.dsn, row->want_dsn) == 0,
                  "%s: reply %d %s, want %d %s", row->label, v.code, v.dsn,
                  row->want_code, row->want_dsn);
    if (v.action == FL_ACTION_REJECT || v.action == FL_ACTION_TEMPFAIL)
        ck_assert_msg(
            v.fault == FL_FAULT_SENDER && v.text && strstr(v.text, "spf.example"),
            "%s: reply \"%s\" fault %s", row->label, v.text, fl_fault_name(v.fault));
    fl_verdict_clear(&v);
    fl_result_clear(&r);
}
END_TEST

START_TEST(our_dead_resolver_is_the_receivers_fault)
{
    /* a port nothing listens on: our resolver gets no answer at all */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    char dead[64];
    snprintf(dead, sizeof(dead), "127.0.0.1@%d", ntohs(sa.sin_port));
    struct fl_config *cfg =
        make_config(dead, "300ms", "spf_temperror_action = tempfail\n");
    struct fl_dns *dns = make_dns(cfg);
    struct fl_spf_request req = {"192.0.2.7", "mail.spf.example", "a@pass.spf.example"};
    struct fl_result r;
    struct fl_spf_info info;
    fl_spf_check(dns, cfg, &req, FL_SPF_MAILFROM, fl_monotonic_ms() + 5000, &r, &info);
    ck_assert_int_eq(r.result, FL_RES_TEMPERROR);
    ck_assert_int_eq(r.fault, FL_FAULT_RECEIVER);
    ck_assert(r.transient);
    ck_assert_msg(strncmp(r.reason_code, "dns.resolver_", 13) == 0, "code %s",
                  r.reason_code);
    struct fl_verdict v;
    fl_verdict_decide(&v, &r, 1, NULL, false);
    ck_assert_int_eq(v.action, FL_ACTION_TEMPFAIL);
    ck_assert_int_eq(v.code, 451);
    ck_assert_str_eq(v.dsn, "4.4.3");
    ck_assert_int_eq(v.fault, FL_FAULT_RECEIVER);
    fl_verdict_clear(&v);
    fl_result_clear(&r);
    fl_dns_destroy(&dns);
    fl_config_unref(&cfg);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Received-SPF, hostile input, fl_spf_wanted                           */

START_TEST(received_spf_header_follows_rfc7208_9_1)
{
    struct fl_result r;
    struct fl_spf_info info;
    check(NULL, "192.0.2.7", "mail.spf.example", "a@fail.spf.example", FL_SPF_MAILFROM,
          &r, &info);
    struct fl_buf b;
    fl_buf_init(&b);
    fl_spf_received_header(&b, &info);
    ck_assert_str_eq(
        b.data, "fail (mx.example.net: domain of a@fail.spf.example does not designate "
                "192.0.2.7 as permitted sender) client-ip=192.0.2.7; "
                "envelope-from=\"a@fail.spf.example\"; helo=mail.spf.example; "
                "receiver=mx.example.net; identity=mailfrom");
    fl_result_clear(&r);
    fl_buf_reset(&b);
    check(NULL, "2001:db8::7", "mail.spf.example", "a@broken.spf.example",
          FL_SPF_MAILFROM, &r, &info);
    fl_spf_received_header(&b, &info);
    ck_assert_msg(strncmp(b.data, "permerror (", 11) == 0, "%s", b.data);
    ck_assert_ptr_nonnull(strstr(b.data, "client-ip=\"2001:db8::7\";"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "; problem=\"the SPF record of broken.spf.example"));
    fl_result_clear(&r);
    fl_buf_free(&b);
}
END_TEST

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

struct hostile_row {
    const char *label;
    const char *ip, *helo, *from;
};

static const struct hostile_row hostile_rows[] = {
    {"CR LF in the HELO name", "192.0.2.7", "mail.spf.example\r\nX-Evil: 1",
     "a@pass.spf.example"},
    {"CR LF in the local-part", "192.0.2.7", "mail.spf.example",
     "a\r\nb@exp.spf.example"},
    {"non-ASCII in the local-part", "192.0.2.7", "mail.spf.example",
     "j\xc3\xb6rg@exp.spf.example"},
    {"non-ASCII in the domain", "192.0.2.7", "mail.spf.example",
     "a@b\xc3\xa4r.spf.example"},
    {"control bytes in the domain", "192.0.2.7", "mail.spf.example",
     "a@fail\x01.spf.example"},
    {"quotes and backslashes in the HELO name", "192.0.2.7", "\"mail\\\".spf.example",
     ""},
    {"an empty HELO and a null sender", "192.0.2.7", "", ""},
    {"a NULL HELO", "192.0.2.7", NULL, "a@pass.spf.example"},
    {"a 1000-byte local-part", "192.0.2.7", "mail.spf.example",
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxx"
     "@exp.spf.example"},
    {"a domain of 300 bytes", "192.0.2.7", "mail.spf.example",
     "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ".spf.example"},
    {"a NULL client address", NULL, "mail.spf.example", "a@pass.spf.example"},
};

START_TEST(hostile_input_never_breaks_anything)
{
    const struct hostile_row *row = &hostile_rows[_i];
    struct fl_result r;
    struct fl_spf_info info;
    check(NULL, row->ip, row->helo, row->from, FL_SPF_MAILFROM, &r, &info);
    ck_assert_msg(printable(info.sender) && printable(info.helo) &&
                      printable(info.domain) && printable(info.explanation) &&
                      printable(info.problem),
                  "%s: non-printable text in the info", row->label);
    ck_assert_msg(r.detail == NULL || printable(r.detail), "%s: detail \"%s\"",
                  row->label, r.detail);
    struct fl_buf b;
    fl_buf_init(&b);
    fl_spf_received_header(&b, &info);
    ck_assert_msg(printable(b.data), "%s: Received-SPF \"%s\"", row->label, b.data);
    fl_buf_free(&b);
    fl_result_clear(&r);
}
END_TEST

START_TEST(spf_is_wanted_unless_disabled_or_skipped)
{
    struct fl_config *cfg = fl_config_defaults();
    ck_assert(fl_spf_wanted(cfg, false, false));
    ck_assert(!fl_spf_wanted(cfg, true, false));
    ck_assert(!fl_spf_wanted(cfg, false, true));
    fl_config_unref(&cfg);
    cfg = make_config("127.0.0.1@53", "2s",
                      "spf_skip_trusted = no\nspf_skip_authenticated = no\n");
    ck_assert(fl_spf_wanted(cfg, true, true));
    fl_config_unref(&cfg);
    cfg = make_config("127.0.0.1@53", "2s", "spf_enable = no\n");
    ck_assert(!fl_spf_wanted(cfg, false, false));
    fl_config_unref(&cfg);
}
END_TEST

#define ROWS(a) (int)(sizeof(a) / sizeof((a)[0]))

int main(void)
{
    Suite *s = suite_create("spf");
    TCase *tc = tcase_create("records");
    tcase_add_loop_test(tc, records_are_checked_and_rewritten, 0, ROWS(record_rows));
    tcase_add_test(tc, a_nul_byte_makes_a_record_invalid);
    tcase_add_loop_test(tc, macros_expand_as_rfc7208_shows, 0, ROWS(macro_rows));
    tcase_add_test(tc, macros_are_rewritten_with_the_evaluation_values);
    tcase_add_test(tc, spf_is_wanted_unless_disabled_or_skipped);
    suite_add_tcase(s, tc);
    tc = tcase_create("evaluation");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, evaluations_against_the_fixture_zone, 0, ROWS(eval_rows));
    tcase_add_test(tc, details_name_the_client_the_domain_and_the_fix);
    tcase_add_test(tc, the_explanation_comes_from_the_record_after_a_fail);
    tcase_add_loop_test(tc, policy_settings_map_to_the_verdict, 0, ROWS(policy_rows));
    tcase_add_test(tc, our_dead_resolver_is_the_receivers_fault);
    tcase_add_test(tc, received_spf_header_follows_rfc7208_9_1);
    tcase_add_loop_test(tc, hostile_input_never_breaks_anything, 0, ROWS(hostile_rows));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
