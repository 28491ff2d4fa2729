/* arc: Authenticated Received Chain verification (RFC 8617) for one
   message.  The ARC header fields are collected as the headers stream in
   (every field is kept, as "Name: value" with CRLF folds, because an
   ARC-Message-Signature signs other fields like a DKIM-Signature does);
   at end of headers the sets are parsed and the chain's structure checked
   (5.2 steps 1-3: at most 50 sets, instances 1..N without gaps or
   duplicates, one ARC-Seal, ARC-Message-Signature and
   ARC-Authentication-Results per instance, cv=none at i=1 and cv=pass
   above), and the key lookups (s._domainkey.d TXT through lib/dns) start,
   so they run while the body arrives.  Body hashes are computed as the
   body streams (one per distinct canonicalisation and l=, never a copy
   of the body).  At end of message each AMS is verified like a DKIM
   signature (lib/dkim/dkim_canon.c canonicalises; rsa-sha256, ed25519-sha256),
   the oldest-pass instance found (5.2 step 5), and each AS verified over
   the ARC fields of instances 1..i (5.1.1 order, relaxed).

   Result: method "arc", pass / fail / none (temperror when a key lookup
   failed and nothing else decided), props header.oldest-pass and
   smtp.remote-ip, a reason naming the instance, signature and key that
   broke the chain; fault=sender when a sealer's key or signature is
   broken.

   Thread-safety: a struct fl_arc belongs to one message and is used by
   one thread at a time. */
#ifndef FL_LIB_ARC_H
#define FL_LIB_ARC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/dns/dns.h"
#include "lib/core/result.h"

/* RFC 8617 4.2.1: instance numbers run from 1 to 50. */
#define FL_ARC_MAX_SETS 50

struct fl_arc;

/* What the verdict record says about one ARC set (after fl_arc_eom). */
struct fl_arc_set_report {
    int instance;
    const char *sealer;       /* AS d=, "" if unknown */
    const char *as_selector;  /* AS s= */
    const char *ams_domain;   /* AMS d= */
    const char *ams_selector; /* AMS s= */
    const char *cv;           /* AS cv= as written, "" if none */
    enum fl_res ams;          /* pass, fail, temperror, none (not verified) */
    enum fl_res as;
    const char *ams_why;      /* why the AMS did not pass, or NULL */
    const char *as_why;
};

/* Starts the verification of one message.  dns must outlive it (NULL:
   no key is looked up, every signature that gets that far is
   temperror -- for parsers' tests);
   deadline_ms (monotonic, 0: none) bounds the key lookups; mem_limit
   (bytes, 0: none; message_memory_limit) bounds the copy of the header
   fields -- past it the chain is not verified (arc=temperror, reason code
   internal.over_budget, fault=receiver).  Never fails. */
struct fl_arc_keys;
/* keys: the daemon's cache of decoded sealer keys (lib/arc/arc_keys.h),
   or NULL to decode them for this message only. */
struct fl_arc *fl_arc_new(struct fl_dns *dns, struct fl_arc_keys *keys, long long deadline_ms,
                          size_t mem_limit);
/* One header field as libmilter passes it (name without the colon,
   value without the leading space; folds as "\n" or "\r\n" plus WSP). */
void fl_arc_header(struct fl_arc *a, const char *name, const char *value);
/* End of headers: parses the sets, checks the chain's structure and
   starts the key lookups (never waits).  Returns 1 if the body is needed
   (an AMS body hash), 0 if not.  Calling it again returns the same. */
int fl_arc_eoh(struct fl_arc *a);
/* A body chunk (CRLF line ends; bare LF accepted). */
void fl_arc_body(struct fl_arc *a, const unsigned char *chunk, size_t len);
/* End of message: waits for the keys (until the deadline), verifies and
   fills out (uninitialised) with the chain's result; client_ip (may be
   NULL) becomes smtp.remote-ip.  Calling it again copies the same
   result. */
void fl_arc_eom(struct fl_arc *a, const char *client_ip, struct fl_result *out);

/* After fl_arc_eom. */
enum fl_res fl_arc_chain_result(const struct fl_arc *a);
/* Number of sets (N), and set i (1..N). */
size_t fl_arc_nsets(const struct fl_arc *a);
const struct fl_arc_set_report *fl_arc_set(const struct fl_arc *a, int instance);
/* RFC 8617 5.2 step 5: 0 when every AMS verified, else the lowest
   instance from which every AMS up to N verified. */
int fl_arc_oldest_pass(const struct fl_arc *a);
/* The RFC 8601 payload of instance i's ARC-Authentication-Results
   (after "i=N;"), *len_r bytes, or NULL (no such set, or the chain's
   structure is broken). */
const char *fl_arc_aar(const struct fl_arc *a, int instance, size_t *len_r);
/* Where the chain failed: returns the instance (0 for a structural
   failure or none), *sig_r "AMS" or "AS" (NULL for structure), *why_r
   the reason naming the signature and key (NULL if it did not fail). */
int fl_arc_failure(const struct fl_arc *a, const char **sig_r, const char **why_r);
/* The k-th (0-based) result "method=pass" of the ARC-Authentication-
   Results of instance i whose property ptype_prop ("header.from",
   "smtp.mailfrom", "header.d") is present: its value (unquoted, cut to
   size) into value.  Returns 1 if found, 0 if not.  Comments are
   ignored; sender-controlled text is not trusted beyond this parse. */
int fl_arc_aar_pass(const struct fl_arc *a, int instance, const char *method,
                    const char *ptype_prop, size_t k, char *value, size_t size);
/* Writes the members "result", "oldest_pass", "chain" (sealing domains,
   i=1 first), "sets" (every set's AMS/AS result and why) and "failed"
   (instance, signature and key that broke the chain); lib/core/json_out.h. */
struct fl_json_out;
void fl_arc_json(const struct fl_arc *a, struct fl_json_out *members);
/* Cancels pending lookups and frees.  Accepts NULL; sets *a NULL. */
void fl_arc_free(struct fl_arc **a);

/* As a check (lib/core/check.h): started at MAIL FROM with DMARC. */
struct fl_check;
struct fl_checks;
extern const struct fl_check fl_check_arc;
/* After end of message: the verified chain, or NULL (no ARC sets, or ARC
   did not run). */
const struct fl_arc *fl_arc_verified(const struct fl_checks *cs);

#endif
