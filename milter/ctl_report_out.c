/* ctl_report_out: prints the aggregates of `faultlinectl report` (see
   milter/ctl_report.h) as text tables or as JSON. */
#include "milter/ctl_report.h"

#include <stdlib.h>
#include <string.h>


static int by_messages(const void *a, const void *b)
{
    const struct fl_fault_row *x = a, *y = b;
    if (x->messages != y->messages)
        return x->messages > y->messages ? -1 : 1;
    int d = strcmp(x->domain, y->domain);
    return d ? d : strcmp(x->reason, y->reason);
}

/* qsort(3) must not get NULL, even for no elements. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

static int by_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long percentile(const long *v, size_t n, int p)
{
    if (n == 0)
        return 0;
    /* nearest rank: the smallest value with at least p% at or below it */
    size_t rank = (size_t)((p * n + 99) / 100);
    return v[rank > 0 ? rank - 1 : 0];
}

static double pct(unsigned long part, unsigned long whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

struct grey_summary {
    unsigned long triplets, passed, retried_not_passed, never_retried;
    long p50, p90, p99, max;
};

static void grey_summary(struct fl_report *r, struct grey_summary *g)
{
    memset(g, 0, sizeof(*g));
    for (size_t i = 0; i < r->ntrips; i++) {
        const struct fl_triplet *t = &r->trips[i];
        if (t->deferrals == 0)
            continue; /* a pass whose deferral is outside what was read */
        g->triplets++;
        if (t->passed)
            g->passed++;
        else if (t->deferrals > 1)
            g->retried_not_passed++;
        else
            g->never_retried++;
    }
    sort(r->waits, r->nwaits, sizeof(*r->waits), by_long);
    g->p50 = percentile(r->waits, r->nwaits, 50);
    g->p90 = percentile(r->waits, r->nwaits, 90);
    g->p99 = percentile(r->waits, r->nwaits, 99);
    g->max = r->nwaits ? r->waits[r->nwaits - 1] : 0;
}

static const char *health_word(unsigned long faults, unsigned long records)
{
    if (faults == 0)
        return "healthy";
    return pct(faults, records) < 1.0 ? "minor faults" : "needs attention";
}

static unsigned long receiver_messages(const struct fl_report *r)
{
    /* one message may have several receiver-side faults: the verdict's
       fault counts it once, the rows count causes */
    unsigned long n = 0;
    for (size_t i = 0; i < r->nreceiver; i++)
        n += r->receiver[i].messages;
    return n;
}

void fl_ctl_report_text(struct fl_report *r, const struct fl_vlog_stats *st, FILE *out)
{
    fprintf(out, "faultline report: %lu records from %lu files", r->records, st->files);
    if (r->records)
        fprintf(out, ", %s .. %s", r->first, r->last);
    fputc('\n', out);
    for (size_t i = 0; i < r->nfiles; i++)
        fprintf(out, "  %s: %lu records\n", r->file_names[i], r->file_records[i]);
    if (st->skipped || st->nproblems)
        fprintf(out, "  %lu lines skipped (each reported on stderr with file:line)\n",
                st->skipped);
    fprintf(out,
            "  accepted %lu, refused %lu, deferred %lu, quarantined %lu; "
            "fault=sender %lu, fault=receiver %lu\n",
            r->accepted, r->refused, r->deferred, r->quarantined, r->fault_sender,
            r->fault_receiver);
    if (r->observed_refuse || r->observed_defer)
        fprintf(out, "  observe mode: would have refused %lu, would have deferred %lu\n",
                r->observed_refuse, r->observed_defer);

    fputs("\nSender-side faults (the sender must fix them), by sender domain and cause\n", out);
    if (r->nsender == 0)
        fputs("  none\n", out);
    else
        fprintf(out, "  %-28s %-8s %-10s %-26s %8s %8s\n", "DOMAIN", "CHECK", "RESULT",
                "CAUSE", "MESSAGES", "REFUSED");
    sort(r->sender, r->nsender, sizeof(*r->sender), by_messages);
    for (size_t i = 0; i < r->nsender && i < r->top; i++) {
        const struct fl_fault_row *f = &r->sender[i];
        fprintf(out, "  %-28s %-8s %-10s %-26s %8lu %8lu\n", f->domain, f->method, f->result,
                f->reason, f->messages, f->refused);
        if (f->detail)
            fprintf(out, "      fix: %s\n", f->detail);
    }
    if (r->nsender > r->top)
        fprintf(out, "  ... %zu more (--top)\n", r->nsender - r->top);

    fputs("\nReceiver-side faults (ours to fix), by cause\n", out);
    if (r->nreceiver == 0)
        fputs("  none\n", out);
    else
        fprintf(out, "  %-40s %-8s %-10s %8s %8s\n", "CAUSE", "CHECK", "RESULT", "MESSAGES",
                "DEFERRED");
    sort(r->receiver, r->nreceiver, sizeof(*r->receiver), by_messages);
    for (size_t i = 0; i < r->nreceiver; i++) {
        const struct fl_fault_row *f = &r->receiver[i];
        fprintf(out, "  %-40s %-8s %-10s %8lu %8lu\n", f->reason, f->method, f->result,
                f->messages, f->refused);
        if (f->detail)
            fprintf(out, "      latest: %s\n", f->detail);
    }
    unsigned long rm = receiver_messages(r);
    fprintf(out,
            "  Health: %s -- %lu faults on our side in %lu messages (%.2f%%); %lu messages "
            "deferred or refused because of us\n",
            health_word(rm, r->records), rm, r->records, pct(rm, r->records),
            r->receiver_refused);

    fputs("\nDNS lists\n", out);
    if (r->nzones == 0) {
        fputs("  no list was asked\n", out);
    } else {
        fprintf(out, "  %-24s %8s %7s %6s %9s %8s %7s %7s %8s\n", "LIST", "QUERIES", "LISTED",
                "ONLY", "FP-SIGNAL", "OBSERVED", "ERRORS", "NO-ANS", "REFUSED");
        for (size_t i = 0; i < r->nzones; i++) {
            const struct fl_zone_row *z = &r->zones[i];
            fprintf(out, "  %-24s %8lu %7lu %6lu %9lu %8lu %7lu %7lu %8lu\n", z->zone,
                    z->queries, z->listed, z->only, z->fp_signal, z->observed, z->errors,
                    z->unavailable, z->refused);
        }
        fputs("  LISTED includes OBSERVED (observe mode, not enforced); ONLY: listings no other\n"
              "  list made; FP-SIGNAL: listings of mail that passed DKIM or DMARC for its own\n"
              "  domain (check these; known only for mail that reached its end, not refused\n"
              "  at RCPT); NO-ANS: timeouts and SERVFAILs; REFUSED: listings that refused\n",
              out);
        for (size_t i = 0; i < r->nzones; i++) {
            const struct fl_zone_row *z = &r->zones[i];
            for (size_t k = 0; k < z->codes.cap; k++)
                if (z->codes.slots[k].key != NULL)
                    fprintf(out, "  error code: %s answered %s %lu times (not a listing; "
                                 "ours to fix)\n",
                            z->zone, z->codes.slots[k].key,
                            z->code_counts[z->codes.slots[k].val]);
        }
        bool any = false;
        for (size_t a = 0; a < r->nzones && a < MAX_ZONES; a++)
            for (size_t b = a + 1; b < r->nzones && b < MAX_ZONES; b++)
                if (r->overlap[a][b]) {
                    if (!any)
                        fputs("  overlap (messages listed by both):\n", out);
                    any = true;
                    fprintf(out, "    %s + %s: %lu\n", r->zones[a].zone, r->zones[b].zone,
                            r->overlap[a][b]);
                }
    }

    struct grey_summary g;
    grey_summary(r, &g);
    fputs("\nGreylisting\n", out);
    fprintf(out,
            "  deferred triplets %lu: retried and passed %lu (%.1f%%), retried but not "
            "passed %lu, never retried %lu\n",
            g.triplets, g.passed, pct(g.passed, g.triplets), g.retried_not_passed,
            g.never_retried);
    if (r->nwaits)
        fprintf(out, "  retry delay: p50 %lds, p90 %lds, p99 %lds, max %lds (%zu retries)\n",
                g.p50, g.p90, g.p99, g.max, r->nwaits);
    fputs("  exemptions:", out);
    if (r->nexempt == 0)
        fputs(" none", out);
    for (size_t k = 0; k < r->exempt_map.cap; k++)
        if (r->exempt_map.slots[k].key != NULL)
            fprintf(out, " %s %lu", r->exempt_map.slots[k].key,
                    r->exempt_counts[r->exempt_map.slots[k].val]);
    fputc('\n', out);
    fprintf(out, "  observe mode, would have deferred: %lu; store errors: %lu\n",
            r->grey_observed, r->grey_store_errors);
}

static json_t *fault_rows_json(const struct fl_fault_row *rows, size_t n, size_t top, bool sender)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && i < top; i++) {
        const struct fl_fault_row *f = &rows[i];
        json_t *o = json_object();
        if (sender)
            json_object_set_new(o, "domain", json_string(f->domain));
        json_object_set_new(o, "check", json_string(f->method));
        json_object_set_new(o, "result", json_string(f->result));
        json_object_set_new(o, "cause", json_string(f->reason));
        json_object_set_new(o, "messages", json_integer((json_int_t)f->messages));
        json_object_set_new(o, sender ? "refused" : "deferred_or_refused",
                            json_integer((json_int_t)f->refused));
        json_object_set_new(o, sender ? "fix" : "latest",
                            f->detail ? json_string(f->detail) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

json_t *fl_ctl_report_json(struct fl_report *r, const struct fl_vlog_stats *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "records", json_integer((json_int_t)r->records));
    json_object_set_new(o, "first", r->records ? json_string(r->first) : json_null());
    json_object_set_new(o, "last", r->records ? json_string(r->last) : json_null());
    json_t *files = json_array();
    for (size_t i = 0; i < r->nfiles; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "file", json_string(r->file_names[i]));
        json_object_set_new(f, "records", json_integer((json_int_t)r->file_records[i]));
        json_array_append_new(files, f);
    }
    json_object_set_new(o, "files", files);
    json_object_set_new(o, "skipped_lines", json_integer((json_int_t)st->skipped));
    json_t *act = json_object();
    json_object_set_new(act, "accepted", json_integer((json_int_t)r->accepted));
    json_object_set_new(act, "refused", json_integer((json_int_t)r->refused));
    json_object_set_new(act, "deferred", json_integer((json_int_t)r->deferred));
    json_object_set_new(act, "quarantined", json_integer((json_int_t)r->quarantined));
    json_object_set_new(act, "observe_would_refuse", json_integer((json_int_t)r->observed_refuse));
    json_object_set_new(act, "observe_would_defer", json_integer((json_int_t)r->observed_defer));
    json_object_set_new(o, "actions", act);
    sort(r->sender, r->nsender, sizeof(*r->sender), by_messages);
    sort(r->receiver, r->nreceiver, sizeof(*r->receiver), by_messages);
    json_object_set_new(o, "sender_faults", fault_rows_json(r->sender, r->nsender, r->top, true));
    json_object_set_new(o, "sender_fault_groups", json_integer((json_int_t)r->nsender));
    json_object_set_new(o, "receiver_faults",
                        fault_rows_json(r->receiver, r->nreceiver, (size_t)-1, false));
    unsigned long rm = receiver_messages(r);
    json_t *h = json_object();
    json_object_set_new(h, "status", json_string(health_word(rm, r->records)));
    json_object_set_new(h, "faults", json_integer((json_int_t)rm));
    json_object_set_new(h, "percent", json_real(pct(rm, r->records)));
    json_object_set_new(o, "receiver_health", h);
    json_t *lists = json_array();
    for (size_t i = 0; i < r->nzones; i++) {
        const struct fl_zone_row *z = &r->zones[i];
        json_t *l = json_object();
        json_object_set_new(l, "list", json_string(z->zone));
        json_object_set_new(l, "queries", json_integer((json_int_t)z->queries));
        json_object_set_new(l, "listed", json_integer((json_int_t)z->listed));
        json_object_set_new(l, "listed_only_here", json_integer((json_int_t)z->only));
        json_object_set_new(l, "listed_but_authenticated", json_integer((json_int_t)z->fp_signal));
        json_object_set_new(l, "listed_with_auth_known", json_integer((json_int_t)z->auth_known));
        json_object_set_new(l, "observed", json_integer((json_int_t)z->observed));
        json_object_set_new(l, "refused", json_integer((json_int_t)z->refused));
        json_object_set_new(l, "unavailable", json_integer((json_int_t)z->unavailable));
        json_object_set_new(l, "disabled", json_integer((json_int_t)z->disabled));
        json_t *codes = json_object();
        for (size_t k = 0; k < z->codes.cap; k++)
            if (z->codes.slots[k].key != NULL)
                json_object_set_new(codes, z->codes.slots[k].key,
                                    json_integer((json_int_t)z->code_counts[z->codes.slots[k].val]));
        json_object_set_new(l, "error_codes", codes);
        json_t *ov = json_object();
        for (size_t b = 0; b < r->nzones && i < MAX_ZONES && b < MAX_ZONES; b++)
            if (r->overlap[i][b])
                json_object_set_new(ov, r->zones[b].zone,
                                    json_integer((json_int_t)r->overlap[i][b]));
        json_object_set_new(l, "overlap", ov);
        json_array_append_new(lists, l);
    }
    json_object_set_new(o, "dns_lists", lists);
    struct grey_summary g;
    grey_summary(r, &g);
    json_t *gl = json_object();
    json_object_set_new(gl, "deferred_triplets", json_integer((json_int_t)g.triplets));
    json_object_set_new(gl, "retried_and_passed", json_integer((json_int_t)g.passed));
    json_object_set_new(gl, "retried_not_passed", json_integer((json_int_t)g.retried_not_passed));
    json_object_set_new(gl, "never_retried", json_integer((json_int_t)g.never_retried));
    json_object_set_new(gl, "passed_percent", json_real(pct(g.passed, g.triplets)));
    json_t *d = json_object();
    json_object_set_new(d, "retries", json_integer((json_int_t)r->nwaits));
    json_object_set_new(d, "p50", json_integer(g.p50));
    json_object_set_new(d, "p90", json_integer(g.p90));
    json_object_set_new(d, "p99", json_integer(g.p99));
    json_object_set_new(d, "max", json_integer(g.max));
    json_object_set_new(gl, "retry_delay_seconds", d);
    json_t *ex = json_object();
    for (size_t k = 0; k < r->exempt_map.cap; k++)
        if (r->exempt_map.slots[k].key != NULL)
            json_object_set_new(ex, r->exempt_map.slots[k].key,
                                json_integer((json_int_t)r->exempt_counts[r->exempt_map.slots[k].val]));
    json_object_set_new(gl, "exemptions", ex);
    json_object_set_new(gl, "observe_would_defer", json_integer((json_int_t)r->grey_observed));
    json_object_set_new(gl, "store_errors", json_integer((json_int_t)r->grey_store_errors));
    json_object_set_new(o, "greylisting", gl);
    json_object_set_new(o, "problems", fl_vlog_problems_json(st));
    json_object_set_new(o, "more_problems", json_integer((json_int_t)st->more_problems));
    return o;
}
