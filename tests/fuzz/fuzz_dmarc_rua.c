/* fuzz_dmarc_rua: the rua= URI parser of faultlinectl dmarc-report
   (milter/ctl_dmarc_send.c) on hostile URI lists, split at commas as the
   sender splits them.  Invariants: a parsed URI has a non-empty address
   whose domain passes fl_dr_domain_ok and equals the host, an address of
   printable characters without spaces, angle brackets or commas (it goes
   on sendmail's command line and into a To: header), a size limit of zero
   (none) or at most a petabyte; the logged text is always printable. */
#include "tests/fuzz/fuzz.h"
#include "milter/ctl_dmarc.h"

#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *list = fuzz_cstr(data, size);
    const char *p = list, *end = list + size;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t n = c ? (size_t)(c - p) : (size_t)(end - p);
        struct fl_dr_uri u;
        const char *why = NULL;
        int rc = fl_dr_parse_uri(p, n, &u, &why);
        for (const char *t = u.text; *t; t++)
            FUZZ_ASSERT(*t >= ' ' && *t < 0x7f, "a control byte in the logged URI");
        FUZZ_ASSERT(strlen(u.text) < sizeof(u.text), "logged URI not terminated");
        if (rc < 0) {
            FUZZ_ASSERT(why != NULL, "a refusal without a reason");
        } else {
            FUZZ_ASSERT(rc == 0, "unexpected return value");
            FUZZ_ASSERT(u.addr[0] != '\0', "empty address");
            for (const char *t = u.addr; *t; t++)
                FUZZ_ASSERT(*t > ' ' && *t < 0x7f && *t != '<' && *t != '>' && *t != ',',
                            "address unsafe for a header or a command line");
            const char *at = strrchr(u.addr, '@');
            FUZZ_ASSERT(at != NULL && at > u.addr, "no local part");
            FUZZ_ASSERT(strcasecmp(at + 1, u.host) == 0, "host is not the address's domain");
            FUZZ_ASSERT(fl_dr_domain_ok(u.host), "host is not a domain");
            FUZZ_ASSERT(u.limit <= (1ULL << 50), "size limit beyond a petabyte");
        }
        p += n + 1;
    }
    free(list);
    return 0;
}
