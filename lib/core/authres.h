/* authres: the Authentication-Results header (RFC 8601).
   Builds the one header faultline adds from the checks' results, and
   classifies headers already in a message so forged ones claiming our
   authserv-id (RFC 8601 section 5) can be removed.  Thread-safe. */
#ifndef FL_LIB_AUTHRES_H
#define FL_LIB_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/core/result.h"

#define FL_AUTHRES_HEADER "Authentication-Results"

/* Appends the header *value* (what follows "Authentication-Results:") for
   authserv_id and every result with in_header set, or "<id>; none" when
   there is none.  Sender-controlled values are sanitised and quoted so they
   can neither add a header line nor break the RFC 8601 grammar; the value
   is folded with "\n\t" so no line exceeds 78 characters where a break
   is possible. */
void fl_authres_build(struct fl_buf *out, const char *authserv_id,
                      const struct fl_result *results, size_t nresults);

/* Appends v as an RFC 8601 pvalue: bare when it is an RFC 2045 token or a
   plain local-part@domain, otherwise a quoted-string. */
void fl_authres_put_value(struct fl_buf *out, const char *v);

/* True if s is a non-empty RFC 2045 token. */
bool fl_authres_is_token(const char *s);

enum fl_authres_class {
    FL_AUTHRES_OTHER,     /* well-formed, another authserv-id: keep */
    FL_AUTHRES_OURS,      /* claims our authserv-id: forged, remove */
    FL_AUTHRES_MALFORMED, /* no authserv-id, or results that do not parse: remove */
};

/* Classifies an existing header value (folded lines, comments and CFWS
   allowed; the id compared as a host name: case-insensitively, a trailing
   dot ignored).  A header claiming our id is OURS however the rest reads;
   another id's header must parse as no-result or resinfo (RFC 8601 2.2,
   with header.b=-style values and bare "action=none" items tolerated).  If id_r is
   not NULL and the id parsed, the id is appended to it. */
enum fl_authres_class fl_authres_classify(const char *value, const char *our_id,
                                          struct fl_buf *id_r);

#endif
