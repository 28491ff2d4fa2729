/* sanitize: the one pass every sender-controlled string goes through before
   it reaches a header, a log line or a JSON record.  Thread-safe. */
#ifndef FL_LIB_SANITIZE_H
#define FL_LIB_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"

/* Appends s to out as 7-bit printable ASCII: CR, LF, NUL (s ends there),
   other control bytes, DEL and every non-ASCII byte become '?'.  At most
   max bytes of s are used (0: no limit); a cut is marked with "...".
   For headers and log lines, which must stay one line of 7-bit text. */
void fl_sanitize_ascii(struct fl_buf *out, const char *s, size_t max);

/* The same for len bytes of s that may hold NUL bytes (a DNS TXT string):
   each NUL becomes '?' like any other control byte. */
void fl_sanitize_ascii_n(struct fl_buf *out, const char *s, size_t len, size_t max);

/* Appends s to out keeping valid UTF-8 (RFC 3629, no overlongs, no
   surrogates) and replacing each invalid byte and each control byte but
   TAB with U+FFFD.  For JSON records, which must be valid UTF-8 and should
   keep an internationalised address readable. */
void fl_sanitize_utf8(struct fl_buf *out, const char *s, size_t max);

/* True if s is non-empty and every byte is printable 7-bit ASCII. */
bool fl_is_printable_ascii(const char *s);
/* Whether the n bytes at s are valid UTF-8 (RFC 3629: no overlong forms,
   no surrogates, nothing past U+10FFFF). */
bool fl_utf8_valid(const char *s, size_t n);

#endif
