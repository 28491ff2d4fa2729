/* ctl_smap: a string-keyed hash map (key -> index into the caller's
   array) for faultlinectl's aggregations (report, dmarc-report).  Open
   addressing, FNV-1a; keys are copied.  Single-threaded. */
#ifndef FL_MILTER_CTL_SMAP_H
#define FL_MILTER_CTL_SMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fl_smap_slot {
    char *key;
    uint64_t hash;
    size_t val;
};

struct fl_smap {
    struct fl_smap_slot *slots;
    size_t cap, n;
};

/* Returns the value of key; when absent, stores next (the caller's new
   index) and sets *added. */
size_t fl_smap_get(struct fl_smap *m, const char *key, size_t next, bool *added);
/* Frees the keys and slots; the map is empty (and reusable) afterwards. */
void fl_smap_free(struct fl_smap *m);

#endif
