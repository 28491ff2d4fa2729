/* check_arc: lib/arc against chains sealed at test time by an independent
   implementation (dkimpy's ARC signer, tests/arc/make_vectors.py) with
   keys made now, served by the hermetic test DNS server
   (tests/dns/fakedns.py).  Every vector's result is also cross-checked
   against dkimpy's own arc_verify over the same keys (dkimpy.txt).

   The messages are fed as a milter gets them (name, value without the
   leading space, folds as "\n"; the body in chunks). */
#include "lib/arc/arc.h"
#include "lib/core/json_out.h"
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "tests/dkim/corpus.h"
#include "tests/harness/dns_server.h"
#include "tests/harness/test_util.h"

#include <check.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char vectors[PATH_MAX];
static struct fl_dnsd dnsd;

struct env {
    struct fl_config *cfg;
    struct fl_dns *dns;
    size_t mem_limit;
};

static struct env env_open(const char *forwarders)
{
    char path[] = "/tmp/fl-arc-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns_forwarders = %s\ndns_probe_domain = dns.example\ndns_timeout = 2s\n",
            forwarders);
    fclose(f);
    struct env e = {0};
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_msg(fl_config_load(path, &e.cfg, &errors) == 0, "%s", errors.data);
    fl_buf_free(&errors);
    unlink(path);
    struct fl_buf why;
    fl_buf_init(&why);
    ck_assert_msg(fl_dns_create(e.cfg, &e.dns, &why) == 0, "fl_dns_create: %s", why.data);
    fl_buf_free(&why);
    return e;
}

static void env_close(struct env *e)
{
    fl_dns_destroy(&e->dns);
    fl_config_unref(&e->cfg);
}

static void header_cb(void *arg, const char *name, const char *value)
{
    fl_arc_header(arg, name, value);
}

/* Feeds the headers as libmilter passes them; returns the body offset. */
static size_t feed_headers(struct fl_arc *a, const char *m, size_t len)
{
    return fl_test_headers(m, len, header_cb, a);
}

/* Verifies vector name, body in chunks of chunk bytes; returns the
   verifier (after eom, result in *r). */
static struct fl_arc *verify(struct env *e, const char *name, size_t chunk,
                             struct fl_result *r)
{
    size_t len;
    char *m = fl_dkim_corpus_read(vectors, name, &len);
    ck_assert_msg(m != NULL, "no vector %s", name);
    struct fl_arc *a = fl_arc_new(e->dns, NULL, fl_monotonic_ms() + 5000, e->mem_limit);
    size_t body = feed_headers(a, m, len);
    if (fl_arc_eoh(a) == 1)
        for (size_t off = body; off < len; off += chunk)
            fl_arc_body(a, (const unsigned char *)m + off, len - off < chunk ? len - off : chunk);
    fl_arc_eom(a, "192.0.2.9", r);
    free(m);
    return a;
}

static const char *prop(const struct fl_result *r, const char *ptype, const char *name)
{
    for (size_t i = 0; i < r->nprops; i++)
        if (strcmp(r->props[i].ptype, ptype) == 0 && strcmp(r->props[i].property, name) == 0)
            return r->props[i].value;
    return NULL;
}

/* dkimpy's verdict on a vector, from dkimpy.txt. */
static const char *dkimpy_says(const char *name, char *out, size_t size)
{
    char path[PATH_MAX + 16], line[256];
    snprintf(path, sizeof(path), "%s/dkimpy.txt", vectors);
    FILE *f = fopen(path, "r");
    ck_assert(f != NULL);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        char n[128], res[32];
        if (sscanf(line, "%127s %31s", n, res) == 2 && strcmp(n, name) == 0)
            snprintf(out, size, "%s", res);
    }
    fclose(f);
    return out;
}

struct row {
    const char *label;
    const char *msg;
    const char *want;       /* pass, fail, none, temperror */
    int oldest_pass;        /* -1: no header.oldest-pass */
    const char *reason_has; /* a part of the AR reason, or NULL */
    int failed_instance;
    const char *chain;      /* the sealers, i=1 first, "," separated ("" when the
                               structure is broken), NULL: not checked */
};

/* clang-format off */
static const struct row rows[] = {
    {"an unsealed message is arc=none", "none", "none", -1, NULL, 0, ""},
    {"one hop passes, every AMS verified (oldest-pass=0)", "one_hop", "pass", 0, NULL, 0,
     "hop1.arc.example"},
    {"three hops pass", "three_hop", "pass", 0, NULL, 0,
     "hop1.arc.example,hop2.arc.example,hop3.arc.example"},
    {"an Ed25519 sealer (RFC 8463) after an RSA one passes", "ed25519", "pass", 0, NULL, 0,
     "hop1.arc.example,edhop.arc.example"},
    {"an AAR edited under an Ed25519 seal fails", "ed25519_tampered", "fail", -1,
     "ARC-Seal i=2 (d=edhop.arc.example s=sel) failed: the signature does not verify", 2,
     "hop1.arc.example,edhop.arc.example"},
    {"a hop that changed the body and sealed: AMS i=1 fails, the chain passes, oldest-pass=2",
     "body_changed_then_sealed", "pass", 2, NULL, 0, "hop1.arc.example,hop2.arc.example"},
    {"the body changed after the last seal: the newest AMS fails", "body_changed_after_seal",
     "fail", -1, "ARC-Message-Signature i=2 (d=hop2.arc.example s=sel) failed: body hash", 2,
     "hop1.arc.example,hop2.arc.example"},
    {"an AAR edited after sealing breaks the seals (newest first)", "as_broken", "fail", -1,
     "ARC-Seal i=2 (d=hop2.arc.example s=sel) failed: the signature does not verify", 2,
     "hop1.arc.example,hop2.arc.example"},
    {"a missing instance (gap) fails", "gap", "fail", -1, "no ARC set with i=2", 0, ""},
    {"a set without its AMS fails", "missing_ams", "fail", -1,
     "the ARC set i=1 has no ARC-Message-Signature", 0, ""},
    {"a duplicate AAR fails", "duplicate", "fail", -1,
     "two ARC-Authentication-Results fields with i=1", 0, ""},
    {"the newest seal saying cv=fail fails", "cv_fail", "fail", -1,
     "the newest ARC-Seal (i=2) says cv=fail", 0, ""},
    {"a revoked sealer key fails, naming the key", "revoked_key", "fail", -1,
     "key sel._domainkey.revoked.arc.example: revoked", 1, "revoked.arc.example"},
    {"an unpublished sealer key fails", "no_key", "fail", -1,
     "key sel._domainkey.nokey.arc.example: no key published", 1, "nokey.arc.example"},
    {"a mailing list hop (Subject tag, footer) sealed by the list passes", "list_trusted",
     "pass", 0, NULL, 0, "lists.arc.example"},
    {"a trusted list's seal, then a hop that changed the body: oldest-pass=2",
     "list_then_changed", "pass", 2, NULL, 0, "lists.arc.example,untrusted.arc.example"},
    {"fifty sets pass", "fifty", "pass", 0, NULL, 0, NULL},
    {"fifty-one sets fail", "fifty_one", "fail", -1, "more than 50 ARC sets", 0, ""},
};
/* clang-format on */

START_TEST(test_vector)
{
    const struct row *row = &rows[_i];
    struct env e = env_open(dnsd.addr);
    struct fl_result r;
    struct fl_arc *a = verify(&e, row->msg, 4096, &r);
    ck_assert_msg(strcmp(r.method, "arc") == 0, "%s: method %s", row->label, r.method);
    ck_assert_msg(strcmp(fl_res_name(r.result), row->want) == 0, "%s: got arc=%s (%s), want %s",
                  row->label, fl_res_name(r.result), r.reason ? r.reason : "", row->want);
    const char *op = prop(&r, "header", "oldest-pass");
    if (row->oldest_pass < 0) {
        ck_assert_msg(op == NULL, "%s: oldest-pass=%s", row->label, op);
    } else {
        ck_assert_msg(op != NULL && atoi(op) == row->oldest_pass,
                      "%s: got oldest-pass=%s, want %d", row->label, op ? op : "(none)",
                      row->oldest_pass);
    }
    const char *ip = prop(&r, "smtp", "remote-ip");
    ck_assert_msg(ip != NULL && strcmp(ip, "192.0.2.9") == 0, "%s: smtp.remote-ip", row->label);
    if (row->reason_has != NULL)
        ck_assert_msg(r.reason != NULL && strstr(r.reason, row->reason_has) != NULL,
                      "%s: got reason \"%s\", want it to contain \"%s\"", row->label,
                      r.reason ? r.reason : "", row->reason_has);
    if (r.result == FL_RES_FAIL)
        ck_assert_msg(r.fault == FL_FAULT_SENDER, "%s: fault %s", row->label,
                      fl_fault_name(r.fault));
    const char *sig, *why;
    ck_assert_int_eq(fl_arc_failure(a, &sig, &why), row->failed_instance);
    if (row->chain != NULL) {
        struct fl_buf c;
        fl_buf_init(&c);
        for (size_t i = 1; i <= fl_arc_nsets(a); i++)
            fl_buf_printf(&c, "%s%s", i > 1 ? "," : "", fl_arc_set(a, (int)i)->sealer);
        ck_assert_msg(strcmp(c.data, row->chain) == 0, "%s: got chain %s, want %s", row->label,
                      c.data, row->chain);
        fl_buf_free(&c);
    }
    /* the independent implementation agrees */
    char py[32];
    dkimpy_says(row->msg, py, sizeof(py));
    ck_assert_msg(strcmp(py, fl_res_name(r.result)) == 0,
                  "%s: dkimpy's arc_verify says %s, we say %s", row->label, py,
                  fl_res_name(r.result));
    fl_result_clear(&r);
    fl_arc_free(&a);
    ck_assert_ptr_null(a);
    env_close(&e);
}
END_TEST

/* The body hash is the same however the MTA cuts the body. */
START_TEST(test_chunking)
{
    struct env e = env_open(dnsd.addr);
    static const size_t chunks[] = {1, 2, 3, 7, 64, 65536};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct fl_result r;
        struct fl_arc *a = verify(&e, "body_changed_then_sealed", chunks[i], &r);
        ck_assert_msg(r.result == FL_RES_PASS && fl_arc_oldest_pass(a) == 2,
                      "chunks of %zu: arc=%s oldest-pass=%d", chunks[i], fl_res_name(r.result),
                      fl_arc_oldest_pass(a));
        fl_result_clear(&r);
        fl_arc_free(&a);
    }
    env_close(&e);
}
END_TEST

/* The verdict record part: sealers in order, every set's results, and
   where a chain failed. */
/* The record part fl_arc_json writes, as the record has it: compact JSON
   text (read back with jansson, so it must be JSON). */
static char *arc_part_text(const struct fl_arc *a)
{
    struct fl_buf part;
    fl_buf_init(&part);
    fl_buf_putc(&part, '{');
    struct fl_json_out j;
    fl_json_out_init(&j, &part);
    fl_arc_json(a, &j);
    fl_buf_putc(&part, '}');
    json_t *o = json_loads(part.data, 0, NULL);
    ck_assert_msg(o != NULL, "not JSON: %s", part.data);
    ck_assert(json_is_object(o));
    json_decref(o);
    char *text = fl_buf_steal(&part);
    fl_buf_free(&part);
    return text;
}

START_TEST(test_json)
{
    struct env e = env_open(dnsd.addr);
    struct fl_result r;
    struct fl_arc *a = verify(&e, "body_changed_then_sealed", 4096, &r);
    char *s = arc_part_text(a);
    ck_assert_msg(strstr(s, "\"result\":\"pass\",\"oldest_pass\":2,"
                            "\"chain\":[\"hop1.arc.example\",\"hop2.arc.example\"]") != NULL,
                  "%s", s);
    ck_assert_msg(strstr(s, "\"i\":1,\"sealer\":\"hop1.arc.example\"") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "\"ams\":\"fail\",\"ams_why\":\"body hash") != NULL, "%s", s);
    free(s);
    fl_result_clear(&r);
    fl_arc_free(&a);

    a = verify(&e, "revoked_key", 4096, &r);
    s = arc_part_text(a);
    ck_assert_msg(strstr(s, "\"failed\":{\"instance\":1,\"signature\":\"AMS\",\"why\":"
                            "\"ARC-Message-Signature i=1 (d=revoked.arc.example s=sel) "
                            "failed: key sel._domainkey.revoked.arc.example: revoked") != NULL,
                  "%s", s);
    free(s);
    fl_result_clear(&r);
    fl_arc_free(&a);
    env_close(&e);
}
END_TEST

/* What the DMARC override reads: the AAR claims of a sealed set. */
START_TEST(test_aar_claims)
{
    struct env e = env_open(dnsd.addr);
    struct fl_result r;
    struct fl_arc *a = verify(&e, "three_hop", 4096, &r);
    char v[256];
    ck_assert_int_eq(fl_arc_aar_pass(a, 2, "dmarc", "header.from", 0, v, sizeof(v)), 1);
    ck_assert_str_eq(v, "author.arc.example");
    ck_assert_int_eq(fl_arc_aar_pass(a, 3, "spf", "smtp.mailfrom", 0, v, sizeof(v)), 1);
    ck_assert_str_eq(v, "author.arc.example");
    ck_assert_int_eq(fl_arc_aar_pass(a, 1, "dkim", "header.d", 0, v, sizeof(v)), 1);
    ck_assert_int_eq(fl_arc_aar_pass(a, 1, "dkim", "header.d", 1, v, sizeof(v)), 0);
    ck_assert_int_eq(fl_arc_aar_pass(a, 2, "arc", "header.from", 0, v, sizeof(v)), 0);
    ck_assert_int_eq(fl_arc_aar_pass(a, 4, "dmarc", "header.from", 0, v, sizeof(v)), 0);
    fl_result_clear(&r);
    fl_arc_free(&a);
    env_close(&e);
}
END_TEST

/* A sealer's name servers failing: temperror, not a verdict on the chain. */
START_TEST(test_key_servfail)
{
    fl_dnsd_set_faults(&dnsd, "sel._domainkey.hop3.arc.example TXT servfail\n");
    struct env e = env_open(dnsd.addr);
    struct fl_result r;
    struct fl_arc *a = verify(&e, "three_hop", 4096, &r);
    fl_dnsd_set_faults(&dnsd, NULL);
    ck_assert_msg(r.result == FL_RES_TEMPERROR, "got arc=%s", fl_res_name(r.result));
    ck_assert_msg(r.transient, "a DNS failure is transient");
    ck_assert_msg(strstr(r.reason, "sel._domainkey.hop3.arc.example") != NULL, "%s", r.reason);
    fl_result_clear(&r);
    fl_arc_free(&a);
    env_close(&e);
}
END_TEST

/* The key lookups start at end of headers and run while the body
   arrives: with every key delayed 300 ms and 400 ms of "body", the end
   of message does not wait another 300 ms. */
START_TEST(test_lookups_overlap_body)
{
    struct fl_dnsd slow;
    char zones[PATH_MAX + 64];
    snprintf(zones, sizeof(zones), "dns.example.zone %s/zones", vectors);
    ck_assert(fl_dnsd_start(&slow, zones, "* TXT delay 300\n") == 0);
    struct env e = env_open(slow.addr);
    size_t len;
    char *m = fl_dkim_corpus_read(vectors, "three_hop", &len);
    struct fl_arc *a = fl_arc_new(e.dns, NULL, fl_monotonic_ms() + 5000, 0);
    size_t body = feed_headers(a, m, len);
    ck_assert_int_eq(fl_arc_eoh(a), 1);
    usleep(400 * 1000);
    fl_arc_body(a, (const unsigned char *)m + body, len - body);
    long long t0 = fl_monotonic_ms();
    struct fl_result r;
    fl_arc_eom(a, NULL, &r);
    long long waited = fl_monotonic_ms() - t0;
    ck_assert_msg(r.result == FL_RES_PASS, "arc=%s %s", fl_res_name(r.result), r.reason);
    ck_assert_msg(waited < 250, "end of message waited %lld ms", waited);
    fl_result_clear(&r);
    fl_arc_free(&a);
    free(m);
    env_close(&e);
    fl_dnsd_stop(&slow);
}
END_TEST

/* Headers beyond the memory limit: not verified, our side says why. */
START_TEST(test_over_budget)
{
    struct env e = env_open(dnsd.addr);
    e.mem_limit = 2000; /* the three-hop headers are ~4.5 kB */
    struct fl_result r;
    struct fl_arc *a = verify(&e, "three_hop", 4096, &r);
    ck_assert_msg(r.result == FL_RES_TEMPERROR && r.fault == FL_FAULT_RECEIVER &&
                      strcmp(r.reason_code, "internal.over_budget") == 0,
                  "got arc=%s %s", fl_res_name(r.result), r.reason_code);
    fl_result_clear(&r);
    fl_arc_free(&a);
    e.mem_limit = 8000;
    a = verify(&e, "three_hop", 4096, &r);
    ck_assert_msg(r.result == FL_RES_PASS, "got arc=%s", fl_res_name(r.result));
    fl_result_clear(&r);
    fl_arc_free(&a);
    env_close(&e);
}
END_TEST

static Suite *arc_suite(void)
{
    Suite *s = suite_create("arc");
    TCase *tc = tcase_create("vectors");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_vector, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, test_chunking);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_aar_claims);
    tcase_add_test(tc, test_over_budget);
    suite_add_tcase(s, tc);
    TCase *dns = tcase_create("dns");
    tcase_set_timeout(dns, 30);
    tcase_add_test(dns, test_key_servfail);
    tcase_add_test(dns, test_lookups_overlap_body);
    suite_add_tcase(s, dns);
    return s;
}

int main(void)
{
    if (fl_test_corpus_make("tests/arc/make_vectors.py", vectors, sizeof(vectors)) != 0)
        return 1;
    char zones[PATH_MAX + 64];
    snprintf(zones, sizeof(zones), "dns.example.zone %s/zones", vectors);
    if (fl_dnsd_start(&dnsd, zones, NULL) != 0)
        return 1;
    SRunner *sr = srunner_create(arc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fl_dnsd_stop(&dnsd);
    fl_dkim_corpus_remove(vectors);
    return failed ? 1 : 0;
}
