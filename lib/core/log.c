/* log: see log.h. */
#include "lib/core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *name;
    int facility;
} facilities[] = {
    {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

static const char *const level_names[] = {"debug", "info", "warning", "error", "fatal"};
static const int level_prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT};

static bool use_syslog;
static enum fl_log_level min_level = FL_LOG_INFO;
static char log_ident[32] = "faultline";

/* The process id in each stderr line, asked once (getpid(2) is a system
   call per line otherwise) and again after a fork. */
static pid_t log_pid;
static pthread_once_t log_pid_once = PTHREAD_ONCE_INIT;

static void forget_pid(void)
{
    __atomic_store_n(&log_pid, 0, __ATOMIC_RELAXED);
}

static void watch_forks(void)
{
    (void)pthread_atfork(NULL, NULL, forget_pid);
}

static long current_pid(void)
{
    pthread_once(&log_pid_once, watch_forks);
    pid_t pid = __atomic_load_n(&log_pid, __ATOMIC_RELAXED);
    if (pid == 0) {
        pid = getpid();
        __atomic_store_n(&log_pid, pid, __ATOMIC_RELAXED);
    }
    return (long)pid;
}

static int facility_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (strcasecmp(facilities[i].name, name) == 0)
            return facilities[i].facility;
    return -1;
}

bool fl_log_target_valid(const char *target)
{
    return strcmp(target, "stderr") == 0 || facility_lookup(target) >= 0;
}

int fl_log_level_parse(const char *name, enum fl_log_level *level_r)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(level_names[i], name) == 0 ||
            (i == FL_LOG_WARN && strcasecmp(name, "warn") == 0)) {
            *level_r = (enum fl_log_level)i;
            return 0;
        }
    }
    return -1;
}

int fl_log_open(const char *ident, const char *target, enum fl_log_level level)
{
    snprintf(log_ident, sizeof(log_ident), "%s", ident);
    min_level = level;
    if (strcmp(target, "stderr") == 0) {
        if (use_syslog)
            closelog();
        use_syslog = false;
        return 0;
    }
    int facility = facility_lookup(target);
    if (facility < 0)
        return -1;
    openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
    use_syslog = true;
    return 0;
}

void fl_log_set_level(enum fl_log_level level)
{
    min_level = level;
}

static void vlog(enum fl_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vlog(enum fl_log_level level, const char *fmt, va_list ap)
{
    if (level < min_level)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* Defence in depth: nothing we log may split a log line. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (use_syslog) {
        if (level == FL_LOG_INFO)
            syslog(level_prio[level], "%s", msg);
        else
            syslog(level_prio[level], "%s: %s", level_names[level], msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s[%ld]: %s: %s\n", when, ts.tv_nsec / 1000000L, log_ident,
            current_pid(), level_names[level], msg);
}

void fl_log(enum fl_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void fl_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(FL_LOG_FATAL, fmt, ap);
    va_end(ap);
    exit(1);
}
