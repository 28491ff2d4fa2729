/* spf_record: SPF records as RFC 7208 defines them (sections 4.5, 5, 6
   and the ABNF of section 12), checked and rewritten before libspf2
   compiles them.  libspf2 1.2.10 accepts records the RFC calls invalid
   (bad domain-specs, stray '%', duplicate modifiers, control characters,
   non-ASCII), rejects some valid ones (modifier names with '.', '-', '_';
   CIDR lengths of 0) and evaluates redirect= where it stands.  So every
   record goes through fl_spf_record_normalise first: an invalid record
   is a permerror decided here, a valid one is handed to libspf2 in an
   equivalent form it evaluates correctly.  Pure functions: thread-safe. */
#ifndef FL_LIB_SPF_RECORD_H
#define FL_LIB_SPF_RECORD_H

#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/spf/spf_macro.h"

/* The label lib/spf/dns_spf.c recognises at the end of a query name that
   stands for "any address of this name matches": the rewritten form of
   a/0 and mx/0 (and //0), which libspf2 cannot express.  A name never
   reaches the DNS with it. */
#define FL_SPF_ANY_ADDRESS_TAG "fl-cidr0.invalid"

/* Returns 1 if txt[0..len) is an SPF version 1 record: "v=spf1" in any
   case, then a space or the end (RFC 7208 4.5), else 0. */
int fl_spf_record_is_spf(const char *txt, size_t len);

struct fl_spf_record_ctx {
    int family; /* the client's: AF_INET or AF_INET6 */
    /* Values of the macro letters for this evaluation, used to rewrite
       DIGIT transformers libspf2 would apply wrongly; NULL: no rewrite. */
    const struct fl_spf_macro_vars *vars;
};

/* Checks the SPF record txt[0..len) (NUL bytes included) and, when it is
   valid, writes to out (appended) the same policy as libspf2 should see
   it:
     - mechanisms in their order, names in lower case;
     - exp= and then redirect= at the end; redirect= dropped when the
       record has an "all" mechanism (6.1); unknown modifiers dropped
       (their syntax is still checked, 6 and 12);
     - ip4:N/0 and ip6:N/0 as two /1 networks;
     - a and mx keep only the CIDR length of the client's family; a
       length of 0 becomes the FL_SPF_ANY_ADDRESS_TAG suffix on the
       target name (lib/spf/dns_spf.c honours it);
     - macro transformers libspf2 mishandles rewritten ("R" as "r", a
       DIGIT of at least the value's part count dropped, above 128 cut
       to 128).
   Returns 0, or -1 when the record is invalid, with a short
   printable-ASCII sentence appended to err naming the fault and the term
   ("unknown mechanism \"moo\"").  Invalid means: a byte outside
   printable ASCII, terms not separated by spaces, an unknown mechanism,
   a modifier with a qualifier, a bad domain-spec, macro, IP network or
   CIDR length, a missing or unexpected argument, or redirect= or exp=
   twice. */
int fl_spf_record_normalise(const char *txt, size_t len,
                            const struct fl_spf_record_ctx *ctx, struct fl_buf *out,
                            struct fl_buf *err);

/* Checks domain-spec s[0..len) (RFC 7208 7.1: a macro-string ending in
   "." toplabel, optionally ".", or in a macro-expand).  Returns 0, or -1
   with the reason appended to err. */
int fl_spf_domain_spec_check(const char *s, size_t len, struct fl_buf *err);

#endif
