/* ctl_json: a small, fast JSON reader for faultlinectl's verdict-log
   tools (why, report).  A day of a busy MX is millions of records; a
   general DOM (jansson) allocates per node and reads ~60 MB/s here, which
   is too slow for `report`.  This one parses one line in place (strings
   are unescaped inside the caller's buffer and NUL-terminated there) into
   a node array that is reused from line to line, so a record costs no
   allocation once the array has grown.

   Accepts RFC 8259 JSON; rejects anything else with the byte offset of
   the problem (unterminated strings, bad escapes, trailing garbage, a
   nesting deeper than FL_CJ_MAX_DEPTH).  Never reads outside the buffer.

   Thread-safety: one struct fl_cj per thread. */
#ifndef FL_MILTER_CTL_JSON_H
#define FL_MILTER_CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define FL_CJ_MAX_DEPTH 64

enum fl_cj_type {
    FL_CJ_NULL,
    FL_CJ_BOOL,
    FL_CJ_NUM,
    FL_CJ_STR,
    FL_CJ_ARR,
    FL_CJ_OBJ,
};

/* One value.  Children of an array or object are linked through next
   (index into the node array, -1 at the end), starting at first. */
struct fl_cj_node {
    enum fl_cj_type type;
    const char *key; /* member name inside an object, else NULL */
    const char *str; /* FL_CJ_STR: unescaped, NUL-terminated */
    size_t len;      /* FL_CJ_STR: bytes (may hold NUL from \u0000) */
    double num;      /* FL_CJ_NUM */
    bool b;          /* FL_CJ_BOOL */
    int first, next;
    int count; /* children */
};

struct fl_cj {
    struct fl_cj_node *nodes;
    int n, cap;
};

void fl_cj_init(struct fl_cj *cj);
void fl_cj_free(struct fl_cj *cj);

/* Parses text[0..len) (modified in place; text[len] must be writable and
   is set to NUL).  Returns the root node, or NULL with *error_r set to
   static text and *offset_r to the byte where parsing stopped. */
const struct fl_cj_node *fl_cj_parse(struct fl_cj *cj, char *text, size_t len,
                                     const char **error_r, size_t *offset_r);

/* Member key of object o, or NULL (o NULL or not an object). */
const struct fl_cj_node *fl_cj_get(const struct fl_cj *cj, const struct fl_cj_node *o,
                                   const char *key);
/* Element i of array a, or NULL. */
const struct fl_cj_node *fl_cj_at(const struct fl_cj *cj, const struct fl_cj_node *a, int i);
/* The next sibling of v (array element or object member), or NULL. */
const struct fl_cj_node *fl_cj_next(const struct fl_cj *cj, const struct fl_cj_node *v);
/* The first child of a container, or NULL. */
const struct fl_cj_node *fl_cj_first(const struct fl_cj *cj, const struct fl_cj_node *v);
/* The string of v, or NULL when v is NULL or not a string. */
const char *fl_cj_str(const struct fl_cj_node *v);
/* The string member key of o, or NULL. */
const char *fl_cj_gets(const struct fl_cj *cj, const struct fl_cj_node *o, const char *key);
/* The number of v, or def when v is not a number. */
double fl_cj_num(const struct fl_cj_node *v, double def);
/* True for a JSON true. */
bool fl_cj_true(const struct fl_cj_node *v);

#endif
