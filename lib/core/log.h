/* log: the one logging API.  Targets: syslog (any facility, "mail" by
   default) or stderr (one line per call, ISO time, program[pid], level).
   Filtering by level lives here, not at call sites.  Thread-safe: each line
   is formatted first and written with one call. */
#ifndef FL_LIB_LOG_H
#define FL_LIB_LOG_H

#include <stdbool.h>

enum fl_log_level {
    FL_LOG_DEBUG,
    FL_LOG_INFO,
    FL_LOG_WARN,
    FL_LOG_ERROR,
    FL_LOG_FATAL,
};

/* Returns 0, or -1 if target is not "stderr" nor a syslog facility name. */
int fl_log_open(const char *ident, const char *target, enum fl_log_level level);
void fl_log_set_level(enum fl_log_level level);
/* Returns 0 and sets *level_r, or -1 for an unknown name. */
int fl_log_level_parse(const char *name, enum fl_log_level *level_r);
/* Returns true if target names stderr or a known syslog facility. */
bool fl_log_target_valid(const char *target);

void fl_log(enum fl_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define fl_debug(...) fl_log(FL_LOG_DEBUG, __VA_ARGS__)
#define fl_info(...)  fl_log(FL_LOG_INFO, __VA_ARGS__)
#define fl_warn(...)  fl_log(FL_LOG_WARN, __VA_ARGS__)
#define fl_error(...) fl_log(FL_LOG_ERROR, __VA_ARGS__)
/* Logs at FATAL and exits with status 1. */
void fl_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
