/* ctl_vlog: reads verdict logs for faultlinectl why and report.

   A verdict log is one JSON record per line (lib/core/verdict.h).  Files may
   be the current log, rotated copies (FILE.1, FILE.2.gz, FILE-20261201,
   ...) and gzip-compressed ones: every file is read through zlib, which
   passes plain files through.  Without FILE arguments the tools read the
   daemon's verdict_log and its rotations, oldest first.

   Bad input never stops a run: an unreadable file, a line that is not
   JSON (truncated by a crash or a full disk), a record that is not an
   object, and a record of a newer format version ("v" above
   FL_VERDICT_RECORD_VERSION) are each reported as
     FILE:LINE: warning: WHAT; skipped
   (on stderr, or collected for --json output) and skipped.  After
   FL_VLOG_MAX_PROBLEMS of them the rest are only counted, so a binary file
   given by mistake does not flood the terminal.

   Single-threaded. */
#ifndef FL_MILTER_CTL_VLOG_H
#define FL_MILTER_CTL_VLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/core/buf.h"
#include "lib/core/config.h"
#include "milter/ctl_json.h"

/* A time window on the records' "time" ("YYYY-MM-DDTHH:MM:SS"); an empty
   bound is open. */
struct fl_vlog_window {
    char since[20];
    char until[20];
};

/* Parses a --since/--until value: "2026-12-01", "2026-12-01T10:00",
   "2026-12-01 10:00:05", or a duration before now ("90m", "24h", "7d").
   Writes the "YYYY-MM-DDTHH:MM:SS" form; until of a bare date is the end
   of that day.  Returns 0, or -1 for an unknown form. */
int fl_vlog_parse_time(const char *text, bool until, char out[20]);

/* One problem met while reading. */
struct fl_vlog_problem {
    char *file;
    unsigned long line; /* 0: the file as a whole */
    char *what;
};

struct fl_vlog_stats {
    unsigned long files, lines, records, skipped, outside_window;
    struct fl_vlog_problem *problems; /* the first FL_VLOG_MAX_PROBLEMS */
    size_t nproblems;
    unsigned long more_problems; /* not stored */
};
#define FL_VLOG_MAX_PROBLEMS 100

/* Called for each record inside the window: root is the record object
   (valid until the callback returns), cj its node array.  Return 0 to go
   on, 1 to stop reading. */
typedef int fl_vlog_fn(const struct fl_cj *cj, const struct fl_cj_node *root,
                       const char *file, unsigned long line, void *arg);

/* Reads files in order.  quiet: collect problems only (--json); else each
   is also printed to stderr as it is met.  Returns 0, or -1 when no file
   could be read at all. */
int fl_vlog_read(char *const *files, size_t nfiles, const struct fl_vlog_window *w,
                 bool quiet, fl_vlog_fn *fn, void *arg, struct fl_vlog_stats *stats);

/* The daemon's verdict_log and its rotations, oldest first, into a NULL
   terminated array (free with fl_vlog_free_files).  Returns the count, or
   -1 with *error_r when verdict_log is not a file. */
int fl_vlog_default_files(const struct fl_config *cfg, char ***files_r, const char **error_r);
void fl_vlog_free_files(char **files);

/* The files a command reads: its arguments argv[first..argc), or when
   there are none the default files (fl_vlog_default_files; *own_r set:
   free them with fl_vlog_free_files).  Returns 0, or -1 after printing
   "faultlinectl: COMMAND: why" to stderr. */
int fl_vlog_args_files(const struct fl_config *cfg, const char *command, int argc, char **argv,
                       int first, char ***files_r, size_t *nfiles_r, bool *own_r);

void fl_vlog_stats_free(struct fl_vlog_stats *stats);

/* The problems as a new JSON array of {"file","line","problem"}. */
struct json_t;
struct json_t *fl_vlog_problems_json(const struct fl_vlog_stats *stats);

/* Writes text to out with every control character but newline (and DEL)
   shown as '?': record fields come from senders, and must not drive the
   operator's terminal. */
void fl_vlog_put_clean(FILE *out, const char *text, size_t len);

/* The domain of an address ("a@b.example" -> "b.example"), or NULL. */
const char *fl_vlog_domain(const char *addr);

#endif
