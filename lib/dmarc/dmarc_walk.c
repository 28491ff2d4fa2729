/* dmarc_walk: the DNS Tree Walk of RFC 9989 ("DNS Tree Walk", "DMARC
   Policy Discovery", "Identifier Alignment Evaluation") over a per-message
   table of _dmarc TXT answers.  Every query of a walk is started at once
   (fl_dmarc_walk_start): the names are known from the domain alone and
   the RFC bounds a walk to eight queries, so asking them together costs
   no query the sequential walk could not also cost, and the walk takes
   one round trip instead of up to eight.  Answers are then read in walk
   order, and the walk stops where the RFC stops it (a record with psd=y
   or psd=n), so names past the stop never influence the result -- and a
   failure there is not an error.  Walks of several domains share the
   table, so "_dmarc.example.com" is asked once per message.
   Thread-safety: see dmarc_int.h. */
#include "lib/dmarc/dmarc_int.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t fl_dmarc_labels(const char *domain)
{
    size_t n = *domain ? 1 : 0;
    for (const char *p = domain; *p; p++)
        if (*p == '.')
            n++;
    return n;
}

/* The suffix of domain with m labels (m <= labels). */
static const char *suffix(const char *domain, size_t m)
{
    size_t skip = fl_dmarc_labels(domain) - m;
    const char *p = domain;
    while (skip > 0 && (p = strchr(p, '.')) != NULL) {
        p++;
        skip--;
    }
    return p ? p : domain;
}

bool fl_dmarc_within(const char *d, const char *parent)
{
    size_t dl = strlen(d), pl = strlen(parent);
    if (dl == pl)
        return strcmp(d, parent) == 0;
    return dl > pl && d[dl - pl - 1] == '.' && strcmp(d + dl - pl, parent) == 0;
}

size_t fl_dmarc_walk_names(const char *domain, char names[FL_DMARC_WALK_MAX][256])
{
    size_t x = fl_dmarc_labels(domain);
    size_t n = 0;
    if (x == 0)
        return 0;
    snprintf(names[n++], 256, "%s", domain);
    /* Step 4: with x >= 8 labels, jump to the 7-label suffix; then one
       label less each time (step 7), down to the last label. */
    size_t next = x >= 8 ? 7 : x - 1;
    for (size_t m = next; m >= 1 && n < FL_DMARC_WALK_MAX; m--)
        snprintf(names[n++], 256, "%s", suffix(domain, m));
    return n;
}

unsigned int fl_dmarc_walk_step(const char *domain, const char *name)
{
    char names[FL_DMARC_WALK_MAX][256];
    size_t n = fl_dmarc_walk_names(domain, names);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (unsigned int)i + 1;
    return 0;
}

static struct fl_dmarc_name *lookup(struct fl_dmarc_walk *w, const char *domain)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->names[i]->domain, domain) == 0)
            return w->names[i];
    return NULL;
}

static struct fl_dmarc_name *start_one(struct fl_dmarc_walk *w, const char *domain)
{
    struct fl_dmarc_name *nm = lookup(w, domain);
    if (nm != NULL || w->n >= FL_DMARC_MAX_NAMES)
        return nm;
    nm = fl_calloc(1, sizeof(*nm));
    w->names[w->n++] = nm;
    snprintf(nm->domain, sizeof(nm->domain), "%s", domain);
    if (strlen(domain) + 7 > 253) {
        /* "_dmarc." + domain is no valid name: nothing can be published. */
        nm->kind = FL_DMARC_NAME_NONE;
        nm->status = FL_DNS_LOCAL;
        return nm;
    }
    char qname[270];
    snprintf(qname, sizeof(qname), "_dmarc.%s", domain);
    nm->q = fl_dns_start(w->dns, qname, FL_DNS_TXT, w->deadline_ms);
    nm->kind = FL_DMARC_NAME_PENDING;
    w->queries++;
    return nm;
}

void fl_dmarc_walk_start(struct fl_dmarc_walk *w, const char *domain)
{
    char names[FL_DMARC_WALK_MAX][256];
    size_t n = fl_dmarc_walk_names(domain, names);
    for (size_t i = 0; i < n; i++)
        start_one(w, names[i]);
}

/* RFC 9989 steps 2 and 6: records not starting with v=DMARC1 are
   discarded; several DMARC records at one name are all discarded. */
static void classify(struct fl_dmarc_name *nm, const struct fl_dns_answer *a)
{
    nm->status = a->status;
    switch (a->status) {
    case FL_DNS_OK: {
        struct fl_dmarc_record rec;
        for (size_t i = 0; i < a->count; i++) {
            if (a->records[i].type != FL_DNS_TXT)
                continue;
            if (fl_dmarc_record_parse(a->records[i].data, a->records[i].len, &rec) == 1) {
                if (nm->nrecords == 0)
                    nm->rec = rec;
                nm->nrecords++;
            }
        }
        nm->kind = nm->nrecords == 1 ? FL_DMARC_NAME_RECORD : FL_DMARC_NAME_NONE;
        break;
    }
    case FL_DNS_NODATA:
    case FL_DNS_NXDOMAIN:
        nm->kind = FL_DMARC_NAME_NONE;
        break;
    default:
        nm->kind = FL_DMARC_NAME_ERROR;
        break;
    }
}

const struct fl_dmarc_name *fl_dmarc_walk_get(struct fl_dmarc_walk *w, const char *domain)
{
    struct fl_dmarc_name *nm = start_one(w, domain);
    if (nm == NULL)
        return NULL;
    if (nm->kind == FL_DMARC_NAME_PENDING) {
        classify(nm, fl_dns_wait(nm->q));
        fl_dns_query_free(&nm->q);
    }
    return nm;
}

int fl_dmarc_walk_org(struct fl_dmarc_walk *w, const char *domain, char *org,
                      const struct fl_dmarc_name **psd_r, const struct fl_dmarc_name **err_r)
{
    char names[FL_DMARC_WALK_MAX][256];
    size_t n = fl_dmarc_walk_names(domain, names);
    const struct fl_dmarc_name *found[FL_DMARC_WALK_MAX];
    size_t nfound = 0;
    if (psd_r)
        *psd_r = NULL;
    fl_dmarc_walk_start(w, domain); /* everything at once, then read in order */
    for (size_t i = 0; i < n; i++) {
        const struct fl_dmarc_name *nm = fl_dmarc_walk_get(w, names[i]);
        if (nm == NULL || nm->kind == FL_DMARC_NAME_ERROR) {
            if (err_r)
                *err_r = nm;
            return -1;
        }
        if (nm->kind != FL_DMARC_NAME_RECORD)
            continue;
        found[nfound++] = nm;
        if (nm->rec.psd != FL_DMARC_PSD_U)
            break; /* steps 2 and 6: psd=y or psd=n stops the walk */
    }
    /* Selection, from the longest name to the shortest. */
    for (size_t i = 0; i < nfound; i++) {
        if (found[i]->rec.psd == FL_DMARC_PSD_N) {
            snprintf(org, 256, "%s", found[i]->domain);
            return 0;
        }
        if (found[i]->rec.psd == FL_DMARC_PSD_Y && strcmp(found[i]->domain, domain) != 0) {
            /* The domain one label below the PSD, on the way to domain. */
            snprintf(org, 256, "%s",
                     suffix(domain, fl_dmarc_labels(found[i]->domain) + 1));
            if (psd_r)
                *psd_r = found[i];
            return 0;
        }
    }
    snprintf(org, 256, "%s", nfound > 0 ? found[nfound - 1]->domain : domain);
    return 0;
}

void fl_dmarc_walk_free(struct fl_dmarc_walk *w)
{
    for (size_t i = 0; i < w->n; i++) {
        fl_dns_query_free(&w->names[i]->q);
        free(w->names[i]);
    }
    w->n = 0;
}
