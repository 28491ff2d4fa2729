/* verdict: the per-message decision and its two records.
   fl_verdict_decide turns the checks' results into one action with an SMTP
   reply and a fault (sender/receiver/none) via the attribution table;
   fl_verdict_json writes the JSON verdict record (one object per line) and
   fl_verdict_summary the one-line syslog summary
     QUEUEID: verdict action=... fault=... checks=...
   Both are stable interfaces (DESIGN.md).  Thread-safe. */
#ifndef FL_LIB_VERDICT_H
#define FL_LIB_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/core/buf.h"
#include "lib/core/result.h"

struct fl_json_out;

/* A check's own part of the verdict record: fill writes the members of
   the object stored under key (lib/core/json_out.h: keys and values, the
   braces are the record's), and returns false -- before writing anything
   -- when it has nothing to say. */
struct fl_record_part {
    const char *key;
    const void *data;
    bool (*fill)(const void *data, struct fl_json_out *members);
};

#define FL_VERDICT_MAX_PARTS 8

/* The verdict record's format version, its member "v".  Readers skip
   (and report) records of a newer version; records without "v" are 1. */
#define FL_VERDICT_RECORD_VERSION 1

struct fl_verdict {
    enum fl_action action;
    int code;          /* SMTP reply code (250 when accepted) */
    char dsn[16];      /* enhanced status code ("2.0.0" when accepted) */
    char *text;        /* reply text after the codes; sanitised */
    enum fl_fault fault;
    bool transient;
    char *reason_code; /* what decided it; NULL when accepted cleanly */
};

/* Stage timings, in milliseconds since the connection was accepted. */
struct fl_stage_time {
    const char *stage; /* "connect", "helo", "mail", "rcpt", "data", "eoh", "eom" */
    long ms;
};

#define FL_VERDICT_MAX_STAGES 8

/* The SMTP facts of one message, as the milter gathered them. */
struct fl_verdict_facts {
    struct timespec when;
    const char *queue_id; /* NULL: "NOQUEUE" */
    const char *client_ip;
    unsigned int client_port;
    const char *client_ptr; /* MTA's verified client name, or NULL */
    const char *helo;
    const char *mail_from; /* without <>; "" for the null sender */
    const char *const *rcpts;
    size_t nrcpts;
    size_t rcpts_dropped; /* over max_recipients: counted, not stored */
    size_t rcpts_refused; /* recipients refused at RCPT */
    const char *message_id;
    const char *skipped_reason; /* "trusted_network", "authenticated", or NULL */
    struct fl_stage_time stages[FL_VERDICT_MAX_STAGES];
    size_t nstages;
    long work_ms; /* time spent inside faultline for this message */
    /* the checks' own parts (DMARC's report row, the ARC chain) */
    struct fl_record_part parts[FL_VERDICT_MAX_PARTS];
    size_t nparts;
};

/* Decides from results.  internal_error (NULL if none) is the reason code
   of a fault of faultline itself ("internal.over_budget"); it yields
   on_error_tempfail ? 451 4.3.0 : accept, always fault=receiver. */
void fl_verdict_decide(struct fl_verdict *v, const struct fl_result *results, size_t n,
                       const char *internal_error, bool on_error_tempfail);
void fl_verdict_clear(struct fl_verdict *v);
/* Appends the text of the SMTP reply a refusal for reason_code gets: the
   attribution table's sentence, the sanitised detail, "(fault=...)".
   What fl_verdict_decide writes, for a check that states the reply it
   would give (observe mode). */
void fl_verdict_reply_text(struct fl_buf *out, const char *reason_code, const char *detail,
                           enum fl_fault fault);

/* "spf:fail,dkim:pass" or "none". */
void fl_verdict_checks_list(struct fl_buf *out, const struct fl_result *results, size_t n,
                            const char *skipped_reason);

/* Appends the JSON record (no trailing newline), written directly. */
void fl_verdict_json(struct fl_buf *out, const struct fl_verdict_facts *f,
                     const struct fl_result *results, size_t n, const struct fl_verdict *v);

/* The same record built as a jansson tree and dumped with
   json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER): the reference
   fl_verdict_json's bytes equal (the unit tests compare them), and what it
   falls back to for what it does not reproduce itself (a check's
   record_json that is not a compact object dump it can splice). */
void fl_verdict_json_jansson(struct fl_buf *out, const struct fl_verdict_facts *f,
                             const struct fl_result *results, size_t n,
                             const struct fl_verdict *v);

/* Appends the log line of one observed decision (r->observe_action not
   accept; no trailing newline):
     QUEUEID: observe check=dnsbl would=reject code=554 dsn=5.7.1 reply="..." */
void fl_verdict_observe_line(struct fl_buf *out, const struct fl_verdict_facts *f,
                             const struct fl_result *r);

/* Appends the syslog summary line (no trailing newline). */
void fl_verdict_summary(struct fl_buf *out, const struct fl_verdict_facts *f,
                        const struct fl_result *results, size_t n, const struct fl_verdict *v);

#endif
