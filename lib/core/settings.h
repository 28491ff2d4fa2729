/* settings: typed settings tables.  Each module owns one table (name,
   type, default, range, documentation); the table is the only place a
   default is written.  The same tables drive parsing, `faultline -d`, the
   sample config, the faultline.conf(5) man page and the tests that keep
   them equal.  Tables are constant data: thread-safe. */
#ifndef FL_LIB_SETTINGS_H
#define FL_LIB_SETTINGS_H

#include "lib/core/buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum fl_setting_type {
    FL_SET_STRING,   /* char * */
    FL_SET_BOOL,     /* bool: yes/no/true/false/on/off/1/0 */
    FL_SET_INT,      /* long long in [min, max] */
    FL_SET_DURATION, /* long long milliseconds: 500ms, 30s, 5m, 2h, 35d */
    FL_SET_SIZE,     /* long long bytes: 512, 64k, 4M, 1G */
    FL_SET_MODE,     /* long long: octal file mode, e.g. 0660 */
    FL_SET_ENUM,     /* int: index into choices ("accept|tempfail") */
    FL_SET_LIST,     /* struct fl_strlist: comma/space separated, /file */
    FL_SET_CIDRS,    /* struct fl_cidr_list: networks, /file */
};

/* Flags */
#define FL_SET_RESTART 0x1 /* a change takes effect only after a restart */

struct fl_setting {
    const char *name;
    enum fl_setting_type type;
    const char *def; /* default, as configuration text */
    long long min, max;
    const char *choices;
    size_t offset; /* in struct fl_config */
    unsigned int flags;
    const char *doc; /* one or more sentences for -d, the sample and man page */
    /* Optional extra validation of a string value, or of each item of a
       list: returns 0, or -1 with the reason appended to err. */
    int (*check)(const char *value, struct fl_buf *err);
};

struct fl_setting_group {
    const char *title; /* section heading, e.g. "Daemon" */
    const struct fl_setting *settings;
    size_t count;
};

/* Each module's table, sized here so fl_setting_groups can list it (the
   unit tests check that no entry is left empty). */
#define FL_DNS_SETTINGS_COUNT 7
extern const struct fl_setting fl_dns_settings[FL_DNS_SETTINGS_COUNT];
#define FL_IDENT_SETTINGS_COUNT 4
extern const struct fl_setting fl_ident_settings[FL_IDENT_SETTINGS_COUNT];
/* SPF (lib/spf/config_spf.c): */
#define FL_SPF_SETTINGS_COUNT 9
extern const struct fl_setting fl_spf_settings[FL_SPF_SETTINGS_COUNT];
/* DNSBL (lib/lists/config_dnsbl.c): */
#define FL_DNSBL_SETTINGS_COUNT 10
extern const struct fl_setting fl_dnsbl_settings[FL_DNSBL_SETTINGS_COUNT];
/* DKIM (lib/dkim/config_dkim.c): */
#define FL_DKIM_SETTINGS_COUNT 11
extern const struct fl_setting fl_dkim_settings[FL_DKIM_SETTINGS_COUNT];
/* DMARC (lib/dmarc/config_dmarc.c): */
#define FL_DMARC_SETTINGS_COUNT 12
extern const struct fl_setting fl_dmarc_settings[FL_DMARC_SETTINGS_COUNT];
/* Greylisting (lib/greylist/config_greylist.c): */
#define FL_GREYLIST_SETTINGS_COUNT 27
extern const struct fl_setting fl_greylist_settings[FL_GREYLIST_SETTINGS_COUNT];
/* Metrics (lib/metrics/config_metrics.c): */
#define FL_METRICS_SETTINGS_COUNT 1
extern const struct fl_setting fl_metrics_settings[FL_METRICS_SETTINGS_COUNT];
/* DMARC aggregate reports (lib/dmarc/config_report.c): */
#define FL_REPORT_SETTINGS_COUNT 7
extern const struct fl_setting fl_report_settings[FL_REPORT_SETTINGS_COUNT];

/* Every group, in documentation order. */
extern const struct fl_setting_group fl_setting_groups[];
extern const size_t fl_setting_group_count;

/* Returns the setting named name, or NULL. */
const struct fl_setting *fl_setting_find(const char *name);
/* Returns the closest known name at most one edit per four characters
   away (at least 1, at most 3; a swap of neighbours is one edit), or NULL:
   a far-fetched hint is worse than none. */
const char *fl_setting_suggest(const char *name);
/* Human description of the accepted values ("a duration, e.g. 30s"). */
const char *fl_setting_type_hint(const struct fl_setting *s);

/* Writes every setting as "name = default" with its documentation as
   comments: the format of conf/faultline.conf and of `faultline -d`. */
void fl_settings_write_sample(FILE *out);
/* Writes the SETTINGS section of faultline.conf(5) in roff. */
void fl_settings_write_man(FILE *out);

#endif
