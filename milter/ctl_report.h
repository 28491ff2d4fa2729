/* ctl_report: the aggregates of `faultlinectl report` (milter/ctl_report.c
   fills them from the verdict records; milter/ctl_report_out.c prints
   them as text tables or JSON).  Private to those two files.
   Single-threaded. */
#ifndef FL_MILTER_CTL_REPORT_H
#define FL_MILTER_CTL_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "milter/ctl_vlog.h"

#define MAX_ZONES 64 /* lists tracked one by one (overlap matrix) */

#include "milter/ctl_smap.h"

struct fl_fault_row {
    char *domain; /* sender faults only */
    char *method, *result, *reason;
    char *detail; /* the latest: the fix */
    unsigned long messages, refused;
    bool transient;
};

struct fl_zone_row {
    char *zone;
    unsigned long queries, listed, only, fp_signal, auth_known, observed, errors, unavailable,
        disabled, refused;
    struct fl_smap codes; /* error code -> index into code_counts */
    unsigned long *code_counts;
    size_t ncodes;
};

struct fl_triplet {
    unsigned int deferrals;
    bool passed;
};

struct fl_report {
    size_t top;
    unsigned long records, accepted, refused, deferred, quarantined;
    unsigned long fault_sender, fault_receiver, observed_refuse, observed_defer;
    unsigned long receiver_refused; /* deferred or refused with fault=receiver */
    char first[32], last[32];
    /* per input file */
    char **file_names;
    unsigned long *file_records;
    size_t nfiles;
    const char *cur_file;
    /* sender and receiver faults */
    struct fl_smap sender_map, receiver_map;
    struct fl_fault_row *sender, *receiver;
    size_t nsender, nreceiver;
    /* DNS lists */
    struct fl_smap zone_map;
    struct fl_zone_row *zones;
    size_t nzones;
    unsigned long overlap[MAX_ZONES][MAX_ZONES];
    unsigned long list_records, listed_records;
    /* greylisting */
    struct fl_smap trip_map;
    struct fl_triplet *trips;
    size_t ntrips, captrips;
    long *waits;
    size_t nwaits, capwaits;
    struct fl_smap exempt_map;
    unsigned long *exempt_counts;
    size_t nexempt;
    unsigned long grey_store_errors, grey_observed, grey_passes;
};

/* Prints the report as text tables to out. */
void fl_ctl_report_text(struct fl_report *r, const struct fl_vlog_stats *st, FILE *out);
/* The report as a new JSON object. */
json_t *fl_ctl_report_json(struct fl_report *r, const struct fl_vlog_stats *st);

#endif
