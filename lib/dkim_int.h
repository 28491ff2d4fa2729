/* dkim_int: the verifier's internals shared by lib/dkim.c (feeding
   libopendkim, key lookups, memory accounting) and lib/dkim_eval.c
   (turning each signature into a result).  Not part of the API. */
#ifndef FL_LIB_DKIM_INT_H
#define FL_LIB_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <opendkim/dkim.h>

#include "lib/buf.h"
#include "lib/dkim.h"
#include "lib/dns.h"

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
    const char *unusable;          /* why the chosen record was not handed over */
};

/* One DKIM-Signature header, in message order. */
struct fl_dkim_sig {
    DKIM_SIGINFO *si;
    int key;      /* index into keys, -1 when no lookup was started */
    bool ignored; /* beyond dkim_max_signatures */
};

/* The length of the canonicalized body (RFC 6376 3.4.3 simple, 3.4.4
   relaxed), counted while it streams by: libopendkim stops counting at
   l=, and content beyond l= must be told from an l= covering it all. */
struct fl_dkim_bodylen {
    long long done;   /* canonical bytes of the lines ended so far */
    long long blanks; /* empty lines not yet followed by content */
    long long line;   /* canonical bytes of the current line */
    bool wsp;         /* relaxed: whitespace pending in the line */
    bool cr;          /* the last byte was a CR */
};

void fl_dkim_bodylen_feed(struct fl_dkim_bodylen *b, bool relaxed, const unsigned char *p,
                          size_t len);
long long fl_dkim_bodylen_total(const struct fl_dkim_bodylen *b, bool relaxed);

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
    struct fl_dkim_bodylen simple, relaxed;
    unsigned int hcount[FL_DKIM_NSINGLETONS];
    bool *sigfield_bad; /* per DKIM-Signature field, in order: tag list unparsable */
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

/* Fills v->results (and v->info) from the processed signatures, or with
   the one result of an unsigned or unverifiable message. */
void fl_dkim_evaluate(struct fl_dkim_verifier *v);

#endif
