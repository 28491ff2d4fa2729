/* dkim_eval: turns each signature libopendkim processed into one
   struct fl_result (RFC 8601 2.7.1 results, RFC 6008 header.b) with a
   reason code and a fault, applying the message's dkim_* settings.

   The result words come from one table (outcomes[] below, documented in
   faultline(8)): permerror for RFC 6376's PERMFAIL (signature or key
   unusable: syntax, From not signed, no key, revoked key, a key whose own
   tags refuse the signature), temperror for its TEMPFAIL (key lookup
   failed), fail when the cryptography says no (signature or body hash
   mismatch), policy only where the RFCs leave the decision to the
   verifier (RFC 8301 rsa-sha1 and short keys, x=/t= against our clock,
   l= with unsigned content, headers added after signing, testing keys,
   dkim_max_signatures) -- each such reason names the rule.  Every
   failure but a DNS one is the sending side's to fix; a key lookup
   failure is theirs when our resolver answers a probe, ours when it does
   not. */
#include "lib/dkim/dkim_int.h"
#include "lib/core/clock.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S FL_FAULT_SENDER
static const struct fl_dkim_outcome outcomes[] = {
    /* the signature field (RFC 6376 3.2, 3.5, 6.1.1) */
    {"dkim.signature_syntax", FL_RES_PERMERROR, S, "signature syntax error",
     "RFC 6376 3.2, 3.5, 6.1.1: PERMFAIL (tag-list grammar, duplicate tag, missing "
     "required tag, bad tag value, incompatible version, i= outside d=)"},
    {"dkim.from_not_signed", FL_RES_PERMERROR, S, "From field not signed",
     "RFC 6376 5.4, 6.1.1: PERMFAIL (h= must include From)"},
    {"dkim.algorithm_unknown", FL_RES_PERMERROR, S, "unknown algorithm",
     "RFC 6376 3.3, 6.1.1: a= is none of rsa-sha256, rsa-sha1, ed25519-sha256 (RFC 8463)"},
    /* the key (RFC 6376 3.6.1, 6.1.2) */
    {"dkim.key_missing", FL_RES_PERMERROR, S, "no key for signature",
     "RFC 6376 6.1.2: PERMFAIL (NXDOMAIN or no TXT record)"},
    {"dkim.key_dns_error", FL_RES_TEMPERROR, S, "key unavailable",
     "RFC 6376 6.1.2: TEMPFAIL (the lookup failed; fault=receiver when our own resolver "
     "does not answer)"},
    {"dkim.key_syntax", FL_RES_PERMERROR, S, "key syntax error",
     "RFC 6376 3.2, 3.6.1, 6.1.2: PERMFAIL (tag-list grammar, duplicate tag, p= not "
     "base64, missing p=, v= not DKIM1 or not first, a key that does not decode)"},
    {"dkim.key_revoked", FL_RES_PERMERROR, S, "key revoked",
     "RFC 6376 3.6.1, 6.1.2: PERMFAIL (empty p=)"},
    {"dkim.key_hash_not_allowed", FL_RES_PERMERROR, S, "inappropriate hash algorithm",
     "RFC 6376 3.6.1, 6.1.2: PERMFAIL (the key's h= does not list the hash of a=)"},
    {"dkim.key_algorithm", FL_RES_PERMERROR, S, "inappropriate key algorithm",
     "RFC 6376 3.6.1, 6.1.2: PERMFAIL (the key's k= is not the key type of a=, or "
     "unknown)"},
    {"dkim.key_not_for_email", FL_RES_PERMERROR, S, "key not for email",
     "RFC 6376 3.6.1: the key's s= lists neither email nor *"},
    {"dkim.key_subdomain", FL_RES_PERMERROR, S, "key forbids i= in a subdomain",
     "RFC 6376 3.6.1: the key's t=s and an i= below d="},
    /* the cryptography (RFC 6376 6.1.3) */
    {"dkim.signature_mismatch", FL_RES_FAIL, S, "signature did not verify",
     "RFC 6376 6.1.3: PERMFAIL (signature did not verify)"},
    {"dkim.body_hash_mismatch", FL_RES_FAIL, S, "body hash did not verify",
     "RFC 6376 6.1.3: PERMFAIL (body hash did not verify; also a body shorter than l=)"},
    /* the verifier's own policy (RFC 8601 2.7.1 policy) */
    {"dkim.algorithm_not_allowed", FL_RES_POLICY, S, "rsa-sha1 not allowed (RFC 8301)",
     "policy, RFC 8301: rsa-sha1 (dkim_rsa_sha1 = policy|fail|pass)"},
    {"dkim.key_too_short", FL_RES_POLICY, S, "key too short (RFC 8301)",
     "policy, RFC 8301: RSA key under dkim_min_rsa_bits"},
    {"dkim.expired", FL_RES_POLICY, S, "signature expired (x=, local clock policy)",
     "policy, RFC 6376 3.5 x= (MAY): past x= plus dkim_clock_skew"},
    {"dkim.future", FL_RES_POLICY, S, "signature not yet valid (t=, local clock policy)",
     "policy: t= later than now plus dkim_clock_skew"},
    {"dkim.body_length", FL_RES_POLICY, S, "unsigned content after l= (local policy)",
     "policy, RFC 6376 8.2: content after l= (dkim_body_length = policy|accept)"},
    {"dkim.from_added", FL_RES_POLICY, S, "From added after signing (local policy)",
     "policy, RFC 6376 8.15: more From fields than h= covers"},
    {"dkim.header_added", FL_RES_POLICY, S, "header added after signing (local policy)",
     "policy, RFC 6376 8.15: more once-only fields than h= covers "
     "(dkim_added_headers = policy|accept)"},
    {"dkim.testing_key", FL_RES_POLICY, S, "key in testing mode (local policy)",
     "policy, RFC 6376 3.6.1 t=y (dkim_testing_keys = policy|accept)"},
    {"dkim.too_many_signatures", FL_RES_POLICY, FL_FAULT_NONE,
     "too many signatures (local limit)", "policy: beyond dkim_max_signatures"},
    /* ours */
    {"internal.dkim", FL_RES_TEMPERROR, FL_FAULT_RECEIVER, "not verified",
     "libopendkim failed on the message or signature"},
    {"internal.over_budget", FL_RES_TEMPERROR, FL_FAULT_RECEIVER, "not verified",
     "the headers exceed message_memory_limit"},
};
#undef S

const struct fl_dkim_outcome *fl_dkim_outcomes(size_t *n_r)
{
    *n_r = sizeof(outcomes) / sizeof(outcomes[0]);
    return outcomes;
}

static const struct fl_dkim_outcome *outcome(const char *code)
{
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        if (strcmp(outcomes[i].code, code) == 0)
            return &outcomes[i];
    return NULL;
}

/* What one signature came to. */
struct verdict {
    enum fl_res res;
    const char *code;  /* reason code, NULL for pass */
    char reason[256];  /* AR reason=, "" for pass */
    enum fl_fault fault;
    bool transient;
    char detail[512];
};

/* Sets the outcome of code (a row of outcomes[]); tag, when not NULL,
   is appended to the reason (the tag error of RFC 6376 3.2 / 3.5 /
   3.6.1 checks). */
static void set(struct verdict *vd, const char *code, const char *tag)
{
    const struct fl_dkim_outcome *o = outcome(code);
    if (o == NULL) /* a code missing from the table is a bug */
        o = outcome("internal.dkim");
    vd->res = o->result;
    vd->code = o->code;
    vd->fault = o->fault;
    vd->transient = o->result == FL_RES_TEMPERROR;
    snprintf(vd->reason, sizeof(vd->reason), "%s%s%s", o->reason, tag ? ": " : "",
             tag ? tag : "");
}

static const char *tag(DKIM_SIGINFO *si, const char *name)
{
    return (const char *)dkim_sig_gettagvalue(si, 0, (u_char *)name);
}

static const char *tag_or_empty(DKIM_SIGINFO *si, const char *name)
{
    const char *t = tag(si, name);
    return t != NULL ? t : "";
}

/* A decimal tag value (t=, x=); -1 when absent or not a number. */
static long long number_tag(DKIM_SIGINFO *si, const char *name)
{
    const char *t = tag(si, name);
    if (t == NULL || *t < '0' || *t > '9')
        return -1;
    char *end;
    long long n = strtoll(t, &end, 10);
    return *end == '\0' ? n : -1;
}

/* How many times h= names field (case-insensitive, spaces ignored). */
static unsigned int signed_count(DKIM_SIGINFO *si, const char *field)
{
    const char *h = tag(si, "h");
    unsigned int n = 0;
    size_t flen = strlen(field);
    while (h != NULL && *h != '\0') {
        const char *end = strchr(h, ':');
        size_t len = end != NULL ? (size_t)(end - h) : strlen(h);
        const char *s = h;
        size_t l = len;
        while (l > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            l--;
        }
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l == flen && strncasecmp(s, field, flen) == 0)
            n++;
        h = end != NULL ? end + 1 : NULL;
    }
    return n;
}

/* Our strict check of the field (lib/dkim/dkim_taglist.c), which decides
   before libopendkim's lenient one. */
static bool strict_error(struct fl_dkim_verifier *v, size_t idx, struct verdict *vd,
                         const char *d)
{
    const struct fl_dkim_sigfield *f = fl_dkim_sigfield(v, idx);
    if (f == NULL || f->strict == 0)
        return false;
    set(vd, f->strict == 1 ? "dkim.from_not_signed" : "dkim.signature_syntax", f->why);
    snprintf(vd->detail, sizeof(vd->detail),
             "the DKIM-Signature of %s is not acceptable by RFC 6376 (%s): the sender's "
             "signing software must be fixed",
             d, f->why);
    return true;
}

/* Problems with the signature itself, found by libopendkim. */
static bool signature_error(struct verdict *vd, int err, bool lib_bad, const char *d)
{
    if (lib_bad) {
        set(vd, "dkim.signature_syntax", "tag-list");
        snprintf(vd->detail, sizeof(vd->detail),
                 "the DKIM-Signature of %s is malformed (tag=value list syntax): the "
                 "sender's signing software must be fixed",
                 d);
        return true;
    }
    switch (err) {
    case DKIM_SIGERROR_INVALID_H:
        set(vd, "dkim.from_not_signed", "h=");
        snprintf(
            vd->detail, sizeof(vd->detail),
            "the signature of %s does not cover the From header (h=), which RFC 6376 "
            "requires: the sender's signing software must sign From",
            d);
        return true;
    case DKIM_SIGERROR_INVALID_A:
        set(vd, "dkim.algorithm_unknown", "a=");
        snprintf(
            vd->detail, sizeof(vd->detail),
            "the signature of %s uses an algorithm we do not know (a=): the sender must "
            "sign with rsa-sha256 or ed25519-sha256",
            d);
        return true;
    case DKIM_SIGERROR_VERSION:
    case DKIM_SIGERROR_DOMAIN:
    case DKIM_SIGERROR_TIMESTAMPS:
    case DKIM_SIGERROR_INVALID_HC:
    case DKIM_SIGERROR_INVALID_BC:
    case DKIM_SIGERROR_MISSING_A:
    case DKIM_SIGERROR_MISSING_H:
    case DKIM_SIGERROR_INVALID_L:
    case DKIM_SIGERROR_INVALID_Q:
    case DKIM_SIGERROR_INVALID_QO:
    case DKIM_SIGERROR_MISSING_D:
    case DKIM_SIGERROR_EMPTY_D:
    case DKIM_SIGERROR_MISSING_S:
    case DKIM_SIGERROR_EMPTY_S:
    case DKIM_SIGERROR_MISSING_B:
    case DKIM_SIGERROR_EMPTY_B:
    case DKIM_SIGERROR_CORRUPT_B:
    case DKIM_SIGERROR_MISSING_BH:
    case DKIM_SIGERROR_EMPTY_BH:
    case DKIM_SIGERROR_CORRUPT_BH:
    case DKIM_SIGERROR_EMPTY_H:
    case DKIM_SIGERROR_MISSING_V:
    case DKIM_SIGERROR_EMPTY_V: {
        const char *what =
            dkim_sig_geterrorstr(err) != NULL ? dkim_sig_geterrorstr(err) : "syntax";
        set(vd, "dkim.signature_syntax", what);
        snprintf(vd->detail, sizeof(vd->detail),
                 "the DKIM-Signature of %s is malformed (%s): the sender's signing "
                 "software must be fixed",
                 d, what);
        return true;
    }
    default:
        return false;
    }
}

/* t= and x= against the message's clock skew allowance. */
static bool time_error(struct verdict *vd, DKIM_SIGINFO *si, int err, long long skew,
                       const char *d)
{
    long long now = (long long)time(NULL);
    long long x = number_tag(si, "x"), t = number_tag(si, "t");
    if (err == DKIM_SIGERROR_EXPIRED || (x >= 0 && now >= x + skew)) {
        set(vd, "dkim.expired", NULL);
        snprintf(
            vd->detail, sizeof(vd->detail),
            "the signature of %s expired %lld s ago (x=): the message was held too long "
            "before delivery, or the sender's signature lifetime is too short",
            d, x >= 0 ? now - x : 0);
        return true;
    }
    if (err == DKIM_SIGERROR_FUTURE || (t >= 0 && t > now + skew)) {
        set(vd, "dkim.future", NULL);
        snprintf(
            vd->detail, sizeof(vd->detail),
            "the signature of %s is dated %lld s in the future (t=): the signer's clock "
            "is wrong",
            d, t >= 0 ? t - now : 0);
        return true;
    }
    return false;
}

/* The key lookup, as our query saw it. */
static bool dns_error(struct fl_dkim_verifier *v, struct verdict *vd,
                      struct fl_dkim_key *k)
{
    const struct fl_dns_answer *a = fl_dkim_key_answer(k);
    switch (a->status) {
    case FL_DNS_OK:
        if (k->unusable == NULL)
            return false;
        set(vd, "dkim.key_syntax", k->unusable);
        snprintf(vd->detail, sizeof(vd->detail),
                 "the DKIM key record at %s is unusable (%s): the sender must fix it",
                 k->qname, k->unusable);
        return true;
    case FL_DNS_NXDOMAIN:
    case FL_DNS_NODATA:
        set(vd, "dkim.key_missing", NULL);
        snprintf(vd->detail, sizeof(vd->detail),
                 "no DKIM key is published at %s (%s): the sender must publish the key "
                 "of this selector",
                 k->qname, fl_dns_status_name(a->status));
        return true;
    default: {
        struct fl_buf why;
        fl_buf_init(&why);
        fl_dns_describe(a, &why);
        /* Whose DNS failed (lib/dns decides): a lookup our message
           deadline cut short is ours, else the resolver probe tells. */
        bool late = a->status == FL_DNS_TIMEOUT && a->deadline_cut;
        bool theirs = fl_dns_fault(v->ctx->dns, a) == FL_FAULT_SENDER;
        set(vd, "dkim.key_dns_error", NULL);
        vd->fault = theirs ? FL_FAULT_SENDER : FL_FAULT_RECEIVER;
        snprintf(vd->detail, sizeof(vd->detail), "the DKIM key lookup failed: %s (%s)",
                 why.data,
                 theirs ? "our resolver works: the signing domain's name servers failed"
                 : late ? "the message deadline passed first"
                        : "our own resolver is not answering");
        fl_buf_free(&why);
        return true;
    }
    }
}

/* The key's own tags refuse this signature.  Asked again here: for a
   second signature with the same s= and d=, libopendkim reuses the key
   of the first without calling our key lookup. */
static bool key_refused(struct fl_dkim_sig *s, const struct fl_dkim_key *k,
                        struct verdict *vd, const char *qname)
{
    if (s->refused == NULL && k != NULL && k->checked && k->unusable == NULL) {
        struct fl_buf why;
        fl_buf_init(&why);
        s->refused = fl_dkim_key_refuses(s->si, &k->rec, &why);
        if (s->refused != NULL)
            s->refused_why = fl_buf_steal(&why);
        fl_buf_free(&why);
    }
    if (s->refused == NULL)
        return false;
    set(vd, s->refused, s->refused_why);
    snprintf(vd->detail, sizeof(vd->detail),
             "the DKIM key at %s may not verify this signature: %s%s", qname,
             s->refused_why,
             strcmp(s->refused, "dkim.key_revoked") == 0
                 ? " (revoked): the sender signs with a retired selector and must sign "
                   "with its current key"
                 : "");
    return true;
}

/* Errors libopendkim found in the key record or while verifying (the
   record it gets has passed our checks: what remains is a p= that does
   not decode to a key). */
static bool key_error(struct verdict *vd, int err, const char *qname)
{
    const char *code = NULL;
    switch (err) {
    case DKIM_SIGERROR_NOKEY:
        set(vd, "dkim.key_missing", NULL);
        snprintf(vd->detail, sizeof(vd->detail), "no DKIM key is published at %s", qname);
        return true;
    case DKIM_SIGERROR_KEYREVOKED:
        code = "dkim.key_revoked";
        break;
    case DKIM_SIGERROR_KEYHASHMISMATCH:
        code = "dkim.key_hash_not_allowed";
        break;
    case DKIM_SIGERROR_NOTEMAILKEY:
        code = "dkim.key_not_for_email";
        break;
    case DKIM_SIGERROR_SUBDOMAIN:
        code = "dkim.key_subdomain";
        break;
    case DKIM_SIGERROR_KEYTYPEMISSING:
    case DKIM_SIGERROR_KEYTYPEUNKNOWN:
        code = "dkim.key_algorithm";
        break;
    case DKIM_SIGERROR_DNSSYNTAX:
    case DKIM_SIGERROR_KEYVERSION:
    case DKIM_SIGERROR_KEYUNKNOWNHASH:
    case DKIM_SIGERROR_KEYDECODE:
    case DKIM_SIGERROR_MULTIREPLY:
    case DKIM_SIGERROR_KEYFAIL:
        code = "dkim.key_syntax";
        break;
    default:
        return false;
    }
    const char *what = dkim_sig_geterrorstr(err) ? dkim_sig_geterrorstr(err) : "unusable";
    set(vd, code, what);
    snprintf(vd->detail, sizeof(vd->detail),
             "the DKIM key record at %s cannot verify this signature (%s): the sender "
             "must fix it",
             qname, what);
    return true;
}

/* RFC 6376 8.15: more instances of a once-only field than h= covers. */
static bool added_header(struct fl_dkim_verifier *v, struct verdict *vd, DKIM_SIGINFO *si,
                         const char *d)
{
    for (size_t i = 0; i < FL_DKIM_NSINGLETONS; i++) {
        unsigned int have = v->hcount[i],
                     covered = signed_count(si, fl_dkim_singletons[i]);
        if (covered == 0 || have <= covered)
            continue;
        if (i != 0 && v->cfg->dkim_added_headers == FL_DKIM_ACCEPT)
            continue;
        set(vd, i == 0 ? "dkim.from_added" : "dkim.header_added", NULL);
        snprintf(vd->detail, sizeof(vd->detail),
                 "the message has %u %s fields but the signature of %s covers %u: one "
                 "was added after signing, and readers may see the unsigned one",
                 have, fl_dkim_singletons[i], d, covered);
        return true;
    }
    return false;
}

/* The signature verified: the policies that may still refuse it. */
static void passed(struct fl_dkim_verifier *v, struct fl_dkim_sig *s, struct verdict *vd,
                   const char *d, const char *qname)
{
    const struct fl_config *cfg = v->cfg;
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    dkim_sig_getsignalg(s->si, &alg);
    if (alg == DKIM_SIGN_RSASHA1 && cfg->dkim_rsa_sha1 != FL_DKIM_SHA1_PASS) {
        set(vd, "dkim.algorithm_not_allowed", NULL);
        if (cfg->dkim_rsa_sha1 == FL_DKIM_SHA1_FAIL)
            vd->res = FL_RES_FAIL; /* RFC 8301 3.1: verifiers MUST NOT pass it */
        snprintf(
            vd->detail, sizeof(vd->detail),
            "%s signs with rsa-sha1, which RFC 8301 forbids: the sender must sign with "
            "rsa-sha256 or ed25519-sha256",
            d);
        return;
    }
    if (added_header(v, vd, s->si, d))
        return;
    ssize_t signlen = -1;
    dkim_canon_t hc = DKIM_CANON_SIMPLE, bc = DKIM_CANON_SIMPLE;
    dkim_sig_getcanons(s->si, &hc, &bc);
    bool relaxed = bc == DKIM_CANON_RELAXED;
    long long total = (relaxed ? &v->relaxed : &v->simple)->total;
    if (dkim_sig_getcanonlen(v->dkim, s->si, NULL, NULL, &signlen) == DKIM_STAT_OK &&
        signlen >= 0 && v->count_body && total > (long long)signlen) {
        if (cfg->dkim_body_length == FL_DKIM_POLICY) {
            set(vd, "dkim.body_length", NULL);
            snprintf(
                vd->detail, sizeof(vd->detail),
                "the signature of %s covers only the first %zd of %lld body bytes (l=): "
                "content was appended after signing",
                d, signlen, total);
            return;
        }
        snprintf(
            vd->detail, sizeof(vd->detail),
            "verified; the signature of %s covers only the first %zd of %lld body bytes "
            "(l=)",
            d, signlen, total);
    }
    if (s->key >= 0 && v->keys[s->key].rec.testing) {
        if (cfg->dkim_testing_keys == FL_DKIM_POLICY) {
            set(vd, "dkim.testing_key", NULL);
            snprintf(vd->detail, sizeof(vd->detail),
                     "the DKIM key at %s is in testing mode (t=y)", qname);
            return;
        }
        if (vd->detail[0] == '\0')
            snprintf(vd->detail, sizeof(vd->detail),
                     "verified; the DKIM key at %s is in testing mode (t=y)", qname);
    }
    vd->res = FL_RES_PASS;
    vd->code = NULL;
    vd->reason[0] = '\0';
    vd->fault = FL_FAULT_NONE;
    vd->transient = false;
    if (vd->detail[0] == '\0')
        snprintf(vd->detail, sizeof(vd->detail), "verified with the key at %s", qname);
}

/* What the cryptography said: libopendkim's flags, or our own
   verification for a key too long for libopendkim (lib/dkim/dkim_canon.c). */
struct crypto {
    bool processed, signature_ok, body_hash_ok;
    unsigned int bits; /* 0: not known */
    bool key_bad;      /* p= is base64 but not an RSA public key */
};

static void crypto(struct fl_dkim_verifier *v, struct fl_dkim_sig *s,
                   const struct fl_dkim_key *k, struct crypto *c)
{
    memset(c, 0, sizeof(*c));
    if (k == NULL || !k->big) {
        unsigned int flags = dkim_sig_getflags(s->si);
        c->processed = (flags & DKIM_SIGFLAG_PROCESSED) != 0;
        c->signature_ok = (flags & DKIM_SIGFLAG_PASSED) != 0;
        /* libopendkim compares bh= only when the header hash verified;
           so does judge() below, which asks for signature_ok first. */
        c->body_hash_ok =
            s->libcanon >= 0
                ? fl_dkim_libcanon_matches(&v->libcanon[s->libcanon],
                                           tag(s->si, "bh"))
                : dkim_sig_getbh(s->si) == DKIM_SIGBH_MATCH;
        if (dkim_sig_getkeysize(s->si, &c->bits) != DKIM_STAT_OK)
            c->bits = 0;
        return;
    }
    const struct fl_dkim_sigfield *f = fl_dkim_sigfield(v, (size_t)(s - v->sigs));
    if (s->own == NULL || f == NULL)
        return; /* not processed: our fault, reported as such */
    dkim_canon_t hc = DKIM_CANON_SIMPLE, bc = DKIM_CANON_SIMPLE;
    dkim_sig_getcanons(s->si, &hc, &bc);
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    dkim_sig_getsignalg(s->si, &alg);
    struct fl_dkim_canon_result r;
    struct fl_buf error; /* unused: a field we cannot read stays unprocessed */
    fl_buf_init(&error);
    int rc = fl_dkim_canon_verify(&v->headers, f->hdr, hc == DKIM_CANON_RELAXED,
                                  alg == DKIM_SIGN_RSASHA1, &k->rec, s->own, &r, &error);
    fl_buf_free(&error);
    if (rc != 0)
        return;
    c->key_bad = !r.key_ok;
    c->processed = r.key_ok;
    c->signature_ok = r.signature_ok;
    c->body_hash_ok = r.body_hash_ok;
    c->bits = r.bits;
}

static void judge(struct fl_dkim_verifier *v, struct fl_dkim_sig *s, struct verdict *vd)
{
    DKIM_SIGINFO *si = s->si;
    const char *d = tag(si, "d") != NULL ? tag(si, "d") : "(no d=)";
    struct fl_dkim_key *k = s->key >= 0 ? &v->keys[s->key] : NULL;
    const char *qname = k != NULL ? k->qname : "(none)";
    int err = dkim_sig_geterror(si);
    vd->detail[0] = '\0';
    if (s->ignored) {
        set(vd, "dkim.too_many_signatures", NULL);
        snprintf(vd->detail, sizeof(vd->detail),
                 "not verified: only the first %lld signatures of a message are "
                 "verified (dkim_max_signatures)",
                 v->cfg->dkim_max_signatures);
        return;
    }
    size_t idx = (size_t)(s - v->sigs);
    const struct fl_dkim_sigfield *f = fl_dkim_sigfield(v, idx);
    if (strict_error(v, idx, vd, d) ||
        signature_error(vd, err, f != NULL && f->lib_bad, d) ||
        time_error(vd, si, err, v->cfg->dkim_clock_skew / 1000, d) ||
        (k != NULL && dns_error(v, vd, k)) || key_refused(s, k, vd, qname) ||
        key_error(vd, err, qname))
        return;
    struct crypto c;
    crypto(v, s, k, &c);
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    dkim_sig_getsignalg(si, &alg);
    if (c.key_bad) {
        set(vd, "dkim.key_syntax", "p= is not an RSA public key");
        snprintf(vd->detail, sizeof(vd->detail),
                 "the DKIM key record at %s cannot verify this signature (p= is not an "
                 "RSA public key): the sender must fix it",
                 qname);
        return;
    }
    if (alg != DKIM_SIGN_ED25519SHA256 && c.bits > 0 &&
        (long long)c.bits < v->cfg->dkim_min_rsa_bits) {
        set(vd, "dkim.key_too_short", NULL);
        snprintf(vd->detail, sizeof(vd->detail),
                 "the DKIM key at %s has %u bits, fewer than the %lld required (RFC "
                 "8301): the sender must publish a longer key",
                 qname, c.bits, v->cfg->dkim_min_rsa_bits);
        return;
    }
    if (err == DKIM_SIGERROR_TOOLARGE_L) {
        set(vd, "dkim.body_hash_mismatch", "body shorter than l=");
        snprintf(
            vd->detail, sizeof(vd->detail),
            "the body is shorter than the length the signature of %s covers (l=): the "
            "message was altered after signing -- a forwarder or list, or the sender's "
            "own software",
            d);
        return;
    }
    if (!c.processed) {
        /* Nothing above explains it: libopendkim could not get to it. */
        set(vd, "internal.dkim", NULL);
        snprintf(vd->detail, sizeof(vd->detail),
                 "the signature of %s could not be verified", d);
        return;
    }
    if (!c.signature_ok) {
        set(vd, "dkim.signature_mismatch", NULL);
        snprintf(
            vd->detail, sizeof(vd->detail),
            "the signature of %s does not verify with the key at %s: a signed header was "
            "changed after signing, or the signer used another key than the one "
            "published",
            d, qname);
        return;
    }
    if (!c.body_hash_ok) {
        set(vd, "dkim.body_hash_mismatch", NULL);
        snprintf(
            vd->detail, sizeof(vd->detail),
            "the body signed by %s changed (body hash mismatch): the message was altered "
            "after signing -- a forwarder or list, or the sender's own software",
            d);
        return;
    }
    passed(v, s, vd, d, qname);
}

static char *keep(struct fl_dkim_verifier *v, const char *s)
{
    v->strings = fl_realloc(v->strings, (v->nstrings + 1) * sizeof(*v->strings));
    return v->strings[v->nstrings++] = fl_strdup(s);
}

static void add_props(struct fl_dkim_verifier *v, struct fl_dkim_sig *s,
                      struct fl_result *r, struct fl_dkim_signature *info)
{
    DKIM_SIGINFO *si = s->si;
    char ident[512] = "";
    char b[128] = "";
    size_t blen = sizeof(b) - 1;
    if (dkim_sig_getidentity(v->dkim, si, (u_char *)ident, sizeof(ident)) != DKIM_STAT_OK)
        ident[0] = '\0';
    if (dkim_get_sigsubstring(v->dkim, si, b, &blen) == DKIM_STAT_OK)
        b[blen < sizeof(b) ? blen : sizeof(b) - 1] = '\0';
    else
        b[0] = '\0';
    info->domain = keep(v, tag_or_empty(si, "d"));
    info->selector = keep(v, tag_or_empty(si, "s"));
    info->identity = keep(v, ident);
    info->algorithm = keep(v, tag_or_empty(si, "a"));
    if (*info->domain)
        fl_result_add_prop(r, "header", "d", info->domain);
    if (*info->identity)
        fl_result_add_prop(r, "header", "i", info->identity);
    if (*info->selector)
        fl_result_add_prop(r, "header", "s", info->selector);
    if (*info->algorithm)
        fl_result_add_prop(r, "header", "a", info->algorithm);
    if (b[0] != '\0')
        fl_result_add_prop(r, "header", "b", b);
}

/* A result straight from a row of the table. */
static void table_result(struct fl_result *r, const char *code, const char *detail)
{
    struct verdict vd;
    set(&vd, code, NULL);
    fl_result_init(r, "dkim", vd.res);
    fl_result_set_reason(r, vd.code, vd.reason, detail);
    r->fault = vd.fault;
    r->transient = vd.transient;
}

static void excess_result(struct fl_dkim_verifier *v, const struct fl_dkim_excess *e,
                          struct fl_result *r, struct fl_dkim_signature *info)
{
    char detail[200];
    snprintf(detail, sizeof(detail),
             "not verified: only the first %lld signatures of a message are verified "
             "(dkim_max_signatures)",
             v->cfg->dkim_max_signatures);
    table_result(r, "dkim.too_many_signatures", detail);
    char ident[300] = "";
    if (e->i == NULL && e->d != NULL)
        snprintf(ident, sizeof(ident), "@%s", e->d);
    info->domain = keep(v, e->d ? e->d : "");
    info->selector = keep(v, e->s ? e->s : "");
    info->identity = keep(v, e->i ? e->i : ident);
    info->algorithm = keep(v, e->a ? e->a : "");
    info->result = FL_RES_POLICY;
    info->passed = false;
    info->r = r;
    if (*info->domain)
        fl_result_add_prop(r, "header", "d", info->domain);
    if (*info->identity)
        fl_result_add_prop(r, "header", "i", info->identity);
    if (*info->selector)
        fl_result_add_prop(r, "header", "s", info->selector);
    if (*info->algorithm)
        fl_result_add_prop(r, "header", "a", info->algorithm);
    if (e->b != NULL && *e->b)
        fl_result_add_prop(r, "header", "b", e->b);
}

void fl_dkim_evaluate(struct fl_dkim_verifier *v)
{
    if (v->broken) {
        v->nresults = 1;
        v->results = fl_calloc(1, sizeof(*v->results));
        table_result(&v->results[0],
                     v->over_budget ? "internal.over_budget" : "internal.dkim",
                     v->over_budget ? "the message's headers exceed our per-message "
                                      "memory limit (message_memory_limit)"
                                    : "libopendkim failed on this message");
        return;
    }
    if (v->nsigs == 0 && v->nexcess == 0) {
        v->nresults = 1;
        v->results = fl_calloc(1, sizeof(*v->results));
        fl_result_init(&v->results[0], "dkim", FL_RES_NONE);
        fl_result_set_reason(&v->results[0], NULL, NULL,
                             "the message is not DKIM-signed");
        return;
    }
    v->nresults = v->nsigs + v->nexcess;
    v->results = fl_calloc(v->nresults, sizeof(*v->results));
    v->info = fl_calloc(v->nresults, sizeof(*v->info));
    bool any_pass = false;
    for (size_t i = 0; i < v->nsigs; i++) {
        struct verdict vd;
        judge(v, &v->sigs[i], &vd);
        struct fl_result *r = &v->results[i];
        fl_result_init(r, "dkim", vd.res);
        fl_result_set_reason(r, vd.code, vd.reason[0] ? vd.reason : NULL,
                             vd.detail[0] ? vd.detail : NULL);
        r->fault = vd.fault;
        r->transient = vd.transient;
        add_props(v, &v->sigs[i], r, &v->info[i]);
        v->info[i].result = vd.res;
        v->info[i].passed = vd.res == FL_RES_PASS;
        v->info[i].r = r;
        any_pass |= vd.res == FL_RES_PASS;
    }
    for (size_t i = 0; i < v->nexcess; i++)
        excess_result(v, &v->excess[i], &v->results[v->nsigs + i],
                      &v->info[v->nsigs + i]);
    /* dkim_fail_action: a message none of whose signatures passes, and
       one of them failed for a reason the sender can fix. */
    if (v->cfg->dkim_fail_action != FL_REJECT || any_pass)
        return;
    for (size_t i = 0; i < v->nresults; i++) {
        struct fl_result *r = &v->results[i];
        if ((r->result == FL_RES_FAIL || r->result == FL_RES_POLICY ||
             r->result == FL_RES_PERMERROR) &&
            r->fault == FL_FAULT_SENDER)
            r->action = FL_ACTION_REJECT;
    }
}
