/* dkim_check: DKIM as a check (lib/core/check.h).  Header fields and body
   chunks are fed as they stream in; the key lookups start at end of
   headers.  For trusted and authenticated clients DKIM still runs unless
   dkim_skip_trusted / dkim_skip_authenticated say otherwise. */
#include "lib/core/check.h"
#include "lib/dkim/dkim.h"

static void *dkim_start(struct fl_checks *cs)
{
    const struct fl_config *cfg = cs->cfg;
    if (cs->svc.dns == NULL || cs->svc.dkim == NULL || !cfg->dkim_enable)
        return NULL;
    if (cs->skip == FL_SKIP_AUTHENTICATED ? cfg->dkim_skip_authenticated
        : cs->skip != FL_SKIP_NONE         ? cfg->dkim_skip_trusted
                                           : false)
        return NULL;
    return fl_dkim_new(cs->svc.dkim, cfg, cs->deadline);
}

static void dkim_header(void *st, struct fl_checks *cs, const char *name, const char *value)
{
    (void)cs;
    fl_dkim_header(st, name, value);
}

/* 1: the signatures need the body; 0: nothing to hash (unsigned) */
static bool dkim_eoh(void *st, struct fl_checks *cs)
{
    (void)cs;
    return fl_dkim_eoh(st) == 1;
}

static void dkim_body(void *st, const unsigned char *chunk, size_t len)
{
    fl_dkim_body(st, chunk, len);
}

/* One result per signature, in message order. */
static void dkim_finish(void *st, struct fl_checks *cs)
{
    const struct fl_result *res;
    size_t n;
    fl_dkim_eom(st, &res, &n);
    for (size_t i = 0; i < n; i++) {
        struct fl_result r;
        fl_result_copy(&r, &res[i]);
        fl_checks_add_result(cs, &r);
    }
}

static void dkim_free(void *st)
{
    struct fl_dkim_verifier *v = st;
    fl_dkim_free(&v);
}

const struct fl_check fl_check_dkim = {
    .name = "dkim",
    .start = dkim_start,
    .header = dkim_header,
    .eoh = dkim_eoh,
    .body = dkim_body,
    .finish = dkim_finish,
    .free = dkim_free,
};

size_t fl_dkim_check_signatures(const struct fl_checks *cs,
                                const struct fl_dkim_signature **sigs_r)
{
    const struct fl_dkim_verifier *v = fl_checks_state(cs, &fl_check_dkim);
    *sigs_r = NULL;
    return v != NULL ? fl_dkim_signatures(v, sigs_r) : 0;
}
