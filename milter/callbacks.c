/* callbacks: see callbacks.h. */
#include "milter/callbacks.h"
#include "milter/checks.h"
#include "milter/idle.h"
#include "milter/msg.h"
#include "milter/outcome.h"
#include "milter/server.h"
#include "lib/core/authres.h"
#include "lib/core/clock.h"
#include "lib/core/log.h"
#include "lib/core/sanitize.h"
#include "lib/core/verdict.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* Longest Message-ID value kept for the verdict record (RFC 5322 line
   limit).  Envelope addresses, HELO and client names are never cut: a cut
   string parses differently (a long local part once hid the domain from
   SPF); libmilter's packet limit (FL_MILTER_MAX_DATA) bounds them. */
#define MAX_HEADER_KEEP 998

static struct fl_conn *conn_of(SMFICTX *ctx)
{
    return smfi_getpriv(ctx);
}

/* The context is created at negotiation (v6 MTAs) or at connect (older
   ones); xxfi_close frees it either way. */
static struct fl_conn *conn_get_or_new(SMFICTX *ctx)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn == NULL) {
        conn = fl_conn_new(fl_server_config());
        conn->idle = fl_idle_register(ctx);
        fl_server_session_begin();
        smfi_setpriv(ctx, conn);
    }
    return conn;
}

/* Strips the angle brackets libmilter passes around envelope addresses.
   The whole argument is kept: cutting it first would cut the domain off a
   long address. */
static char *envelope_addr(const char *arg)
{
    size_t n = strlen(arg);
    if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>')
        return fl_strndup(arg + 1, n - 2);
    return fl_strdup(arg);
}

/* The reply of a step that never refuses: none if the MTA agreed to that
   (SMFIP_NR_* bit negotiated). */
static sfsistat carry_on(const struct fl_conn *conn, unsigned long nr_bit)
{
    return conn != NULL && (conn->no_reply & nr_bit) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)f2;
    (void)f3;
    struct fl_conn *conn = conn_get_or_new(ctx);
    /* libmilter lowers its global packet limit when an MTA offers the
       256K flag; a header of up to FL_MILTER_MAX_DATA must never drop a
       session (milter/main.c), so the limit is set again here. */
    smfi_setmaxdatasize(FL_MILTER_MAX_DATA);
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
    /* No unknown commands, and no reply to the steps that never refuse
       (one round trip less each: the MTA sends on without waiting); RCPT
       and end of message keep their replies.  Over TCP too: readahead.c
       re-arms quick ACKs, so the MTA's back-to-back small writes do not
       wait for our delayed ACK.  Body chunks need no reply when that is
       negotiated; otherwise the body is skipped when no check needs it
       (DKIM does). */
    unsigned long want = SMFIP_NOUNKNOWN | SMFIP_SKIP | SMFIP_NR_CONN | SMFIP_NR_HELO |
                         SMFIP_NR_MAIL | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR |
                         SMFIP_NR_EOH | SMFIP_NR_BODY;
    *pf1 = f1 & want;
    if (*pf1 & SMFIP_NR_BODY)
        *pf1 &= ~(unsigned long)SMFIP_SKIP;
    conn->no_reply = *pf1;
    conn->no_header_reply = (*pf1 & SMFIP_NR_HDR) != 0;
    conn->can_skip_body = (*pf1 & SMFIP_SKIP) != 0;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    struct fl_conn *conn = conn_get_or_new(ctx);
    if (hostaddr != NULL && hostaddr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)hostaddr;
        inet_ntop(AF_INET, &sin->sin_addr, conn->ip, sizeof(conn->ip));
        conn->port = ntohs(sin->sin_port);
    } else if (hostaddr != NULL && hostaddr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)hostaddr;
        inet_ntop(AF_INET6, &sin6->sin6_addr, conn->ip, sizeof(conn->ip));
        conn->port = ntohs(sin6->sin6_port);
    }
    /* The MTA passes "[ip]" when the client has no verified name. */
    if (hostname != NULL && hostname[0] != '[' && hostname[0] != '\0')
        conn->ptr = fl_strdup(hostname);
    enum fl_skip skip = FL_SKIP_NONE;
    if (conn->ip[0] == '\0')
        skip = FL_SKIP_LOCAL; /* no address: submitted locally */
    else if (fl_cidr_list_match(&conn->cfg->trusted_networks, conn->ip))
        skip = FL_SKIP_TRUSTED;
    fl_conn_checks_start(conn, skip);
    return carry_on(conn, SMFIP_NR_CONN);
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn == NULL)
        return SMFIS_CONTINUE;
    free(conn->helo);
    conn->helo = fl_strdup(helo ? helo : "");
    fl_checks_helo(&conn->checks, conn->helo);
    return carry_on(conn, SMFIP_NR_HELO);
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn == NULL)
        return SMFIS_CONTINUE;
    fl_conn_end_message(conn);
    conn->msg = fl_msg_new(conn->cfg);
    long long t0 = fl_monotonic_ms();
    fl_outcome_note_queue_id(ctx, conn->msg);
    fl_msg_stage(conn, "mail");
    conn->msg->mail_from = envelope_addr(argv && argv[0] ? argv[0] : "");
    const char *auth = smfi_getsymval(ctx, "{auth_authen}");
    fl_conn_checks_mail(conn, auth != NULL && *auth);
    conn->msg->work_ms += fl_monotonic_ms() - t0;
    return carry_on(conn, SMFIP_NR_MAIL);
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn == NULL || conn->msg == NULL)
        return SMFIS_CONTINUE;
    struct fl_msg *msg = conn->msg;
    fl_msg_stage(conn, "rcpt");
    if (argv == NULL || argv[0] == NULL)
        return SMFIS_CONTINUE;
    char *rcpt = envelope_addr(argv[0]);
    long long t0 = fl_monotonic_ms();
    fl_outcome_note_queue_id(ctx, msg);
    const struct fl_result *refused = fl_checks_rcpt(&conn->checks, rcpt);
    if ((long long)msg->nrcpts >= conn->cfg->max_recipients ||
        !fl_msg_charge(msg, conn->cfg, strlen(rcpt) + sizeof(char *))) {
        msg->rcpts_dropped++;
        free(rcpt);
    } else {
        msg->rcpts = fl_realloc(msg->rcpts, (msg->nrcpts + 1) * sizeof(*msg->rcpts));
        msg->rcpts[msg->nrcpts++] = rcpt;
    }
    msg->work_ms += fl_monotonic_ms() - t0;
    if (refused == NULL)
        return SMFIS_CONTINUE;
    msg->rcpts_refused++;
    const struct fl_verdict *v = conn->checks.rcpt_verdict;
    fl_outcome_reply(ctx, v);
    return v->action == FL_ACTION_TEMPFAIL ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

static sfsistat on_data(SMFICTX *ctx)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn != NULL)
        fl_msg_stage(conn, "data");
    return carry_on(conn, SMFIP_NR_DATA);
}

static sfsistat on_unknown(SMFICTX *ctx, const char *cmd)
{
    (void)cmd;
    return carry_on(conn_of(ctx), SMFIP_NR_UNKN);
}

static void note_ar_header(struct fl_conn *conn, const char *value)
{
    struct fl_msg *msg = conn->msg;
    msg->ar_count++;
    enum fl_authres_class cls = fl_authres_classify(value, conn->cfg->authserv_id, NULL);
    if (cls == FL_AUTHRES_OTHER)
        return;
    bool rename = conn->cfg->forged_header_action == FL_FORGED_RENAME;
    size_t cost = sizeof(struct fl_seen_ar) + (rename ? strlen(value) + 1 : 0);
    if (!fl_msg_charge(msg, conn->cfg, cost))
        return;
    msg->forged = fl_realloc(msg->forged, (msg->nforged + 1) * sizeof(*msg->forged));
    struct fl_seen_ar *ar = &msg->forged[msg->nforged++];
    ar->index = msg->ar_count;
    ar->cls = cls;
    ar->value = rename ? fl_strdup(value) : NULL;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn == NULL)
        return SMFIS_CONTINUE;
    sfsistat reply = conn->no_header_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
    if (conn->msg == NULL || name == NULL || value == NULL)
        return reply;
    long long t0 = fl_monotonic_ms();
    fl_checks_header(&conn->checks, name, value);
    if (strcasecmp(name, FL_AUTHRES_HEADER) == 0)
        note_ar_header(conn, value);
    else if (strcasecmp(name, "Message-ID") == 0 && conn->msg->message_id == NULL &&
             fl_msg_charge(conn->msg, conn->cfg, strnlen(value, MAX_HEADER_KEEP) + 1))
        conn->msg->message_id = fl_strndup(value, MAX_HEADER_KEEP);
    conn->msg->work_ms += fl_monotonic_ms() - t0;
    return reply;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn != NULL && conn->msg != NULL) {
        fl_msg_stage(conn, "eoh");
        fl_checks_eoh(&conn->checks);
    }
    return carry_on(conn, SMFIP_NR_EOH);
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn == NULL)
        return SMFIS_CONTINUE;
    long long t0 = fl_monotonic_ms();
    bool wanted = conn->msg != NULL && fl_checks_body(&conn->checks, chunk, len);
    if (conn->msg != NULL)
        conn->msg->work_ms += fl_monotonic_ms() - t0;
    /* No check reads the body: tell the MTA to stop sending it. */
    if (!wanted && conn->can_skip_body)
        return SMFIS_SKIP;
    return carry_on(conn, SMFIP_NR_BODY);
}

/* Removes (or renames) the forged and malformed AR headers.  Highest index
   first: removing a header renumbers the ones after it, and deleting in
   ascending order would skip forged headers (OpenDKIM CVE-2022-48521). */
static int strip_forged(SMFICTX *ctx, struct fl_conn *conn)
{
    struct fl_msg *msg = conn->msg;
    int rc = 0;
    for (size_t i = msg->nforged; i-- > 0;) {
        if (smfi_chgheader(ctx, FL_AUTHRES_HEADER, msg->forged[i].index, NULL) != MI_SUCCESS)
            rc = -1;
    }
    if (conn->cfg->forged_header_action != FL_FORGED_RENAME)
        return rc;
    for (size_t i = 0; i < msg->nforged; i++) {
        if (smfi_addheader(ctx, conn->cfg->forged_header_rename, msg->forged[i].value) !=
            MI_SUCCESS)
            rc = -1;
    }
    return rc;
}

/* Adds the header fields the checks ask for (fl_checks_headers). */
struct added {
    SMFICTX *ctx;
    bool ok;
};

static void add_header(void *arg, const char *name, const char *value, bool at_top)
{
    struct added *a = arg;
    int rc = at_top ? smfi_insheader(a->ctx, 0, (char *)name, (char *)value)
                    : smfi_addheader(a->ctx, (char *)name, (char *)value);
    if (rc != MI_SUCCESS)
        a->ok = false;
}

static sfsistat on_eom(SMFICTX *ctx)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn == NULL || conn->msg == NULL)
        return SMFIS_ACCEPT;
    struct fl_msg *msg = conn->msg;
    long long t0 = fl_monotonic_ms();
    fl_msg_stage(conn, "eom");
    fl_outcome_note_queue_id(ctx, msg);
    const char *queue_id = msg->queue_id ? msg->queue_id : "NOQUEUE";
    struct fl_checks *cs = &conn->checks;
    fl_checks_eom(cs);

    const char *internal = NULL;
    bool tempfail_on_error = conn->cfg->on_internal_error == FL_ON_ERROR_TEMPFAIL;
    if (msg->over_budget) {
        /* Forged headers past the budget were not tracked: we cannot vouch
           for this message's headers, so it is deferred whatever
           on_internal_error says (never a 5xx: it is our limit). */
        internal = "internal.over_budget";
        tempfail_on_error = true;
    }
    struct fl_verdict v;
    fl_verdict_decide(&v, cs->results, cs->nresults, internal, tempfail_on_error);

    sfsistat rc = SMFIS_ACCEPT;
    if (v.action == FL_ACTION_ACCEPT || v.action == FL_ACTION_QUARANTINE) {
        bool ok = strip_forged(ctx, conn) == 0;
        /* The checks' own headers first (Received-SPF to the top, a DMARC
           quarantine header appended), then Authentication-Results above
           them all. */
        struct added added = {ctx, true};
        fl_checks_headers(cs, add_header, &added);
        ok = ok && added.ok;
        if (cs->skip == FL_SKIP_NONE) {
            struct fl_buf ar;
            fl_buf_init(&ar);
            fl_authres_build(&ar, conn->cfg->authserv_id, cs->results, cs->nresults);
            if (smfi_insheader(ctx, 0, FL_AUTHRES_HEADER, ar.data) != MI_SUCCESS)
                ok = false;
            fl_buf_free(&ar);
        }
        if (v.action == FL_ACTION_QUARANTINE &&
            smfi_quarantine(ctx, v.text ? v.text : "faultline") != MI_SUCCESS)
            ok = false;
        if (!ok) {
            fl_warn("%s: could not modify the message headers", queue_id);
            fl_verdict_clear(&v);
            fl_verdict_decide(&v, cs->results, cs->nresults, "internal.mta_call",
                              conn->cfg->on_internal_error == FL_ON_ERROR_TEMPFAIL);
        }
    }
    if (v.action == FL_ACTION_REJECT || v.action == FL_ACTION_TEMPFAIL) {
        fl_outcome_reply(ctx, &v);
        rc = v.action == FL_ACTION_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    }
    msg->work_ms += fl_monotonic_ms() - t0;
    fl_outcome_record(conn, &v);
    fl_verdict_clear(&v);
    fl_conn_end_message(conn);
    return rc;
}

/* A transaction that ends without end of message: if a recipient was
   refused, that decision still gets its verdict record. */
static void end_transaction(struct fl_conn *conn)
{
    struct fl_msg *msg = conn->msg;
    if (msg != NULL && conn->checks.rcpt_verdict != NULL && !msg->recorded)
        fl_outcome_record(conn, conn->checks.rcpt_verdict);
    fl_conn_end_message(conn);
}

static sfsistat on_abort(SMFICTX *ctx)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn != NULL)
        end_transaction(conn);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    struct fl_conn *conn = conn_of(ctx);
    if (conn != NULL) {
        end_transaction(conn);
        smfi_setpriv(ctx, NULL);
        fl_idle_unregister(&conn->idle); /* before libmilter closes the socket */
        fl_conn_free(&conn);
        fl_server_session_end();
    }
    return SMFIS_CONTINUE;
}

/* Every callback runs between fl_idle_enter and fl_idle_leave, so the
   idle reaper never closes a session while we work on it (end of message
   may wait for DNS up to message_deadline) and measures the MTA's silence
   from our last reply. */
static void idle_enter(SMFICTX *ctx)
{
    struct fl_conn *conn = conn_of(ctx);
    fl_idle_enter(conn ? conn->idle : NULL);
}

static sfsistat idle_leave(SMFICTX *ctx, sfsistat rc)
{
    struct fl_conn *conn = conn_of(ctx);
    fl_idle_leave(conn ? conn->idle : NULL);
    return rc;
}

#define TIMED(name, params, args)                                                        \
    static sfsistat timed_##name params                                                  \
    {                                                                                    \
        idle_enter(ctx);                                                                 \
        return idle_leave(ctx, name args);                                               \
    }
TIMED(on_negotiate,
      (SMFICTX * ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
       unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3),
      (ctx, f0, f1, f2, f3, pf0, pf1, pf2, pf3))
TIMED(on_connect, (SMFICTX * ctx, char *hostname, _SOCK_ADDR *hostaddr),
      (ctx, hostname, hostaddr))
TIMED(on_helo, (SMFICTX * ctx, char *helo), (ctx, helo))
TIMED(on_envfrom, (SMFICTX * ctx, char **argv), (ctx, argv))
TIMED(on_envrcpt, (SMFICTX * ctx, char **argv), (ctx, argv))
TIMED(on_data, (SMFICTX * ctx), (ctx))
TIMED(on_unknown, (SMFICTX * ctx, const char *cmd), (ctx, cmd))
TIMED(on_header, (SMFICTX * ctx, char *name, char *value), (ctx, name, value))
TIMED(on_eoh, (SMFICTX * ctx), (ctx))
TIMED(on_body, (SMFICTX * ctx, unsigned char *chunk, size_t len), (ctx, chunk, len))
TIMED(on_eom, (SMFICTX * ctx), (ctx))
TIMED(on_abort, (SMFICTX * ctx), (ctx))
#undef TIMED

struct smfiDesc fl_milter_desc = {
    .xxfi_name = "faultline",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
    .xxfi_connect = timed_on_connect,
    .xxfi_helo = timed_on_helo,
    .xxfi_envfrom = timed_on_envfrom,
    .xxfi_envrcpt = timed_on_envrcpt,
    .xxfi_header = timed_on_header,
    .xxfi_eoh = timed_on_eoh,
    .xxfi_body = timed_on_body,
    .xxfi_eom = timed_on_eom,
    .xxfi_abort = timed_on_abort,
    .xxfi_close = on_close,
    .xxfi_unknown = timed_on_unknown,
    .xxfi_data = timed_on_data,
    .xxfi_negotiate = timed_on_negotiate,
};
