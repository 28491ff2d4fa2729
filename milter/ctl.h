/* ctl: shared pieces of faultlinectl, the admin tool (milter/faultlinectl.c
   parses the global options and dispatches; one file per command group,
   e.g. milter/ctl_greylist.c).  Single-threaded. */
#ifndef FL_MILTER_CTL_H
#define FL_MILTER_CTL_H

#include <stdio.h>

#include "lib/core/config.h"

/* Exit statuses (sysexits.h values; listed in the usage text). */
#define FL_CTL_OK          0
#define FL_CTL_NOTHING     1  /* remove: nothing matched */
#define FL_CTL_USAGE       64 /* EX_USAGE: bad command line */
#define FL_CTL_DATAERR     65 /* EX_DATAERR: bad argument value */
#define FL_CTL_NOINPUT     66 /* EX_NOINPUT: no verdict log could be read */
#define FL_CTL_UNAVAILABLE 69 /* EX_UNAVAILABLE: store cannot be opened or used */
#define FL_CTL_CONFIG      78 /* EX_CONFIG: configuration file has errors */

/* Prints the whole usage text to out. */
void fl_ctl_usage(FILE *out);
/* Prints a two-line reminder to stderr (after a usage error). */
void fl_ctl_brief_usage(void);

/* Runs "greylist SUBCOMMAND ARGS..." (argv[0] is the subcommand) with the
   loaded configuration.  Returns an exit status. */
int fl_ctl_greylist(const struct fl_config *cfg, int argc, char **argv);
/* `stats`: prints the daemon's counters from stats_file. */
int fl_ctl_stats(const struct fl_config *cfg, int argc, char **argv);
/* `why ID [FILE...]` (argv[0] is "why"): one message explained from the
   verdict logs (milter/ctl_why.c).  Returns an exit status. */
int fl_ctl_why(const struct fl_config *cfg, int argc, char **argv);
/* `report [FILE...]` (argv[0] is "report"): faults, DNS lists and
   greylisting over verdict logs (milter/ctl_report.c). */
int fl_ctl_report(const struct fl_config *cfg, int argc, char **argv);
/* `dmarc-report [FILE...]` (argv[0] is "dmarc-report"): RFC 9990
   aggregate reports from verdict logs (milter/ctl_dmarc_report.c). */
int fl_ctl_dmarc_report(const struct fl_config *cfg, int argc, char **argv);

#endif
