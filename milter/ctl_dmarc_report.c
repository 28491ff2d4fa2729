/* ctl_dmarc_report: `faultlinectl dmarc-report` -- reads verdict logs (one
   or several MX hosts, rotated and .gz too, milter/ctl_vlog.c) for one
   reporting period and writes one RFC 9990 aggregate report per DMARC
   Policy Domain that published rua=; with --send (or --dry-run) hands each
   to milter/ctl_dmarc_send.c.

   Each verdict record's "dmarc" member carries the report row
   (lib/dmarc/dmarc_json.c): policy_published (the record as the tree walk found
   it), policy_evaluated (disposition, aligned dkim/spf, reason), the DKIM
   and SPF results; the source IP is client.ip.  Rows are grouped by source
   IP, identifiers and every result, and counted.  The reason member may be
   one {type, comment} object or an array of them (other modules may add
   overrides, e.g. trusted_forwarder): each is reported; a type the schema
   does not know becomes "other" with the type kept in the comment.

   One pass; memory grows with distinct rows, not with records.
   Single-threaded. */
#include "milter/cli.h"
#include "milter/ctl.h"
#include "milter/ctl_dmarc.h"
#include "milter/ctl_vlog.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ERRORS_TEXT 1000 /* the error element "should not contain an extremely large body" */
#define MAX_DKIM_PER_ROW 100 /* RFC 9990 2.1.4 */

struct dr_state {
    struct fl_smap domain_map, row_map;
    struct fl_dr_domain *domains;
    size_t ndomains;
    struct fl_dr_row **rows;
    size_t nrows;
    unsigned long no_dmarc, no_record, no_rua_messages, bad, written;
    struct fl_smap no_rua_map;
};

int fl_dr_worse(int a, int b)
{
    static const int order[] = {0, FL_DR_SKIPPED, FL_DR_TEMPFAIL, FL_DR_CANTCREAT};
    int ra = 0, rb = 0;
    for (int i = 0; i < 4; i++) {
        if (order[i] == a)
            ra = i;
        if (order[i] == b)
            rb = i;
    }
    return ra >= rb ? a : b;
}

/* Sets *field to a copy of s (NULL stays NULL), unless it holds s already:
   most records repeat their domain's record. */
static void replace(char **field, const char *s)
{
    if (s == NULL ? *field == NULL : (*field != NULL && strcmp(*field, s) == 0))
        return;
    free(*field);
    *field = s ? fl_strdup(s) : NULL;
}

static void lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* A row being assembled from one record: strings point into the record. */
struct tmp_row {
    const char *ip, *header_from, *envelope_from, *disposition;
    bool dkim_pass, spf_pass;
    const char *rtype[8], *rcomment[8];
    size_t nreasons;
    const struct fl_cj_node *dkim;
    const struct fl_cj_node *spf;
};

static void add_reason(struct tmp_row *t, const char *type, const char *comment)
{
    if (type == NULL || t->nreasons == 8)
        return;
    for (size_t i = 0; i < t->nreasons; i++)
        if (strcmp(t->rtype[i], type) == 0 && strcmp(t->rcomment[i] ? t->rcomment[i] : "",
                                                     comment ? comment : "") == 0)
            return;
    t->rtype[t->nreasons] = type;
    t->rcomment[t->nreasons++] = comment;
}

static const char *cj_str_or(const struct fl_cj *cj, const struct fl_cj_node *o, const char *k,
                             const char *def)
{
    const char *s = fl_cj_gets(cj, o, k);
    return s ? s : def;
}

/* RFC 9990 2.1.4: passing signatures first, aligned ones before others. */
static int dkim_rank(const struct fl_cj *cj, const struct fl_cj_node *sig)
{
    bool pass = strcmp(cj_str_or(cj, sig, "result", ""), "pass") == 0;
    bool aligned = fl_cj_true(fl_cj_get(cj, sig, "aligned"));
    return pass ? (aligned ? 0 : 1) : 2;
}

static void key_add(struct fl_buf *k, const char *s)
{
    fl_buf_puts(k, s ? s : "\x02");
    fl_buf_putc(k, '\x1f');
}

static struct fl_dr_domain *domain_for(struct dr_state *st, const struct fl_cj *cj,
                                       const struct fl_cj_node *pp, const char *org)
{
    char name[256];
    snprintf(name, sizeof(name), "%s", fl_cj_gets(cj, pp, "domain"));
    lower(name);
    bool added;
    size_t i = fl_smap_get(&st->domain_map, name, st->ndomains, &added);
    if (added) {
        st->domains = fl_realloc(st->domains, (st->ndomains + 1) * sizeof(*st->domains));
        memset(&st->domains[i], 0, sizeof(st->domains[i]));
        st->domains[i].domain = fl_strdup(name);
        st->ndomains++;
    }
    struct fl_dr_domain *d = &st->domains[i];
    /* The latest record seen wins (RFC 9990 2.1.8 allows a mix). */
    static const char *const tags[] = {"p", "sp", "np", "adkim", "aspf", "testing", "fo"};
    char **fields[] = {&d->p, &d->sp, &d->np, &d->adkim, &d->aspf, &d->testing, &d->fo};
    for (size_t t = 0; t < 7; t++)
        replace(fields[t], fl_cj_gets(cj, pp, tags[t]));
    replace(&d->rua, fl_cj_gets(cj, pp, "rua"));
    if (org != NULL) {
        replace(&d->org_domain, org);
        lower(d->org_domain);
    }
    const char *problems = fl_cj_gets(cj, pp, "problems");
    if (problems != NULL && *problems) {
        size_t have = d->errors ? strlen(d->errors) : 0;
        if ((d->errors == NULL || strstr(d->errors, problems) == NULL) &&
            have + strlen(problems) + 2 < MAX_ERRORS_TEXT) {
            struct fl_buf b;
            fl_buf_init(&b);
            if (d->errors)
                fl_buf_printf(&b, "%s; ", d->errors);
            fl_buf_puts(&b, problems);
            free(d->errors);
            d->errors = fl_strdup(b.data);
            fl_buf_free(&b);
        }
    }
    return d;
}

static char *dup_field(const char *s)
{
    return s ? fl_strdup(s) : NULL;
}

static void row_add(struct dr_state *st, struct fl_dr_domain *d, const struct fl_cj *cj,
                    const struct tmp_row *t, const struct fl_cj_node **sigs, size_t nsigs)
{
    struct fl_buf key;
    fl_buf_init(&key);
    key_add(&key, d->domain);
    key_add(&key, t->ip);
    key_add(&key, t->header_from);
    key_add(&key, t->envelope_from);
    key_add(&key, t->disposition);
    key_add(&key, t->dkim_pass ? "pass" : "fail");
    key_add(&key, t->spf_pass ? "pass" : "fail");
    for (size_t i = 0; i < t->nreasons; i++) {
        key_add(&key, t->rtype[i]);
        key_add(&key, t->rcomment[i]);
    }
    fl_buf_putc(&key, '\x1e');
    for (size_t i = 0; i < nsigs; i++) {
        key_add(&key, fl_cj_gets(cj, sigs[i], "domain"));
        key_add(&key, fl_cj_gets(cj, sigs[i], "selector"));
        key_add(&key, fl_cj_gets(cj, sigs[i], "result"));
    }
    fl_buf_putc(&key, '\x1e');
    if (t->spf != NULL) {
        key_add(&key, fl_cj_gets(cj, t->spf, "domain"));
        key_add(&key, fl_cj_gets(cj, t->spf, "scope"));
        key_add(&key, fl_cj_gets(cj, t->spf, "result"));
    }
    bool added;
    size_t i = fl_smap_get(&st->row_map, key.data, st->nrows, &added);
    if (added) {
        struct fl_dr_row *r = fl_calloc(1, sizeof(*r));
        r->key = fl_strdup(key.data);
        r->ip = fl_strdup(t->ip);
        r->header_from = fl_strdup(t->header_from);
        r->envelope_from = dup_field(t->envelope_from);
        r->disposition = fl_strdup(t->disposition);
        r->dkim_pass = t->dkim_pass;
        r->spf_pass = t->spf_pass;
        r->reasons = fl_calloc(t->nreasons ? t->nreasons : 1, sizeof(*r->reasons));
        for (size_t k = 0; k < t->nreasons; k++) {
            r->reasons[k].type = fl_strdup(t->rtype[k]);
            r->reasons[k].comment = dup_field(t->rcomment[k]);
        }
        r->nreasons = t->nreasons;
        r->dkim = fl_calloc(nsigs ? nsigs : 1, sizeof(*r->dkim));
        for (size_t k = 0; k < nsigs; k++) {
            r->dkim[k].domain = fl_strdup(cj_str_or(cj, sigs[k], "domain", ""));
            r->dkim[k].selector = fl_strdup(cj_str_or(cj, sigs[k], "selector", ""));
            r->dkim[k].result = fl_strdup(cj_str_or(cj, sigs[k], "result", "none"));
        }
        r->ndkim = nsigs;
        if (t->spf != NULL) {
            r->has_spf = true;
            r->spf.domain = fl_strdup(cj_str_or(cj, t->spf, "domain", ""));
            r->spf.selector = dup_field(fl_cj_gets(cj, t->spf, "scope"));
            r->spf.result = fl_strdup(cj_str_or(cj, t->spf, "result", "none"));
        }
        st->rows = fl_realloc(st->rows, (st->nrows + 1) * sizeof(*st->rows));
        st->rows[st->nrows++] = r;
        if (d->nrows == d->caprows) {
            d->caprows = d->caprows ? d->caprows * 2 : 8;
            d->rows = fl_realloc(d->rows, d->caprows * sizeof(*d->rows));
        }
        d->rows[d->nrows++] = i;
    }
    st->rows[i]->count++;
    d->messages++;
    fl_buf_free(&key);
}

/* A record that cannot be reported: the first FL_VLOG_MAX_PROBLEMS are
   printed, the rest counted (summary bad_records). */
static void problem(struct dr_state *st, const char *file, unsigned long line, const char *what)
{
    if (st->bad++ < FL_VLOG_MAX_PROBLEMS)
        fprintf(stderr, "%s:%lu: warning: %s; skipped\n", file, line, what);
    else if (st->bad == FL_VLOG_MAX_PROBLEMS + 1)
        fprintf(stderr, "%s:%lu: warning: more records without report data; only counted\n",
                file, line);
}

static const char *valid_result(const char *r, bool spf)
{
    static const char *const ok[] = {"none", "pass", "fail", "policy", "neutral",
                                     "temperror", "permerror", "softfail", NULL};
    for (size_t i = 0; r && ok[i]; i++)
        if (strcmp(r, ok[i]) == 0 && (spf || strcmp(r, "softfail") != 0))
            return r;
    return NULL;
}

static int on_record(const struct fl_cj *cj, const struct fl_cj_node *rec, const char *file,
                     unsigned long line, void *arg)
{
    struct dr_state *st = arg;
    const struct fl_cj_node *dm = fl_cj_get(cj, rec, "dmarc");
    if (dm == NULL || dm->type == FL_CJ_NULL) {
        st->no_dmarc++;
        return 0;
    }
    if (dm->type != FL_CJ_OBJ) {
        problem(st, file, line, "\"dmarc\" is not an object");
        return 0;
    }
    const struct fl_cj_node *pp = fl_cj_get(cj, dm, "policy_published");
    if (pp == NULL || pp->type == FL_CJ_NULL) {
        st->no_record++;
        return 0;
    }
    const char *pdomain = fl_cj_gets(cj, pp, "domain");
    const struct fl_cj_node *ev = fl_cj_get(cj, dm, "policy_evaluated");
    struct tmp_row t = {0};
    t.ip = fl_cj_gets(cj, fl_cj_get(cj, rec, "client"), "ip");
    t.header_from = fl_cj_gets(cj, dm, "header_from");
    if (pp->type != FL_CJ_OBJ || pdomain == NULL || !*pdomain || strlen(pdomain) > 253 ||
        ev == NULL || ev->type != FL_CJ_OBJ || t.ip == NULL || !*t.ip ||
        t.header_from == NULL || !*t.header_from) {
        problem(st, file, line,
                "DMARC record without report data (policy domain, policy_evaluated, client "
                "ip or header_from missing)");
        return 0;
    }
    /* The policy domain names a file and a DNS query: a corrupted record
       must not name "../x" or "a!b". */
    char lpd[256], lhf[256];
    snprintf(lpd, sizeof(lpd), "%s", pdomain);
    snprintf(lhf, sizeof(lhf), "%s", t.header_from);
    lower(lpd);
    lower(lhf);
    unsigned char addr[16];
    if (!fl_dr_domain_ok(lpd) || !fl_dr_domain_ok(lhf) || strlen(t.header_from) > 253 ||
        (inet_pton(AF_INET, t.ip, addr) != 1 && inet_pton(AF_INET6, t.ip, addr) != 1)) {
        problem(st, file, line,
                "DMARC record with a policy domain, header_from or client ip that is not one");
        return 0;
    }
    const char *rua = fl_cj_gets(cj, pp, "rua");
    if (rua == NULL || !*rua) {
        char name[256];
        snprintf(name, sizeof(name), "%s", pdomain);
        lower(name);
        bool added;
        fl_smap_get(&st->no_rua_map, name, 0, &added);
        st->no_rua_messages++;
        return 0;
    }
    /* The envelope: null reverse-path gives an empty envelope_from
       (RFC 9990 2.1.3); else the SPF MAIL FROM domain. */
    const struct fl_cj_node *mf = fl_cj_get(cj, rec, "mail_from");
    bool null_sender = mf != NULL && mf->type == FL_CJ_STR && mf->str[0] == '\0';
    t.envelope_from = null_sender ? "" : fl_cj_gets(cj, dm, "envelope_from");
    const char *disp = fl_cj_gets(cj, ev, "disposition");
    const char *result = fl_cj_gets(cj, dm, "result");
    const char *published = fl_cj_gets(cj, dm, "policy_applied");
    if (disp == NULL)
        disp = "none";
    /* RFC 9990 ActionDispositionType "pass": no action, passing DMARC
       under an enforcing policy. */
    if (result != NULL && strcmp(result, "pass") == 0 && strcmp(disp, "none") == 0 &&
        published != NULL && strcmp(published, "none") != 0)
        disp = "pass";
    if (strcmp(disp, "none") != 0 && strcmp(disp, "pass") != 0 &&
        strcmp(disp, "quarantine") != 0 && strcmp(disp, "reject") != 0) {
        problem(st, file, line, "unknown policy_evaluated disposition");
        return 0;
    }
    t.disposition = disp;
    t.dkim_pass = strcmp(cj_str_or(cj, ev, "dkim", "fail"), "pass") == 0;
    t.spf_pass = strcmp(cj_str_or(cj, ev, "spf", "fail"), "pass") == 0;
    const struct fl_cj_node *rs = fl_cj_get(cj, ev, "reason");
    if (rs != NULL && rs->type == FL_CJ_OBJ) {
        add_reason(&t, fl_cj_gets(cj, rs, "type"), fl_cj_gets(cj, rs, "comment"));
    } else if (rs != NULL && rs->type == FL_CJ_ARR) {
        for (const struct fl_cj_node *r = fl_cj_first(cj, rs); r; r = fl_cj_next(cj, r))
            add_reason(&t, fl_cj_gets(cj, r, "type"), fl_cj_gets(cj, r, "comment"));
    }
    /* t=y: the published policy was not applied because of testing mode. */
    const char *testing = fl_cj_gets(cj, pp, "testing");
    if (testing != NULL && strcmp(testing, "y") == 0 && result != NULL &&
        strcmp(result, "fail") == 0 && published != NULL && strcmp(published, disp) != 0) {
        bool have = false;
        for (size_t i = 0; i < t.nreasons; i++)
            have |= strcmp(t.rtype[i], "local_policy") == 0 ||
                    strcmp(t.rtype[i], "policy_test_mode") == 0;
        if (!have)
            add_reason(&t, "policy_test_mode", "t=y");
    }
    const struct fl_cj_node *sigs[MAX_DKIM_PER_ROW];
    size_t nsigs = 0;
    const struct fl_cj_node *dk = fl_cj_get(cj, dm, "dkim");
    for (int rank = 0; rank < 3; rank++)
        for (const struct fl_cj_node *s = fl_cj_first(cj, dk); s && nsigs < MAX_DKIM_PER_ROW;
             s = fl_cj_next(cj, s))
            if (s->type == FL_CJ_OBJ && dkim_rank(cj, s) == rank &&
                fl_cj_gets(cj, s, "domain") && valid_result(fl_cj_gets(cj, s, "result"), false))
                sigs[nsigs++] = s;
    const struct fl_cj_node *spf = fl_cj_get(cj, dm, "spf");
    if (spf != NULL && spf->type == FL_CJ_OBJ && fl_cj_gets(cj, spf, "domain") &&
        valid_result(fl_cj_gets(cj, spf, "result"), true))
        t.spf = spf;
    struct fl_dr_domain *d = domain_for(st, cj, pp, fl_cj_gets(cj, dm, "org_domain"));
    row_add(st, d, cj, &t, sigs, nsigs);
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const struct fl_dr_row *x = *(struct fl_dr_row *const *)a, *y = *(struct fl_dr_row *const *)b;
    return strcmp(x->key, y->key);
}

static int cmp_domain(const void *a, const void *b)
{
    return strcmp(((const struct fl_dr_domain *)a)->domain,
                  ((const struct fl_dr_domain *)b)->domain);
}

static void state_free(struct dr_state *st)
{
    for (size_t i = 0; i < st->nrows; i++) {
        struct fl_dr_row *r = st->rows[i];
        free(r->key);
        free(r->ip);
        free(r->header_from);
        free(r->envelope_from);
        free(r->disposition);
        for (size_t k = 0; k < r->nreasons; k++) {
            free(r->reasons[k].type);
            free(r->reasons[k].comment);
        }
        free(r->reasons);
        for (size_t k = 0; k < r->ndkim; k++) {
            free(r->dkim[k].domain);
            free(r->dkim[k].selector);
            free(r->dkim[k].result);
        }
        free(r->dkim);
        free(r->spf.domain);
        free(r->spf.selector);
        free(r->spf.result);
        free(r);
    }
    free(st->rows);
    for (size_t i = 0; i < st->ndomains; i++) {
        struct fl_dr_domain *d = &st->domains[i];
        char *fields[] = {d->domain, d->org_domain, d->rua, d->p, d->sp, d->np,
                          d->adkim, d->aspf, d->testing, d->fo, d->errors};
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
            free(fields[k]);
        free(d->rows);
    }
    free(st->domains);
    fl_smap_free(&st->domain_map);
    fl_smap_free(&st->row_map);
    fl_smap_free(&st->no_rua_map);
}

static void usage(FILE *out)
{
    fputs("usage: faultlinectl [-c FILE] dmarc-report [--since T --until T] [--out DIR]\n"
          "                    [--send | --dry-run] [--org-name NAME] [--email ADDR]\n"
          "                    [--submitter DOMAIN] [--sendmail COMMAND] [VERDICT-LOG...]\n"
          "  One RFC 9990 aggregate report per DMARC policy domain with rua=, from the\n"
          "  verdict logs of one or several MX hosts (.gz too; without files,\n"
          "  verdict_log and its rotations).  Period: the last full UTC day, or\n"
          "  --since/--until (2026-12-01, 2026-12-01T10:00[:00] UTC, or 90m/24h/7d ago).\n"
          "  --out: report_dir.  --send: mail each report to its rua= URIs through\n"
          "  report_sendmail; --dry-run: write the messages to DIR instead.\n"
          "exit status: 0, 1 some URI skipped, 64 usage, 66 no log readable,\n"
          "  73 a report could not be written, 75 a delivery failed (run again),\n"
          "  78 configuration errors\n",
          out);
}

/* "YYYY-MM-DDTHH:MM:SS" (UTC) to seconds since the epoch. */
static long long epoch_of(const char *t)
{
    struct tm tm = {0};
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm);
}

static void format_time(long long t, char out[20])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* Builds, compresses, writes (and sends) the report of d. */
static int one_report(const struct fl_dr_settings *s, struct dr_state *st,
                      const struct fl_dr_domain *d, struct fl_dr_sender *snd)
{
    struct fl_dr_row **rows = fl_calloc(d->nrows, sizeof(*rows));
    for (size_t i = 0; i < d->nrows; i++)
        rows[i] = st->rows[d->rows[i]];
    qsort(rows, d->nrows, sizeof(*rows), cmp_row);
    struct fl_dr_report rep = {.d = d};
    /* RFC 9990 2.1.5 ridfmt: dot-atom-text "@" dot-atom-text; the same for
       a rerun of the same period, so duplicates can be recognised. */
    snprintf(rep.report_id, sizeof(rep.report_id), "%lld-%lld.%s@%s", s->begin, s->end,
             d->domain, s->submitter);
    snprintf(rep.file_name, sizeof(rep.file_name), "%s!%s!%lld!%lld.xml.gz", s->submitter,
             d->domain, s->begin, s->end);
    struct fl_buf xml;
    fl_buf_init(&xml);
    fl_dr_xml(s, d, rows, rep.report_id, &xml);
    free(rows);
    rep.xml_len = xml.len;
    const char *why;
    int rc = FL_CTL_OK;
    if (fl_dr_gzip(xml.data, xml.len, &rep.gz, &rep.gz_len, &why) < 0) {
        fprintf(stderr, "faultlinectl: dmarc-report: %s: gzip: %s\n", d->domain, why);
        fl_buf_free(&xml);
        return FL_DR_CANTCREAT;
    }
    fl_buf_free(&xml);
    if (fl_dr_write_file(s->out_dir, rep.file_name, rep.gz, rep.gz_len) < 0) {
        fprintf(stderr, "faultlinectl: dmarc-report: cannot write %s/%s: %s\n", s->out_dir,
                rep.file_name, strerror(errno));
        free(rep.gz);
        return FL_DR_CANTCREAT;
    }
    st->written++;
    printf("report domain=%s file=%s records=%zu messages=%lu xml_bytes=%zu gz_bytes=%zu\n",
           d->domain, rep.file_name, d->nrows, d->messages, rep.xml_len, rep.gz_len);
    if (snd != NULL)
        rc = fl_dr_send(snd, &rep);
    free(rep.gz);
    return rc;
}

static int run(const struct fl_config *cfg, struct fl_dr_settings *s, char **files, size_t nfiles,
               const struct fl_vlog_window *win)
{
    /* Refuse early, before anything is read or sent. */
    struct stat sb;
    int bad_dir = stat(s->out_dir, &sb) < 0                   ? errno
                  : !S_ISDIR(sb.st_mode)                      ? ENOTDIR
                  : access(s->out_dir, W_OK | X_OK) < 0 ? errno
                                                              : 0;
    if (bad_dir != 0) {
        fprintf(stderr, "faultlinectl: dmarc-report: cannot write reports to %s: %s\n", s->out_dir,
                strerror(bad_dir));
        return FL_DR_CANTCREAT;
    }
    /* One sending run per report directory: two (an overlapping cron
       job, a manual run) would both find a report unsent and mail it. */
    int lock_fd = -1;
    if (s->send) {
        struct fl_buf lock;
        fl_buf_init(&lock);
        fl_buf_printf(&lock, "%s/.dmarc-report.lock", s->out_dir);
        lock_fd = open(lock.data, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
            fprintf(stderr, "faultlinectl: dmarc-report: %s: %s\n", lock.data,
                    errno == EWOULDBLOCK ? "another dmarc-report --send is running"
                                         : strerror(errno));
            if (lock_fd >= 0)
                close(lock_fd);
            fl_buf_free(&lock);
            return FL_DR_TEMPFAIL;
        }
        fl_buf_free(&lock);
    }
    struct dr_state st = {0};
    struct fl_vlog_stats vst = {0};
    int rc = fl_vlog_read(files, nfiles, win, false, on_record, &st, &vst);
    if (rc < 0) {
        fl_vlog_stats_free(&vst);
        state_free(&st);
        if (lock_fd >= 0)
            close(lock_fd);
        return FL_CTL_NOINPUT;
    }
    char b[20], e[20];
    format_time(s->begin, b);
    format_time(s->end, e);
    printf("period %sZ..%sZ begin=%lld end=%lld files=%lu records=%lu\n", b, e, s->begin,
           s->end, vst.files, vst.records);
    int status = FL_CTL_OK;
    struct fl_dr_sender *snd = NULL;
    if (s->send || s->dry_run)
        snd = fl_dr_sender_new(cfg, s);
    /* The smap indices are positions in st.domains: sort a copy of
       pointers' order by sorting the array itself after the read. */
    qsort(st.domains, st.ndomains, sizeof(*st.domains), cmp_domain);
    for (size_t i = 0; i < st.ndomains; i++)
        status = fl_dr_worse(status, one_report(s, &st, &st.domains[i], snd));
    fl_dr_sender_free(&snd);
    printf("summary reports=%lu policy_domains=%zu no_rua_domains=%zu no_rua_messages=%lu no_dmarc_record=%lu "
           "no_dmarc_data=%lu bad_records=%lu skipped_lines=%lu\n",
           st.written, st.ndomains, st.no_rua_map.n, st.no_rua_messages, st.no_record, st.no_dmarc, st.bad,
           vst.skipped);
    fl_vlog_stats_free(&vst);
    state_free(&st);
    if (lock_fd >= 0)
        close(lock_fd);
    return status;
}

static const char *or_default(const char *flag, const char *setting)
{
    return flag != NULL ? flag : setting;
}

int fl_ctl_dmarc_report(const struct fl_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"send", no_argument, NULL, 'S'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"org-name", required_argument, NULL, 'O'},
                                         {"email", required_argument, NULL, 'e'},
                                         {"submitter", required_argument, NULL, 'm'},
                                         {"sendmail", required_argument, NULL, 'M'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct fl_vlog_window win = {{0}, {0}};
    const char *org = NULL, *email = NULL, *submitter = NULL, *out = NULL, *sendmail = NULL;
    struct fl_dr_settings s = {0};
    int opt;
    optind = 0;
    opterr = 0; /* our messages: "faultlinectl: dmarc-report: ..." */
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
        case 'u':
            if (fl_vlog_parse_time(optarg, opt == 'u', opt == 's' ? win.since : win.until) <
                0) {
                fprintf(stderr, "faultlinectl: dmarc-report: bad time \"%s\"\n", optarg);
                usage(stderr);
                return FL_CTL_USAGE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'S':
            s.send = true;
            break;
        case 'n':
            s.dry_run = true;
            break;
        case 'O':
            org = optarg;
            break;
        case 'e':
            email = optarg;
            break;
        case 'm':
            submitter = optarg;
            break;
        case 'M':
            sendmail = optarg;
            break;
        case 'h':
            usage(stdout);
            return FL_CTL_OK;
        default:
            fl_cli_bad_option("faultlinectl: dmarc-report", opt, argv);
            usage(stderr);
            return FL_CTL_USAGE;
        }
    }
    if (s.send && s.dry_run) {
        fprintf(stderr, "faultlinectl: dmarc-report: --send and --dry-run exclude each other\n");
        return FL_CTL_USAGE;
    }
    if (win.since[0] == '\0' && win.until[0] != '\0') {
        fprintf(stderr, "faultlinectl: dmarc-report: --until needs --since\n");
        return FL_CTL_USAGE;
    }
    time_t now = time(NULL);
    if (win.since[0] == '\0') {
        /* The last full UTC day (RFC 9990 2.1.2: typically one UTC day). */
        long long today = (long long)now - (long long)now % 86400;
        format_time(today - 86400, win.since);
        format_time(today - 1, win.until);
    } else if (win.until[0] == '\0') {
        format_time((long long)now, win.until);
    }
    s.begin = epoch_of(win.since);
    s.end = epoch_of(win.until);
    if (s.end < s.begin) {
        fprintf(stderr, "faultlinectl: dmarc-report: --until is before --since\n");
        return FL_CTL_USAGE;
    }
    s.email = or_default(email, cfg->report_email);
    if (s.email == NULL || *s.email == '\0' || strchr(s.email, '@') == NULL ||
        strpbrk(s.email, " <>\",") != NULL) {
        fprintf(stderr, "faultlinectl: dmarc-report: no valid report address: set report_email "
                        "in the configuration or give --email\n");
        return FL_CTL_USAGE;
    }
    s.submitter = or_default(submitter, cfg->report_submitter);
    if (s.submitter == NULL || *s.submitter == '\0')
        s.submitter = strchr(s.email, '@') + 1;
    if (strpbrk(s.submitter, "!/ @<>") != NULL) {
        fprintf(stderr, "faultlinectl: dmarc-report: bad submitter domain \"%s\"\n",
                s.submitter);
        return FL_CTL_USAGE;
    }
    s.org_name = or_default(org, cfg->report_org_name);
    if (s.org_name == NULL || *s.org_name == '\0')
        s.org_name = s.submitter;
    s.extra_contact = cfg->report_extra_contact_info;
    s.out_dir = or_default(out, cfg->report_dir);
    s.sendmail = or_default(sendmail, cfg->report_sendmail);
    s.max_uris = (unsigned long)cfg->report_max_uris;
    char **files = NULL;
    size_t nfiles;
    bool own_files;
    if (fl_vlog_args_files(cfg, "dmarc-report", argc, argv, optind, &files, &nfiles, &own_files) <
        0)
        return FL_CTL_USAGE;
    int rc = run(cfg, &s, files, nfiles, &win);
    if (own_files)
        fl_vlog_free_files(files);
    return rc;
}
