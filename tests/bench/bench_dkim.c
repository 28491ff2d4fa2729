/* bench_dkim: DKIM verification throughput of lib/dkim on one core.
   For bodies of 2 KiB, 100 KiB and 1 MiB signed with RSA-2048 and with
   Ed25519 (by dkimpy, tests/dkim/make_corpus.py --bench), reports
   messages/s through fl_dkim_new .. fl_dkim_eom (body fed in 64 KiB
   chunks, keys from the warm lib/dns cache of the test DNS server), next
   to the raw OpenSSL SHA-256 rate (EVP) over the same bytes, the peak
   memory libopendkim held per message, and the RSA-2048 and Ed25519
   signature verification rates as libopendkim uses them (a SHA-256
   digest verified with PKCS#1 v1.5, an Ed25519 signature over the
   digest).  Not a test: it prints figures.
   Run from the build tree: top_srcdir=SRC tests/bench/bench_dkim */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dkim/dkim.h"
#include "lib/dns/dns.h"
#include "tests/harness/dns_server.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_MS 1500

static struct fl_dnsd dnsd;
static char dir[PATH_MAX];

static void die(const char *what)
{
    fprintf(stderr, "bench_dkim: %s\n", what);
    fl_dnsd_stop(&dnsd);
    exit(1);
}

static char *slurp(const char *name, size_t *len_r)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/msgs/%s.eml", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n);
    if (fread(data, 1, (size_t)n, f) != (size_t)n)
        die("short read");
    fclose(f);
    *len_r = (size_t)n;
    return data;
}

/* One message through the verifier, its fields fed whole; 1 if it passed. */
static int verify(struct fl_dkim_ctx *ctx, const struct fl_config *cfg, const char *m,
                  size_t len, size_t *peak_r)
{
    struct fl_dkim_verifier *v = fl_dkim_new(ctx, cfg, fl_monotonic_ms() + 10000);
    size_t p = 0;
    while (p + 1 < len && !(m[p] == '\r' && m[p + 1] == '\n')) {
        size_t start = p;
        for (;;) {
            const char *nl = memchr(m + p, '\n', len - p);
            p = nl ? (size_t)(nl - m) + 1 : len;
            if (p >= len || (m[p] != ' ' && m[p] != '\t'))
                break;
        }
        fl_dkim_header_field(v, m + start, p - start - 2);
    }
    p += 2;
    fl_dkim_eoh(v);
    for (; p < len; p += 65536)
        fl_dkim_body(v, (const unsigned char *)m + p, len - p < 65536 ? len - p : 65536);
    const struct fl_result *r;
    size_t n, now;
    fl_dkim_eom(v, &r, &n);
    int ok = n == 1 && r[0].result == FL_RES_PASS;
    fl_dkim_memory(v, &now, peak_r);
    fl_dkim_free(&v);
    return ok;
}

static double sha256_rate(const char *m, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    long long t0 = fl_monotonic_ms(), n = 0;
    do {
        EVP_Digest(m, len, md, &mdlen, EVP_sha256(), NULL);
        n++;
    } while (fl_monotonic_ms() - t0 < MIN_MS);
    return n * 1000.0 / (double)(fl_monotonic_ms() - t0);
}

/* Verifications/s of one signature over a SHA-256 digest. */
static double verify_rate(const char *type, int bits)
{
    EVP_PKEY *key = bits ? EVP_PKEY_Q_keygen(NULL, NULL, type, (size_t)bits)
                         : EVP_PKEY_Q_keygen(NULL, NULL, type);
    if (key == NULL)
        die("key generation failed");
    unsigned char digest[32], sig[512];
    memset(digest, 0x5a, sizeof(digest));
    size_t siglen = sizeof(sig);
    int rsa = bits != 0;
    if (rsa) { /* what RSA_verify(NID_sha256, digest) checks */
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
        if (EVP_PKEY_sign_init(pc) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) != 1 ||
            EVP_PKEY_sign(pc, sig, &siglen, digest, sizeof(digest)) != 1)
            die("RSA sign failed");
        EVP_PKEY_CTX_free(pc);
    } else { /* RFC 8463: Ed25519 over the SHA-256 digest */
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        if (EVP_DigestSignInit(mc, NULL, NULL, NULL, key) != 1 ||
            EVP_DigestSign(mc, sig, &siglen, digest, sizeof(digest)) != 1)
            die("Ed25519 sign failed");
        EVP_MD_CTX_free(mc);
    }
    long long t0 = fl_monotonic_ms(), n = 0;
    do {
        int ok;
        if (rsa) {
            EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
            ok = EVP_PKEY_verify_init(pc) == 1 &&
                 EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
                 EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
                 EVP_PKEY_verify(pc, sig, siglen, digest, sizeof(digest)) == 1;
            EVP_PKEY_CTX_free(pc);
        } else {
            EVP_MD_CTX *mc = EVP_MD_CTX_new();
            ok = EVP_DigestVerifyInit(mc, NULL, NULL, NULL, key) == 1 &&
                 EVP_DigestVerify(mc, sig, siglen, digest, sizeof(digest)) == 1;
            EVP_MD_CTX_free(mc);
        }
        if (!ok)
            die("verification failed");
        n++;
    } while (fl_monotonic_ms() - t0 < MIN_MS);
    double rate = n * 1000.0 / (double)(fl_monotonic_ms() - t0);
    EVP_PKEY_free(key);
    return rate;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof(dir), "%s/fl-bench-dkim-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    const char *py = getenv("PYTHON3") ? getenv("PYTHON3") : "/usr/bin/python3";
    const char *src = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
    char cmd[3 * PATH_MAX], zones[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "'%s' '%s/tests/dkim/make_corpus.py' --bench '%s'", py,
             src, dir);
    if (system(cmd) != 0)
        die("make_corpus.py failed");
    snprintf(zones, sizeof(zones), "%s/zones", dir);
    if (fl_dnsd_start(&dnsd, zones, NULL) != 0)
        die("the test DNS server did not start");

    char conf[] = "/tmp/fl-bench-dkim-conf-XXXXXX";
    FILE *f = fdopen(mkstemp(conf), "w");
    fprintf(f, "dns_forwarders = %s\ndns_timeout = 5s\n", dnsd.addr);
    fclose(f);
    struct fl_config *cfg;
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_config_load(conf, &cfg, &err) < 0)
        die(err.data);
    unlink(conf);
    fl_buf_free(&err);
    struct fl_dns *dns;
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_dns_create(cfg, &dns, &why) < 0)
        die(why.data);
    struct fl_dkim_ctx *ctx = fl_dkim_ctx_create(dns, &why);
    if (ctx == NULL)
        die(why.data);
    fl_buf_free(&why);

    printf("DKIM verification, one thread, keys from the warm lib/dns cache\n");
    printf("%-6s %-8s %12s %10s %14s %12s\n", "body", "alg", "verify msg/s", "MB/s",
           "SHA-256 msg/s", "peak memory");
    static const char *sizes[] = {"2k", "100k", "1m"}, *algs[] = {"rsa", "ed"};
    for (int s = 0; s < 3; s++) {
        for (int a = 0; a < 2; a++) {
            char name[64];
            snprintf(name, sizeof(name), "bench_%s_%s", sizes[s], algs[a]);
            size_t len, peak = 0;
            char *m = slurp(name, &len);
            if (!verify(ctx, cfg, m, len, &peak)) /* and warms the cache */
                die("a benchmark message did not verify");
            long long t0 = fl_monotonic_ms(), n = 0;
            do {
                verify(ctx, cfg, m, len, &peak);
                n++;
            } while (fl_monotonic_ms() - t0 < MIN_MS);
            double rate = n * 1000.0 / (double)(fl_monotonic_ms() - t0);
            printf("%-6s %-8s %12.0f %10.1f %14.0f %10zu B\n", sizes[s],
                   a ? "ed25519" : "rsa-2048", rate, rate * (double)len / 1e6,
                   sha256_rate(m, len), peak);
            free(m);
        }
    }
    printf("\nsignature verification (OpenSSL EVP, as libopendkim calls it)\n");
    printf("rsa-2048: %.0f verify/s\n", verify_rate("RSA", 2048));
    printf("ed25519:  %.0f verify/s\n", verify_rate("ED25519", 0));

    fl_dkim_ctx_destroy(&ctx);
    fl_dns_destroy(&dns);
    fl_config_unref(&cfg);
    fl_dnsd_stop(&dnsd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_dkim: could not remove %s\n", dir);
    return 0;
}
