/* msg: the per-connection (struct fl_conn) and per-transaction
   (struct fl_msg) contexts of one milter session, and the memory budget of
   a message.  A context belongs to the libmilter thread serving its
   connection; nothing here is shared. */
#ifndef FL_MILTER_MSG_H
#define FL_MILTER_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/authres.h"
#include "lib/core/check.h"
#include "lib/core/config.h"
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
    long long t_start; /* monotonic ms at MAIL FROM */
    long long deadline; /* t_start + message_deadline */
    char *queue_id;     /* macro i as first seen, or NULL */
    size_t rcpts_refused; /* recipients refused at RCPT (conn->checks) */
    bool recorded;        /* the verdict records were written */
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
    long long t_connect;
    /* the checks of this session (milter/checks.c), their results, and
       the DNS lists of the snapshot they use */
    struct fl_checks checks;
    struct fl_dnsbl_lists *lists;
    unsigned long no_reply; /* SMFIP_NR_* (and other SMFIP_*) negotiated */
    bool no_header_reply; /* SMFIP_NR_HDR negotiated */
    bool can_skip_body;   /* SMFIP_SKIP negotiated */
    struct fl_idle_slot *idle; /* the idle reaper's view (milter/idle.h) */
    struct fl_msg *msg;
};

struct fl_idle_slot;

struct fl_conn *fl_conn_new(struct fl_config *cfg);
void fl_conn_free(struct fl_conn **conn);

struct fl_msg *fl_msg_new(const struct fl_config *cfg);
void fl_msg_free(struct fl_msg **msg);

/* Charges n bytes to the message's budget.  Returns true if they fit;
   false marks the message over budget (the caller stores nothing more). */
bool fl_msg_charge(struct fl_msg *msg, const struct fl_config *cfg, size_t n);

/* Ends the transaction: frees conn->msg and its checks' state. */
void fl_conn_end_message(struct fl_conn *conn);

/* Records that stage was reached (ms since connect). */
void fl_msg_stage(struct fl_conn *conn, const char *stage);

#endif
