/* fuzz_ctl_json: faultlinectl's verdict-log reader (milter/ctl_json.c)
   on hostile lines.  Invariants: a parse either fails with an offset
   inside the line or gives a tree whose strings lie inside the line and
   are NUL-terminated; every node can be walked; and the reader is no
   stricter than jansson (what jansson accepts, shallow enough, parses). */
#include "tests/fuzz/fuzz.h"
#include "milter/ctl_json.h"

#include <jansson.h>

static void walk(const struct fl_cj *cj, const struct fl_cj_node *v, const char *lo,
                 const char *hi, int depth)
{
    FUZZ_ASSERT(depth <= FL_CJ_MAX_DEPTH + 1, "tree deeper than the limit");
    if (v->type == FL_CJ_STR) {
        FUZZ_ASSERT(v->str >= lo && v->str + v->len <= hi, "string outside the line");
        FUZZ_ASSERT(v->str[v->len] == '\0', "string not NUL-terminated");
    }
    int n = 0;
    for (const struct fl_cj_node *c = fl_cj_first(cj, v); c; c = fl_cj_next(cj, c)) {
        if (v->type == FL_CJ_OBJ)
            FUZZ_ASSERT(c->key != NULL && fl_cj_get(cj, v, c->key) != NULL,
                        "member not found by its name");
        walk(cj, c, lo, hi, depth + 1);
        n++;
    }
    FUZZ_ASSERT(n == v->count, "child count differs from the children");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fuzz_cstr(data, size);
    struct fl_cj cj;
    fl_cj_init(&cj);
    const char *why = NULL;
    size_t off = 0;
    const struct fl_cj_node *root = fl_cj_parse(&cj, line, size, &why, &off);
    if (root == NULL)
        FUZZ_ASSERT(why != NULL && off <= size, "an error without a reason or offset");
    else
        walk(&cj, root, line, line + size, 0);
    size_t opens = 0, nuls = 0;
    for (size_t i = 0; i < size; i++) {
        opens += data[i] == '[' || data[i] == '{';
        nuls += data[i] == '\0'; /* jansson stops at a raw NUL; a line must not */
    }
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (j != NULL && opens <= FL_CJ_MAX_DEPTH && nuls == 0)
        FUZZ_ASSERT(root != NULL, "jansson accepts what the reader refuses");
    json_decref(j);
    fl_cj_free(&cj);
    free(line);
    return 0;
}
