/* fuzz_dmarc_record: DMARC record parsing (RFC 9989 4.7), on TXT data a
   sender's DNS controls.  Invariants: a policy has a name, pct
   is in range, and every text kept from the record is terminated printable
   ASCII (it reaches reports and logs). */
#include "tests/fuzz/fuzz.h"
#include "lib/dmarc/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fl_dmarc_record rec;
    memset(&rec, 0, sizeof(rec));
    if (fl_dmarc_record_parse((const char *)data, size, &rec) == 1) {
        const char *p = fl_dmarc_policy_name(rec.p);
        FUZZ_ASSERT(p != NULL && *p, "policy without a name");
        FUZZ_ASSERT(rec.pct >= -1 && rec.pct <= 100, "pct out of range");
        const char *texts[] = {rec.fo, rec.rua, rec.ruf, rec.problems};
        size_t sizes[] = {sizeof(rec.fo), sizeof(rec.rua), sizeof(rec.ruf),
                          sizeof(rec.problems)};
        for (int i = 0; i < 4; i++) {
            FUZZ_ASSERT(memchr(texts[i], '\0', sizes[i]) != NULL, "text not terminated");
            for (const char *q = texts[i]; *q; q++)
                FUZZ_ASSERT((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f,
                            "non-printable byte kept from the record");
        }
    }
    return 0;
}
