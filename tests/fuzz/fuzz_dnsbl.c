/* fuzz_dnsbl: the DNS-list parsers -- postscreen-style list entries of
   every kind, answer filters, identity normalisation and query names.
   Invariants: outputs are NUL-terminated within their buffers; a
   normalised domain is lower case with no "@", "<" or ">" left. */
#include "tests/fuzz/fuzz.h"
#include "lib/lists/dnsbl_spec.h"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct fl_buf err;
    fl_buf_init(&err);
    struct fl_dnsbl_spec spec;
    for (int kind = FL_DNSBL_SPEC_IP; kind <= FL_DNSBL_SPEC_ERROR; kind++) {
        fl_buf_reset(&err);
        if (fl_dnsbl_spec_parse(s, (enum fl_dnsbl_spec_kind)kind, &spec, &err) == 0) {
            FUZZ_ASSERT(memchr(spec.zone, '\0', sizeof(spec.zone)) != NULL,
                        "zone not terminated");
            unsigned char a[4] = {127, 0, 0, 2};
            (void)fl_dnsbl_filter_match(&spec.filter, a);
        } else {
            FUZZ_ASSERT(err.len > 0, "entry rejected without a reason");
        }
    }
    struct fl_dnsbl_filter f;
    (void)fl_dnsbl_filter_parse(s, size, &f, &err);
    char out[300];
    fl_buf_reset(&err);
    if (fl_dnsbl_domain_normalise(s, out, sizeof(out), &err) == 0) {
        FUZZ_ASSERT(memchr(out, '\0', sizeof(out)) != NULL, "domain not terminated");
        for (const char *p = out; *p; p++)
            FUZZ_ASSERT(!isupper((unsigned char)*p) && *p != '@' && *p != '<' && *p != '>',
                        "domain not normalised");
    }
    char qname[600];
    if (fl_dnsbl_reverse_name(s, "zen.example", qname, sizeof(qname)) != 0)
        FUZZ_ASSERT(memchr(qname, '\0', sizeof(qname)) != NULL, "query name not terminated");
    fl_buf_free(&err);
    free(s);
    return 0;
}
