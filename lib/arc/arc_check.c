/* arc_check: ARC chain verification as a check (lib/core/check.h), for
   messages DMARC is evaluated for (arc_enable).  Fed like DKIM; verified
   at end of message, before DMARC, which may honour a trusted sealer. */
#include "lib/arc/arc.h"
#include "lib/core/check.h"
#include "lib/core/xalloc.h"

#include <stdlib.h>

struct arc_check {
    struct fl_arc *arc;
    bool verified; /* a chain was found and verified: fl_arc_json is valid */
};

static void *arc_start(struct fl_checks *cs)
{
    /* for the messages DMARC is evaluated for (dmarc_enable, no skip) */
    if (cs->skip != FL_SKIP_NONE || cs->svc.dns == NULL || !cs->cfg->arc_enable ||
        !cs->cfg->dmarc_enable)
        return NULL;
    struct arc_check *a = fl_calloc(1, sizeof(*a));
    a->arc = fl_arc_new(cs->svc.dns, cs->svc.arc_keys, cs->deadline, cs->mem_limit);
    return a;
}

static void arc_header(void *st, struct fl_checks *cs, const char *name, const char *value)
{
    (void)cs;
    fl_arc_header(((struct arc_check *)st)->arc, name, value);
}

static bool arc_eoh(void *st, struct fl_checks *cs)
{
    (void)cs;
    return fl_arc_eoh(((struct arc_check *)st)->arc) == 1;
}

static void arc_body(void *st, const unsigned char *chunk, size_t len)
{
    fl_arc_body(((struct arc_check *)st)->arc, chunk, len);
}

static void arc_finish(void *st, struct fl_checks *cs)
{
    struct arc_check *a = st;
    struct fl_result r;
    fl_arc_eom(a->arc, cs->ip, &r);
    a->verified = r.result != FL_RES_NONE;
    if (!a->verified) {
        /* an unsealed message: a plain arc=none (no ARC sets), no chain part */
        fl_result_clear(&r);
        fl_result_init(&r, "arc", FL_RES_NONE);
    }
    fl_checks_add_result(cs, &r);
}

static bool arc_record(const void *st, struct fl_json_out *members)
{
    const struct arc_check *a = st;
    if (!a->verified)
        return false;
    fl_arc_json(a->arc, members);
    return true;
}

static void arc_free(void *st)
{
    struct arc_check *a = st;
    fl_arc_free(&a->arc);
    free(a);
}

const struct fl_check fl_check_arc = {
    .name = "arc",
    .start = arc_start,
    .header = arc_header,
    .eoh = arc_eoh,
    .body = arc_body,
    .finish = arc_finish,
    .record = arc_record,
    .free = arc_free,
};

const struct fl_arc *fl_arc_verified(const struct fl_checks *cs)
{
    const struct arc_check *a = fl_checks_state(cs, &fl_check_arc);
    return a != NULL && a->verified ? a->arc : NULL;
}
