/* fuzz_greylist: the greylist triplet's normalisers (BATV, SRS, VERP
   senders; recipients; client networks) and the store's record codec.
   Invariants: outputs are NUL-terminated, fit their buffers and hold no
   byte that cannot go into a store key (space, control, DEL). */
#include "tests/fuzz/fuzz.h"
#include "lib/greylist/greylist.h"
#include "lib/greylist/greylist_store.h"

static void assert_key_text(const char *s, size_t cap)
{
    FUZZ_ASSERT(memchr(s, '\0', cap) != NULL, "key text not terminated");
    for (const char *p = s; *p; p++)
        FUZZ_ASSERT((unsigned char)*p > ' ' && (unsigned char)*p != 0x7f,
                    "space or control byte in a key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char out[FL_GREYLIST_ADDR_MAX];
    fl_greylist_normalize_sender(s, out, sizeof(out));
    assert_key_text(out, sizeof(out));
    fl_greylist_normalize_rcpt(s, out, sizeof(out));
    assert_key_text(out, sizeof(out));
    char net[FL_GREYLIST_NET_MAX];
    if (fl_greylist_network(s, 24, 64, net, sizeof(net)) == 0)
        assert_key_text(net, sizeof(net));
    struct fl_greylist_record rec;
    if (fl_greylist_record_parse(s, size, &rec) == 0)
        assert_key_text(rec.net, sizeof(rec.net));
    free(s);
    return 0;
}
