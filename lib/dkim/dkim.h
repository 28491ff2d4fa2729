/* dkim: DKIM signature verification (RFC 6376; RFC 8301 algorithm and key
   size rules; RFC 8463 Ed25519; RFC 6008 header.b).  libopendkim does the
   canonicalisation and the cryptography (but for keys too long for its
   key buffer: lib/dkim/dkim_canon.c), after the strict tag-list checks of
   lib/dkim/dkim_taglist.c (RFC 6376 3.2, 3.5, 3.6.1); this module feeds it
   the message as the MTA streams it (headers, then body chunks, never a
   copy of the body), fetches the keys through lib/dns, and turns every
   signature into one struct fl_result with a reason code and a fault
   (the table of lib/dkim/dkim_eval.c).

   Concurrency: the key lookups start at end-of-headers, one lib/dns query
   per distinct s=/d= pair, and run while the body arrives; libopendkim's
   own verification is delayed to end-of-message (DKIM_LIBFLAGS_DELAYSIGPROC)
   and reads the answers through dkim_set_key_lookup, so fl_dkim_eoh never
   waits for DNS and fl_dkim_eom waits at most until the message deadline.
   Signatures beyond dkim_max_signatures are never handed to libopendkim
   (no body hash, no lookup): they are only reported, as dkim=policy.

   Thread-safety: one struct fl_dkim_ctx per process, shared by every
   thread (its DKIM_LIB is configured once and never changed).  A verifier
   belongs to one message and is used by one thread at a time; it may move
   between threads between calls (libmilter does that). */
#ifndef FL_LIB_DKIM_H
#define FL_LIB_DKIM_H

#include "lib/core/buf.h"
#include <stdbool.h>
#include <stddef.h>

#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/core/result.h"

/* Values of the enum settings (index into their "choices"). */
/* dkim_rsa_sha1 = policy|fail|pass */
enum fl_dkim_sha1 {
    FL_DKIM_SHA1_POLICY,
    FL_DKIM_SHA1_FAIL,
    FL_DKIM_SHA1_PASS,
};
/* dkim_body_length, dkim_testing_keys, dkim_added_headers = policy|accept */
enum fl_dkim_accept {
    FL_DKIM_POLICY,
    FL_DKIM_ACCEPT,
};

/* Largest dkim_clock_skew; libopendkim's own clock drift is set to it. */
#define FL_DKIM_MAX_SKEW_S 3600

struct fl_dkim_ctx;
struct fl_dkim_verifier;

/* What DMARC needs of each signature, in message order (top first). */
struct fl_dkim_signature {
    const char *domain;    /* d=, "" when absent */
    const char *selector;  /* s=, "" when absent */
    const char *identity;  /* i=, or "@" d= */
    const char *algorithm; /* a=, "" when absent */
    enum fl_res result;
    bool passed; /* result is pass: d= may align with From */
    const struct fl_result *r;
};

/* One row of the table of DKIM outcomes (lib/dkim/dkim_eval.c), the one place
   that says what each way a signature can end is reported as: RFC 6376
   6.1 (PERMFAIL -> permerror, TEMPFAIL -> temperror, a signature that
   does not verify -> fail) and RFC 8601 2.7.1 (policy: acceptable to the
   RFCs but not to this verifier's policy).  The man page faultline(8)
   lists the same rows; a unit test holds the two together. */
struct fl_dkim_outcome {
    const char *code;   /* reason code of the verdict */
    enum fl_res result; /* AR result (the default where a setting changes it) */
    enum fl_fault fault;
    const char *reason; /* AR reason= (tag errors append ": " and the tag) */
    const char *basis;  /* the RFC rule, or the local policy and its setting */
};
/* The table, *n_r rows. */
const struct fl_dkim_outcome *fl_dkim_outcomes(size_t *n_r);

/* Creates the process-wide context: a DKIM_LIB whose key lookups go
   through dns (which must outlive the context).  Returns NULL with
   the reason appended to err if libopendkim cannot be set up or lacks
   SHA-256 or Ed25519 support. */
struct fl_dkim_ctx *fl_dkim_ctx_create(struct fl_dns *dns, struct fl_buf *err);
/* Frees the context.  Every verifier made from it must be freed first.
   Accepts NULL; sets *ctx NULL. */
void fl_dkim_ctx_destroy(struct fl_dkim_ctx **ctx);

/* Starts the verification of one message.  cfg is the message's
   configuration snapshot (dkim_* policy, message_memory_limit) and must
   outlive the verifier; deadline_ms (monotonic, see clock.h; 0 for none)
   bounds every key lookup.  Never fails. */
struct fl_dkim_verifier *fl_dkim_new(struct fl_dkim_ctx *ctx, const struct fl_config *cfg,
                                     long long deadline_ms);

/* Feeds one header field as libmilter passes it: name without the colon,
   value without the leading whitespace, folded lines joined by "\n" or
   "\r\n" plus whitespace.  The field is rebuilt as "name: value" with CRLF
   line ends (what an RFC 5322 message carries in the usual case of one
   space after the colon).  Returns 0, or -1 if the verifier has given up
   (libopendkim out of memory or over the memory limit); feeding may go
   on, fl_dkim_eom still gives the result. */
int fl_dkim_header(struct fl_dkim_verifier *v, const char *name, const char *value);
/* The same for a whole field exactly as it appears in the message
   ("Name:value", folded lines, no final line end), e.g. a milter that
   negotiated SMFIP_HDR_LEADSPC passes name ":" value. */
int fl_dkim_header_field(struct fl_dkim_verifier *v, const char *field, size_t len);
/* End of the headers: parses the signatures and starts their key lookups
   (never waits for them).  Returns 1 if the body is needed, 0 if not (no
   signature to verify: the caller may skip fl_dkim_body), -1 as above. */
int fl_dkim_eoh(struct fl_dkim_verifier *v);
/* Feeds a body chunk (CRLF line ends as milters get them; bare LF is
   accepted too).  Calls fl_dkim_eoh first if it was not called.  Returns
   0 or -1 as above. */
int fl_dkim_body(struct fl_dkim_verifier *v, const unsigned char *chunk, size_t len);
/* End of message: waits (until the deadline at most) for the key
   lookups, verifies, applies the dkim_* policy of cfg and returns one
   result per DKIM-Signature in message order (method "dkim", props
   header.d, header.i, header.s, header.a, header.b; a reason on anything
   but pass), or a single dkim=none for an unsigned message.  The results
   belong to v (valid until fl_dkim_free; copy them with fl_result_copy).
   Calling it again returns the same results.  Returns 0, or -1 when the
   message could not be verified at all (*results_r then holds one
   temperror with reason code internal.over_budget or internal.dkim). */
int fl_dkim_eom(struct fl_dkim_verifier *v, const struct fl_result **results_r,
                size_t *n_r);
/* After fl_dkim_eom: the signatures as DMARC needs them (same order and
   count as the results, none for an unsigned message).  Owned by v. */
size_t fl_dkim_signatures(const struct fl_dkim_verifier *v,
                          const struct fl_dkim_signature **sigs_r);
/* Bytes held for this message now and at most so far: libopendkim's
   (headers, signature and key records, canonicalisation buffers) and our
   copy of the header fields (lib/dkim/dkim_canon.c) -- never the body. */
void fl_dkim_memory(const struct fl_dkim_verifier *v, size_t *now_r, size_t *peak_r);
/* Cancels pending lookups and frees.  Accepts NULL; sets *v NULL. */
void fl_dkim_free(struct fl_dkim_verifier **v);

/* As a check (lib/core/check.h): started at MAIL FROM, fed as the message
   streams in. */
struct fl_check;
struct fl_checks;
extern const struct fl_check fl_check_dkim;
/* After end of message: the signatures (fl_dkim_signatures), 0 when DKIM
   did not run. */
size_t fl_dkim_check_signatures(const struct fl_checks *cs,
                                const struct fl_dkim_signature **sigs_r);

#endif
