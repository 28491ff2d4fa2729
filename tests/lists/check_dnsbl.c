/* check_dnsbl: lib/dnsbl (DNSBL, DNSWL, RHSBL) -- the entry syntax and
   its error messages, then scoring table rows answered by the hermetic
   test DNS server (tests/dns/zones/dnsbl.example.zone): weights, allow
   lists, filters, thresholds, every list error code, IPv6, each RHSBL
   identity; then timeouts, SERVFAIL, TXT replies, parallel queries, the
   health probe, statistics and hostile answers. */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/lists/dnsbl.h"
#include "lib/lists/dnsbl_spec.h"
#include "lib/core/verdict.h"
#include "tests/harness/dns_server.h"
#include "tests/lists/check_dnsbl.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_ALL                                                                           \
    (FL_DNSBL_ID_MAILFROM | FL_DNSBL_ID_FROM | FL_DNSBL_ID_HELO | FL_DNSBL_ID_PTR)

/* --- entry syntax (no DNS) ---------------------------------------------------- */

struct spec_row {
    const char *label;
    const char *text;
    enum fl_dnsbl_spec_kind kind;
    const char *want_error; /* substring of the message, or NULL: parses */
    const char *want_zone;
    int want_weight;
    unsigned int want_ids;
    bool want_observe;
};

/* clang-format off */
static const struct spec_row spec_rows[] = {
    {"a bare zone has weight 1, no filter and asks about the client", "zen.example",
     FL_DNSBL_SPEC_IP, NULL, "zen.example", 1, FL_DNSBL_ID_CLIENT, false},
    {"an allow list has a negative weight", "wl.example=127.0.[0..255].[1..3]*-5",
     FL_DNSBL_SPEC_IP, NULL, "wl.example", -5, FL_DNSBL_ID_CLIENT, false},
    {"upper case and a trailing dot are normalised", "ZEN.Example.*+2", FL_DNSBL_SPEC_IP, NULL,
     "zen.example", 2, FL_DNSBL_ID_CLIENT, false},
    {"a domain list names its identities with +", "dbl.example=127.0.1.[2..99]*2:mailfrom+helo",
     FL_DNSBL_SPEC_DOMAIN, NULL, "dbl.example", 2, FL_DNSBL_ID_MAILFROM | FL_DNSBL_ID_HELO, false},
    {"a domain list asks about all four identities by default", "dbl.example",
     FL_DNSBL_SPEC_DOMAIN, NULL, "dbl.example", 1, ID_ALL, false},
    {"an error code is zone=filter", "zen.example=127.255.255.[252;254..255]",
     FL_DNSBL_SPEC_ERROR, NULL, "zen.example", 1, FL_DNSBL_ID_CLIENT, false},
    {"/observe marks an IP list observed", "zen.example=127.0.0.[2..11]*3/observe",
     FL_DNSBL_SPEC_IP, NULL, "zen.example", 3, FL_DNSBL_ID_CLIENT, true},
    {"/observe on a bare zone", "zen.example/observe", FL_DNSBL_SPEC_IP, NULL, "zen.example", 1,
     FL_DNSBL_ID_CLIENT, true},
    {"/observe after a domain list's identities", "dbl.example*2:mailfrom+helo/observe",
     FL_DNSBL_SPEC_DOMAIN, NULL, "dbl.example", 2, FL_DNSBL_ID_MAILFROM | FL_DNSBL_ID_HELO,
     true},
    {"an unknown flag is refused", "zen.example*2/watch", FL_DNSBL_SPEC_IP,
     "expected /observe", NULL, 0, 0, false},
    {"an error code cannot be observed", "zen.example=127.255.255.254/observe",
     FL_DNSBL_SPEC_ERROR, "cannot be observed", NULL, 0, 0, false},
    {"an empty zone is refused", "=127.0.0.2", FL_DNSBL_SPEC_IP, "empty zone name", NULL, 0, 0, false},
    {"a one-label zone is refused", "example", FL_DNSBL_SPEC_IP, "at least two labels", NULL, 0,
     0, false},
    {"a zone with a bad character is refused", "zen!.example", FL_DNSBL_SPEC_IP,
     "only letters, digits", NULL, 0, 0, false},
    {"a zone with an empty label is refused", "zen..example", FL_DNSBL_SPEC_IP, "empty label",
     NULL, 0, 0, false},
    {"an empty filter is refused", "zen.example=", FL_DNSBL_SPEC_IP, "empty filter", NULL, 0, 0, false},
    {"a filter of three octets is refused", "zen.example=127.0.0", FL_DNSBL_SPEC_IP,
     "bad filter: expected four octets", NULL, 0, 0, false},
    {"an octet above 255 is refused", "zen.example=127.0.0.256", FL_DNSBL_SPEC_IP,
     "bad filter", NULL, 0, 0, false},
    {"a range upside down is refused", "zen.example=127.0.0.[9..2]", FL_DNSBL_SPEC_IP,
     "N must not be above M", NULL, 0, 0, false},
    {"a range without its end is refused", "zen.example=127.0.0.[2..]", FL_DNSBL_SPEC_IP,
     "needs M", NULL, 0, 0, false},
    {"an unclosed bracket is refused", "zen.example=127.0.0.[2..4", FL_DNSBL_SPEC_IP,
     "expected \";\" or \"]\"", NULL, 0, 0, false},
    {"a filter outside 127.0.0.0/8 is refused", "zen.example=10.0.0.2", FL_DNSBL_SPEC_IP,
     "inside 127.0.0.0/8", NULL, 0, 0, false},
    {"a weight that is not a number is refused", "zen.example*x", FL_DNSBL_SPEC_IP,
     "bad weight", NULL, 0, 0, false},
    {"an empty weight is refused", "zen.example*", FL_DNSBL_SPEC_IP, "bad weight", NULL, 0, 0, false},
    {"a weight above 1000 is refused", "zen.example*1001", FL_DNSBL_SPEC_IP, "bad weight", NULL,
     0, 0, false},
    {"a weight written before the filter is refused", "zen.example*2=127.0.0.2",
     FL_DNSBL_SPEC_IP, "bad weight", NULL, 0, 0, false},
    {"identities on an IP list are refused", "zen.example:helo", FL_DNSBL_SPEC_IP,
     "(rhsbl_sites) only", NULL, 0, 0, false},
    {"an unknown identity is refused", "dbl.example:helo+envelope", FL_DNSBL_SPEC_DOMAIN,
     "unknown identity", NULL, 0, 0, false},
    {"an error code without its answers is refused", "zen.example", FL_DNSBL_SPEC_ERROR,
     "needs its answers", NULL, 0, 0, false},
    {"an error code with a weight is refused", "zen.example=127.0.0.2*2", FL_DNSBL_SPEC_ERROR,
     "takes no weight", NULL, 0, 0, false},
};
/* clang-format on */

START_TEST(entries_parse_or_say_what_is_wrong)
{
    const struct spec_row *row = &spec_rows[_i];
    struct fl_dnsbl_spec spec;
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_dnsbl_spec_parse(row->text, row->kind, &spec, &why);
    if (row->want_error != NULL) {
        ck_assert_msg(rc == -1, "%s: \"%s\" parsed", row->label, row->text);
        ck_assert_msg(strstr(why.data, row->want_error) != NULL,
                      "%s: got \"%s\", want \"%s\"", row->label, why.data,
                      row->want_error);
        fl_buf_free(&why);
        return;
    }
    ck_assert_msg(rc == 0, "%s: %s", row->label, why.data);
    fl_buf_free(&why);
    ck_assert_msg(strcmp(spec.zone, row->want_zone) == 0, "%s: zone %s", row->label,
                  spec.zone);
    ck_assert_msg(spec.weight == row->want_weight, "%s: weight got %d, want %d",
                  row->label, spec.weight, row->want_weight);
    ck_assert_msg(spec.identities == row->want_ids, "%s: identities got %#x, want %#x",
                  row->label, spec.identities, row->want_ids);
    ck_assert_msg(spec.observe == row->want_observe, "%s: observe got %d, want %d", row->label,
                  spec.observe, row->want_observe);
}
END_TEST

struct filter_row {
    const char *label, *filter;
    unsigned char addr[4];
    bool want;
};

/* clang-format off */
static const struct filter_row filter_rows[] = {
    {"a single code matches itself", "127.0.0.2", {127, 0, 0, 2}, true},
    {"a single code matches nothing else", "127.0.0.2", {127, 0, 0, 3}, false},
    {"a range includes its lower end", "127.0.0.[2..11]", {127, 0, 0, 2}, true},
    {"a range includes its upper end", "127.0.0.[2..11]", {127, 0, 0, 11}, true},
    {"a range excludes what is past it", "127.0.0.[2..11]", {127, 0, 0, 12}, false},
    {"a list of codes matches each", "127.0.0.[2;4]", {127, 0, 0, 4}, true},
    {"a list of codes skips those between", "127.0.0.[2;4]", {127, 0, 0, 3}, false},
    {"a range and a code mixed: the code", "127.0.0.[2..4;9]", {127, 0, 0, 9}, true},
    {"a range and a code mixed: a gap", "127.0.0.[2..4;9]", {127, 0, 0, 5}, false},
    {"ranges in two octets (dnswl style)", "127.0.[0..255].[1..3]", {127, 0, 15, 3}, true},
};
/* clang-format on */

START_TEST(filters_match_like_postscreen)
{
    const struct filter_row *row = &filter_rows[_i];
    struct fl_dnsbl_filter f;
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dnsbl_filter_parse(row->filter, strlen(row->filter), &f, &why) == 0,
                  "%s", why.data);
    fl_buf_free(&why);
    ck_assert_msg(fl_dnsbl_filter_match(&f, row->addr) == row->want, "%s: got %d",
                  row->label, !row->want);
}
END_TEST

START_TEST(query_names_and_identities)
{
    char name[512], d[256];
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_int_eq(
        fl_dnsbl_reverse_name("192.0.2.7", "zen.example", name, sizeof(name)), 4);
    ck_assert_str_eq(name, "7.2.0.192.zen.example");
    ck_assert_int_eq(
        fl_dnsbl_reverse_name("::ffff:192.0.2.7", "zen.example", name, sizeof(name)), 4);
    ck_assert_str_eq(name, "7.2.0.192.zen.example");
    ck_assert_int_eq(
        fl_dnsbl_reverse_name("2001:db8::1", "zen.example", name, sizeof(name)), 6);
    ck_assert_str_eq(
        name,
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.example");
    ck_assert_int_eq(
        fl_dnsbl_reverse_name("mx.example", "zen.example", name, sizeof(name)), 0);
    ck_assert_int_eq(
        fl_dnsbl_domain_normalise("<User@Spam.Example.>", d, sizeof(d), &why), 0);
    ck_assert_str_eq(d, "spam.example");
    static const struct {
        const char *name, *why;
    } refused[] = {
        {"", "empty name"},
        {"<>", "empty name"},
        {"[192.0.2.7]", "an address literal"},
        {"IPv6:2001:db8::1", "an address literal"},
        {"localhost", "a single label"},
        {"192.0.2.7", "an IP address"},
        {"a..example", "empty label"},
        {"example.org..", "empty label"},
        {"bad name.example",
         "not a host name (characters other than letters, digits, - and _)"},
        {"b\xc3\xbc"
         "cher.example",
         "not a host name (characters other than letters, digits, - and _)"},
        {"a.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example",
         "label longer than 63 characters"},
    };
    for (size_t i = 0; i < NELEMS(refused); i++) {
        fl_buf_reset(&why);
        ck_assert_msg(fl_dnsbl_domain_normalise(refused[i].name, d, sizeof(d), &why) ==
                          -1,
                      "\"%s\" would be asked of a domain list", refused[i].name);
        ck_assert_msg(strcmp(why.data, refused[i].why) == 0,
                      "\"%s\": got \"%s\", want \"%s\"", refused[i].name, why.data,
                      refused[i].why);
    }
    fl_buf_free(&why);
    unsigned char a[4] = {127, 255, 255, 254};
    ck_assert_ptr_nonnull(fl_dnsbl_builtin_error("zen.spamhaus.org", a));
    ck_assert_ptr_nonnull(fl_dnsbl_builtin_error("KEY.zen.dq.spamhaus.net", a));
    ck_assert_ptr_null(fl_dnsbl_builtin_error("notspamhaus.org", a));
    unsigned char dbl[4] = {127, 0, 1, 255}, wl[4] = {127, 0, 0, 255},
                  uri[4] = {127, 0, 0, 1};
    ck_assert_ptr_nonnull(fl_dnsbl_builtin_error("dbl.spamhaus.org", dbl));
    ck_assert_ptr_null(fl_dnsbl_builtin_error("zen.spamhaus.org", dbl));
    ck_assert_ptr_nonnull(fl_dnsbl_builtin_error("list.dnswl.org", wl));
    ck_assert_ptr_nonnull(fl_dnsbl_builtin_error("multi.uribl.com", uri));
    ck_assert_ptr_null(fl_dnsbl_builtin_error("zen.example", uri));
}
END_TEST

/* --- environment: a config, a resolver and the lists ---------------------------- */

struct fl_dnsd dnsbl_dnsd;

struct fl_config *dnsbl_load_conf(const char *extra, struct fl_buf *errors)
{
    char path[] = "/tmp/fl-dnsbl-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(
        f,
        "dns_forwarders = %s\ndns_probe_domain = dnsbl.example\ndns_timeout = 2s\n%s\n",
        dnsbl_dnsd.addr[0] ? dnsbl_dnsd.addr : "127.0.0.1@53", extra);
    fclose(f);
    struct fl_config *cfg = NULL;
    int rc = fl_config_load(path, &cfg, errors);
    unlink(path);
    return rc == 0 ? cfg : NULL;
}

void dnsbl_env_open(struct dnsbl_env *e, const char *conf)
{
    struct fl_buf errors;
    fl_buf_init(&errors);
    e->cfg = dnsbl_load_conf(conf, &errors);
    ck_assert_msg(e->cfg != NULL, "%s", errors.data);
    ck_assert_msg(fl_dnsbl_lists_create(e->cfg, &e->lists, &errors) == 0, "%s",
                  errors.data);
    fl_buf_free(&errors);
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dns_create(e->cfg, &e->dns, &why) == 0, "%s", why.data);
    fl_buf_free(&why);
}

void dnsbl_env_close(struct dnsbl_env *e)
{
    fl_dnsbl_lists_unref(&e->lists);
    fl_dns_destroy(&e->dns);
    fl_config_unref(&e->cfg);
}

void dnsbl_server_start(void)
{
    ck_assert_msg(fl_dnsd_start(&dnsbl_dnsd, "dnsbl.example.zone", NULL) == 0,
                  "test DNS server did not start");
}

void dnsbl_server_stop(void)
{
    fl_dnsd_stop(&dnsbl_dnsd);
}

/* Log lines go to stderr; these catch them. */
void dnsbl_capture_start(struct dnsbl_capture *c)
{
    fflush(stderr);
    snprintf(c->path, sizeof(c->path), "/tmp/fl-dnsbl-log-XXXXXX");
    int fd = mkstemp(c->path);
    ck_assert(fd >= 0);
    c->saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

char *dnsbl_capture_end(struct dnsbl_capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    unlink(c->path);
    return text;
}

int dnsbl_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(config_errors_name_the_entry)
{
    static const struct {
        const char *conf, *want;
    } rows[] = {
        {"dnsbl_sites = zen.example, zen.example=127.0.0.[9..2]",
         "dnsbl_sites: \"zen.example=127.0.0.[9..2]\": bad filter: in a range N..M"},
        {"rhsbl_sites = dbl.example:envelope",
         "rhsbl_sites: \"dbl.example:envelope\": unknown identity"},
        {"dnsbl_error_codes = zen.example",
         "dnsbl_error_codes: \"zen.example\": an error code needs its answers"},
        {"dnsbl_allow_threshold = 0",
         "dnsbl_allow_threshold = 0: expected a whole number from -1000 to -1"},
        {"dnsbl_threshold = 0", "dnsbl_threshold = 0: out of range"},
        {"dnsbl_reply_code = 451", "dnsbl_reply_code = 451: expected one of 554|550"},
    };
    for (size_t i = 0; i < NELEMS(rows); i++) {
        struct fl_buf errors;
        fl_buf_init(&errors);
        struct fl_config *cfg = dnsbl_load_conf(rows[i].conf, &errors);
        ck_assert_msg(cfg == NULL, "\"%s\" loaded", rows[i].conf);
        ck_assert_msg(strstr(errors.data, rows[i].want) &&
                          strstr(errors.data, ":4: error: "),
                      "\"%s\": got \"%s\", want \"...:4: error: %s\"", rows[i].conf,
                      errors.data, rows[i].want);
        fl_buf_free(&errors);
    }
}
END_TEST

/* --- scoring rows ----------------------------------------------------------------- */

#define ZEN "dnsbl_sites = zen.dnsbl.example"
#define DBL "rhsbl_sites = dbl.dnsbl.example"

struct score_row {
    const char *label;
    const char *conf;
    const char *ip;
    const char *mailfrom, *from, *helo, *ptr;
    int want_score;
    enum fl_res want_res;
    size_t want_checks;
    enum fl_dnsbl_status want_first; /* of checks[0] */
    const char *want_reason;
};

/* clang-format off */
static const struct score_row score_rows[] = {
    {"a listed client scores its entry's weight and is rejected", ZEN "*3", "192.0.2.7", NULL,
     NULL, NULL, NULL, 3, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"a client the list does not have (NXDOMAIN) scores nothing", ZEN "*3", "192.0.2.50", NULL,
     NULL, NULL, NULL, 0, FL_RES_NONE, 1, FL_DNSBL_NOT_LISTED, NULL},
    {"a weight below the threshold marks but does not reject",
     ZEN "\ndnsbl_threshold = 2", "192.0.2.7", NULL, NULL, NULL, NULL, 1, FL_RES_NONE, 1,
     FL_DNSBL_LISTED, NULL},
    {"the weights of two lists add up to the threshold",
     ZEN ", bl2.dnsbl.example\ndnsbl_threshold = 2", "192.0.2.7", NULL, NULL, NULL, NULL, 2,
     FL_RES_FAIL, 2, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"a score equal to the threshold rejects", ZEN "*3\ndnsbl_threshold = 3", "192.0.2.7", NULL,
     NULL, NULL, NULL, 3, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"a negative weight allow-lists the client", "dnsbl_sites = wl.dnsbl.example*-5",
     "192.0.2.40", NULL, NULL, NULL, NULL, -5, FL_RES_PASS, 1, FL_DNSBL_LISTED, NULL},
    {"an allow list outweighs a block list", ZEN "*2, wl.dnsbl.example*-5", "192.0.2.7", NULL,
     NULL, NULL, NULL, -3, FL_RES_PASS, 2, FL_DNSBL_LISTED, NULL},
    {"a score above the allow threshold is not allow-listed",
     "dnsbl_sites = wl.dnsbl.example*-4\ndnsbl_allow_threshold = -5", "192.0.2.40", NULL, NULL,
     NULL, NULL, -4, FL_RES_NONE, 1, FL_DNSBL_LISTED, NULL},
    {"a filter range includes its upper bound", ZEN "=127.0.0.[2..11]", "192.0.2.9", NULL, NULL,
     NULL, NULL, 1, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"an answer past the filter range does not count", ZEN "=127.0.0.[2..11]", "192.0.2.12",
     NULL, NULL, NULL, NULL, 0, FL_RES_NONE, 1, FL_DNSBL_NOT_LISTED, NULL},
    {"a filter list [2;4] picks one of two answers", ZEN "=127.0.0.[2;4]*2", "192.0.2.8", NULL,
     NULL, NULL, NULL, 2, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"a filter mixing a range and a code [2..4;11] takes the code", ZEN "=127.0.0.[2..4;11]",
     "192.0.2.9", NULL, NULL, NULL, NULL, 1, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"two entries of one zone each count once for two answers, from one query",
     ZEN "=127.0.0.4*2, zen.dnsbl.example=127.0.0.10*3", "192.0.2.8", NULL, NULL, NULL, NULL, 5,
     FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"an entry without a filter counts once however many answers", ZEN "*2", "192.0.2.8", NULL,
     NULL, NULL, NULL, 2, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"an entry whose filter matches none of several answers scores nothing", ZEN "=127.0.0.2",
     "192.0.2.8", NULL, NULL, NULL, NULL, 0, FL_RES_NONE, 1, FL_DNSBL_NOT_LISTED, NULL},
    {"127.255.255.252 means the zone name is wrong, not listed", ZEN, "192.0.2.20", NULL, NULL,
     NULL, NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"127.255.255.254 means the list refuses our resolver, not listed", ZEN, "192.0.2.21", NULL,
     NULL, NULL, NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"127.255.255.255 means too many queries, not listed", ZEN, "192.0.2.22", NULL, NULL, NULL,
     NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"any other 127.255.255.0/24 answer is an error code too", ZEN, "192.0.2.23", NULL, NULL,
     NULL, NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"a filter that names 127.255.255.[1..9] asks for it, and it counts",
     ZEN "=127.255.255.[1..9]*2", "192.0.2.23", NULL, NULL, NULL, NULL, 2, FL_RES_FAIL, 1,
     FL_DNSBL_LISTED, "dnsbl.listed"},
    {"an answer outside 127.0.0.0/8 is an error, never a listing", ZEN, "192.0.2.24", NULL, NULL,
     NULL, NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"one error code among the answers makes the whole answer an error", ZEN "*5", "192.0.2.25",
     NULL, NULL, NULL, NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"127.0.1.255 is an error code when dnsbl_error_codes says so",
     ZEN "\ndnsbl_error_codes = zen.dnsbl.example=127.0.1.255", "192.0.2.26", NULL, NULL, NULL,
     NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"without that error code the same answer is a listing", ZEN, "192.0.2.26", NULL, NULL, NULL,
     NULL, 1, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"an error code declared for a parent zone applies to the lists below it",
     ZEN "\ndnsbl_error_codes = dnsbl.example=127.0.1.[250..255]", "192.0.2.26", NULL, NULL,
     NULL, NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"127.0.0.1 is URIBL's refusal only on uribl.com: elsewhere a listing", ZEN, "192.0.2.27",
     NULL, NULL, NULL, NULL, 1, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"a refusing list does not hide another list's listing",
     "dnsbl_sites = refusing.dnsbl.example*5, zen.dnsbl.example", "192.0.2.7", NULL, NULL, NULL,
     NULL, 1, FL_RES_FAIL, 2, FL_DNSBL_ERROR_CODE, "dnsbl.listed"},
    {"a refusing list next to a clean answer gives none with fault=receiver",
     "dnsbl_sites = refusing.dnsbl.example*5, zen.dnsbl.example", "192.0.2.50", NULL, NULL, NULL,
     NULL, 0, FL_RES_NONE, 2, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"an IPv6 client is asked by its 32 reversed nibbles", ZEN, "2001:db8::1", NULL, NULL, NULL,
     NULL, 1, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"an IPv4-mapped IPv6 client is asked as IPv4", ZEN, "::ffff:192.0.2.7", NULL, NULL, NULL,
     NULL, 1, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.listed"},
    {"no client address: IP lists are not asked", ZEN, NULL, NULL, NULL, NULL, NULL, 0,
     FL_RES_NONE, 0, FL_DNSBL_NOT_LISTED, NULL},
    {"a listed MAIL FROM domain scores on a domain list", DBL "*2", "192.0.2.50",
     "user@spam.example", NULL, NULL, NULL, 2, FL_RES_FAIL, 1, FL_DNSBL_LISTED,
     "dnsbl.domain_listed"},
    {"a listed From header domain scores", DBL, NULL, NULL, "a@phish.example", NULL, NULL, 1,
     FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.domain_listed"},
    {"a listed HELO name scores", DBL, NULL, NULL, NULL, "bad-helo.example", NULL, 1,
     FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.domain_listed"},
    {"a listed PTR name scores", DBL, NULL, NULL, NULL, NULL, "mail.badptr.example", 1,
     FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.domain_listed"},
    {"a domain list asks only about the identities it names", DBL ":helo", NULL,
     "user@spam.example", NULL, "clean.example", NULL, 0, FL_RES_NONE, 1, FL_DNSBL_NOT_LISTED,
     NULL},
    {"an entry counts once when several identities are listed", DBL "*2", NULL,
     "user@spam.example", NULL, "bad-helo.example", NULL, 2, FL_RES_FAIL, 2, FL_DNSBL_LISTED,
     "dnsbl.domain_listed"},
    {"the same domain in MAIL FROM and From is asked once", DBL, NULL, "a@spam.example",
     "b@spam.example", NULL, NULL, 1, FL_RES_FAIL, 1, FL_DNSBL_LISTED, "dnsbl.domain_listed"},
    {"a domain filter picks codes", DBL "=127.0.1.[3..4]", NULL, "a@spam.example",
     "b@phish.example", NULL, NULL, 1, FL_RES_FAIL, 2, FL_DNSBL_NOT_LISTED,
     "dnsbl.domain_listed"},
    {"an address literal HELO and the null sender are not asked", DBL, NULL, "", NULL,
     "[192.0.2.7]", NULL, 0, FL_RES_NONE, 0, FL_DNSBL_NOT_LISTED, NULL},
    {"127.255.255.254 from a domain list is an error code too", DBL, NULL, "a@refuses.example",
     NULL, NULL, NULL, 0, FL_RES_TEMPERROR, 1, FL_DNSBL_ERROR_CODE, "dnsbl.error_code"},
    {"IP and domain listings add up", ZEN "\n" DBL "*2\ndnsbl_threshold = 3", "192.0.2.7",
     "a@spam.example", NULL, NULL, NULL, 3, FL_RES_FAIL, 2, FL_DNSBL_LISTED, "dnsbl.domain_listed"},
};
/* clang-format on */

START_TEST(scoring_table)
{
    const struct score_row *row = &score_rows[_i];
    struct dnsbl_env e;
    dnsbl_env_open(&e, row->conf);
    struct dnsbl_capture cap;
    dnsbl_capture_start(&cap);
    struct fl_dnsbl *bl =
        fl_dnsbl_start(e.lists, e.dns, row->ip, fl_monotonic_ms() + 5000);
    if (row->helo)
        fl_dnsbl_check_domain(bl, FL_DNSBL_ID_HELO, row->helo, 0);
    if (row->ptr)
        fl_dnsbl_check_domain(bl, FL_DNSBL_ID_PTR, row->ptr, 0);
    if (row->mailfrom)
        fl_dnsbl_check_domain(bl, FL_DNSBL_ID_MAILFROM, row->mailfrom, 0);
    if (row->from)
        fl_dnsbl_check_domain(bl, FL_DNSBL_ID_FROM, row->from, 0);
    const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
    char *log = dnsbl_capture_end(&cap);
    struct fl_buf d;
    fl_buf_init(&d);
    fl_dnsbl_describe(o, &d);
    /* one warning per failed list; nothing else */
    int failed = 0;
    for (size_t i = 0; i < o->nchecks; i++)
        failed += o->checks[i].status == FL_DNSBL_ERROR_CODE ||
                  o->checks[i].status == FL_DNSBL_UNAVAILABLE;
    ck_assert_msg(dnsbl_count(log, "warning: dnsbl list=") == failed &&
                      dnsbl_count(log, "\n") == failed,
                  "%s: %d failed lists, log: %s", row->label, failed, log);
    free(log);
    ck_assert_msg(o->score == row->want_score, "%s: score got %d, want %d (%s)",
                  row->label, o->score, row->want_score, d.data);
    ck_assert_msg(o->result.result == row->want_res, "%s: result got %s, want %s (%s)",
                  row->label, fl_res_name(o->result.result), fl_res_name(row->want_res),
                  d.data);
    ck_assert_msg(o->nchecks == row->want_checks, "%s: %zu lists asked, want %zu (%s)",
                  row->label, o->nchecks, row->want_checks, d.data);
    if (o->nchecks > 0)
        ck_assert_msg(o->checks[0].status == row->want_first,
                      "%s: first list %s, want %s (%s)", row->label,
                      fl_dnsbl_status_name(o->checks[0].status),
                      fl_dnsbl_status_name(row->want_first), d.data);
    const char *got = o->result.reason_code;
    ck_assert_msg(row->want_reason ? got && strcmp(got, row->want_reason) == 0
                                   : got == NULL,
                  "%s: reason got %s, want %s", row->label, got ? got : "(none)",
                  row->want_reason ? row->want_reason : "(none)");
    int sum = 0;
    for (size_t i = 0; i < o->nchecks; i++)
        sum += o->checks[i].weight;
    ck_assert_msg(sum == o->score, "%s: rows add up to %d, score %d", row->label, sum,
                  o->score);
    /* Error codes and failures are ours; a listing is the sender's. */
    enum fl_fault want_fault = row->want_res == FL_RES_FAIL ? FL_FAULT_SENDER
                               : row->want_reason           ? FL_FAULT_RECEIVER
                                                            : FL_FAULT_NONE;
    ck_assert_msg(o->result.fault == want_fault, "%s: fault %s", row->label,
                  fl_fault_name(o->result.fault));
    ck_assert_msg(o->result.action == (o->listed ? FL_ACTION_REJECT : FL_ACTION_ACCEPT),
                  "%s: action %s", row->label, fl_action_name(o->result.action));
    fl_buf_free(&d);
    fl_dnsbl_free(&bl);
    dnsbl_env_close(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dnsbl");
    TCase *tc = tcase_create("syntax");
    tcase_add_loop_test(tc, entries_parse_or_say_what_is_wrong, 0,
                        (int)NELEMS(spec_rows));
    tcase_add_loop_test(tc, filters_match_like_postscreen, 0, (int)NELEMS(filter_rows));
    tcase_add_test(tc, query_names_and_identities);
    tcase_add_test(tc, config_errors_name_the_entry);
    suite_add_tcase(s, tc);
    tc = tcase_create("scoring");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, dnsbl_server_start, dnsbl_server_stop);
    tcase_add_loop_test(tc, scoring_table, 0, (int)NELEMS(score_rows));
    suite_add_tcase(s, tc);
    suite_add_tcase(s, dnsbl_dns_tcase());
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
