/* ctl_json: see ctl_json.h. */
#include "milter/ctl_json.h"
#include "lib/core/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct fl_cj *cj;
    char *p, *end;
    const char *error;
    char *start;
};

void fl_cj_init(struct fl_cj *cj)
{
    memset(cj, 0, sizeof(*cj));
}

void fl_cj_free(struct fl_cj *cj)
{
    free(cj->nodes);
    memset(cj, 0, sizeof(*cj));
}

static int new_node(struct parser *ps, enum fl_cj_type type)
{
    struct fl_cj *cj = ps->cj;
    if (cj->n == cj->cap) {
        cj->cap = cj->cap ? cj->cap * 2 : 256;
        cj->nodes = fl_realloc(cj->nodes, (size_t)cj->cap * sizeof(*cj->nodes));
    }
    struct fl_cj_node *v = &cj->nodes[cj->n];
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->first = v->next = -1;
    return cj->n++;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int fail(struct parser *ps, const char *why)
{
    if (ps->error == NULL)
        ps->error = why;
    return -1;
}

static int hex4(const char *s, unsigned int *out)
{
    unsigned int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned int)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *w, unsigned int cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xc0 | (cp >> 6));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xe0 | (cp >> 12));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *w++ = (char)(0xf0 | (cp >> 18));
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    }
    return w;
}

/* At the opening quote.  Unescapes in place; the text goes to s_r and len_r. */
static int parse_string(struct parser *ps, const char **s_r, size_t *len_r)
{
    char *r = ++ps->p, *w = r;
    /* fast path: no escapes */
    while (r < ps->end && *r != '"' && *r != '\\' && (unsigned char)*r >= 0x20)
        r++;
    w = r;
    while (r < ps->end && *r != '"') {
        unsigned char c = (unsigned char)*r;
        if (c < 0x20) {
            ps->p = r;
            return fail(ps, "control character in a string");
        }
        if (c != '\\') {
            *w++ = *r++;
            continue;
        }
        if (r + 1 >= ps->end) {
            ps->p = r;
            return fail(ps, "unterminated string");
        }
        char e = r[1];
        r += 2;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            unsigned int cp, lo;
            if (ps->end - r < 4 || hex4(r, &cp) < 0) {
                ps->p = r;
                return fail(ps, "bad \\u escape");
            }
            r += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && ps->end - r >= 6 && r[0] == '\\' &&
                r[1] == 'u' && hex4(r + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                r += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd; /* a lone surrogate: replaced, not fatal */
            }
            w = put_utf8(w, cp);
            break;
        }
        default:
            ps->p = r - 1;
            return fail(ps, "bad escape in a string");
        }
    }
    if (r >= ps->end) {
        ps->p = r;
        return fail(ps, "unterminated string (truncated line?)");
    }
    *len_r = (size_t)(w - (ps->p));
    *s_r = ps->p;
    *w = '\0'; /* w <= r: the closing quote or before it */
    ps->p = r + 1;
    return 0;
}

static int parse_number(struct parser *ps, int idx)
{
    char *s = ps->p, *q = s;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || *q < '0' || *q > '9')
        return fail(ps, "bad number");
    bool simple = true;
    long long v = 0;
    while (q < ps->end && *q >= '0' && *q <= '9') {
        if (v < 100000000000000000LL)
            v = v * 10 + (*q - '0');
        else
            simple = false;
        q++;
    }
    if (q < ps->end && (*q == '.' || *q == 'e' || *q == 'E')) {
        simple = false;
        while (q < ps->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' ||
                               *q == 'E' || *q == '+' || *q == '-'))
            q++;
    }
    double d;
    if (simple) {
        d = (double)(*s == '-' ? -v : v);
    } else {
        /* strtod needs a terminator; the byte after the number is a
           delimiter we restore. */
        char save = *q;
        *q = '\0';
        char *endp;
        d = strtod(s, &endp);
        *q = save;
        if (endp != q)
            return fail(ps, "bad number");
    }
    ps->cj->nodes[idx].num = d;
    ps->p = q;
    return 0;
}

static int parse_value(struct parser *ps, int depth, const char *key);

static int parse_container(struct parser *ps, int idx, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    int last = -1;
    for (;;) {
        const char *key = NULL;
        if (obj) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, ps->p >= ps->end ? "unexpected end (truncated line?)"
                                                 : "expected a member name");
            size_t klen;
            if (parse_string(ps, &key, &klen) < 0)
                return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, "expected \":\"");
            ps->p++;
        }
        int child = parse_value(ps, depth + 1, key);
        if (child < 0)
            return -1;
        struct fl_cj_node *c = &ps->cj->nodes[idx];
        if (last < 0)
            c->first = child;
        else
            ps->cj->nodes[last].next = child;
        c->count++;
        last = child;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, "unexpected end (truncated line?)");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 0;
        }
        return fail(ps, obj ? "expected \",\" or \"}\"" : "expected \",\" or \"]\"");
    }
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

/* Returns the node index, or -1. */
static int parse_value(struct parser *ps, int depth, const char *key)
{
    if (depth > FL_CJ_MAX_DEPTH)
        return fail(ps, "nested too deeply");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end (truncated line?)");
    int idx;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        idx = new_node(ps, c == '{' ? FL_CJ_OBJ : FL_CJ_ARR);
        ps->cj->nodes[idx].key = key;
        return parse_container(ps, idx, depth, c == '{') < 0 ? -1 : idx;
    }
    if (c == '"') {
        idx = new_node(ps, FL_CJ_STR);
        const char *s;
        size_t len;
        if (parse_string(ps, &s, &len) < 0)
            return -1;
        ps->cj->nodes[idx].str = s;
        ps->cj->nodes[idx].len = len;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        idx = new_node(ps, FL_CJ_NUM);
        if (parse_number(ps, idx) < 0)
            return -1;
    } else if (literal(ps, "true") || literal(ps, "false")) {
        idx = new_node(ps, FL_CJ_BOOL);
        ps->cj->nodes[idx].b = c == 't';
    } else if (literal(ps, "null")) {
        idx = new_node(ps, FL_CJ_NULL);
    } else {
        return fail(ps, "not JSON");
    }
    ps->cj->nodes[idx].key = key;
    return idx;
}

const struct fl_cj_node *fl_cj_parse(struct fl_cj *cj, char *text, size_t len,
                                     const char **error_r, size_t *offset_r)
{
    struct parser ps = {cj, text, text + len, NULL, text};
    text[len] = '\0';
    cj->n = 0;
    int root = parse_value(&ps, 0, NULL);
    if (root >= 0) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            fail(&ps, "trailing text after the record");
            root = -1;
        }
    }
    if (root < 0) {
        *error_r = ps.error ? ps.error : "not JSON";
        *offset_r = (size_t)(ps.p - text);
        return NULL;
    }
    return &cj->nodes[root];
}

const struct fl_cj_node *fl_cj_first(const struct fl_cj *cj, const struct fl_cj_node *v)
{
    if (v == NULL || (v->type != FL_CJ_OBJ && v->type != FL_CJ_ARR) || v->first < 0)
        return NULL;
    return &cj->nodes[v->first];
}

const struct fl_cj_node *fl_cj_next(const struct fl_cj *cj, const struct fl_cj_node *v)
{
    return v == NULL || v->next < 0 ? NULL : &cj->nodes[v->next];
}

const struct fl_cj_node *fl_cj_get(const struct fl_cj *cj, const struct fl_cj_node *o,
                                   const char *key)
{
    if (o == NULL || o->type != FL_CJ_OBJ)
        return NULL;
    for (const struct fl_cj_node *m = fl_cj_first(cj, o); m != NULL; m = fl_cj_next(cj, m))
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

const struct fl_cj_node *fl_cj_at(const struct fl_cj *cj, const struct fl_cj_node *a, int i)
{
    if (a == NULL || a->type != FL_CJ_ARR)
        return NULL;
    const struct fl_cj_node *e = fl_cj_first(cj, a);
    while (e != NULL && i-- > 0)
        e = fl_cj_next(cj, e);
    return e;
}

const char *fl_cj_str(const struct fl_cj_node *v)
{
    return v != NULL && v->type == FL_CJ_STR ? v->str : NULL;
}

const char *fl_cj_gets(const struct fl_cj *cj, const struct fl_cj_node *o, const char *key)
{
    return fl_cj_str(fl_cj_get(cj, o, key));
}

double fl_cj_num(const struct fl_cj_node *v, double def)
{
    return v != NULL && v->type == FL_CJ_NUM ? v->num : def;
}

bool fl_cj_true(const struct fl_cj_node *v)
{
    return v != NULL && v->type == FL_CJ_BOOL && v->b;
}
