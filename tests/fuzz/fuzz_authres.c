/* fuzz_authres: Authentication-Results headers found in a message
   (forged-header detection, RFC 8601 5) and the header we build from
   sender-controlled values.  Invariants: the header we build never holds
   a CR or LF that does not start a fold, is classified as ours, and
   parses as well formed for another id. */
#include "tests/fuzz/fuzz.h"
#include "lib/core/authres.h"
#include "lib/core/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct fl_buf id;
    fl_buf_init(&id);
    (void)fl_authres_classify(s, "mx.example.net", &id);
    fl_buf_free(&id);

    /* the input as every sender-controlled value of a result */
    struct fl_result r;
    fl_result_init(&r, "spf", FL_RES_FAIL);
    fl_result_set_reason(&r, "spf.not_permitted", s, "detail");
    fl_result_add_prop(&r, "smtp", "mailfrom", s);
    fl_result_add_prop(&r, "smtp", "helo", s);
    r.in_header = true;
    struct fl_buf h;
    fl_buf_init(&h);
    fl_authres_build(&h, "mx.example.net", &r, 1);
    for (size_t i = 0; i < h.len; i++) {
        if (h.data[i] == '\r' || h.data[i] == '\n')
            FUZZ_ASSERT(h.data[i] == '\n' && h.data[i + 1] == '\t', "header line injected");
        FUZZ_ASSERT(h.data[i] != '\0', "NUL in the header");
    }
    FUZZ_ASSERT(fl_authres_classify(h.data, "mx.example.net", NULL) == FL_AUTHRES_OURS,
                "our header is not recognised as ours");
    FUZZ_ASSERT(fl_authres_classify(h.data, "other.example", NULL) == FL_AUTHRES_OTHER,
                "our header does not parse");
    fl_buf_free(&h);
    fl_result_clear(&r);
    free(s);
    return 0;
}
