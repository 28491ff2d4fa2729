/* fuzz_spf_record: SPF record validation and normalisation (RFC 7208 4.6,
   lib/spf/spf_record.c) and the domain-spec check, on TXT data a sender's DNS
   controls.  Invariant: a record normalised without macro values is
   accepted again (normalisation is stable); a rejection names why. */
#include "tests/fuzz/fuzz.h"
#include "lib/core/buf.h"
#include "lib/spf/spf_macro.h"
#include "lib/spf/spf_record.h"

#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *txt = (const char *)data;
    (void)fl_spf_record_is_spf(txt, size);
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_spf_domain_spec_check(txt, size, &err) < 0)
        FUZZ_ASSERT(err.len > 0 && *err.data, "domain-spec rejected without a reason");
    fl_buf_free(&err);
    struct fl_spf_macro_vars vars = {
        .sender = "a@example.org", .local = "a", .sender_domain = "example.org",
        .domain = "example.org", .ip = "192.0.2.1", .ip_text = "192.0.2.1",
        .version = "in-addr", .helo = "mx.example.org", .receiver = "mx.example.net",
        .now = 1700000000,
    };
    int families[2] = {AF_INET, AF_INET6};
    for (int i = 0; i < 2; i++) {
        struct fl_spf_record_ctx ctx = {.family = families[i], .vars = i ? NULL : &vars};
        struct fl_buf out;
        fl_buf_init(&out);
        struct fl_buf why;
        fl_buf_init(&why);
        if (fl_spf_record_normalise(txt, size, &ctx, &out, &why) < 0) {
            FUZZ_ASSERT(why.len > 0, "record rejected without a reason");
            /* the problem and at most 60 bytes of the term, printable */
            FUZZ_ASSERT(why.len < 200 && strlen(why.data) == why.len, "reason unbounded");
            for (size_t k = 0; k < why.len; k++)
                FUZZ_ASSERT(why.data[k] >= 0x20 && why.data[k] < 0x7f,
                            "reason not printable");
        } else if (ctx.vars == NULL) {
            /* Without values nothing is expanded into the record, so the
               normalised record must pass again (with values, a macro
               libspf2 cannot expand is replaced by its expansion, which
               need not be a valid domain-spec itself). */
            FUZZ_ASSERT(out.data != NULL && strlen(out.data) == out.len, "output has a NUL");
            struct fl_buf again;
            fl_buf_init(&again);
            FUZZ_ASSERT(fl_spf_record_normalise(out.data, out.len, &ctx, &again, &why) ==
                            0,
                        "a normalised record is rejected");
            fl_buf_free(&again);
        }
        fl_buf_free(&why);
        fl_buf_free(&out);
    }
    return 0;
}
