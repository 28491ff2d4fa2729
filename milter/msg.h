/* msg: the per-connection (struct fl_conn) and per-transaction
   (struct fl_msg) contexts of one milter session, and the memory budget of
   a message.  A context belongs to the libmilter thread serving its
   connection; nothing here is shared. */
#ifndef FL_MILTER_MSG_H
#define FL_MILTER_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arc/arc.h"
#include "lib/core/authres.h"
#include "lib/core/config.h"
#include "lib/dkim/dkim.h"
#include "lib/dmarc/dmarc.h"
#include "lib/ident/iprev.h"
#include "lib/ident/nullmx.h"
#include "lib/core/result.h"
#include "lib/core/verdict.h"

/* An Authentication-Results header found in the message. */
struct fl_seen_ar {
    int index;                 /* 1-based among AR headers (smfi_chgheader) */
    enum fl_authres_class cls; /* OURS or MALFORMED: to be removed */
    char *value;               /* kept only when renaming */
};

struct fl_msg {
    size_t mem_used;
    bool over_budget;
    char *mail_from;
    char **rcpts;
    size_t nrcpts, rcpts_dropped;
    char *message_id;
    int ar_count; /* AR headers seen so far */
    struct fl_seen_ar *forged;
    size_t nforged;
    struct fl_result *results;
    size_t nresults;
    long long t_start; /* monotonic ms at MAIL FROM */
    long long deadline; /* t_start + message_deadline */
    char *queue_id;     /* macro i as first seen, or NULL */
    /* checks started for this message (milter/checks.c) */
    struct fl_nullmx *nullmx;
    struct fl_spf_job *spf[2]; /* MAIL FROM and HELO evaluations, or NULL */
    struct fl_dkim_verifier *dkim; /* fed headers and body as they come */
    bool body_wanted;              /* a check reads the body */
    struct fl_dmarc *dmarc;        /* From headers collected, walk started at EOH */
    bool dmarc_done;               /* evaluated: its report is valid */
    struct fl_arc *arc;            /* ARC chain (lib/arc/arc.h), fed like DKIM */
    bool arc_done;                 /* verified: fl_arc_json is valid */
    /* a decision taken at RCPT (e.g. null MX): its result and verdict, and
       whether the records for it were written */
    struct fl_result *rcpt_result;
    struct fl_verdict *rcpt_verdict;
    size_t rcpts_refused;
    bool refuse_all; /* the decision holds for every recipient (DNSBL, null MX) */
    bool recorded;
    long long work_ms; /* time spent in our callbacks */
    struct fl_stage_time stages[FL_VERDICT_MAX_STAGES];
    size_t nstages;
};

struct fl_conn {
    struct fl_config *cfg; /* snapshot for the whole connection */
    char ip[64];
    unsigned int port;
    char *ptr;  /* client name the MTA verified, NULL if unknown */
    char *helo;
    const char *skipped; /* why checks are skipped, or NULL */
    long long t_connect;
    struct fl_iprev *iprev; /* started at connect (milter/checks.c) */
    struct fl_dnsbl *dnsbl; /* started at connect, or NULL */
    unsigned long no_reply; /* SMFIP_NR_* (and other SMFIP_*) negotiated */
    bool no_header_reply; /* SMFIP_NR_HDR negotiated */
    bool can_skip_body;   /* SMFIP_SKIP negotiated */
    struct fl_idle_slot *idle; /* the idle reaper's view (milter/idle.h) */
    struct fl_msg *msg;
};

struct fl_spf_job;
struct fl_idle_slot;
/* Frees an SPF job handle (milter/checks.c). */
void fl_spf_job_free(struct fl_spf_job **job);

struct fl_conn *fl_conn_new(struct fl_config *cfg);
void fl_conn_free(struct fl_conn **conn);

struct fl_msg *fl_msg_new(const struct fl_config *cfg);
void fl_msg_free(struct fl_msg **msg);

/* Charges n bytes to the message's budget.  Returns true if they fit;
   false marks the message over budget (the caller stores nothing more). */
bool fl_msg_charge(struct fl_msg *msg, const struct fl_config *cfg, size_t n);

/* Appends a result; takes over r's contents (r is zeroed). */
void fl_msg_add_result(struct fl_msg *msg, struct fl_result *r);

/* Records that stage was reached (ms since connect). */
void fl_msg_stage(struct fl_conn *conn, const char *stage);

#endif
