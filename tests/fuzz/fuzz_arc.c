/* fuzz_arc: ARC header sets from the sender (lib/arc/arc.c: instance tags,
   tag lists, the chain's structure, the ARC-Authentication-Results
   claims DMARC reads) without a resolver.  The input is split into header
   fields at LF ("Name: value", a line starting with WSP continues the
   field) and a body after an empty line.  Invariants: the result is one
   of none, fail, temperror; a claim's value is NUL-terminated within its
   buffer; the verdict record part serialises. */
#include "tests/fuzz/fuzz.h"
#include "lib/arc/arc.h"
#include "lib/core/json_out.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct fl_arc *a = fl_arc_new(NULL, NULL, 0, 1 << 20);
    char *p = s, *body = NULL;
    while (*p != '\0') {
        if (*p == '\n') {
            body = p + 1;
            break;
        }
        char *end = p;
        while ((end = strchr(end, '\n')) != NULL && (end[1] == ' ' || end[1] == '\t'))
            end++;
        char *next = end ? end + 1 : p + strlen(p);
        if (end != NULL)
            *end = '\0';
        char *colon = strchr(p, ':');
        if (colon != NULL) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            fl_arc_header(a, p, v);
        }
        p = next;
    }
    if (fl_arc_eoh(a) == 1 && body != NULL)
        fl_arc_body(a, (const unsigned char *)body, strlen(body));
    struct fl_result r;
    fl_arc_eom(a, "192.0.2.1", &r);
    FUZZ_ASSERT(r.result == FL_RES_NONE || r.result == FL_RES_FAIL ||
                    r.result == FL_RES_TEMPERROR,
                "a chain passed without keys");
    for (int i = 1; i <= (int)fl_arc_nsets(a); i++) {
        char v[64];
        for (size_t k = 0; fl_arc_aar_pass(a, i, "dkim", "header.d", k, v, sizeof(v)); k++)
            FUZZ_ASSERT(memchr(v, '\0', sizeof(v)) != NULL, "claim not terminated");
        if (fl_arc_aar_pass(a, i, "dmarc", "header.from", 0, v, sizeof(v)))
            FUZZ_ASSERT(memchr(v, '\0', sizeof(v)) != NULL, "claim not terminated");
    }
    /* the record part is JSON, whatever the fields held */
    struct fl_buf part;
    fl_buf_init(&part);
    fl_buf_putc(&part, '{');
    struct fl_json_out jo;
    fl_json_out_init(&jo, &part);
    fl_arc_json(a, &jo);
    fl_buf_putc(&part, '}');
    json_t *o = json_loads(part.data, 0, NULL);
    FUZZ_ASSERT(o != NULL, "the record part is not JSON");
    json_decref(o);
    fl_buf_free(&part);
    fl_result_clear(&r);
    fl_arc_free(&a);
    free(s);
    return 0;
}
