/* dkim_int: the verifier's internals shared by lib/dkim/dkim.c (feeding
   libopendkim, key lookups, memory accounting) and lib/dkim/dkim_eval.c
   (turning each signature into a result).  Not part of the API. */
#ifndef FL_LIB_DKIM_INT_H
#define FL_LIB_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <opendkim/dkim.h>

#include "lib/core/buf.h"
#include "lib/dkim/dkim.h"
#include "lib/dkim/dkim_canon.h"
#include "lib/dkim/dkim_libcanon.h"
#include "lib/dkim/dkim_taglist.h"
#include "lib/dns/dns.h"

/* RFC 5322 3.6: fields that may appear at most once.  An instance the
   signature does not cover was added after signing (RFC 6376 8.15). */
#define FL_DKIM_NSINGLETONS 10
extern const char *const fl_dkim_singletons[FL_DKIM_NSINGLETONS]; /* [0] is "from" */

struct fl_dkim_ctx {
    DKIM_LIB *lib;
    struct fl_dns *dns;
};

/* One key lookup: a distinct s=._domainkey.d= name. */
struct fl_dkim_key {
    char *qname;
    struct fl_dns_query *q;
    const struct fl_dns_answer *a; /* once waited for */
    bool checked;                  /* rec/unusable set from the answer */
    bool decided;                  /* big is known */
    bool big;                      /* too long for libopendkim: lib/dkim/dkim_canon.c verifies */
    struct fl_dkim_keyrec rec;     /* the chosen record, checked (RFC 6376 3.6.1) */
    char *unusable;                /* key syntax error naming the tag, or NULL */
};

/* One DKIM-Signature header, in message order. */
struct fl_dkim_sig {
    DKIM_SIGINFO *si;
    int key;      /* index into keys, -1 when no lookup was started */
    bool ignored; /* beyond dkim_max_signatures */
    /* The key record refuses this signature (RFC 6376 3.6.1, 6.1.2): the
       outcome's reason code and why, or NULL. */
    const char *refused;
    char *refused_why;
    /* Our own body hash (RSA), kept while the key may be too long for
       libopendkim (lib/dkim/dkim_canon.h); NULL otherwise. */
    struct fl_dkim_body *own;
    /* Its body hash when lib/dkim/dkim_libcanon.c computes it instead of
       libopendkim (index into the verifier's libcanon), -1 otherwise. */
    int libcanon;
};

/* A DKIM-Signature field as fl_dkim_signature_check saw it. */
struct fl_dkim_sigfield {
    bool lib_bad; /* libopendkim could not parse its tag list */
    int strict;   /* fl_dkim_signature_check: 0, 1 (From not signed), -1 */
    char *why;    /* its reason when strict != 0 */
    size_t hdr;   /* its index in the verifier's headers */
};

/* libopendkim's key buffer: dkim_get_key() hands every key lookup
   BUFRSZ + 1 = 1025 bytes (libopendkim/dkim.c, fixed at its build). */
#define FL_DKIM_LIB_KEYBUF 1025

/* A DKIM-Signature beyond dkim_max_signatures: never given to
   libopendkim (which would hash the body for it), only named in its
   dkim=policy result.  Tag values with the folding whitespace removed. */
struct fl_dkim_excess {
    char *d, *s, *a, *i, *b;
};

struct fl_dkim_verifier {
    struct fl_dkim_ctx *ctx;
    const struct fl_config *cfg;
    DKIM *dkim;
    long long deadline_ms;
    bool eoh_done, eom_done;
    bool broken;      /* libopendkim gave up: the message cannot be verified */
    bool over_budget; /* ... because of message_memory_limit */
    size_t mem_now, mem_peak, mem_limit;
    struct fl_buf field; /* scratch: one header field being rebuilt */
    bool count_body;     /* a signature has l= */
    /* The canonical body length (counted only when count_body):
       libopendkim stops counting at l=, and content beyond l= must be
       told from an l= covering it all. */
    struct fl_dkim_body simple, relaxed;
    struct fl_dkim_headers headers; /* every field, for lib/dkim/dkim_canon.c */
    bool own_started;               /* start_own_hashes ran */
    /* No signature has l=: the body hashes are computed by
       lib/dkim/dkim_libcanon.c, one per distinct canonicalisation and
       hash, and libopendkim gets no body (it still verifies the header
       hashes; lib/dkim/dkim_eval.c compares bh=). */
    bool own_body;
    struct fl_dkim_libchunks chunks;
    struct fl_dkim_libcanon *libcanon;
    size_t nlibcanon;
    size_t libcanon_mem; /* their held words, counted in mem_now */
    unsigned int hcount[FL_DKIM_NSINGLETONS];
    struct fl_dkim_sigfield *sigfields; /* per DKIM-Signature field, in order */
    size_t nsigfields;
    struct fl_dkim_excess *excess; /* DKIM-Signature fields beyond the maximum */
    size_t nexcess;
    struct fl_dkim_key *keys;
    size_t nkeys;
    struct fl_dkim_sig *sigs;
    size_t nsigs;
    struct fl_result *results;
    size_t nresults;
    struct fl_dkim_signature *info;
    char **strings; /* copies owned by info[] */
    size_t nstrings;
};

/* Waits for key k (until the message deadline at most). */
const struct fl_dns_answer *fl_dkim_key_answer(struct fl_dkim_key *k);

/* What the key's own tags say about this signature (RFC 6376 3.6.1,
   6.1.2): NULL if it may verify it, else an outcome code (a row of the
   table in lib/dkim/dkim_eval.c) with the reason appended to why. */
const char *fl_dkim_key_refuses(DKIM_SIGINFO *si, const struct fl_dkim_keyrec *rec,
                                struct fl_buf *why);

/* The strict check of the i-th signature's field, or NULL. */
const struct fl_dkim_sigfield *fl_dkim_sigfield(const struct fl_dkim_verifier *v, size_t i);

/* Fills v->results (and v->info) from the processed signatures, or with
   the one result of an unsigned or unverifiable message. */
void fl_dkim_evaluate(struct fl_dkim_verifier *v);

#endif
