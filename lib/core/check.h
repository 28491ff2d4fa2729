/* check: the one interface every check implements (iprev, DNS lists, null
   MX, SPF, greylisting, DKIM, ARC, DMARC), and the run of the registered
   checks over one SMTP session.  A check is a table of operations; the
   runner calls them as the SMTP phases arrive, in table order, so a check
   that reads another's result sits below it in the table.  A new check is
   one module plus one table row (milter/checks.c).

   Nothing here knows the MTA: milter/callbacks.c feeds the phases.  A run
   belongs to the thread serving its connection.  Checks read each other's
   results through the typed accessors their modules export (e.g.
   fl_spf_check_mailfrom), which find the peer's state with
   fl_checks_state; never by comparing method strings. */
#ifndef FL_LIB_CORE_CHECK_H
#define FL_LIB_CORE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/config.h"
#include "lib/core/result.h"
#include "lib/core/verdict.h"

/* Why a session's checks are skipped (trusted clients). */
enum fl_skip {
    FL_SKIP_NONE,
    FL_SKIP_LOCAL,         /* no client address: submitted locally */
    FL_SKIP_TRUSTED,       /* client in trusted_networks */
    FL_SKIP_AUTHENTICATED, /* SMTP AUTH, trust_authenticated */
};

/* "local_submission", "trusted_network", "authenticated"; NULL for none. */
const char *fl_skip_name(enum fl_skip skip);

struct fl_dns;
struct fl_dkim_ctx;
struct fl_pool;
struct fl_greylist;
struct fl_metrics;
struct fl_dnsbl_lists;
struct fl_arc_keys;

/* The daemon's shared services a check may use (any may be NULL: a check
   whose service is missing does not start). */
struct fl_check_services {
    struct fl_dns *dns;
    struct fl_dkim_ctx *dkim;
    struct fl_pool *pool;
    struct fl_greylist *greylist;
    struct fl_metrics *metrics;
    struct fl_dnsbl_lists *lists; /* held by the caller for the connection */
    struct fl_arc_keys *arc_keys; /* decoded ARC sealer keys */
};

struct fl_checks;
struct fl_json_out;

struct fl_check {
    const char *name;
    /* true: started at connect and kept for the connection (it takes no
       part in a transaction whose checks are skipped); false: started at
       each MAIL FROM and freed at the end of the transaction. */
    bool per_connection;
    /* Starts the check once its inputs are known; NULL: it does not run
       for this connection or message. */
    void *(*start)(struct fl_checks *cs);
    /* Each may be NULL. */
    void (*helo)(void *st, struct fl_checks *cs);
    void (*mail)(void *st, struct fl_checks *cs); /* per-connection checks */
    /* One recipient.  Returns true when it refused it (with
       fl_checks_refuse); later checks are then not asked. */
    bool (*rcpt)(void *st, struct fl_checks *cs, const char *rcpt);
    void (*header)(void *st, struct fl_checks *cs, const char *name, const char *value);
    /* End of headers.  Returns true when the check needs the body. */
    bool (*eoh)(void *st, struct fl_checks *cs);
    void (*body)(void *st, const unsigned char *chunk, size_t len);
    /* End of message: joins the check (bounded by cs->deadline) and
       appends its results with fl_checks_add_result. */
    void (*finish)(void *st, struct fl_checks *cs);
    /* Writes the check's own part of the verdict record (the members of
       an object under the check's name, lib/core/json_out.h).  Returns
       false, having written nothing, when it has none. */
    bool (*record)(const void *st, struct fl_json_out *members);
    /* A header field to add to an accepted message (e.g. Received-SPF), or
       false.  *at_top: inserted at the top (under Authentication-Results),
       else appended.  value goes into out. */
    bool (*add_header)(const void *st, const struct fl_checks *cs, const char **name_r,
                       struct fl_buf *value, bool *at_top);
    void (*free)(void *st);
};

/* One session's run.  The facts are set by the MTA glue; checks read them. */
struct fl_checks {
    const struct fl_check *const *table;
    size_t ntable;
    struct fl_config *cfg; /* the connection's snapshot (borrowed) */
    struct fl_check_services svc;
    const char *ip;        /* client address ("" when none) */
    const char *helo;      /* NULL before HELO */
    const char *mail_from; /* without <>; "" null sender; NULL outside a transaction */
    enum fl_skip skip;
    long long deadline;    /* the message's (monotonic ms), from MAIL FROM */
    size_t mem_limit;      /* per message (message_memory_limit) */
    bool body_wanted;      /* a check reads the body */
    /* the current transaction's results, in the order they were decided */
    struct fl_result *results;
    size_t nresults;
    /* a decision taken at RCPT: its result and verdict */
    struct fl_result *rcpt_result;
    struct fl_verdict *rcpt_verdict;
    bool refuse_all; /* it holds for every recipient (DNS list, null MX) */
    void **state;    /* per table row, NULL when not running */
};

/* Sets up cs (zeroed by the caller) for table; svc is copied. */
void fl_checks_init(struct fl_checks *cs, const struct fl_check *const *table, size_t n,
                    struct fl_config *cfg, const struct fl_check_services *svc,
                    const char *ip, enum fl_skip skip);
/* Frees every check and the transaction's results. */
void fl_checks_clear(struct fl_checks *cs);

/* The SMTP phases, in the order the MTA sends them. */
void fl_checks_connect(struct fl_checks *cs);
void fl_checks_helo(struct fl_checks *cs, const char *helo);
/* A transaction begins: mail_from (kept by the caller) and deadline. */
void fl_checks_mail(struct fl_checks *cs, const char *mail_from, long long deadline);
/* Returns NULL to go on, or the result refusing rcpt (owned by cs; its
   verdict is cs->rcpt_verdict): a DNS listing or null MX refuses every
   recipient, a greylist deferral this one. */
const struct fl_result *fl_checks_rcpt(struct fl_checks *cs, const char *rcpt);
void fl_checks_header(struct fl_checks *cs, const char *name, const char *value);
void fl_checks_eoh(struct fl_checks *cs);
/* Returns false when no check needs the body (the MTA may skip it). */
bool fl_checks_body(struct fl_checks *cs, const unsigned char *chunk, size_t len);
/* Joins every check; their results are then in cs->results. */
void fl_checks_eom(struct fl_checks *cs);
/* Ends the transaction: frees the per-message checks and the results. */
void fl_checks_end_message(struct fl_checks *cs);

/* The parts of the verdict record the checks write (after eom). */
size_t fl_checks_record_parts(const struct fl_checks *cs, struct fl_record_part *parts,
                              size_t max);
/* The header fields the checks add to an accepted message, in table
   order: calls emit for each. */
void fl_checks_headers(const struct fl_checks *cs,
                       void (*emit)(void *arg, const char *name, const char *value,
                                    bool at_top),
                       void *arg);

/* For checks: */
/* The domain of an envelope address, or NULL (null sender, no @). */
const char *fl_addr_domain(const char *addr);
/* The running state of check (NULL when it is not running). */
void *fl_checks_state(const struct fl_checks *cs, const struct fl_check *check);
/* Appends a result; takes over r's contents (r is zeroed). */
void fl_checks_add_result(struct fl_checks *cs, struct fl_result *r);
/* The last result of method, or NULL. */
struct fl_result *fl_checks_find_result(struct fl_checks *cs, const char *method);
/* Removes every result of method. */
void fl_checks_remove_results(struct fl_checks *cs, const char *method);
/* Refuses at RCPT with r (taken over) and the reply given (code 0: the
   attribution table's).  all: for every recipient of the transaction. */
void fl_checks_refuse(struct fl_checks *cs, struct fl_result *r, int code, const char *dsn,
                      const char *text, bool all);

#endif
