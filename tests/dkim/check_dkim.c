/* check_dkim: lib/dkim against a corpus signed at test time by an
   independent signer (dkimpy, tests/dkim/make_corpus.py) with keys made
   now, served by the hermetic test DNS server (tests/dns/fakedns.py):
   canonicalizations, algorithms, key sizes, key records, timestamps, l=,
   several signatures, tampered copies, line endings, 8-bit bodies, folded
   headers, empty bodies, the RFC 8463 appendix A example; then the key
   lookups running during the body, deadlines, resolver attribution,
   bounded memory on a large message and the per-message memory limit.

   The messages are fed as a milter gets them (header name and value
   without the leading space, folded lines joined by "\n"; body in
   chunks) unless a row says raw (whole fields, fl_dkim_header_field). */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dkim/dkim.h"
#include "lib/dns/dns.h"
#include "tests/dkim/corpus.h"
#include "tests/harness/dns_server.h"

#include <check.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char corpus[PATH_MAX]; /* temp dir of make_corpus.py */
static struct fl_dnsd dnsd;

/* Faults for the whole suite: they name keys no other row uses. */
static const char base_faults[] = /* */
    "flaky._domainkey.signer.example TXT servfail\n"
    "slow._domainkey.signer.example TXT drop\n"
    "delayed._domainkey.signer.example TXT delay 300\n"
    "s8192delayed._domainkey.signer.example TXT delay 300\n";

/* --- suite fixture: the corpus and its DNS server (in the parent) --------- */

/* Runs in main, before the tests fork: makes the corpus and starts the
   server every test of the "corpus" case asks. */
static int corpus_setup(void)
{
    if (fl_dkim_corpus_make(corpus, sizeof(corpus)) != 0)
        return -1;
    char zones[PATH_MAX + 64];
    fl_dkim_corpus_zones(corpus, zones, sizeof(zones));
    if (fl_dnsd_start(&dnsd, zones, base_faults) != 0) {
        fprintf(stderr, "check_dkim: the test DNS server did not start\n");
        return -1;
    }
    return 0;
}

static void corpus_teardown(void)
{
    fl_dnsd_stop(&dnsd);
    fl_dkim_corpus_remove(corpus);
}

/* --- per test: a configuration, a resolver and a DKIM context -------------- */

struct env {
    struct fl_config *cfg;
    struct fl_dns *dns;
    struct fl_dkim_ctx *ctx;
};

static struct env env_open(const struct fl_dnsd *d, const char *extra)
{
    char path[] = "/tmp/fl-dkim-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns_forwarders = %s\ndns_probe_domain = dns.example\n%s%s", d->addr,
            extra && strstr(extra, "dns_timeout") ? "" : "dns_timeout = 2s\n",
            extra ? extra : "");
    fclose(f);
    struct env e;
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_msg(fl_config_load(path, &e.cfg, &errors) == 0, "%s", errors.data);
    fl_buf_free(&errors);
    unlink(path);
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dns_create(e.cfg, &e.dns, &why) == 0, "fl_dns_create: %s", why.data);
    e.ctx = fl_dkim_ctx_create(e.dns, &why);
    ck_assert_msg(e.ctx != NULL, "fl_dkim_ctx_create: %s", why.data);
    fl_buf_free(&why);
    return e;
}

static void env_close(struct env *e)
{
    fl_dkim_ctx_destroy(&e->ctx);
    fl_dns_destroy(&e->dns);
    fl_config_unref(&e->cfg);
}

static char *read_msg(const char *name, size_t *len_r)
{
    char *data = fl_dkim_corpus_read(corpus, name, len_r);
    ck_assert_msg(data != NULL, "no corpus message %s", name);
    return data;
}

enum feed { MILTER, RAW };

/* Feeds the header fields (as libmilter passes them, or raw); returns the
   offset of the body. */
static size_t feed_headers(struct fl_dkim_verifier *v, const char *m, size_t len,
                           enum feed mode)
{
    size_t p = 0;
    while (p < len) {
        if (m[p] == '\n' || (m[p] == '\r' && p + 1 < len && m[p + 1] == '\n'))
            return p + (m[p] == '\r' ? 2 : 1); /* the blank line */
        size_t start = p, end;
        for (;;) { /* to the end of the field: a line not followed by WSP */
            const char *nl = memchr(m + p, '\n', len - p);
            end = nl ? (size_t)(nl - m) : len;
            p = nl ? end + 1 : len;
            if (p >= len || (m[p] != ' ' && m[p] != '\t'))
                break;
        }
        if (end > start && m[end - 1] == '\r')
            end--;
        if (mode == RAW) {
            fl_dkim_header_field(v, m + start, end - start);
            continue;
        }
        const char *colon = memchr(m + start, ':', end - start);
        ck_assert_msg(colon != NULL, "corpus header without colon");
        char *name = strndup(m + start, (size_t)(colon - (m + start)));
        const char *val = colon + 1;
        while (val < m + end && (*val == ' ' || *val == '\t'))
            val++;
        char *value = malloc((size_t)(m + end - val) + 1);
        size_t n = 0;
        for (const char *c = val; c < m + end; c++)
            if (!(*c == '\r' && c + 1 < m + end && c[1] == '\n'))
                value[n++] = *c; /* folds as "\n", as Postfix passes them */
        value[n] = '\0';
        fl_dkim_header(v, name, value);
        free(name);
        free(value);
    }
    return len;
}

static void feed_body(struct fl_dkim_verifier *v, const char *b, size_t len, size_t chunk)
{
    for (size_t off = 0; off < len; off += chunk)
        fl_dkim_body(v, (const unsigned char *)b + off,
                     len - off < chunk ? len - off : chunk);
}

/* --- the table --------------------------------------------------------------- */

struct row {
    const char *label;
    const char *msg;  /* tests/dkim corpus name */
    const char *conf; /* extra configuration, or NULL */
    enum feed mode;
    /* Per signature, top first, separated by " | ": "RESULT [REASON FAULT]". */
    const char *want;
};

#define SENDER(res, code) res " " code " sender"

/* clang-format off */
static const struct row rows[] = {
    {"rsa-sha256 with simple/simple canonicalization passes", "rsa_simple_simple", NULL, MILTER, "pass"},
    {"rsa-sha256 with simple/relaxed canonicalization passes", "rsa_simple_relaxed", NULL, MILTER, "pass"},
    {"rsa-sha256 with relaxed/simple canonicalization passes", "rsa_relaxed_simple", NULL, MILTER, "pass"},
    {"rsa-sha256 with relaxed/relaxed canonicalization passes", "rsa_relaxed_relaxed", NULL, MILTER, "pass"},
    {"whole fields fed raw verify like milter-style fields", "rsa_simple_simple", NULL, RAW, "pass"},
    {"ed25519-sha256 (RFC 8463) passes", "ed25519", NULL, MILTER, "pass"},
    {"the RFC 8463 appendix A example passes with both of its signatures", "rfc8463", NULL, MILTER, "pass | pass"},
    {"dkimpy signing with the RFC 8463 published key verifies", "rfc8463_dkimpy", NULL, MILTER, "pass"},
    {"a 1024-bit RSA key is long enough", "rsa1024", NULL, MILTER, "pass"},
    {"a 768-bit RSA key is too short (RFC 8301)", "rsa768", NULL, MILTER, SENDER("policy", "dkim.key_too_short")},
    {"a 512-bit RSA key is too short (RFC 8301)", "rsa512", NULL, MILTER, SENDER("policy", "dkim.key_too_short")},
    {"a 768-bit key passes where dkim_min_rsa_bits allows it", "rsa768", "dkim_min_rsa_bits = 768\n", MILTER, "pass"},
    {"a valid rsa-sha1 signature is policy by default (RFC 8301)", "rsa_sha1", NULL, MILTER, SENDER("policy", "dkim.algorithm_not_allowed")},
    {"a valid rsa-sha1 signature fails with dkim_rsa_sha1 = fail", "rsa_sha1", "dkim_rsa_sha1 = fail\n", MILTER, SENDER("fail", "dkim.algorithm_not_allowed")},
    {"a valid rsa-sha1 signature passes only with dkim_rsa_sha1 = pass", "rsa_sha1", "dkim_rsa_sha1 = pass\n", MILTER, "pass"},
    {"an unsigned message is dkim=none", "unsigned", NULL, MILTER, "none"},
    {"LF line endings (relaxed) verify like CRLF", "lf_relaxed", NULL, MILTER, "pass"},
    {"LF line endings (simple) verify like CRLF", "lf_simple", NULL, MILTER, "pass"},
    {"an 8-bit body with simple canonicalization passes", "8bit_simple", NULL, MILTER, "pass"},
    {"an 8-bit body with relaxed canonicalization passes", "8bit_relaxed", NULL, MILTER, "pass"},
    {"long folded To and Subject with simple canonicalization pass", "folded_simple", NULL, MILTER, "pass"},
    {"long folded To and Subject with relaxed canonicalization pass", "folded_relaxed", NULL, MILTER, "pass"},
    {"long folded headers fed raw pass", "folded_simple", NULL, RAW, "pass"},
    {"an empty body with simple canonicalization passes", "empty_body_simple", NULL, MILTER, "pass"},
    {"an empty body with relaxed canonicalization passes", "empty_body_relaxed", NULL, MILTER, "pass"},
    {"one body byte changed is a body hash mismatch", "tampered_body", NULL, MILTER, SENDER("fail", "dkim.body_hash_mismatch")},
    {"a signed header changed is a signature mismatch", "tampered_header", NULL, MILTER, SENDER("fail", "dkim.signature_mismatch")},
    {"a From added above a From signed once is policy", "from_added", NULL, MILTER, SENDER("policy", "dkim.from_added")},
    {"a From added above stays policy even with dkim_added_headers = accept", "from_added", "dkim_added_headers = accept\n", MILTER, SENDER("policy", "dkim.from_added")},
    {"a Subject added above a Subject signed once is policy", "subject_added", NULL, MILTER, SENDER("policy", "dkim.header_added")},
    {"a Subject added above passes with dkim_added_headers = accept", "subject_added", "dkim_added_headers = accept\n", MILTER, "pass"},
    {"unsigned trace headers added above do not matter", "unsigned_added", NULL, MILTER, "pass"},
    {"oversigned From and Subject pass", "oversigned", NULL, MILTER, "pass"},
    {"a From added above an oversigned From breaks the signature", "oversigned_from_added", NULL, MILTER, SENDER("fail", "dkim.signature_mismatch")},
    {"two signatures of two domains both pass", "two_domains", NULL, MILTER, "pass | pass"},
    {"one good and one broken signature are reported apart", "one_good_one_broken", NULL, MILTER, "pass | " SENDER("fail", "dkim.signature_mismatch")},
    {"signatures beyond dkim_max_signatures are policy", "three_signatures", "dkim_max_signatures = 2\n", MILTER, "pass | pass | policy dkim.too_many_signatures none"},
    {"three signatures within the default maximum all pass", "three_signatures", NULL, MILTER, "pass | pass | pass"},
    {"an expired signature (x=) is policy", "expired", NULL, MILTER, SENDER("policy", "dkim.expired")},
    {"a signature expired within the clock skew passes", "expired_within_skew", NULL, MILTER, "pass"},
    {"a signature expired a minute ago is policy with no clock skew", "expired_within_skew", "dkim_clock_skew = 0\n", MILTER, SENDER("policy", "dkim.expired")},
    {"a signature dated a day ahead (t=) is policy", "future", NULL, MILTER, SENDER("policy", "dkim.future")},
    {"a signature a minute ahead passes within the clock skew", "future_within_skew", NULL, MILTER, "pass"},
    {"a signature a minute ahead is policy with no clock skew", "future_within_skew", "dkim_clock_skew = 0\n", MILTER, SENDER("policy", "dkim.future")},
    {"l= covering the whole body passes", "length", NULL, MILTER, "pass"},
    {"l= with content appended is policy by default", "length_appended", NULL, MILTER, SENDER("policy", "dkim.body_length")},
    {"l= with content appended passes with dkim_body_length = accept", "length_appended", "dkim_body_length = accept\n", MILTER, "pass"},
    {"l= (simple) covering the whole body passes", "length_simple", NULL, MILTER, "pass"},
    {"l= (simple) with a line appended is policy", "length_simple_appended", NULL, MILTER, SENDER("policy", "dkim.body_length")},
    {"l= (simple) with only empty lines appended passes (they canonicalize away)", "length_simple_blank_lines", NULL, MILTER, "pass"},
    {"a body shorter than l= fails", "length_truncated", NULL, MILTER, SENDER("fail", "dkim.body_hash_mismatch")},
    {"a revoked key (empty p=) is permerror", "key_revoked", NULL, MILTER, SENDER("permerror", "dkim.key_revoked")},
    {"a key in testing mode (t=y) passes by default", "key_testing", NULL, MILTER, "pass"},
    {"a key in testing mode is policy with dkim_testing_keys = policy", "key_testing", "dkim_testing_keys = policy\n", MILTER, SENDER("policy", "dkim.testing_key")},
    {"a key for another service only (s=tlsrpt) is permerror (RFC 6376 3.6.1)", "key_tlsonly", NULL, MILTER, SENDER("permerror", "dkim.key_not_for_email")},
    {"a key allowing only sha1 (h=sha1) cannot verify rsa-sha256: permerror (6.1.2)", "key_sha1only", NULL, MILTER, SENDER("permerror", "dkim.key_hash_not_allowed")},
    {"a key's h= refuses a second signature libopendkim verifies with the key it already has", "key_sha1only_two_signatures", "dkim_rsa_sha1 = pass\n", MILTER, "pass | " SENDER("permerror", "dkim.key_hash_not_allowed")},
    {"a t=s key refuses an i= below d=: permerror (3.6.1)", "key_strict_subdomain", NULL, MILTER, SENDER("permerror", "dkim.key_subdomain")},
    {"a t=s key accepts an i= in d=", "key_strict_same", NULL, MILTER, "pass"},
    {"a key that is not base64 is a key syntax error", "key_badkey", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"a key of an unknown type (k=foo) is an inappropriate key algorithm (6.1.2)", "key_unknownk", NULL, MILTER, SENDER("permerror", "dkim.key_algorithm")},
    {"no key record (NXDOMAIN) is key not found", "key_missing", NULL, MILTER, SENDER("permerror", "dkim.key_missing")},
    {"a key name without TXT (NODATA) is key not found", "key_nodata", NULL, MILTER, SENDER("permerror", "dkim.key_missing")},
    {"of two TXT records the one that says v=DKIM1 is used", "key_twokeys", NULL, MILTER, "pass"},
    {"a SERVFAIL for the key while our resolver works is the sender's temperror", "key_flaky", NULL, MILTER, "temperror dkim.key_dns_error sender"},
    {"a signature whose h= leaves out From is permerror (RFC 6376 5.4, 6.1.1)", "from_not_signed", NULL, MILTER, SENDER("permerror", "dkim.from_not_signed")},
    {"an unknown algorithm (rsa-sha512) is permerror", "unknown_algorithm", NULL, MILTER, SENDER("permerror", "dkim.algorithm_unknown")},
    {"an i= outside d= is a signature syntax error", "identity_outside", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"an unparsable tag list is a signature syntax error", "garbage_tag_list", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    /* RFC 6376 3.2 / 3.6.1: the key record's tag-list, strictly */
    {"a '*' inside p= is a key syntax error (libopendkim skipped it and passed)", "key_star", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"k= twice invalidates the key record (3.2)", "key_dupk", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"p= twice invalidates the key record (3.2)", "key_dupp", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"p= that is not whole base64 quanta is a key syntax error", "key_badpad", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"a key record without p= is a key syntax error", "key_nop", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"an empty tag-spec (;;) is a key syntax error", "key_emptyspec", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"a tag name starting with a digit is a key syntax error", "key_badname", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"v= not first in the key record is a key syntax error", "key_vnotfirst", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"v=DKIM2 in the key record is a key syntax error", "key_vother", NULL, MILTER, SENDER("permerror", "dkim.key_syntax")},
    {"a key whose h= lists only an unknown hash refuses rsa-sha256", "key_hunknown", NULL, MILTER, SENDER("permerror", "dkim.key_hash_not_allowed")},
    {"an ed25519 key (k=ed25519) cannot verify rsa-sha256", "key_edforrsa", NULL, MILTER, SENDER("permerror", "dkim.key_algorithm")},
    {"base64 with FWS inside p= passes", "key_fwsp", NULL, MILTER, "pass"},
    {"unknown key tags (n=, foo=, x_1=) are ignored", "key_unknowntags", NULL, MILTER, "pass"},
    {"k= absent means rsa", "key_nok", NULL, MILTER, "pass"},
    {"a key record of p= alone passes (v= and k= are optional)", "key_bare", NULL, MILTER, "pass"},
    {"an unknown hash beside sha256 in the key's h= is ignored", "key_hextra", NULL, MILTER, "pass"},
    {"an unknown service beside email in the key's s= is ignored", "key_sextra", NULL, MILTER, "pass"},
    {"an unknown key flag (t=q) is ignored", "key_tunknown", NULL, MILTER, "pass"},
    {"a trailing \"; \" after the key record's last tag is accepted", "key_trailing", NULL, MILTER, "pass"},
    /* RFC 6376 3.2 / 3.5: the DKIM-Signature tag-list, strictly */
    {"unknown signature tags are ignored", "sig_unknown_tags", NULL, MILTER, "pass"},
    {"a=RSA-SHA256 in capitals", "sig_alg_capitals", NULL, MILTER, "pass"},
    {"q= with an unknown method before dns/txt passes", "sig_q_two_methods", NULL, MILTER, "pass"},
    {"a tag twice invalidates the signature (3.2)", "sig_duplicate_tag", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"a tag name starting with '_' is a signature syntax error", "sig_bad_tag_name", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"q= naming no known method is a signature error", "sig_q_unknown", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"v=2 is an incompatible version", "sig_version_2", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"a signature without v= lacks a required tag", "sig_no_version", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"d= that is not a domain name is a signature syntax error", "sig_bad_domain", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"l= that is not digits is a signature syntax error", "sig_bad_length", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"x= not after t= is a signature syntax error (3.5)", "sig_x_not_after_t", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    {"a '*' inside b= is a signature syntax error", "sig_b_not_base64", NULL, MILTER, SENDER("permerror", "dkim.signature_syntax")},
    /* large keys */
    {"an RSA-8192 key (a 1.4 kB key record) passes", "rsa8192", NULL, MILTER, "pass"},
    {"an RSA-8192 signature over a changed body fails", "rsa8192_tampered", NULL, MILTER, SENDER("fail", "dkim.body_hash_mismatch")},
    {"a 4,096-byte key record (RSA-2048 and notes) is answered whole and passes", "key_long2048", NULL, MILTER, "pass"},
    {"a 4,096-byte key record (RSA-8192 and notes) is answered whole and passes", "key_long8192", NULL, MILTER, "pass"},
    {"RSA-8192 with simple/simple canonicalization passes", "rsa8192_simple_simple", NULL, MILTER, "pass"},
    {"RSA-8192 with simple/relaxed canonicalization passes", "rsa8192_simple_relaxed", NULL, MILTER, "pass"},
    {"RSA-8192 with relaxed/simple canonicalization passes", "rsa8192_relaxed_simple", NULL, MILTER, "pass"},
    {"RSA-8192 with relaxed/relaxed canonicalization passes", "rsa8192_relaxed_relaxed", NULL, MILTER, "pass"},
    {"RSA-8192 with whole fields fed raw passes", "rsa8192_simple_simple", NULL, RAW, "pass"},
    {"RSA-8192 with a signed header changed is a signature mismatch", "rsa8192_tampered_header", NULL, MILTER, SENDER("fail", "dkim.signature_mismatch")},
    {"RSA-8192 with LF line endings (simple) passes", "rsa8192_lf", NULL, MILTER, "pass"},
    {"RSA-8192 with long folded headers (simple) passes", "rsa8192_folded", NULL, MILTER, "pass"},
    {"RSA-8192 with long folded headers fed raw passes", "rsa8192_folded", NULL, RAW, "pass"},
    {"RSA-8192 with oversigned From and Subject passes", "rsa8192_oversigned", NULL, MILTER, "pass"},
    {"RSA-8192: a From added above an oversigned From breaks the signature", "rsa8192_from_added", NULL, MILTER, SENDER("fail", "dkim.signature_mismatch")},
    {"RSA-8192 with l= covering the body passes", "rsa8192_length", NULL, MILTER, "pass"},
    {"RSA-8192 with l= and a line appended is policy", "rsa8192_length_appended", NULL, MILTER, SENDER("policy", "dkim.body_length")},
    {"RSA-8192 with l= and a line appended passes with dkim_body_length = accept", "rsa8192_length_appended", "dkim_body_length = accept\n", MILTER, "pass"},
    {"RSA-8192 over an empty body (simple) passes", "rsa8192_empty_body", NULL, MILTER, "pass"},
    {"RSA-8192 with rsa-sha1 is policy (RFC 8301)", "rsa8192_sha1", NULL, MILTER, SENDER("policy", "dkim.algorithm_not_allowed")},
    {"RSA-8192 with rsa-sha1 passes with dkim_rsa_sha1 = pass", "rsa8192_sha1", "dkim_rsa_sha1 = pass\n", MILTER, "pass"},
};
/* clang-format on */

/* Splits want into at most 8 entries of result, reason code, fault. */
struct want {
    char res[16], code[64], fault[16];
};

static size_t parse_want(const char *text, struct want *w, size_t max)
{
    size_t n = 0;
    char *copy = strdup(text), *save = NULL;
    for (char *tok = strtok_r(copy, "|", &save); tok != NULL && n < max;
         tok = strtok_r(NULL, "|", &save), n++) {
        memset(&w[n], 0, sizeof(w[n]));
        int k = sscanf(tok, " %15s %63s %15s", w[n].res, w[n].code, w[n].fault);
        ck_assert(k == 1 || k == 3);
        if (k == 1)
            snprintf(w[n].fault, sizeof(w[n].fault), "none");
    }
    free(copy);
    return n;
}

static void check_results(const char *label, const struct fl_result *r, size_t n,
                          const char *want_text)
{
    struct want w[8];
    size_t nw = parse_want(want_text, w, 8);
    ck_assert_msg(n == nw, "%s: got %zu results, want %zu (%s)", label, n, nw, want_text);
    for (size_t i = 0; i < n; i++) {
        const char *code = r[i].reason_code ? r[i].reason_code : "";
        ck_assert_msg(strcmp(fl_res_name(r[i].result), w[i].res) == 0 &&
                          strcmp(code, w[i].code) == 0 &&
                          strcmp(fl_fault_name(r[i].fault), w[i].fault) == 0,
                      "%s: signature %zu: got %s %s %s (%s), want %s %s %s", label, i + 1,
                      fl_res_name(r[i].result), code, fl_fault_name(r[i].fault),
                      r[i].detail ? r[i].detail : "", w[i].res, w[i].code, w[i].fault);
        ck_assert_msg(strcmp(r[i].method, "dkim") == 0, "%s: method %s", label,
                      r[i].method);
        /* RFC 8601: a reason on anything but pass (and none). */
        bool plain = r[i].result == FL_RES_PASS || r[i].result == FL_RES_NONE;
        ck_assert_msg(plain == (r[i].reason == NULL), "%s: reason %s", label,
                      r[i].reason ? r[i].reason : "(none)");
    }
}

static void verify_file(struct env *e, const char *name, enum feed mode, size_t chunk,
                        struct fl_dkim_verifier **v_r)
{
    size_t len;
    char *m = read_msg(name, &len);
    struct fl_dkim_verifier *v = fl_dkim_new(e->ctx, e->cfg, fl_monotonic_ms() + 10000);
    size_t body = feed_headers(v, m, len, mode);
    fl_dkim_eoh(v);
    feed_body(v, m + body, len - body, chunk);
    free(m);
    *v_r = v;
}

START_TEST(corpus_rows)
{
    const struct row *row = &rows[_i];
    struct env e = env_open(&dnsd, row->conf);
    struct fl_dkim_verifier *v;
    verify_file(&e, row->msg, row->mode, 64 * 1024, &v);
    const struct fl_result *r;
    size_t n;
    ck_assert_msg(fl_dkim_eom(v, &r, &n) == 0, "%s: fl_dkim_eom failed", row->label);
    check_results(row->label, r, n, row->want);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

/* --- beyond the table ---------------------------------------------------------- */

static const char *prop(const struct fl_result *r, const char *ptype,
                        const char *property)
{
    for (size_t i = 0; i < r->nprops; i++)
        if (strcmp(r->props[i].ptype, ptype) == 0 &&
            strcmp(r->props[i].property, property) == 0)
            return r->props[i].value;
    return NULL;
}

START_TEST(each_signature_names_itself_for_ar_and_dmarc)
{
    struct env e = env_open(&dnsd, NULL);
    struct fl_dkim_verifier *v;
    verify_file(&e, "rfc8463", MILTER, 4096, &v);
    const struct fl_result *r;
    size_t n;
    ck_assert(fl_dkim_eom(v, &r, &n) == 0 && n == 2);
    static const struct {
        const char *d, *i, *s, *a, *b;
    } want[2] = {
        {"football.example.com", "@football.example.com", "brisbane", "ed25519-sha256",
         "/gCrinpc"},
        {"football.example.com", "@football.example.com", "test", "rsa-sha256",
         "F45dVWDf"},
    };
    for (size_t k = 0; k < 2; k++) {
        const char *got[5] = {prop(&r[k], "header", "d"), prop(&r[k], "header", "i"),
                              prop(&r[k], "header", "s"), prop(&r[k], "header", "a"),
                              prop(&r[k], "header", "b")};
        const char *exp[5] = {want[k].d, want[k].i, want[k].s, want[k].a, want[k].b};
        const char *names[5] = {"header.d", "header.i", "header.s", "header.a",
                                "header.b"};
        for (int j = 0; j < 5; j++)
            ck_assert_msg(got[j] != NULL && strcmp(got[j], exp[j]) == 0,
                          "signature %zu: %s got %s, want %s", k + 1, names[j],
                          got[j] ? got[j] : "(none)", exp[j]);
    }
    const struct fl_dkim_signature *sigs;
    ck_assert_uint_eq(fl_dkim_signatures(v, &sigs), 2);
    ck_assert_str_eq(sigs[1].selector, "test");
    ck_assert_str_eq(sigs[0].domain, "football.example.com");
    ck_assert(sigs[0].passed && sigs[1].passed && sigs[1].r == &r[1]);
    /* A second call gives the same results. */
    const struct fl_result *r2;
    size_t n2;
    ck_assert(fl_dkim_eom(v, &r2, &n2) == 0 && r2 == r && n2 == 2);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(dmarc_sees_which_signature_passed)
{
    struct env e = env_open(&dnsd, NULL);
    struct fl_dkim_verifier *v;
    verify_file(&e, "one_good_one_broken", MILTER, 4096, &v);
    const struct fl_result *r;
    size_t n;
    fl_dkim_eom(v, &r, &n);
    const struct fl_dkim_signature *sigs;
    ck_assert_uint_eq(fl_dkim_signatures(v, &sigs), 2);
    ck_assert(sigs[0].passed && strcmp(sigs[0].selector, "s2048") == 0);
    ck_assert(!sigs[1].passed && sigs[1].result == FL_RES_FAIL &&
              strcmp(sigs[1].selector, "ed") == 0 &&
              strcmp(sigs[1].domain, "signer.example") == 0);
    ck_assert(prop(&r[1], "header", "b") != NULL &&
              strlen(prop(&r[1], "header", "b")) >= 8);
    fl_dkim_free(&v);
    /* An unsigned message has no signatures for DMARC. */
    verify_file(&e, "unsigned", MILTER, 4096, &v);
    fl_dkim_eom(v, &r, &n);
    ck_assert_uint_eq(fl_dkim_signatures(v, &sigs), 0);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(a_signature_beyond_the_maximum_is_named_but_never_looked_up)
{
    struct env e = env_open(&dnsd, "dkim_max_signatures = 2\n");
    int before = fl_dnsd_count(&dnsd, "s2048._domainkey.signer.example", "TXT");
    struct fl_dkim_verifier *v;
    verify_file(&e, "three_signatures", MILTER, 4096, &v);
    const struct fl_result *r;
    size_t n;
    ck_assert(fl_dkim_eom(v, &r, &n) == 0 && n == 3);
    ck_assert_str_eq(prop(&r[2], "header", "d"), "signer.example");
    ck_assert_str_eq(prop(&r[2], "header", "s"), "s2048");
    ck_assert_str_eq(prop(&r[2], "header", "i"), "@signer.example");
    ck_assert_str_eq(prop(&r[2], "header", "a"), "rsa-sha256");
    ck_assert_uint_eq(strlen(prop(&r[2], "header", "b")), 8);
    ck_assert_int_eq(fl_dnsd_count(&dnsd, "s2048._domainkey.signer.example", "TXT"),
                     before);
    const struct fl_dkim_signature *sigs;
    ck_assert_uint_eq(fl_dkim_signatures(v, &sigs), 3);
    ck_assert(!sigs[2].passed && strcmp(sigs[2].selector, "s2048") == 0);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(key_lookups_start_at_eoh_and_run_during_the_body)
{
    struct env e = env_open(&dnsd, "dns_timeout = 5s\n");
    size_t len;
    char *m = read_msg("key_delayed", &len);
    int before = fl_dnsd_count(&dnsd, "delayed._domainkey.signer.example", "TXT");
    struct fl_dkim_verifier *v = fl_dkim_new(e.ctx, e.cfg, fl_monotonic_ms() + 10000);
    size_t body = feed_headers(v, m, len, MILTER);
    long long t0 = fl_monotonic_ms();
    ck_assert_int_eq(fl_dkim_eoh(v), 1);
    long long eoh_ms = fl_monotonic_ms() - t0;
    ck_assert_msg(eoh_ms < 200, "fl_dkim_eoh waited %lld ms for DNS", eoh_ms);
    /* The query reaches the server while the body is still to come. */
    int sent = 0;
    for (int i = 0; i < 50 && !sent; i++) {
        sent = fl_dnsd_count(&dnsd, "delayed._domainkey.signer.example", "TXT") > before;
        if (!sent)
            usleep(10000);
    }
    ck_assert_msg(sent, "no key query was sent at end-of-headers");
    /* A slow body transfer: the key answer, 300 ms late, arrives meanwhile. */
    feed_body(v, m + body, (len - body) / 2, 1024);
    usleep(2000 * 1000);
    feed_body(v, m + body + (len - body) / 2, len - body - (len - body) / 2, 1024);
    t0 = fl_monotonic_ms();
    const struct fl_result *r;
    size_t n;
    fl_dkim_eom(v, &r, &n);
    long long eom_ms = fl_monotonic_ms() - t0;
    check_results("delayed key", r, n, "pass");
    ck_assert_msg(eom_ms < 300,
                  "fl_dkim_eom waited %lld ms: the lookup did not overlap the body",
                  eom_ms);
    free(m);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

/* A key too long for libopendkim that is answered while the body
   streams: our own body hash goes on (lib/dkim/dkim_canon.c) and verifies. */
START_TEST(a_long_key_answered_during_the_body_still_verifies)
{
    struct env e = env_open(&dnsd, "dns_timeout = 5s\n");
    size_t len;
    char *m = read_msg("rsa8192_delayed", &len);
    struct fl_dkim_verifier *v = fl_dkim_new(e.ctx, e.cfg, fl_monotonic_ms() + 10000);
    size_t body = feed_headers(v, m, len, MILTER);
    ck_assert_int_eq(fl_dkim_eoh(v), 1);
    feed_body(v, m + body, (len - body) / 2, 16);
    usleep(1000 * 1000); /* the answer (300 ms late) arrives meanwhile */
    feed_body(v, m + body + (len - body) / 2, len - body - (len - body) / 2, 16);
    const struct fl_result *r;
    size_t n;
    fl_dkim_eom(v, &r, &n);
    check_results("long key answered during the body", r, n, "pass");
    free(m);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(an_unanswered_key_lookup_ends_at_dns_timeout_as_the_senders_temperror)
{
    struct env e = env_open(&dnsd, "dns_timeout = 500ms\n");
    long long t0 = fl_monotonic_ms();
    struct fl_dkim_verifier *v;
    verify_file(&e, "key_slow", MILTER, 4096, &v);
    const struct fl_result *r;
    size_t n;
    fl_dkim_eom(v, &r, &n);
    long long ms = fl_monotonic_ms() - t0;
    check_results("dropped key query", r, n, "temperror dkim.key_dns_error sender");
    ck_assert(r[0].transient);
    ck_assert_msg(ms < 2500, "took %lld ms", ms);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(the_message_deadline_bounds_the_wait_and_counts_as_ours)
{
    struct env e = env_open(&dnsd, "dns_timeout = 10s\n");
    size_t len;
    char *m = read_msg("key_slow", &len);
    long long t0 = fl_monotonic_ms();
    struct fl_dkim_verifier *v = fl_dkim_new(e.ctx, e.cfg, t0 + 700);
    size_t body = feed_headers(v, m, len, MILTER);
    fl_dkim_eoh(v);
    feed_body(v, m + body, len - body, 4096);
    const struct fl_result *r;
    size_t n;
    fl_dkim_eom(v, &r, &n);
    long long ms = fl_monotonic_ms() - t0;
    check_results("deadline", r, n, "temperror dkim.key_dns_error receiver");
    ck_assert_msg(ms >= 600 && ms < 1500, "took %lld ms for a 700 ms deadline", ms);
    free(m);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(a_large_message_in_64k_chunks_verifies_in_bounded_memory)
{
    struct env e = env_open(&dnsd, NULL);
    struct fl_dkim_verifier *v;
    verify_file(&e, "large", MILTER, 64 * 1024, &v);
    const struct fl_result *r;
    size_t n;
    ck_assert(fl_dkim_eom(v, &r, &n) == 0);
    check_results("6 MiB body", r, n, "pass");
    size_t now, peak;
    fl_dkim_memory(v, &now, &peak);
    ck_assert_msg(peak > 0 && peak < 256 * 1024,
                  "libopendkim held %zu bytes at most for a 6 MiB message", peak);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(headers_over_the_memory_limit_are_our_temperror)
{
    struct env e = env_open(&dnsd, "message_memory_limit = 64k\n");
    struct fl_dkim_verifier *v = fl_dkim_new(e.ctx, e.cfg, fl_monotonic_ms() + 5000);
    size_t len;
    char *m = read_msg("rsa_relaxed_relaxed", &len);
    char *big = malloc(100 * 1024);
    memset(big, 'x', 100 * 1024 - 1);
    big[100 * 1024 - 1] = '\0';
    int rc = fl_dkim_header(v, "X-Huge", big);
    size_t body = feed_headers(v, m, len, MILTER);
    fl_dkim_eoh(v);
    feed_body(v, m + body, len - body, 4096);
    const struct fl_result *r;
    size_t n;
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(fl_dkim_eom(v, &r, &n), -1);
    check_results("over budget", r, n, "temperror internal.over_budget receiver");
    free(big);
    free(m);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

START_TEST(freeing_before_eom_cancels_the_lookups)
{
    struct env e = env_open(&dnsd, NULL);
    size_t len;
    char *m = read_msg("key_delayed", &len);
    struct fl_dkim_verifier *v = fl_dkim_new(e.ctx, e.cfg, fl_monotonic_ms() + 5000);
    feed_headers(v, m, len, MILTER);
    ck_assert_int_eq(fl_dkim_eoh(v), 1);
    fl_dkim_free(&v); /* the MTA aborted the transaction */
    ck_assert(v == NULL);
    fl_dkim_free(&v);
    free(m);
    env_close(&e);
}
END_TEST

START_TEST(reject_only_when_asked_and_never_for_temperror)
{
    struct env e = env_open(&dnsd, "dkim_fail_action = reject\n");
    static const struct {
        const char *msg;
        enum fl_action want;
    } cases[] = {
        {"tampered_body", FL_ACTION_REJECT},       {"key_missing", FL_ACTION_REJECT},
        {"key_flaky", FL_ACTION_ACCEPT},           {"unsigned", FL_ACTION_ACCEPT},
        {"one_good_one_broken", FL_ACTION_ACCEPT}, /* one passed */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct fl_dkim_verifier *v;
        verify_file(&e, cases[k].msg, MILTER, 4096, &v);
        const struct fl_result *r;
        size_t n;
        fl_dkim_eom(v, &r, &n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(r[i].action == cases[k].want, "%s: got action %s, want %s",
                          cases[k].msg, fl_action_name(r[i].action),
                          fl_action_name(cases[k].want));
        fl_dkim_free(&v);
    }
    env_close(&e);
    /* By default a DKIM failure alone never rejects: DMARC decides. */
    e = env_open(&dnsd, NULL);
    struct fl_dkim_verifier *v;
    verify_file(&e, "tampered_body", MILTER, 4096, &v);
    const struct fl_result *r;
    size_t n;
    fl_dkim_eom(v, &r, &n);
    ck_assert(r[0].action == FL_ACTION_ACCEPT);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

/* The AR reason names the tag at fault, or the policy and its rule. */
START_TEST(reasons_name_the_tag_or_the_policy)
{
    static const struct {
        const char *msg, *want[2];
    } cases[] = {
        {"key_star", {"p=", "'*'"}},
        {"key_dupk", {"duplicate tag k=", NULL}},
        {"key_dupp", {"duplicate tag p=", NULL}},
        {"key_vnotfirst", {"v=", "first"}},
        {"key_nop", {"p=", "missing"}},
        {"key_badname", {"'9'", NULL}},
        {"key_sha1only", {"h=", "sha256"}},
        {"key_strict_subdomain", {"t=s", NULL}},
        {"key_tlsonly", {"s=", NULL}},
        {"key_edforrsa", {"k=ed25519", "a=rsa-sha256"}},
        {"sig_duplicate_tag", {"duplicate tag d=", NULL}},
        {"sig_q_unknown", {"q=", NULL}},
        {"sig_no_version", {"v=", "missing"}},
        {"sig_b_not_base64", {"b=", "'*'"}},
        {"sig_x_not_after_t", {"x=", "t="}},
        {"from_not_signed", {"h=", "From"}},
        {"rsa_sha1", {"RFC 8301", NULL}},
        {"rsa768", {"RFC 8301", NULL}},
        {"expired", {"x=", "local clock policy"}},
        {"length_appended", {"l=", "local policy"}},
    };
    struct env e = env_open(&dnsd, NULL);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct fl_dkim_verifier *v;
        verify_file(&e, cases[k].msg, MILTER, 4096, &v);
        const struct fl_result *r;
        size_t n;
        fl_dkim_eom(v, &r, &n);
        ck_assert_uint_eq(n, 1);
        for (int j = 0; j < 2 && cases[k].want[j] != NULL; j++)
            ck_assert_msg(r[0].reason != NULL && strstr(r[0].reason, cases[k].want[j]),
                          "%s: reason \"%s\" does not say %s", cases[k].msg,
                          r[0].reason ? r[0].reason : "(none)", cases[k].want[j]);
        fl_dkim_free(&v);
    }
    env_close(&e);
}
END_TEST

/* The table of outcomes is what faultline(8) documents, row for row; and
   the corpus rows above use its result words. */
START_TEST(the_outcome_table_is_the_manual)
{
    const char *src = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/milter/faultline.8", src);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char man[256 * 1024];
    size_t len = fread(man, 1, sizeof(man) - 1, f);
    man[len] = '\0';
    fclose(f);
    size_t n;
    const struct fl_dkim_outcome *o = fl_dkim_outcomes(&n);
    ck_assert_uint_ge(n, 20);
    for (size_t i = 0; i < n; i++) {
        char entry[1024];
        snprintf(entry, sizeof(entry), "\n.B %s\n%s (fault=%s), reason \"%s\": %s\n",
                 o[i].code, fl_res_name(o[i].result), fl_fault_name(o[i].fault),
                 o[i].reason, o[i].basis);
        ck_assert_msg(strstr(man, entry) != NULL, "faultline.8 lacks or differs for:%s",
                      entry);
    }
    /* and no entry the table lacks */
    size_t entries = 0;
    for (const char *p = man; (p = strstr(p, "\n.TP\n.B ")) != NULL; p++)
        if (strncmp(p + 8, "dkim.", 5) == 0 || strncmp(p + 8, "internal.", 9) == 0)
            entries++;
    ck_assert_msg(entries == n, "faultline.8 has %zu DKIM result entries, the table %zu",
                  entries, n);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct want w[8];
        size_t nw = parse_want(rows[i].want, w, 8);
        for (size_t j = 0; j < nw; j++) {
            if (w[j].code[0] == '\0')
                continue;
            bool found = false;
            for (size_t k = 0; k < n && !found; k++)
                found = strcmp(o[k].code, w[j].code) == 0;
            ck_assert_msg(found, "%s: %s is not in the table", rows[i].label, w[j].code);
        }
    }
}
END_TEST

/* --- our resolver down: a server of its own that fails everything -------------- */

static struct fl_dnsd down;

static void down_setup(void)
{
    char zones[PATH_MAX + 64];
    fl_dkim_corpus_zones(corpus, zones, sizeof(zones));
    ck_assert(fl_dnsd_start(&down, zones, "* ANY servfail\n") == 0);
}

static void down_teardown(void)
{
    fl_dnsd_stop(&down);
}

START_TEST(a_key_lookup_failing_with_our_resolver_down_is_our_fault)
{
    struct env e = env_open(&down, NULL);
    struct fl_dkim_verifier *v;
    verify_file(&e, "rsa_relaxed_relaxed", MILTER, 4096, &v);
    const struct fl_result *r;
    size_t n;
    fl_dkim_eom(v, &r, &n);
    check_results("resolver down", r, n, "temperror dkim.key_dns_error receiver");
    ck_assert(r[0].transient);
    fl_dkim_free(&v);
    env_close(&e);
}
END_TEST

static Suite *dkim_suite(void)
{
    Suite *s = suite_create("dkim");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, corpus_rows, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, each_signature_names_itself_for_ar_and_dmarc);
    tcase_add_test(tc, dmarc_sees_which_signature_passed);
    tcase_add_test(tc, a_signature_beyond_the_maximum_is_named_but_never_looked_up);
    tcase_add_test(tc, key_lookups_start_at_eoh_and_run_during_the_body);
    tcase_add_test(tc, a_long_key_answered_during_the_body_still_verifies);
    tcase_add_test(tc,
                   an_unanswered_key_lookup_ends_at_dns_timeout_as_the_senders_temperror);
    tcase_add_test(tc, the_message_deadline_bounds_the_wait_and_counts_as_ours);
    tcase_add_test(tc, a_large_message_in_64k_chunks_verifies_in_bounded_memory);
    tcase_add_test(tc, headers_over_the_memory_limit_are_our_temperror);
    tcase_add_test(tc, freeing_before_eom_cancels_the_lookups);
    tcase_add_test(tc, reject_only_when_asked_and_never_for_temperror);
    tcase_add_test(tc, reasons_name_the_tag_or_the_policy);
    tcase_add_test(tc, the_outcome_table_is_the_manual);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("resolver down");
    tcase_set_timeout(td, 60);
    tcase_add_checked_fixture(td, down_setup, down_teardown);
    tcase_add_test(td, a_key_lookup_failing_with_our_resolver_down_is_our_fault);
    suite_add_tcase(s, td);
    return s;
}

int main(void)
{
    if (corpus_setup() != 0) {
        corpus_teardown();
        return 1;
    }
    SRunner *sr = srunner_create(dkim_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    corpus_teardown();
    return failed == 0 ? 0 : 1;
}
