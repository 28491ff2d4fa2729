/* arc_report: what other modules and the verdict record read of a
   verified chain -- the results an ARC-Authentication-Results claims
   (RFC 8601 grammar, read tolerantly: comments dropped, CFWS around "="
   allowed) and the JSON record part.  See arc.h. */
#include "lib/arc/arc.h"
#include "lib/core/buf.h"
#include "lib/core/json_out.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The payload without comments, whitespace around "=" removed,
   whitespace runs made one space (quoted strings kept). */
static void normalise(const char *p, size_t len, struct fl_buf *out)
{
    int depth = 0;
    bool quoted = false, space = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (quoted) {
            fl_buf_putc(out, c);
            if (c == '\\' && i + 1 < len)
                fl_buf_putc(out, p[++i]);
            else if (c == '"')
                quoted = false;
            continue;
        }
        if (depth > 0) {
            if (c == '\\' && i + 1 < len)
                i++;
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
            continue;
        }
        if (c == '(') {
            depth++;
            space = true;
            continue;
        }
        if (is_ws(c)) {
            space = true;
            continue;
        }
        bool glue = c == '=' || c == ';' || c == '.' || c == '/' ||
                    (out->len > 0 && strchr("=;./", out->data[out->len - 1]) != NULL);
        if (space && !glue && out->len > 0)
            fl_buf_putc(out, ' ');
        space = false;
        if (c == '"')
            quoted = true;
        fl_buf_putc(out, c);
    }
}

/* Copies a pvalue (quotes and escapes removed) into value. */
static void put_value(const char *v, size_t n, char *value, size_t size)
{
    size_t o = 0;
    bool q = n > 0 && v[0] == '"';
    for (size_t i = q ? 1 : 0; i < n && o + 1 < size; i++) {
        if (q && v[i] == '"')
            break;
        if (q && v[i] == '\\' && i + 1 < n)
            i++;
        value[o++] = v[i];
    }
    value[o] = '\0';
}

int fl_arc_aar_pass(const struct fl_arc *a, int instance, const char *method,
                    const char *ptype_prop, size_t k, char *value, size_t size)
{
    size_t len;
    const char *p = fl_arc_aar(a, instance, &len);
    if (p == NULL)
        return 0;
    struct fl_buf n;
    fl_buf_init(&n);
    normalise(p, len, &n);
    int found = 0;
    size_t mlen = strlen(method), plen = strlen(ptype_prop);
    char *save = NULL;
    bool first = true;
    /* ';' never appears unquoted inside a resinfo */
    for (char *seg = strtok_r(n.data, ";", &save); seg != NULL && !found;
         seg = strtok_r(NULL, ";", &save)) {
        if (first) { /* the authserv-id */
            first = false;
            continue;
        }
        char *tok_save = NULL;
        char *t = strtok_r(seg, " ", &tok_save);
        if (t == NULL || strncasecmp(t, method, mlen) != 0 ||
            (t[mlen] != '=' && t[mlen] != '/'))
            continue;
        char *eq = strchr(t, '=');
        if (eq == NULL || strcasecmp(eq + 1, "pass") != 0)
            continue;
        for (char *pr = strtok_r(NULL, " ", &tok_save); pr != NULL;
             pr = strtok_r(NULL, " ", &tok_save)) {
            if (strncasecmp(pr, ptype_prop, plen) == 0 && pr[plen] == '=') {
                if (k-- == 0) {
                    put_value(pr + plen + 1, strlen(pr + plen + 1), value, size);
                    found = 1;
                }
                break;
            }
        }
    }
    fl_buf_free(&n);
    return found;
}

static void member(struct fl_json_out *j, const char *key, const char *s)
{
    fl_json_key(j, key);
    fl_json_str(j, s);
}

void fl_arc_json(const struct fl_arc *a, struct fl_json_out *j)
{
    member(j, "result", fl_res_name(fl_arc_chain_result(a)));
    size_t n = fl_arc_nsets(a);
    if (fl_arc_chain_result(a) == FL_RES_PASS) {
        fl_json_key(j, "oldest_pass");
        fl_json_int(j, fl_arc_oldest_pass(a));
    }
    fl_json_key(j, "chain");
    fl_json_begin(j, '[');
    for (size_t i = 1; i <= n; i++)
        fl_json_str(j, fl_arc_set(a, (int)i)->sealer);
    fl_json_end(j, ']');
    fl_json_key(j, "sets");
    fl_json_begin(j, '[');
    for (size_t i = 1; i <= n; i++) {
        const struct fl_arc_set_report *r = fl_arc_set(a, (int)i);
        fl_json_begin(j, '{');
        fl_json_key(j, "i");
        fl_json_int(j, r->instance);
        member(j, "sealer", r->sealer);
        member(j, "as_selector", r->as_selector);
        member(j, "cv", r->cv);
        member(j, "as", fl_res_name(r->as));
        if (r->as_why)
            member(j, "as_why", r->as_why);
        member(j, "ams_domain", r->ams_domain);
        member(j, "ams_selector", r->ams_selector);
        member(j, "ams", fl_res_name(r->ams));
        if (r->ams_why)
            member(j, "ams_why", r->ams_why);
        fl_json_end(j, '}');
    }
    fl_json_end(j, ']');
    const char *sig, *why;
    int inst = fl_arc_failure(a, &sig, &why);
    if (why != NULL) {
        fl_json_key(j, "failed");
        fl_json_begin(j, '{');
        fl_json_key(j, "instance");
        fl_json_int(j, inst);
        member(j, "signature", sig ? sig : "structure");
        member(j, "why", why);
        fl_json_end(j, '}');
    }
}
