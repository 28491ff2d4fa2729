/* fuzz_dmarc_from: the Author Domain from From header values (RFC 5322
   3.6.2, RFC 9989 4.4).  The input is split at NUL bytes into up to 8
   header values.  Invariants: the domain is NUL-terminated within its
   buffer, lower case, without CR, LF or control bytes. */
#include "tests/fuzz/fuzz.h"
#include "lib/dmarc/dmarc.h"

#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_cstr(data, size);
    const char *values[FL_DMARC_MAX_FROM_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i <= size && n < FL_DMARC_MAX_FROM_HEADERS;) {
        values[n++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    char domain[256];
    memset(domain, 'X', sizeof(domain));
    unsigned int naddr = 0;
    const char *why = NULL;
    enum fl_dmarc_from_status st =
        fl_dmarc_from_parse(values, n, domain, sizeof(domain), &naddr, &why);
    FUZZ_ASSERT(memchr(domain, '\0', sizeof(domain)) != NULL, "domain not terminated");
    for (const char *p = domain; *p; p++) {
        FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in the domain");
        if (st == FL_DMARC_FROM_OK)
            FUZZ_ASSERT(!isupper((unsigned char)*p), "upper case in the domain");
    }
    free(copy);
    return 0;
}
