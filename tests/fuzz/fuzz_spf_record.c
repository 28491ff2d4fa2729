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
    const char *err = NULL;
    if (fl_spf_domain_spec_check(txt, size, &err) < 0)
        FUZZ_ASSERT(err != NULL && *err, "domain-spec rejected without a reason");
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
        char why[160] = "";
        if (fl_spf_record_normalise(txt, size, &ctx, &out, why, sizeof(why)) < 0) {
            FUZZ_ASSERT(why[0] != '\0', "record rejected without a reason");
            FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL, "reason not terminated");
        } else if (ctx.vars == NULL) {
            /* Without values nothing is expanded into the record, so the
               normalised record must pass again (with values, a macro
               libspf2 cannot expand is replaced by its expansion, which
               need not be a valid domain-spec itself). */
            FUZZ_ASSERT(out.data != NULL && strlen(out.data) == out.len, "output has a NUL");
            struct fl_buf again;
            fl_buf_init(&again);
            char why2[160] = "";
            FUZZ_ASSERT(fl_spf_record_normalise(out.data, out.len, &ctx, &again, why2,
                                                sizeof(why2)) == 0,
                        "a normalised record is rejected");
            fl_buf_free(&again);
        }
        fl_buf_free(&out);
    }
    return 0;
}
