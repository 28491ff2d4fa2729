/* json_out: JSON written straight into a buffer, byte for byte as
   jansson's json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) would write the
   same tree (its separators, its string escapes, its integers) -- without
   building the tree.  For the verdict record and its parts, written once
   per message (issue 12: building and dumping jansson trees was a few per
   cent of the daemon's CPU per message).

   The writer only places commas: the caller opens and closes objects and
   arrays and writes a key before each member's value.  A string value
   that is not valid UTF-8 (jansson refuses those) is made so first
   (fl_sanitize_utf8: U+FFFD for what is not, and for control bytes), so
   the output is always valid JSON; NULL is written as null.  Thread-safety: a writer belongs to its
   caller. */
#ifndef FL_CORE_JSON_OUT_H
#define FL_CORE_JSON_OUT_H

#include "lib/core/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct fl_json_out {
    struct fl_buf *buf;
    bool comma; /* a value was written: the next member or element needs ',' */
};

void fl_json_out_init(struct fl_json_out *j, struct fl_buf *buf);
/* '{' or '[' as a value; fl_json_end closes it ('}' or ']'). */
void fl_json_begin(struct fl_json_out *j, char open);
void fl_json_end(struct fl_json_out *j, char close);
/* "key": -- key is a literal of ours, escaped all the same. */
void fl_json_key(struct fl_json_out *j, const char *key);
void fl_json_str(struct fl_json_out *j, const char *s);
void fl_json_int(struct fl_json_out *j, long long v);
void fl_json_bool(struct fl_json_out *j, bool v);
void fl_json_null(struct fl_json_out *j);

/* A JSON string of the n bytes at s (valid UTF-8) with jansson's escapes,
   quotes included. */
void fl_json_escaped(struct fl_buf *out, const char *s, size_t n);

#endif
