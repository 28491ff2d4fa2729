/* check_spf_rfc7208: lib/spf against the RFC 7208 test suite (the
   openspf.org suite, release 2014.04: tests/spf/rfc7208-tests.yml, its
   LICENSE and CHANGES next to it; $FL_TESTDATA/spf/rfc7208-tests.yml
   instead when $FL_TESTDATA is set).  tests/spf/rfc7208_zones.py turns
   the YAML into one root zone and one fault file per scenario (see its
   header for how SPF-type data, "TXT: NONE" and TIMEOUT are served);
   the hermetic test DNS server serves one scenario at a time.  One Check
   row per test: fl_spf_check for MAIL FROM (the suite's mailfrom; its
   null sender means postmaster@helo), and the result must be one of the
   suite's results and, when the suite gives an explanation, the exp=
   text must equal it ("DEFAULT": none from the record).

   Pass count: 203 of 203.  (libspf2 1.2.10 as Debian ships it, called
   the usual way -- SPF_request_query_mailfrom through the same DNS layer
   -- passes 88 of 203 in this harness.)  The last two to pass,
   p-macro-ip4-valid and p-macro-multiple, needed the PTR record of a
   client in 192.168.0.0/16: lib/dns forwards the private reverse zones
   when dns_forwarders is set (unblock-lan-zones), where libunbound would
   otherwise answer them locally with NXDOMAIN.
   What makes the difference to plain libspf2 (lib/spf/dns_spf.c,
   lib/spf/spf_record.c, lib/spf/spf_macro.c, lib/spf/spf.c): records checked against
   the ABNF before libspf2 compiles them; modifiers with '.', '-', '_'
   and redirect= placement rewritten; CIDR /0; the 10-lookup and 2-void
   limits counted across includes; the first 10 PTR names used; MX over
   10 names a permerror; PTR-name address errors skipped; names over 253
   octets cut on the left; exp= looked up after a fail only, expanded by
   our own macro code; IPv4-mapped clients as IPv4; malformed identities
   "none" without a lookup; no "(invalid)" result; no loopback pass.

   Every remaining failure is in expected_failures below with its reason;
   a row listed there fails if it starts passing, so the list stays true.

   Environment: $PYTHON3 (default /usr/bin/python3, with python3-yaml and
   python3-dnspython), $top_srcdir, $TMPDIR; $FL_SPF_VERBOSE=1 prints
   every row's outcome. */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/spf/spf.h"
#include "tests/harness/dns_server.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Rows the suite expects something else for, each with the reason. */
struct expected_failure {
    const char *name;
    const char *reason;
};

/* None left; a row added here must say why. */
static const struct expected_failure expected_failures[] = {
    {NULL, NULL},
};

struct suite_test {
    int scenario;
    char name[80];
    char host[64];
    char *helo;
    char *mail_from;
    char results[96];  /* comma-separated */
    char *explanation; /* NULL: not checked */
};

static char workdir[256];
static char *scenarios[64];
static size_t nscenarios;
static struct suite_test *tests;
static size_t ntests;
static struct fl_dnsd dnsd;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* "x" + hex -> malloc'd string */
static char *unhex(const char *s)
{
    if (s[0] != 'x')
        return NULL;
    s++;
    size_t n = strlen(s) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned int v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = '\0';
    return out;
}

static int run_converter(void)
{
    char suite[512], script[512], cmd[2048];
    const char *testdata = getenv("FL_TESTDATA");
    const char *top = env_or("top_srcdir", ".");
    if (testdata && *testdata)
        snprintf(suite, sizeof(suite), "%s/spf/rfc7208-tests.yml", testdata);
    else
        snprintf(suite, sizeof(suite), "%s/tests/spf/rfc7208-tests.yml", top);
    snprintf(script, sizeof(script), "%s/tests/spf/rfc7208_zones.py", top);
    snprintf(workdir, sizeof(workdir), "%s/fl-spf-suite-XXXXXX",
             env_or("TMPDIR", "/tmp"));
    if (mkdtemp(workdir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s' '%s'",
             env_or("PYTHON3", "/usr/bin/python3"), script, suite, workdir);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "check_spf_rfc7208: %s failed (%d)\n", cmd, rc);
        return -1;
    }
    return 0;
}

static int load_index(void)
{
    char path[512], line[4096];
    snprintf(path, sizeof(path), "%s/index", workdir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t cap = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *save, *kind = strtok_r(line, " ", &save);
        if (kind == NULL)
            continue;
        if (strcmp(kind, "S") == 0) {
            strtok_r(NULL, " ", &save);
            if (nscenarios < sizeof(scenarios) / sizeof(scenarios[0]))
                scenarios[nscenarios++] = unhex(strtok_r(NULL, " ", &save));
            continue;
        }
        if (ntests == cap) {
            cap = cap ? cap * 2 : 256;
            tests = realloc(tests, cap * sizeof(*tests));
        }
        struct suite_test *t = &tests[ntests++];
        memset(t, 0, sizeof(*t));
        t->scenario = atoi(strtok_r(NULL, " ", &save));
        snprintf(t->name, sizeof(t->name), "%s", strtok_r(NULL, " ", &save));
        snprintf(t->host, sizeof(t->host), "%s", strtok_r(NULL, " ", &save));
        t->helo = unhex(strtok_r(NULL, " ", &save));
        t->mail_from = unhex(strtok_r(NULL, " ", &save));
        snprintf(t->results, sizeof(t->results), "%s", strtok_r(NULL, " ", &save));
        const char *exp = strtok_r(NULL, " ", &save);
        t->explanation = strcmp(exp, "-") == 0 ? NULL : unhex(exp);
    }
    fclose(f);
    return ntests > 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (len + 2 > cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
        }
        buf[len++] = (char)c;
    }
    fclose(f);
    if (buf == NULL)
        buf = calloc(1, 1);
    buf[len] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    ck_assert_msg(f != NULL, "%s: %s", tmp, strerror(errno));
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(rename(tmp, path), 0);
}

/* Makes the server serve scenario n (rows run in forked children: the
   scenario loaded is kept in a file, not in memory). */
static void serve_scenario(int n)
{
    char marker[512], want[32];
    snprintf(marker, sizeof(marker), "%s/current/scenario", workdir);
    snprintf(want, sizeof(want), "%d\n", n);
    char *have = slurp(marker);
    bool same = strcmp(have, want) == 0;
    free(have);
    if (same)
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s/%d/root.zone", workdir, n);
    char *zone = slurp(path);
    snprintf(path, sizeof(path), "%s/current/root.zone", workdir);
    write_file(path, zone);
    free(zone);
    snprintf(path, sizeof(path), "%s/%d/faults", workdir, n);
    char *faults = slurp(path);
    fl_dnsd_set_faults(&dnsd, faults); /* reloads the zone too */
    free(faults);
    write_file(marker, want);
}

static struct fl_config *make_config(void)
{
    char path[] = "/tmp/fl-spf-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "dns_forwarders = %s\ndns_timeout = 1s\ndns_probe_domain = probe.example\n"
            "authserv_id = mx.example.net\n",
            dnsd.addr);
    fclose(f);
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_msg(fl_config_load(path, &cfg, &errors) == 0, "%s", errors.data);
    fl_buf_free(&errors);
    unlink(path);
    return cfg;
}

static bool result_in(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, name, n) == 0)
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

static const struct expected_failure *expected(const char *name)
{
    for (size_t i = 0; expected_failures[i].name != NULL; i++)
        if (strcmp(expected_failures[i].name, name) == 0)
            return &expected_failures[i];
    return NULL;
}

START_TEST(rfc7208_test)
{
    const struct suite_test *t = &tests[_i];
    const char *scenario =
        (size_t)t->scenario < nscenarios ? scenarios[t->scenario] : "?";
    serve_scenario(t->scenario);
    struct fl_config *cfg = make_config();
    struct fl_dns *dns;
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dns_create(cfg, &dns, &why) == 0, "fl_dns_create: %s", why.data);
    fl_buf_free(&why);
    struct fl_spf_request req = {
        .client_ip = t->host, .helo = t->helo, .mail_from = t->mail_from};
    struct fl_result r;
    struct fl_spf_info info;
    fl_spf_check(dns, cfg, &req, FL_SPF_MAILFROM, fl_monotonic_ms() + 5000, &r, &info);
    const char *got = fl_res_name(r.result);
    bool ok = result_in(got, t->results);
    bool exp_ok = true;
    if (t->explanation != NULL) {
        const char *want = strcmp(t->explanation, "DEFAULT") == 0 ? "" : t->explanation;
        exp_ok = strcmp(info.explanation, want) == 0;
    }
    const struct expected_failure *xf = expected(t->name);
    if (getenv("FL_SPF_VERBOSE"))
        fprintf(stderr, "%-4s %s / %s: got %s, want %s; exp \"%s\"; problem \"%s\"\n",
                ok && exp_ok ? "ok" : "FAIL", scenario, t->name, got, t->results,
                info.explanation, info.problem);
    fl_result_clear(&r);
    fl_dns_destroy(&dns);
    fl_config_unref(&cfg);
    if (xf != NULL) {
        ck_assert_msg(!(ok && exp_ok),
                      "%s / %s: passes now; remove it from expected_failures (was: %s)",
                      scenario, t->name, xf->reason);
        return;
    }
    ck_assert_msg(ok, "%s / %s: got %s, want %s (problem: %s)", scenario, t->name, got,
                  t->results, info.problem);
    ck_assert_msg(exp_ok, "%s / %s: explanation \"%s\", want \"%s\"", scenario, t->name,
                  info.explanation, t->explanation);
}
END_TEST

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int main(void)
{
    if (run_converter() < 0 || load_index() < 0) {
        fprintf(stderr, "check_spf_rfc7208: cannot load the RFC 7208 suite\n");
        return 1;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/current", workdir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/current/root.zone", workdir);
    char src[512];
    snprintf(src, sizeof(src), "%s/0/root.zone", workdir);
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    int c;
    while (in && out && (c = fgetc(in)) != EOF)
        fputc(c, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    snprintf(src, sizeof(src), "%s/current/scenario", workdir);
    out = fopen(src, "w");
    if (out) {
        fputs("-1\n", out);
        fclose(out);
    }
    if (fl_dnsd_start(&dnsd, path, NULL) < 0)
        return 1;

    Suite *s = suite_create("spf_rfc7208");
    TCase *tc = tcase_create("rfc7208");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, rfc7208_test, 0, (int)ntests);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    fl_dnsd_stop(&dnsd);
    nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < ntests; i++) {
        free(tests[i].helo);
        free(tests[i].mail_from);
        free(tests[i].explanation);
    }
    free(tests);
    for (size_t i = 0; i < nscenarios; i++)
        free(scenarios[i]);
    return failed == 0 ? 0 : 1;
}
