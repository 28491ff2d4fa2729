/* check: see check.h. */
#include "lib/core/check.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fl_skip_name(enum fl_skip skip)
{
    switch (skip) {
    case FL_SKIP_LOCAL:
        return "local_submission";
    case FL_SKIP_TRUSTED:
        return "trusted_network";
    case FL_SKIP_AUTHENTICATED:
        return "authenticated";
    case FL_SKIP_NONE:
        break;
    }
    return NULL;
}

void fl_checks_init(struct fl_checks *cs, const struct fl_check *const *table, size_t n,
                    struct fl_config *cfg, const struct fl_check_services *svc,
                    const char *ip, enum fl_skip skip)
{
    cs->table = table;
    cs->ntable = n;
    cs->cfg = cfg;
    cs->svc = *svc;
    cs->ip = ip;
    cs->skip = skip;
    cs->mem_limit = (size_t)cfg->message_memory_limit;
    cs->state = fl_calloc(n, sizeof(*cs->state));
}

static void stop(struct fl_checks *cs, size_t i)
{
    if (cs->state[i] != NULL)
        cs->table[i]->free(cs->state[i]);
    cs->state[i] = NULL;
}

void fl_checks_end_message(struct fl_checks *cs)
{
    for (size_t i = 0; i < cs->ntable; i++)
        if (!cs->table[i]->per_connection)
            stop(cs, i);
    for (size_t i = 0; i < cs->nresults; i++)
        fl_result_clear(&cs->results[i]);
    free(cs->results);
    cs->results = NULL;
    cs->nresults = 0;
    if (cs->rcpt_result != NULL) {
        fl_result_clear(cs->rcpt_result);
        free(cs->rcpt_result);
        cs->rcpt_result = NULL;
    }
    if (cs->rcpt_verdict != NULL) {
        fl_verdict_clear(cs->rcpt_verdict);
        free(cs->rcpt_verdict);
        cs->rcpt_verdict = NULL;
    }
    cs->refuse_all = false;
    cs->body_wanted = false;
    cs->mail_from = NULL;
}

void fl_checks_clear(struct fl_checks *cs)
{
    if (cs->state == NULL)
        return;
    fl_checks_end_message(cs);
    for (size_t i = 0; i < cs->ntable; i++)
        stop(cs, i);
    free(cs->state);
    cs->state = NULL;
}

/* Is row i running in this phase?  A per-connection check takes no part in
   a transaction whose checks are skipped (e.g. authenticated at MAIL). */
static void *active(const struct fl_checks *cs, size_t i)
{
    if (cs->table[i]->per_connection && cs->skip != FL_SKIP_NONE)
        return NULL;
    return cs->state[i];
}

void fl_checks_connect(struct fl_checks *cs)
{
    for (size_t i = 0; i < cs->ntable; i++)
        if (cs->table[i]->per_connection)
            cs->state[i] = cs->table[i]->start(cs);
}

void fl_checks_helo(struct fl_checks *cs, const char *helo)
{
    cs->helo = helo;
    for (size_t i = 0; i < cs->ntable; i++) {
        void *st = active(cs, i);
        if (st != NULL && cs->table[i]->helo != NULL)
            cs->table[i]->helo(st, cs);
    }
}

void fl_checks_mail(struct fl_checks *cs, const char *mail_from, long long deadline)
{
    fl_checks_end_message(cs);
    cs->mail_from = mail_from;
    cs->deadline = deadline;
    for (size_t i = 0; i < cs->ntable; i++) {
        const struct fl_check *c = cs->table[i];
        if (!c->per_connection) {
            cs->state[i] = c->start(cs);
        } else {
            void *st = active(cs, i);
            if (st != NULL && c->mail != NULL)
                c->mail(st, cs);
        }
    }
}

const struct fl_result *fl_checks_rcpt(struct fl_checks *cs, const char *rcpt)
{
    if (cs->refuse_all)
        return cs->rcpt_result; /* decided at an earlier RCPT */
    for (size_t i = 0; i < cs->ntable; i++) {
        void *st = active(cs, i);
        if (st != NULL && cs->table[i]->rcpt != NULL && cs->table[i]->rcpt(st, cs, rcpt))
            return cs->rcpt_result;
    }
    return NULL;
}

void fl_checks_header(struct fl_checks *cs, const char *name, const char *value)
{
    for (size_t i = 0; i < cs->ntable; i++) {
        void *st = active(cs, i);
        if (st != NULL && cs->table[i]->header != NULL)
            cs->table[i]->header(st, cs, name, value);
    }
}

void fl_checks_eoh(struct fl_checks *cs)
{
    for (size_t i = 0; i < cs->ntable; i++) {
        void *st = active(cs, i);
        if (st != NULL && cs->table[i]->eoh != NULL && cs->table[i]->eoh(st, cs))
            cs->body_wanted = true;
    }
}

bool fl_checks_body(struct fl_checks *cs, const unsigned char *chunk, size_t len)
{
    if (!cs->body_wanted)
        return false;
    for (size_t i = 0; i < cs->ntable; i++) {
        void *st = active(cs, i);
        if (st != NULL && cs->table[i]->body != NULL)
            cs->table[i]->body(st, chunk, len);
    }
    return true;
}

void fl_checks_eom(struct fl_checks *cs)
{
    for (size_t i = 0; i < cs->ntable; i++) {
        void *st = active(cs, i);
        if (st != NULL && cs->table[i]->finish != NULL)
            cs->table[i]->finish(st, cs);
    }
}

size_t fl_checks_record_parts(const struct fl_checks *cs, struct fl_record_part *parts,
                              size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < cs->ntable && n < max; i++) {
        void *st = active(cs, i);
        if (st != NULL && cs->table[i]->record != NULL)
            parts[n++] = (struct fl_record_part){cs->table[i]->name, st, cs->table[i]->record};
    }
    return n;
}

void fl_checks_headers(const struct fl_checks *cs,
                       void (*emit)(void *arg, const char *name, const char *value,
                                    bool at_top),
                       void *arg)
{
    struct fl_buf value;
    fl_buf_init(&value);
    for (size_t i = 0; i < cs->ntable; i++) {
        void *st = active(cs, i);
        const char *name;
        bool at_top = false;
        fl_buf_reset(&value);
        if (st != NULL && cs->table[i]->add_header != NULL &&
            cs->table[i]->add_header(st, cs, &name, &value, &at_top))
            emit(arg, name, value.data ? value.data : "", at_top);
    }
    fl_buf_free(&value);
}

const char *fl_addr_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] ? at + 1 : NULL;
}

void *fl_checks_state(const struct fl_checks *cs, const struct fl_check *check)
{
    for (size_t i = 0; i < cs->ntable; i++)
        if (cs->table[i] == check)
            return cs->state[i];
    return NULL;
}

void fl_checks_add_result(struct fl_checks *cs, struct fl_result *r)
{
    cs->results = fl_realloc(cs->results, (cs->nresults + 1) * sizeof(*cs->results));
    cs->results[cs->nresults++] = *r;
    memset(r, 0, sizeof(*r));
}

struct fl_result *fl_checks_find_result(struct fl_checks *cs, const char *method)
{
    struct fl_result *found = NULL;
    for (size_t i = 0; i < cs->nresults; i++)
        if (strcmp(cs->results[i].method, method) == 0)
            found = &cs->results[i];
    return found;
}

void fl_checks_remove_results(struct fl_checks *cs, const char *method)
{
    size_t kept = 0;
    for (size_t i = 0; i < cs->nresults; i++) {
        if (strcmp(cs->results[i].method, method) == 0)
            fl_result_clear(&cs->results[i]);
        else
            cs->results[kept++] = cs->results[i];
    }
    cs->nresults = kept;
}

void fl_checks_refuse(struct fl_checks *cs, struct fl_result *r, int code, const char *dsn,
                      const char *text, bool all)
{
    if (cs->rcpt_result != NULL) { /* an earlier recipient's (greylisting) */
        fl_result_clear(cs->rcpt_result);
        fl_verdict_clear(cs->rcpt_verdict);
    } else {
        cs->rcpt_result = fl_malloc(sizeof(*cs->rcpt_result));
        cs->rcpt_verdict = fl_malloc(sizeof(*cs->rcpt_verdict));
    }
    *cs->rcpt_result = *r;
    memset(r, 0, sizeof(*r));
    fl_verdict_decide(cs->rcpt_verdict, cs->rcpt_result, 1, NULL, false);
    if (code != 0 && dsn != NULL && text != NULL) {
        cs->rcpt_verdict->code = code;
        snprintf(cs->rcpt_verdict->dsn, sizeof(cs->rcpt_verdict->dsn), "%s", dsn);
        free(cs->rcpt_verdict->text);
        cs->rcpt_verdict->text = fl_strdup(text);
    }
    if (all)
        cs->refuse_all = true;
}
