/* milter_client_session: the parts of the milter test client above the
   wire protocol (see milter_client.h): splitting an .eml file into what an
   MTA hands to a milter (RFC 5322 header fields, folded lines kept; body
   with CRLF), running one whole SMTP session with Postfix's order and
   stopping rules, and names for transcripts.  Thread-safety: no global
   state; a session uses only its own struct fl_mc. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tests/harness/milter_client.h"

#include <libmilter/mfdef.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        fputs("milter_client: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *xmemdup(const char *p, size_t n)
{
    char *s = xrealloc(NULL, n + 1);

    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* ---- messages ---- */

/* Length of the field name if line starts a header field ("Name:" or
   "Name :", name of printable non-space ASCII without ':'), else 0.
   *colon_r is the offset of the colon. */
static size_t header_name_len(const char *line, size_t len, size_t *colon_r)
{
    size_t n = 0, i;

    while (n < len && line[n] > ' ' && line[n] < 127 && line[n] != ':')
        n++;
    if (n == 0)
        return 0;
    for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    if (i >= len || line[i] != ':')
        return 0;
    *colon_r = i;
    return n;
}

static void body_append(struct fl_mc_message *m, size_t *cap, const char *p, size_t n)
{
    if (n == 0)
        return; /* body may still be NULL (NULL + 0 is undefined) */
    if (m->body_len + n > *cap) {
        while (m->body_len + n > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        m->body = xrealloc(m->body, *cap);
    }
    memcpy(m->body + m->body_len, p, n);
    m->body_len += n;
}

int fl_mc_message_parse(const char *data, size_t len, struct fl_mc_message **msg_r,
                        const char **error_r)
{
    struct fl_mc_message *m = xrealloc(NULL, sizeof(*m));
    size_t pos = 0, hcap = 0, bcap = 0;
    int in_headers = 1;

    memset(m, 0, sizeof(*m));
    while (pos < len) {
        const char *line = data + pos, *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos, name_len, colon;
        size_t next = pos + n + (nl != NULL);

        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (in_headers) {
            struct fl_mc_header *h;

            if (memchr(line, '\0', n) != NULL) {
                fl_mc_message_free(&m);
                *error_r = "NUL byte in a header field";
                return -1;
            }
            if (n == 0) { /* the empty line ends the header */
                in_headers = 0;
                pos = next;
                continue;
            }
            if ((line[0] == ' ' || line[0] == '\t') && m->nheaders > 0) {
                /* continuation: kept as "\n" + the line, as Postfix sends it */
                size_t old;

                h = &m->headers[m->nheaders - 1];
                old = strlen(h->raw);
                h->raw = xrealloc(h->raw, old + n + 2);
                h->raw[old] = '\n';
                memcpy(h->raw + old + 1, line, n);
                h->raw[old + n + 1] = '\0';
                h->value = h->raw + (h->raw[0] == ' ');
                pos = next;
                continue;
            }
            if ((name_len = header_name_len(line, n, &colon)) == 0) {
                in_headers = 0; /* not a header: this line starts the body */
                continue;
            }
            if (m->nheaders == hcap) {
                hcap = hcap ? hcap * 2 : 16;
                m->headers = xrealloc(m->headers, hcap * sizeof(*m->headers));
            }
            h = &m->headers[m->nheaders++];
            h->name = xmemdup(line, name_len);
            h->raw = xmemdup(line + colon + 1, n - colon - 1);
            h->value = h->raw + (h->raw[0] == ' ');
            pos = next;
            continue;
        }
        body_append(m, &bcap, line, n);
        body_append(m, &bcap, "\r\n", 2);
        pos = next;
    }
    *msg_r = m;
    return 0;
}

int fl_mc_message_load(const char *path, struct fl_mc_message **msg_r, char *errbuf,
                       size_t errsize)
{
    FILE *fp = fopen(path, "rb");
    char *data = NULL, eb[128];
    size_t len = 0, cap = 0, n;
    const char *perr;
    int ret;

    if (fp == NULL) {
        snprintf(errbuf, errsize, "%s: %s", path, strerror_r(errno, eb, sizeof(eb)));
        return -1;
    }
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            data = xrealloc(data, cap);
        }
        n = fread(data + len, 1, cap - len, fp);
        len += n;
    } while (n > 0);
    if (ferror(fp)) {
        snprintf(errbuf, errsize, "%s: read error", path);
        fclose(fp);
        free(data);
        return -1;
    }
    fclose(fp);
    ret = fl_mc_message_parse(data, len, msg_r, &perr);
    if (ret < 0)
        snprintf(errbuf, errsize, "%s: %s", path, perr);
    free(data);
    return ret;
}

void fl_mc_message_free(struct fl_mc_message **msgp)
{
    struct fl_mc_message *m = msgp != NULL ? *msgp : NULL;
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->nheaders; i++) {
        free(m->headers[i].name);
        free(m->headers[i].raw);
    }
    free(m->headers);
    free(m->body);
    free(m);
    *msgp = NULL;
}

/* ---- one SMTP session ---- */

static struct fl_mc_reply *sess_push(struct fl_mc_session *s, enum fl_mc_step step)
{
    struct fl_mc_event *e;

    if (s->nevents == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->events = xrealloc(s->events, s->cap * sizeof(*s->events));
    }
    e = &s->events[s->nevents++];
    memset(e, 0, sizeof(*e));
    e->step = step;
    return &e->reply;
}

/* Records a step's outcome as the session's verdict so far. */
static char sess_code(struct fl_mc_session *s)
{
    const struct fl_mc_event *e = &s->events[s->nevents - 1];

    s->final_step = e->step;
    s->final_code = e->reply.code;
    return e->reply.code;
}

static int is_continue(char code)
{
    return code == SMFIR_CONTINUE || code == FL_MC_REPLY_NONE ||
           code == FL_MC_REPLY_NOT_SENT;
}

static int is_conn_level(char code)
{
    return code == SMFIR_SHUTDOWN || code == SMFIR_CONN_FAIL;
}

static void def_macro(struct fl_mc *mc, enum fl_mc_stage st, const char *name,
                      const char *value)
{
    if (fl_mc_get_macro(mc, st, name) == NULL)
        fl_mc_set_macro(mc, st, name, value);
}

static void set_default_macros(struct fl_mc *mc, const struct fl_mc_envelope *env)
{
    const char *name = env->client_name != NULL ? env->client_name : "unknown";
    char buf[512];
    static const enum fl_mc_stage i_stages[] = {FL_MC_STAGE_MAIL, FL_MC_STAGE_RCPT,
                                                FL_MC_STAGE_DATA, FL_MC_STAGE_EOH,
                                                FL_MC_STAGE_EOM};
    size_t k;

    def_macro(mc, FL_MC_STAGE_CONNECT, "j", "mx.faultline.example");
    def_macro(mc, FL_MC_STAGE_CONNECT, "{daemon_name}", "mx.faultline.example");
    def_macro(mc, FL_MC_STAGE_CONNECT, "{daemon_addr}", "127.0.0.1");
    def_macro(mc, FL_MC_STAGE_CONNECT, "v", "Postfix 3.7.11");
    snprintf(buf, sizeof(buf), "%s [%s]", name, env->client_addr);
    def_macro(mc, FL_MC_STAGE_CONNECT, "_", buf);
    def_macro(mc, FL_MC_STAGE_CONNECT, "{client_addr}", env->client_addr);
    def_macro(mc, FL_MC_STAGE_CONNECT, "{client_name}", name);
    def_macro(mc, FL_MC_STAGE_CONNECT, "{client_ptr}", name);
    snprintf(buf, sizeof(buf), "%u", (unsigned)env->client_port);
    def_macro(mc, FL_MC_STAGE_CONNECT, "{client_port}", buf);
    for (k = 0; env->queue_id != NULL && k < sizeof(i_stages) / sizeof(i_stages[0]); k++)
        def_macro(mc, i_stages[k], "i", env->queue_id);
    def_macro(mc, FL_MC_STAGE_MAIL, "{mail_addr}", env->sender);
}

/* "<addr>" unless addr already has its brackets. */
static char *angle(const char *addr)
{
    size_t n = strlen(addr);
    char *s;

    if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
        return xmemdup(addr, n);
    s = xrealloc(NULL, n + 3);
    snprintf(s, n + 3, "<%s>", addr);
    return s;
}

/* MAIL or RCPT with the address in brackets plus ESMTP args. */
static int send_addr(struct fl_mc *mc, enum fl_mc_step step, const char *addr,
                     const char *const *args, struct fl_mc_reply *r, const char **error_r)
{
    size_t n = 0, i;
    const char **argv;
    int ret;

    while (args != NULL && args[n] != NULL)
        n++;
    argv = xrealloc(NULL, (n + 2) * sizeof(*argv));
    argv[0] = angle(addr);
    for (i = 0; i < n; i++)
        argv[i + 1] = args[i];
    argv[n + 1] = NULL;
    ret = step == FL_MC_STEP_MAIL ? fl_mc_mail(mc, argv, r, error_r)
                                  : fl_mc_rcpt(mc, argv, r, error_r);
    free((char *)argv[0]);
    free(argv);
    return ret;
}

/* Postfix mail_reset() sends ABORT after every transaction, then QUIT. */
static int end_transaction(struct fl_mc *mc, struct fl_mc_session *s,
                           const char **error_r)
{
    if (fl_mc_abort(mc, error_r) < 0)
        return -1;
    sess_push(s, FL_MC_STEP_ABORT)->code = FL_MC_REPLY_NONE;
    if (fl_mc_quit(mc, error_r) < 0)
        return -1;
    sess_push(s, FL_MC_STEP_QUIT)->code = FL_MC_REPLY_NONE;
    return 0;
}

/* The message part: DATA, headers, EOH, body, EOM.  Returns 1 when the
   milter stopped the transaction or the connection, 0 when it ran to
   EOM, -1 on error. */
static int send_message(struct fl_mc *mc, const struct fl_mc_envelope *env,
                        const struct fl_mc_message *msg, struct fl_mc_session *s,
                        const char **error_r)
{
    size_t chunk = env->body_chunk ? env->body_chunk : FL_MC_CHUNK_DEFAULT;
    size_t i, off;

    if (chunk > FL_MC_CHUNK_MAX)
        chunk = FL_MC_CHUNK_MAX;
    if (fl_mc_data(mc, sess_push(s, FL_MC_STEP_DATA), error_r) < 0)
        return -1;
    if (!is_continue(sess_code(s)))
        return 1;
    for (i = 0; i < msg->nheaders; i++) {
        if (fl_mc_header(mc, msg->headers[i].name, msg->headers[i].raw,
                         sess_push(s, FL_MC_STEP_HEADER), error_r) < 0)
            return -1;
        if (!is_continue(sess_code(s)))
            return 1;
    }
    if (fl_mc_eoh(mc, sess_push(s, FL_MC_STEP_EOH), error_r) < 0)
        return -1;
    if (!is_continue(sess_code(s)))
        return 1;
    for (off = 0; off < msg->body_len; off += chunk) {
        size_t n = msg->body_len - off < chunk ? msg->body_len - off : chunk;
        char code;

        if (fl_mc_body(mc, msg->body + off, n, sess_push(s, FL_MC_STEP_BODY), error_r) < 0)
            return -1;
        if ((code = sess_code(s)) == SMFIR_SKIP)
            break;
        if (!is_continue(code))
            return 1;
    }
    if (fl_mc_eom(mc, sess_push(s, FL_MC_STEP_EOM), error_r) < 0)
        return -1;
    sess_code(s);
    return 0;
}

static int run(struct fl_mc *mc, const char *socket_spec, const struct fl_mc_envelope *env,
               const struct fl_mc_message *msg, struct fl_mc_session *s,
               const char **error_r)
{
    char family = env->family, hostbuf[300], code;
    const char *hostname = env->client_name;
    int own_rcpt_addr = 0, accepted = 0, ret;
    size_t i;

    if (family == 0)
        family = strchr(env->client_addr, ':') != NULL ? SMFIA_INET6 : SMFIA_INET;
    if (hostname == NULL) { /* Postfix sends an unknown name Sendmail-style */
        snprintf(hostbuf, sizeof(hostbuf), "[%s]", env->client_addr);
        hostname = hostbuf;
    }
    if (!env->no_default_macros) {
        set_default_macros(mc, env);
        own_rcpt_addr = fl_mc_get_macro(mc, FL_MC_STAGE_RCPT, "{rcpt_addr}") == NULL;
    }
    if (fl_mc_open(mc, socket_spec, error_r) < 0)
        return -1;

    /* Connection level: a decision ends the session; Postfix closes the
       milter socket without QUIT (libmilter closes its end anyway). */
    if (fl_mc_connect(mc, hostname, family, env->client_port, env->client_addr,
                      sess_push(s, FL_MC_STEP_CONNECT), error_r) < 0)
        return -1;
    code = sess_code(s);
    if (!is_continue(code) && code != SMFIR_DISCARD) {
        fl_mc_close(mc);
        return 0;
    }
    if (fl_mc_helo(mc, env->helo, sess_push(s, FL_MC_STEP_HELO), error_r) < 0)
        return -1;
    code = sess_code(s);
    if (!is_continue(code) && code != SMFIR_DISCARD) {
        fl_mc_close(mc);
        return 0;
    }

    if (send_addr(mc, FL_MC_STEP_MAIL, env->sender, env->mail_args,
                  sess_push(s, FL_MC_STEP_MAIL), error_r) < 0)
        return -1;
    code = sess_code(s);
    if (is_conn_level(code)) {
        fl_mc_close(mc);
        return 0;
    }
    if (!is_continue(code))
        return end_transaction(mc, s, error_r);

    /* A rejected recipient only drops that recipient; accept or discard
       decides the whole message. */
    for (i = 0; env->rcpts != NULL && env->rcpts[i] != NULL; i++) {
        if (own_rcpt_addr)
            fl_mc_set_macro(mc, FL_MC_STAGE_RCPT, "{rcpt_addr}", env->rcpts[i]);
        if (send_addr(mc, FL_MC_STEP_RCPT, env->rcpts[i], NULL,
                      sess_push(s, FL_MC_STEP_RCPT), error_r) < 0)
            return -1;
        code = sess_code(s);
        if (is_conn_level(code)) {
            fl_mc_close(mc);
            return 0;
        }
        if (code == SMFIR_ACCEPT || code == SMFIR_DISCARD)
            return end_transaction(mc, s, error_r);
        if (is_continue(code))
            accepted++;
    }
    if (accepted == 0)
        return end_transaction(mc, s, error_r);

    if ((ret = send_message(mc, env, msg, s, error_r)) < 0)
        return -1;
    if (is_conn_level(s->final_code)) {
        fl_mc_close(mc);
        return 0;
    }
    return end_transaction(mc, s, error_r);
}

int fl_mc_run_session(struct fl_mc *mc, const char *socket_spec,
                      const struct fl_mc_envelope *env, const struct fl_mc_message *msg,
                      struct fl_mc_session *session_r, const char **error_r)
{
    memset(session_r, 0, sizeof(*session_r));
    session_r->final_step = FL_MC_STEP_CONNECT;
    session_r->final_code = SMFIR_CONTINUE;
    if (run(mc, socket_spec, env, msg, session_r, error_r) < 0) {
        /* the failed step's event holds no reply: drop it */
        if (session_r->nevents > 0 &&
            session_r->events[session_r->nevents - 1].reply.code == 0)
            session_r->nevents--;
        return -1;
    }
    return 0;
}

void fl_mc_session_clear(struct fl_mc_session *session)
{
    size_t i;

    for (i = 0; i < session->nevents; i++)
        fl_mc_reply_clear(&session->events[i].reply);
    free(session->events);
    memset(session, 0, sizeof(*session));
}

/* ---- names ---- */

const char *fl_mc_code_name(char code)
{
    switch (code) {
    case SMFIR_CONTINUE:
        return "continue";
    case SMFIR_ACCEPT:
        return "accept";
    case SMFIR_REJECT:
        return "reject";
    case SMFIR_TEMPFAIL:
        return "tempfail";
    case SMFIR_DISCARD:
        return "discard";
    case SMFIR_REPLYCODE:
        return "reply";
    case SMFIR_SKIP:
        return "skip";
    case SMFIR_SHUTDOWN:
        return "shutdown";
    case SMFIR_CONN_FAIL:
        return "connfail";
    case FL_MC_REPLY_NONE:
        return "noreply";
    case FL_MC_REPLY_NOT_SENT:
        return "disabled";
    default:
        return "?";
    }
}

static void mask_str(uint32_t mask, const char *const *names, unsigned nnames, char *buf,
                     size_t size)
{
    size_t len = 0;
    unsigned bit;

    if (size == 0)
        return;
    buf[0] = '\0';
    if (mask == 0)
        snprintf(buf, size, "none");
    for (bit = 0; bit < 32; bit++) {
        uint32_t b = (uint32_t)1 << bit;
        int n;

        if ((mask & b) == 0 || len >= size)
            continue;
        if (bit < nnames)
            n = snprintf(buf + len, size - len, "%s%s", len ? "," : "", names[bit]);
        else
            n = snprintf(buf + len, size - len, "%s0x%x", len ? "," : "", (unsigned)b);
        len += n > 0 ? (size_t)n : 0;
    }
}

void fl_mc_actions_str(uint32_t mask, char *buf, size_t size)
{
    static const char *const names[] = {"ADDHDRS",    "CHGBODY", "ADDRCPT",
                                        "DELRCPT",    "CHGHDRS", "QUARANTINE",
                                        "CHGFROM",    "ADDRCPT_PAR", "SETSYMLIST"};

    mask_str(mask, names, sizeof(names) / sizeof(names[0]), buf, size);
}

void fl_mc_protocol_str(uint32_t mask, char *buf, size_t size)
{
    static const char *const names[] = {
        "NOCONNECT", "NOHELO",  "NOMAIL",  "NORCPT",  "NOBODY",  "NOHDRS",  "NOEOH",
        "NR_HDR",    "NOUNKNOWN", "NODATA", "SKIP",   "RCPT_REJ", "NR_CONN", "NR_HELO",
        "NR_MAIL",   "NR_RCPT", "NR_DATA", "NR_UNKN", "NR_EOH",  "NR_BODY", "HDR_LEADSPC"};

    mask_str(mask, names, sizeof(names) / sizeof(names[0]), buf, size);
}
