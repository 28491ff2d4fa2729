/* milter_client: the MTA (client) side of the Sendmail milter protocol,
   version 6, for faultline's protocol tests and benchmarks.  It talks to a
   milter the way Postfix's milter8 client does: same option negotiation,
   same macros-before-event order (macros are sent even for events the milter
   disabled), no wait for replies the milter said it will not send, header
   values with Sendmail's "eat one space after the colon" rule, body with
   CRLF line ends in chunks of at most 65535 bytes.

   Thread-safety: no global state.  A struct fl_mc is one milter connection
   and must be used by one thread at a time; use one per thread.  A parsed
   struct fl_mc_message is read-only and may be shared between threads.
   Memory: allocation failure aborts the process (this is test tooling). */
#ifndef FL_TESTS_MILTER_CLIENT_H
#define FL_TESTS_MILTER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* Actions the MTA allows (SMFIF_*, as in libmilter/mfapi.h). */
#define FL_MC_ACT_ADDHDRS     0x001u
#define FL_MC_ACT_CHGBODY     0x002u
#define FL_MC_ACT_ADDRCPT     0x004u
#define FL_MC_ACT_DELRCPT     0x008u
#define FL_MC_ACT_CHGHDRS     0x010u
#define FL_MC_ACT_QUARANTINE  0x020u
#define FL_MC_ACT_CHGFROM     0x040u
#define FL_MC_ACT_ADDRCPT_PAR 0x080u
#define FL_MC_ACT_SETSYMLIST  0x100u
#define FL_MC_ACT_ALL         0x1ffu

/* Protocol steps Postfix offers at version 6: every SMFIP_* bit from
   NOCONNECT to HDR_LEADSPC (no-send, no-reply, SKIP, RCPT_REJ, LEADSPC). */
#define FL_MC_PROTO_POSTFIX 0x001fffffu

/* The largest body chunk per SMFIC_BODY packet (MILTER_CHUNK_SIZE). */
#define FL_MC_CHUNK_DEFAULT 65535u
/* The largest chunk fl_mc_body() accepts (libmilter MDS_1M). */
#define FL_MC_CHUNK_MAX 1048575u

/* Reply codes beyond the SMFIR_* letters ('c' continue, 'a' accept,
   'r' reject, 't' tempfail, 'd' discard, 'y' reply code with text,
   's' skip, '4' shutdown, 'f' connection failure). */
#define FL_MC_REPLY_NONE     'n' /* sent; no reply expected (SMFIP_NR_*, abort, quit) */
#define FL_MC_REPLY_NOT_SENT '-' /* not sent: the milter disabled this step
                                    (SMFIP_NO*) or asked to skip it (SMFIR_SKIP) */

/* Macro stages, numbered as libmilter's SMFIM_* (SETSYMLIST indexes).
   Headers carry the EOH macros and body chunks the EOM macros, as in Postfix. */
enum fl_mc_stage {
    FL_MC_STAGE_CONNECT = 0,
    FL_MC_STAGE_HELO = 1,
    FL_MC_STAGE_MAIL = 2,
    FL_MC_STAGE_RCPT = 3,
    FL_MC_STAGE_DATA = 4,
    FL_MC_STAGE_EOM = 5,
    FL_MC_STAGE_EOH = 6,
    FL_MC_STAGE_COUNT = 7
};

enum fl_mc_step {
    FL_MC_STEP_CONNECT,
    FL_MC_STEP_HELO,
    FL_MC_STEP_MAIL,
    FL_MC_STEP_RCPT,
    FL_MC_STEP_DATA,
    FL_MC_STEP_UNKNOWN,
    FL_MC_STEP_HEADER,
    FL_MC_STEP_EOH,
    FL_MC_STEP_BODY,
    FL_MC_STEP_EOM,
    FL_MC_STEP_ABORT,
    FL_MC_STEP_QUIT
};

struct fl_mc_settings {
    int connect_timeout_ms; /* socket connect; <= 0 means 5000 */
    int reply_timeout_ms;   /* per reply (and per write), restarted by
                               SMFIR_PROGRESS; <= 0 means 10000 */
    uint32_t version;       /* offered protocol version; 0 means 6 */
    uint32_t actions;       /* offered SMFIF_* (FL_MC_ACT_ALL) */
    uint32_t protocol;      /* offered SMFIP_* (FL_MC_PROTO_POSTFIX) */
};

/* What the milter chose in its SMFIC_OPTNEG reply. */
struct fl_mc_negotiated {
    uint32_t version;
    uint32_t actions;
    uint32_t protocol;
    /* SMFIR_SETSYMLIST macro lists per stage ("{auth_authen} i"), or NULL.
       When set, only the listed macros are sent for that stage. */
    char *symlist[FL_MC_STAGE_COUNT];
};

/* One modification requested at end of message, in the order received.
   type is the SMFIR_* letter:
     'h' add header        name, value
     'i' insert header     index (0 = top), name, value
     'm' change header     index (1 = first of that name), name, value
                           ("" means delete)
     '+' add rcpt          name = address
     '2' add rcpt + args   name = address, value = ESMTP args or NULL
     '-' delete rcpt       name = address
     'b' replace body      value/value_len = the new body (consecutive
                           SMFIR_REPLBODY packets merged)
     'q' quarantine        name = reason
     'e' change from       name = address, value = ESMTP args or NULL */
struct fl_mc_mod {
    char type;
    uint32_t index;
    char *name;
    char *value;      /* NUL-terminated; value_len excludes the NUL */
    size_t value_len;
};

struct fl_mc_reply {
    char code;             /* SMFIR_* letter, FL_MC_REPLY_NONE or _NOT_SENT */
    char *text;            /* 'y': "550 5.7.1 text" (may hold CRLF lines) */
    struct fl_mc_mod *mods; /* modifications that preceded the verdict */
    size_t nmods;
};

struct fl_mc;

/* Fills set with the defaults (Postfix offer, 5 s connect, 10 s reply). */
void fl_mc_settings_init(struct fl_mc_settings *set);

/* Creates an unconnected client; set may be NULL for defaults.  Never
   returns NULL. */
struct fl_mc *fl_mc_create(const struct fl_mc_settings *set);
/* Closes the socket (without QUIT) and frees everything; accepts NULL and
   *mc == NULL, sets *mc to NULL. */
void fl_mc_destroy(struct fl_mc **mc);

/* Sets (value != NULL) or removes (value == NULL) a macro for a stage.
   Names are sent as Sendmail spells them: one letter bare ("i", also when
   given as "{i}"), longer names in braces ("mail_addr" is sent as
   "{mail_addr}").  Returns 0, or -1 for a bad stage or an empty or
   over-long (> 250 bytes) name. */
int fl_mc_set_macro(struct fl_mc *mc, enum fl_mc_stage stage, const char *name,
                    const char *value);
/* Returns the value set for name (any spelling) at stage, or NULL. */
const char *fl_mc_get_macro(const struct fl_mc *mc, enum fl_mc_stage stage,
                            const char *name);

/* Connects to socket_spec ("unix:/path", "local:/path", "/path",
   "inet:PORT@HOST", "inet:PORT", "inet6:PORT@HOST"; HOST is an IP literal,
   default loopback) and negotiates options.  Returns 0, or -1 with *error_r
   set (valid until the next call on mc): connect failure or timeout,
   closed connection, bad OPTNEG reply (version above ours, actions we did
   not offer, bad SETSYMLIST). */
int fl_mc_open(struct fl_mc *mc, const char *socket_spec, const char **error_r);

/* The milter's choices; valid after a successful fl_mc_open(). */
const struct fl_mc_negotiated *fl_mc_negotiated(const struct fl_mc *mc);

/* Event calls.  Each sends the stage's macros (Postfix sends them even for
   disabled envelope steps, but not for disabled header/eoh/body steps),
   then the event unless the milter disabled it, then waits for the reply
   unless the milter said it won't send one.  On return 0, *reply_r holds the answer (the previous
   contents are overwritten, not freed: call fl_mc_reply_clear() before
   reusing it).  On -1 (write/read failure, timeout, closed connection,
   malformed or unexpected reply) *error_r is set, the socket is closed
   and every later call fails; *reply_r is left empty. */

/* family is '4', '6', 'L' (addr is a path) or 'U' (port/addr not sent). */
int fl_mc_connect(struct fl_mc *mc, const char *hostname, char family,
                  uint16_t port, const char *addr, struct fl_mc_reply *reply_r,
                  const char **error_r);
int fl_mc_helo(struct fl_mc *mc, const char *helo, struct fl_mc_reply *reply_r,
               const char **error_r);
/* argv: NULL-terminated; argv[0] is the address as sent ("<a@b>" or "<>"),
   the rest ESMTP parameters ("SIZE=1000"), each sent NUL-terminated. */
int fl_mc_mail(struct fl_mc *mc, const char *const *argv, struct fl_mc_reply *reply_r,
               const char **error_r);
int fl_mc_rcpt(struct fl_mc *mc, const char *const *argv, struct fl_mc_reply *reply_r,
               const char **error_r);
int fl_mc_data(struct fl_mc *mc, struct fl_mc_reply *reply_r, const char **error_r);
int fl_mc_unknown(struct fl_mc *mc, const char *command, struct fl_mc_reply *reply_r,
                  const char **error_r);
/* raw_value is the field text after the colon, continuation lines joined
   with "\n" plus their leading whitespace.  One leading space is removed
   unless the milter negotiated SMFIP_HDR_LEADSPC. */
int fl_mc_header(struct fl_mc *mc, const char *name, const char *raw_value,
                 struct fl_mc_reply *reply_r, const char **error_r);
int fl_mc_eoh(struct fl_mc *mc, struct fl_mc_reply *reply_r, const char **error_r);
/* Sends one SMFIC_BODY packet of len (1..FL_MC_CHUNK_MAX) bytes.  After
   the milter answered SMFIR_SKIP, further chunks of this message are not
   sent (code FL_MC_REPLY_NOT_SENT). */
int fl_mc_body(struct fl_mc *mc, const void *data, size_t len,
               struct fl_mc_reply *reply_r, const char **error_r);
/* End of message: collects the modifications, then the verdict. */
int fl_mc_eom(struct fl_mc *mc, struct fl_mc_reply *reply_r, const char **error_r);
/* SMFIC_ABORT: ends the milter's message state; no reply. */
int fl_mc_abort(struct fl_mc *mc, const char **error_r);
/* SMFIC_QUIT, then closes the socket. */
int fl_mc_quit(struct fl_mc *mc, const char **error_r);
/* Closes the socket without QUIT (as Postfix does after a connect-level
   reject/accept). */
void fl_mc_close(struct fl_mc *mc);

/* Frees what a reply owns and empties it; accepts an empty reply. */
void fl_mc_reply_clear(struct fl_mc_reply *reply);

/* Names for transcripts: steps "connect", "helo", "mail", "rcpt", "data",
   "unknown", "header", "eoh", "body", "eom", "abort", "quit"; codes
   "continue", "accept", "reject", "tempfail", "discard", "reply", "skip",
   "shutdown", "connfail", "noreply", "disabled" ("?" if unknown). */
const char *fl_mc_step_name(enum fl_mc_step step);
const char *fl_mc_code_name(char code);
/* Appends the names of the SMFIF_* / SMFIP_* bits in mask, comma-separated
   ("NR_HDR,SKIP"; unknown bits as 0x...), to buf (always NUL-terminated). */
void fl_mc_actions_str(uint32_t mask, char *buf, size_t size);
void fl_mc_protocol_str(uint32_t mask, char *buf, size_t size);

/* ---- messages ---- */

struct fl_mc_header {
    char *name;
    char *raw;   /* after the colon: " value\n\tcontinued" */
    char *value; /* raw without its first space, if any (points into raw) */
};

struct fl_mc_message {
    struct fl_mc_header *headers;
    size_t nheaders;
    unsigned char *body; /* CRLF line ends */
    size_t body_len;
};

/* Splits an RFC 5322 message (LF or CRLF) into header fields the way an MTA
   hands them to a milter (nothing unfolded: continuation lines are joined
   with "\n"; CR before LF dropped) and a body with CRLF line ends (a last
   line without a newline gets one).  Headers end at the first empty line,
   or at the first line that is not a header field (that line starts the
   body).  Returns 0, or -1 with *error_r set (static text) when a header
   field contains a NUL byte. */
int fl_mc_message_parse(const char *data, size_t len, struct fl_mc_message **msg_r,
                        const char **error_r);
/* Reads and parses a file.  Returns 0, or -1 with an error in errbuf. */
int fl_mc_message_load(const char *path, struct fl_mc_message **msg_r, char *errbuf,
                       size_t errsize);
/* Accepts NULL and *msg == NULL, sets *msg to NULL. */
void fl_mc_message_free(struct fl_mc_message **msg);

/* ---- one whole SMTP session ---- */

struct fl_mc_envelope {
    const char *client_addr;   /* IP literal (or path for family 'L') */
    const char *client_name;   /* verified PTR name, or NULL: "[addr]" is
                                  sent and {client_name} is "unknown" */
    char family;               /* 0: '6' if client_addr has ':', else '4' */
    uint16_t client_port;
    const char *helo;
    const char *sender;        /* without <>; "" is the null sender */
    const char *const *mail_args; /* NULL-terminated ESMTP args, or NULL */
    const char *const *rcpts;  /* NULL-terminated, without <>, at least one */
    const char *queue_id;      /* macro i from MAIL on; NULL: none */
    size_t body_chunk;         /* bytes per SMFIC_BODY; 0: 65535 */
    int no_default_macros;     /* 1: send only macros the caller set */
};

struct fl_mc_event {
    enum fl_mc_step step;
    struct fl_mc_reply reply;
};

struct fl_mc_session {
    struct fl_mc_event *events;
    size_t nevents;
    size_t cap;
    enum fl_mc_step final_step; /* the step whose reply decided */
    char final_code;            /* its code ('c' when eom said continue) */
};

/* Runs one SMTP session as Postfix would: open, connect, helo, mail,
   rcpt..., data, headers, eoh, body chunks, eom, abort, quit.  Stops early
   like an MTA: a connect/helo verdict other than continue ends the session
   (socket closed without QUIT); a rejected rcpt drops only that recipient
   (no recipient left: abort); any other verdict other than continue ends
   the transaction (abort, quit).  Unless env->no_default_macros, sets the
   macros the caller did not set: connect j and {daemon_name}
   ("mx.faultline.example"), {daemon_addr}, v, _ ("name [addr]"),
   {client_addr}, {client_name}/{client_ptr} ("unknown" without a name),
   {client_port}; mail {mail_addr}; rcpt {rcpt_addr} (per recipient);
   i (queue id) at mail, rcpt, data, eoh, eom.  mc must not be open.
   Returns 0 when the protocol ran to its end (whatever the verdict), -1
   with *error_r set otherwise; either way *session_r holds the events so
   far (free with fl_mc_session_clear()). */
int fl_mc_run_session(struct fl_mc *mc, const char *socket_spec,
                      const struct fl_mc_envelope *env, const struct fl_mc_message *msg,
                      struct fl_mc_session *session_r, const char **error_r);
void fl_mc_session_clear(struct fl_mc_session *session);

#endif
