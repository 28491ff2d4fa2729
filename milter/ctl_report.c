/* ctl_report: `faultlinectl report [--since T] [--until T] [FILES...]` --
   what a day of verdict records says, for the people who tune the MX.

   Over the verdict logs of one or several MX hosts (milter/ctl_vlog.c):
   - sender-side faults by sender domain and cause, with the fix and the
     number of messages (and how many were refused for it);
   - receiver-side faults by cause (our resolver, a list refusing us, the
     greylist store), with a health line;
   - DNS lists: queries, listings, listings only this list made, overlap
     between lists, listings of mail that passed DKIM or DMARC for its own
     domain (the false-positive signal), error codes, timeouts, observed
     listings;
   - greylisting: deferred triplets, the share retried and passed (on any
     of the hosts read), retry delay percentiles, never retried,
     exemptions, observed deferrals, store errors.
   Text tables by default, --json for scripts.  One pass, no record kept:
   a million records take seconds (tests/bench/bench_report.sh).
   Single-threaded. */
#include "milter/cli.h"
#include "milter/ctl.h"
#include "milter/ctl_report.h"
#include "milter/ctl_smap.h"
#include "lib/core/xalloc.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TOP 25

/* --- the aggregates ----------------------------------------------------------- */

#define GROW(arr, n, extra)                                                     \
    do {                                                                        \
        (arr) = fl_realloc((arr), ((n) + (extra)) * sizeof(*(arr)));           \
    } while (0)

static bool str_is(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

static char *dup_or(const char *s, const char *def)
{
    return fl_strdup(s ? s : def);
}

static const char *prop(const struct fl_cj *cj, const struct fl_cj_node *c, const char *key)
{
    return fl_cj_gets(cj, fl_cj_get(cj, c, "props"), key);
}

/* The sender domain a sender-side fault is filed under. */
static const char *fault_domain(const struct fl_cj *cj, const struct fl_cj_node *rec,
                                const struct fl_cj_node *c, const char *method)
{
    const char *d = NULL;
    if (str_is(method, "dkim"))
        d = prop(cj, c, "header.d");
    else if (str_is(method, "dmarc"))
        d = prop(cj, c, "header.from");
    else if (str_is(method, "spf"))
        d = fl_vlog_domain(prop(cj, c, "smtp.mailfrom"));
    if (d == NULL)
        d = fl_vlog_domain(fl_cj_gets(cj, rec, "mail_from"));
    if (d == NULL) {
        const struct fl_cj_node *client = fl_cj_get(cj, rec, "client");
        d = fl_cj_gets(cj, client, "helo");
    }
    return d ? d : "(none)";
}

static void count_fault(struct fl_report *r, bool sender, const char *domain, const char *method,
                        const char *result, const char *reason, const char *detail,
                        bool transient, bool refused)
{
    struct fl_buf key;
    fl_buf_init(&key);
    fl_buf_printf(&key, "%s\t%s\t%s", domain ? domain : "", method ? method : "?",
                  reason ? reason : (result ? result : "?"));
    struct fl_smap *m = sender ? &r->sender_map : &r->receiver_map;
    struct fl_fault_row **rows = sender ? &r->sender : &r->receiver;
    size_t *n = sender ? &r->nsender : &r->nreceiver;
    bool added;
    size_t i = fl_smap_get(m, key.data, *n, &added);
    fl_buf_free(&key);
    if (added) {
        GROW(*rows, *n, 1);
        struct fl_fault_row *f = &(*rows)[(*n)++];
        memset(f, 0, sizeof(*f));
        f->domain = dup_or(domain, "");
        f->method = dup_or(method, "?");
        f->result = dup_or(result, "?");
        f->reason = dup_or(reason, "");
    }
    struct fl_fault_row *f = &(*rows)[i];
    f->messages++;
    f->refused += refused;
    f->transient |= transient;
    if (detail != NULL && (f->detail == NULL || strcmp(f->detail, detail) != 0)) {
        free(f->detail);
        f->detail = fl_strdup(detail);
    }
}

static size_t zone_index(struct fl_report *r, const char *zone)
{
    bool added;
    size_t i = fl_smap_get(&r->zone_map, zone, r->nzones, &added);
    if (added) {
        GROW(r->zones, r->nzones, 1);
        memset(&r->zones[r->nzones], 0, sizeof(r->zones[0]));
        r->zones[r->nzones++].zone = fl_strdup(zone);
    }
    return i;
}

/* Passed DKIM or DMARC for its own domain: a listing of it is suspect. */
static bool authenticated_for_own_domain(const struct fl_cj *cj, const struct fl_cj_node *rec,
                                         bool *known)
{
    const char *from = fl_vlog_domain(fl_cj_gets(cj, rec, "mail_from"));
    const char *hfrom = NULL;
    bool pass = false;
    const struct fl_cj_node *checks = fl_cj_get(cj, rec, "checks");
    for (const struct fl_cj_node *c = fl_cj_first(cj, checks); c; c = fl_cj_next(cj, c)) {
        const char *m = fl_cj_gets(cj, c, "method");
        if (str_is(m, "dmarc")) {
            *known = true;
            hfrom = prop(cj, c, "header.from");
            pass |= str_is(fl_cj_gets(cj, c, "result"), "pass");
        }
    }
    for (const struct fl_cj_node *c = fl_cj_first(cj, checks); c && !pass;
         c = fl_cj_next(cj, c)) {
        if (!str_is(fl_cj_gets(cj, c, "method"), "dkim"))
            continue;
        *known = true;
        const char *d = prop(cj, c, "header.d");
        if (!str_is(fl_cj_gets(cj, c, "result"), "pass") || d == NULL)
            continue;
        const char *own[2] = {from, hfrom};
        for (int k = 0; k < 2; k++) {
            if (own[k] == NULL)
                continue;
            size_t ld = strlen(d), lo = strlen(own[k]);
            /* the same domain, or one under the other (relaxed alignment) */
            if (strcasecmp(d, own[k]) == 0 ||
                (lo > ld && own[k][lo - ld - 1] == '.' && strcasecmp(own[k] + lo - ld, d) == 0) ||
                (ld > lo && d[ld - lo - 1] == '.' && strcasecmp(d + ld - lo, own[k]) == 0))
                pass = true;
        }
    }
    return pass;
}

static void count_lists(struct fl_report *r, const struct fl_cj *cj, const struct fl_cj_node *rec,
                        const struct fl_cj_node *c, bool refused_by_lists)
{
    size_t listed[MAX_ZONES], nlisted = 0;
    const struct fl_cj_node *lists = fl_cj_get(cj, c, "lists");
    if (lists == NULL)
        return;
    r->list_records++;
    for (const struct fl_cj_node *l = fl_cj_first(cj, lists); l; l = fl_cj_next(cj, l)) {
        const char *zone = fl_cj_gets(cj, l, "list");
        const char *status = fl_cj_gets(cj, l, "status");
        if (zone == NULL || status == NULL)
            continue;
        size_t z = zone_index(r, zone);
        struct fl_zone_row *zr = &r->zones[z];
        if (str_is(status, "disabled")) {
            zr->disabled++;
            continue;
        }
        zr->queries++;
        if (str_is(status, "listed")) {
            bool observed = fl_cj_true(fl_cj_get(cj, l, "observe")) &&
                            fl_cj_num(fl_cj_get(cj, l, "weight"), 0) == 0;
            zr->listed++;
            zr->observed += observed;
            zr->refused += refused_by_lists && !observed;
            bool seen = false;
            for (size_t k = 0; k < nlisted; k++)
                seen |= listed[k] == z;
            if (!seen && nlisted < MAX_ZONES)
                listed[nlisted++] = z;
        } else if (str_is(status, "error_code")) {
            zr->errors++;
            const char *code = fl_cj_gets(cj, l, "error_code");
            bool added;
            size_t k = fl_smap_get(&zr->codes, code ? code : "?", zr->ncodes, &added);
            if (added) {
                GROW(zr->code_counts, zr->ncodes, 1);
                zr->code_counts[zr->ncodes++] = 0;
            }
            zr->code_counts[k]++;
        } else if (str_is(status, "unavailable")) {
            zr->unavailable++;
        }
    }
    if (nlisted == 0)
        return;
    r->listed_records++;
    bool known = false;
    bool fp = authenticated_for_own_domain(cj, rec, &known);
    for (size_t a = 0; a < nlisted; a++) {
        struct fl_zone_row *zr = &r->zones[listed[a]];
        zr->only += nlisted == 1;
        zr->fp_signal += fp;
        zr->auth_known += known;
        for (size_t b = 0; b < nlisted; b++)
            if (a != b && listed[a] < MAX_ZONES && listed[b] < MAX_ZONES)
                r->overlap[listed[a]][listed[b]]++;
    }
}

static void count_greylist(struct fl_report *r, const struct fl_cj *cj, const struct fl_cj_node *c)
{
    const char *result = fl_cj_gets(cj, c, "result");
    const char *reason = fl_cj_gets(cj, c, "reason");
    const struct fl_cj_node *ob = fl_cj_get(cj, c, "observe");
    if (str_is(reason, "greylist.store_down")) {
        r->grey_store_errors++;
        return;
    }
    const char *ex = prop(cj, c, "policy.exempt");
    if (str_is(result, "skipped") && ex != NULL) {
        bool added;
        size_t k = fl_smap_get(&r->exempt_map, ex, r->nexempt, &added);
        if (added) {
            GROW(r->exempt_counts, r->nexempt, 1);
            r->exempt_counts[r->nexempt++] = 0;
        }
        r->exempt_counts[k]++;
        return;
    }
    const char *net = prop(cj, c, "policy.client-net");
    const char *from = prop(cj, c, "smtp.mailfrom");
    const char *to = prop(cj, c, "smtp.rcptto");
    bool defer = str_is(result, "policy");
    bool pass = str_is(result, "pass");
    if (ob != NULL && defer)
        r->grey_observed++;
    const char *waited = prop(cj, c, "policy.waited");
    if (pass && waited != NULL) {
        r->grey_passes++;
        if (r->nwaits == r->capwaits) {
            r->capwaits = r->capwaits ? r->capwaits * 2 : 1024;
            r->waits = fl_realloc(r->waits, r->capwaits * sizeof(*r->waits));
        }
        r->waits[r->nwaits++] = strtol(waited, NULL, 10);
    }
    if (net == NULL || (!defer && !(pass && waited != NULL)))
        return;
    struct fl_buf key;
    fl_buf_init(&key);
    fl_buf_printf(&key, "%s|%s|%s", net, from ? from : "", to ? to : "");
    bool added;
    size_t i = fl_smap_get(&r->trip_map, key.data, r->ntrips, &added);
    fl_buf_free(&key);
    if (added) {
        if (r->ntrips == r->captrips) {
            r->captrips = r->captrips ? r->captrips * 2 : 1024;
            r->trips = fl_realloc(r->trips, r->captrips * sizeof(*r->trips));
        }
        memset(&r->trips[r->ntrips++], 0, sizeof(*r->trips));
    }
    if (defer)
        r->trips[i].deferrals++;
    else
        r->trips[i].passed = true;
}

/* Appends the lists that failed ("(zen.example)") to a receiver-side
   cause of the DNS lists: which list refuses us, or does not answer. */
static void failed_lists(const struct fl_cj *cj, const struct fl_cj_node *c, char *cause,
                         size_t size)
{
    size_t len = strlen(cause);
    const char *sep = " (";
    const struct fl_cj_node *lists = fl_cj_get(cj, c, "lists");
    for (const struct fl_cj_node *l = fl_cj_first(cj, lists); l; l = fl_cj_next(cj, l)) {
        const char *status = fl_cj_gets(cj, l, "status"), *zone = fl_cj_gets(cj, l, "list");
        if (zone == NULL || !(str_is(status, "error_code") || str_is(status, "unavailable")))
            continue;
        if (len + strlen(sep) + strlen(zone) + 2 >= size)
            break;
        len += (size_t)snprintf(cause + len, size - len, "%s%s", sep, zone);
        sep = ", ";
    }
    if (*sep == ',')
        snprintf(cause + len, size - len, ")");
}

static int on_record(const struct fl_cj *cj, const struct fl_cj_node *rec, const char *file,
                     unsigned long line, void *arg)
{
    (void)line;
    struct fl_report *r = arg;
    if (r->cur_file != file) {
        r->cur_file = file;
        GROW(r->file_names, r->nfiles, 1);
        GROW(r->file_records, r->nfiles, 1);
        r->file_names[r->nfiles] = fl_strdup(file);
        r->file_records[r->nfiles++] = 0;
    }
    r->file_records[r->nfiles - 1]++;
    r->records++;
    const char *t = fl_cj_gets(cj, rec, "time");
    if (t != NULL && (r->first[0] == '\0' || strcmp(t, r->first) < 0))
        snprintf(r->first, sizeof(r->first), "%s", t);
    if (t != NULL && strcmp(t, r->last) > 0)
        snprintf(r->last, sizeof(r->last), "%s", t);
    const char *action = fl_cj_gets(cj, rec, "action");
    bool refused = str_is(action, "reject"), deferred = str_is(action, "tempfail");
    r->refused += refused;
    r->deferred += deferred;
    r->quarantined += str_is(action, "quarantine");
    r->accepted += !refused && !deferred && !str_is(action, "quarantine");
    const char *vfault = fl_cj_gets(cj, rec, "fault");
    r->fault_sender += str_is(vfault, "sender");
    r->fault_receiver += str_is(vfault, "receiver");
    r->receiver_refused += str_is(vfault, "receiver") && (refused || deferred);
    const char *vreason = fl_cj_gets(cj, rec, "reason");
    const struct fl_cj_node *checks = fl_cj_get(cj, rec, "checks");
    for (const struct fl_cj_node *c = fl_cj_first(cj, checks); c; c = fl_cj_next(cj, c)) {
        const char *method = fl_cj_gets(cj, c, "method");
        const char *fault = fl_cj_gets(cj, c, "fault");
        const char *reason = fl_cj_gets(cj, c, "reason");
        const struct fl_cj_node *ob = fl_cj_get(cj, c, "observe");
        if (ob != NULL) {
            const char *oa = fl_cj_gets(cj, ob, "action");
            r->observed_refuse += str_is(oa, "reject");
            r->observed_defer += str_is(oa, "tempfail");
        }
        bool decided = (refused || deferred) && reason != NULL && str_is(vreason, reason);
        if (str_is(fault, "sender") || str_is(fault, "receiver")) {
            bool sender = str_is(fault, "sender");
            char cause[256];
            snprintf(cause, sizeof(cause), "%s%s", reason ? reason : "",
                     ob != NULL ? " (observed)" : "");
            if (!sender && str_is(method, "dnsbl"))
                failed_lists(cj, c, cause, sizeof(cause));
            count_fault(r, sender, sender ? fault_domain(cj, rec, c, method) : NULL, method,
                        fl_cj_gets(cj, c, "result"), cause, fl_cj_gets(cj, c, "detail"),
                        fl_cj_true(fl_cj_get(cj, c, "transient")), decided);
        }
        if (str_is(method, "dnsbl"))
            count_lists(r, cj, rec, c, decided);
        else if (str_is(method, "greylist"))
            count_greylist(r, cj, c);
    }
    return 0;
}

static void free_rows(struct fl_fault_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].domain);
        free(rows[i].method);
        free(rows[i].result);
        free(rows[i].reason);
        free(rows[i].detail);
    }
    free(rows);
}

static void report_free(struct fl_report *r)
{
    free_rows(r->sender, r->nsender);
    free_rows(r->receiver, r->nreceiver);
    fl_smap_free(&r->sender_map);
    fl_smap_free(&r->receiver_map);
    for (size_t i = 0; i < r->nzones; i++) {
        free(r->zones[i].zone);
        fl_smap_free(&r->zones[i].codes);
        free(r->zones[i].code_counts);
    }
    free(r->zones);
    fl_smap_free(&r->zone_map);
    fl_smap_free(&r->trip_map);
    free(r->trips);
    free(r->waits);
    fl_smap_free(&r->exempt_map);
    free(r->exempt_counts);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->file_names[i]);
    free(r->file_names);
    free(r->file_records);
}

static void usage(FILE *out)
{
    fputs("usage: faultlinectl [-c FILE] report [--json] [--since T] [--until T] [--top N]\n"
          "                    [VERDICT-LOG...]\n"
          "  Verdict logs of one or several MX hosts (.gz too); without files,\n"
          "  verdict_log and its rotations.  T: 2026-12-01, 2026-12-01T10:00[:00]\n"
          "  (UTC), or 90m/24h/7d ago.  --top: sender-fault rows shown (25).\n"
          "exit status: 0, 64 usage, 66 no log readable, 78 configuration errors\n",
          out);
}

int fl_ctl_report(const struct fl_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"since", required_argument, NULL, 's'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"top", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct fl_vlog_window win = {{0}, {0}};
    bool json = false;
    struct fl_report *r = fl_calloc(1, sizeof(*r));
    r->top = DEFAULT_TOP;
    int opt;
    optind = 0; /* glibc: a full re-initialisation after main's getopt */
    opterr = 0; /* our messages: "faultlinectl: report: ..." */
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = true;
            break;
        case 's':
        case 'u':
            if (fl_vlog_parse_time(optarg, opt == 'u', opt == 's' ? win.since : win.until) <
                0) {
                fprintf(stderr, "faultlinectl: report: bad time \"%s\"\n", optarg);
                usage(stderr);
                free(r);
                return FL_CTL_USAGE;
            }
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 1) {
                fprintf(stderr, "faultlinectl: report: bad --top \"%s\"\n", optarg);
                free(r);
                return FL_CTL_USAGE;
            }
            r->top = (size_t)n;
            break;
        }
        case 'h':
            usage(stdout);
            free(r);
            return FL_CTL_OK;
        default:
            fl_cli_bad_option("faultlinectl: report", opt, argv);
            usage(stderr);
            free(r);
            return FL_CTL_USAGE;
        }
    }
    char **files = NULL;
    size_t nfiles;
    bool own_files = optind >= argc;
    if (!own_files) {
        files = argv + optind;
        nfiles = (size_t)(argc - optind);
    } else {
        const char *why;
        int n = fl_vlog_default_files(cfg, &files, &why);
        if (n < 0) {
            fprintf(stderr, "faultlinectl: report: %s\n", why);
            free(r);
            return FL_CTL_USAGE;
        }
        nfiles = (size_t)n;
    }
    struct fl_vlog_stats st = {0};
    int rc = fl_vlog_read(files, nfiles, &win, json, on_record, r, &st);
    if (own_files)
        fl_vlog_free_files(files);
    if (json) {
        json_t *o = fl_ctl_report_json(r, &st);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4));
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (mem != NULL) {
            fl_ctl_report_text(r, &st, mem);
            if (fclose(mem) == 0)
                fl_vlog_put_clean(stdout, text, len);
        }
        free(text);
    }
    report_free(r);
    free(r);
    fl_vlog_stats_free(&st);
    return rc < 0 ? FL_CTL_NOINPUT : FL_CTL_OK;
}
