/* ctl_smap: the string map of faultlinectl (milter/ctl_smap.h). */
#include "milter/ctl_smap.h"
#include "lib/core/xalloc.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void smap_grow(struct fl_smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 256;
    struct fl_smap_slot *ns = fl_calloc(ncap, sizeof(*ns));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == NULL)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
}

size_t fl_smap_get(struct fl_smap *m, const char *key, size_t next, bool *added)
{
    if ((m->n + 1) * 2 > m->cap)
        smap_grow(m);
    uint64_t h = hash_str(key);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key != NULL) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
            *added = false;
            return m->slots[j].val;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j].key = fl_strdup(key);
    m->slots[j].hash = h;
    m->slots[j].val = next;
    m->n++;
    *added = true;
    return next;
}

void fl_smap_free(struct fl_smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}
