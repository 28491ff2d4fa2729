/* fuzz_spf_macro: the SPF macro language (RFC 7208 7): checking, expansion
   of explanation text and the libspf2 rewrite, on strings a sender's
   record controls.  Invariant: only a checked string is expanded (as the
   library does); expansion and rewrite stay bounded. */
#include "tests/fuzz/fuzz.h"
#include "lib/core/buf.h"
#include "lib/spf/spf_macro.h"

static const char *validated(void *ctx)
{
    (void)ctx;
    return "mx.example.org";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct fl_spf_macro_vars v = {
        .sender = "strong-bad@email.example.com", .local = "strong-bad",
        .sender_domain = "email.example.com", .domain = "email.example.com",
        .ip = "192.0.2.3", .ip_text = "192.0.2.3", .version = "in-addr",
        .helo = "mx.example.org", .receiver = "mx.example.net", .now = 1700000000,
        .validated_name = validated,
    };
    for (unsigned int flags = 0; flags <= FL_SPF_MACRO_EXP; flags++) {
        struct fl_buf err;
        fl_buf_init(&err);
        int rc = fl_spf_macro_check(s, size, flags, &err);
        FUZZ_ASSERT(rc == 0 || err.len > 0, "macro-string rejected without a reason");
        fl_buf_free(&err);
        if (rc < 0)
            continue;
        (void)fl_spf_macro_has_letters(s, size);
        struct fl_buf out;
        fl_buf_init(&out);
        fl_spf_macro_expand(s, size, &v, &out);
        /* each macro expands to at most a few hundred bytes */
        FUZZ_ASSERT(out.len <= 1024 + size * 300, "expansion unbounded");
        fl_buf_reset(&out);
        fl_spf_macro_rewrite(s, size, &v, &out);
        fl_buf_reset(&out);
        fl_spf_macro_rewrite(s, size, NULL, &out);
        fl_buf_free(&out);
    }
    return 0;
}
