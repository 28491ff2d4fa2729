/* fuzz_config: the configuration parser (lib/core/config.c) on arbitrary file
   contents, read through a memfd as the daemon reads a file.  Invariants:
   a load either succeeds with no error text or fails with at most 50
   "file:line: error:" lines plus the cap note, all printable ASCII. */
#include "tests/fuzz/fuzz.h"
#include "lib/core/buf.h"
#include "lib/core/config.h"

#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fuzz_load_config(data, size, &cfg, &errors);
    if (rc == 0) {
        FUZZ_ASSERT(cfg != NULL && errors.len == 0, "loaded with errors");
        fl_config_unref(&cfg);
    } else {
        FUZZ_ASSERT(cfg == NULL && errors.len > 0, "failed without an error");
        size_t lines = 0;
        for (size_t i = 0; i < errors.len; i++) {
            unsigned char c = (unsigned char)errors.data[i];
            lines += c == '\n';
            FUZZ_ASSERT(c == '\n' || (c >= 0x20 && c < 0x7f), "raw byte in the errors");
        }
        FUZZ_ASSERT(lines <= 51, "error output not capped");
    }
    fl_buf_free(&errors);
    return 0;
}
