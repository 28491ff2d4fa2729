/* milter_client: MTA side of the Sendmail milter protocol v6 (see
   milter_client.h).  Wire format: 4-byte big-endian length (command byte
   included), command byte, data.  Behaviour follows Postfix
   src/milter/milter8.c.  Thread-safety: no globals; one struct fl_mc per
   thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tests/harness/milter_client.h"

#include <libmilter/mfdef.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Replies bigger than this are garbage (libmilter's largest is 1 MB). */
#define MC_MAX_PACKET (FL_MC_CHUNK_MAX + 64)
/* Longest macro name, braces included. */
#define MC_MACRO_NAME_MAX 256

struct mc_macro {
    char *name; /* normalised: one letter, or "{name}" */
    char *value;
};

struct mc_macros {
    struct mc_macro *v;
    size_t n, cap;
};

struct fl_mc {
    struct fl_mc_settings set;
    int fd;
    int failed;
    int skip_body; /* SMFIR_SKIP seen for this message */
    struct fl_mc_negotiated neg;
    struct mc_macros macros[FL_MC_STAGE_COUNT];
    unsigned char *wbuf; /* pending packets, sent by mc_flush() */
    size_t wlen, wcap, wstart;
    unsigned char *rbuf;
    size_t rcap;
    char err[512];
};

/* How each step is sent: command letter, macro stage (-1: none), the
   SMFIP bit that disables it, the one that silences its reply, and the
   first protocol version that knows it. */
static const struct {
    char cmd;
    int stage;
    uint32_t no_flag, nr_flag, min_version;
    const char *name;
} steps[] = {
    [FL_MC_STEP_CONNECT] = {SMFIC_CONNECT, FL_MC_STAGE_CONNECT, SMFIP_NOCONNECT,
                            SMFIP_NR_CONN, 2, "connect"},
    [FL_MC_STEP_HELO] = {SMFIC_HELO, FL_MC_STAGE_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, 2,
                         "helo"},
    [FL_MC_STEP_MAIL] = {SMFIC_MAIL, FL_MC_STAGE_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, 2,
                         "mail"},
    [FL_MC_STEP_RCPT] = {SMFIC_RCPT, FL_MC_STAGE_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, 2,
                         "rcpt"},
    [FL_MC_STEP_DATA] = {SMFIC_DATA, FL_MC_STAGE_DATA, SMFIP_NODATA, SMFIP_NR_DATA, 4,
                         "data"},
    [FL_MC_STEP_UNKNOWN] = {SMFIC_UNKNOWN, -1, SMFIP_NOUNKNOWN, SMFIP_NR_UNKN, 3,
                            "unknown"},
    /* Postfix sends the end-of-header macros with each header and the
       end-of-data macros with each body chunk. */
    [FL_MC_STEP_HEADER] = {SMFIC_HEADER, FL_MC_STAGE_EOH, SMFIP_NOHDRS, SMFIP_NR_HDR,
                           2, "header"},
    [FL_MC_STEP_EOH] = {SMFIC_EOH, FL_MC_STAGE_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, 2,
                        "eoh"},
    [FL_MC_STEP_BODY] = {SMFIC_BODY, FL_MC_STAGE_EOM, SMFIP_NOBODY, SMFIP_NR_BODY, 2,
                         "body"},
    [FL_MC_STEP_EOM] = {SMFIC_BODYEOB, FL_MC_STAGE_EOM, 0, 0, 2, "eom"},
    [FL_MC_STEP_ABORT] = {SMFIC_ABORT, -1, 0, 0, 2, "abort"},
    [FL_MC_STEP_QUIT] = {SMFIC_QUIT, -1, 0, 0, 2, "quit"},
};

/* ---- small helpers ---- */

static void *mc_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        fputs("milter_client: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *mc_memdup(const void *p, size_t n)
{
    char *s = mc_realloc(NULL, n + 1);

    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static char *mc_strdup(const char *s)
{
    return mc_memdup(s, strlen(s));
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mc_close_fd(struct fl_mc *mc)
{
    if (mc->fd >= 0)
        close(mc->fd);
    mc->fd = -1;
}

/* Records an error, closes the connection (the stream may be out of sync,
   as Postfix's milter8_comm_error assumes) and returns -1. */
__attribute__((format(printf, 3, 4))) static int mc_fail(struct fl_mc *mc,
                                                        const char **error_r,
                                                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(mc->err, sizeof(mc->err), fmt, ap);
    va_end(ap);
    mc_close_fd(mc);
    mc->failed = 1;
    *error_r = mc->err;
    return -1;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- writing ---- */

static void wb_put(struct fl_mc *mc, const void *p, size_t n)
{
    if (mc->wlen + n > mc->wcap) {
        while (mc->wlen + n > mc->wcap)
            mc->wcap = mc->wcap ? mc->wcap * 2 : 4096;
        mc->wbuf = mc_realloc(mc->wbuf, mc->wcap);
    }
    memcpy(mc->wbuf + mc->wlen, p, n);
    mc->wlen += n;
}

static void wb_str(struct fl_mc *mc, const char *s)
{
    wb_put(mc, s, strlen(s) + 1);
}

static void wb_u32(struct fl_mc *mc, uint32_t v)
{
    unsigned char b[4] = {v >> 24, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff};

    wb_put(mc, b, 4);
}

/* Starts a packet; wb_end() fills in its length. */
static void wb_begin(struct fl_mc *mc, char cmd)
{
    unsigned char hdr[5] = {0, 0, 0, 0, (unsigned char)cmd};

    mc->wstart = mc->wlen;
    wb_put(mc, hdr, 5);
}

static void wb_end(struct fl_mc *mc)
{
    uint32_t len = (uint32_t)(mc->wlen - mc->wstart - 4);
    unsigned char *p = mc->wbuf + mc->wstart;

    p[0] = len >> 24;
    p[1] = len >> 16 & 0xff;
    p[2] = len >> 8 & 0xff;
    p[3] = len & 0xff;
}

/* Waits until fd is ready for events or deadline passes: 1 ready, 0
   timeout, -1 error (errno). */
static int mc_wait(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = events};
        int n;

        if (left <= 0)
            return 0;
        n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Sends the pending packets. */
static int mc_flush(struct fl_mc *mc, const char **error_r)
{
    long long deadline = now_ms() + mc->set.reply_timeout_ms;
    size_t off = 0;
    char eb[128];

    while (off < mc->wlen) {
        ssize_t n = send(mc->fd, mc->wbuf + off, mc->wlen - off, MSG_NOSIGNAL);

        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = mc_wait(mc->fd, POLLOUT, deadline);

            if (w == 0)
                return mc_fail(mc, error_r,
                               "write timeout after %d ms (milter not reading)",
                               mc->set.reply_timeout_ms);
            if (w < 0)
                return mc_fail(mc, error_r, "poll: %s", strerror_r(errno, eb, sizeof(eb)));
        } else {
            return mc_fail(mc, error_r, "write to milter: %s",
                           strerror_r(errno, eb, sizeof(eb)));
        }
    }
    mc->wlen = 0;
    return 0;
}

/* ---- reading ---- */

static int mc_read_exact(struct fl_mc *mc, unsigned char *p, size_t len,
                         long long deadline, const char *what, const char **error_r)
{
    size_t off = 0;
    char eb[128];

    while (off < len) {
        ssize_t n = recv(mc->fd, p + off, len - off, 0);

        if (n > 0) {
            off += (size_t)n;
        } else if (n == 0) {
            return mc_fail(mc, error_r,
                           "connection closed by milter while reading %s "
                           "(%zu of %zu bytes)",
                           what, off, len);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = mc_wait(mc->fd, POLLIN, deadline);

            if (w == 0)
                return mc_fail(mc, error_r, "timeout after %d ms waiting for %s",
                               mc->set.reply_timeout_ms, what);
            if (w < 0)
                return mc_fail(mc, error_r, "poll: %s",
                               strerror_r(errno, eb, sizeof(eb)));
        } else {
            return mc_fail(mc, error_r, "read from milter: %s",
                           strerror_r(errno, eb, sizeof(eb)));
        }
    }
    return 0;
}

/* Reads one packet into mc->rbuf (NUL-terminated past *len_r). */
static int mc_read_packet(struct fl_mc *mc, const char *what, char *cmd_r, size_t *len_r,
                          const char **error_r)
{
    long long deadline = now_ms() + mc->set.reply_timeout_ms;
    unsigned char hdr[5];
    uint32_t len;

    if (mc_read_exact(mc, hdr, 4, deadline, what, error_r) < 0)
        return -1;
    len = get_u32(hdr);
    if (len == 0 || len > MC_MAX_PACKET)
        return mc_fail(mc, error_r, "bad packet length %u in %s", (unsigned)len, what);
    if (mc_read_exact(mc, hdr + 4, 1, deadline, what, error_r) < 0)
        return -1;
    if (len > mc->rcap) {
        mc->rcap = len;
        mc->rbuf = mc_realloc(mc->rbuf, mc->rcap);
    }
    if (mc_read_exact(mc, mc->rbuf, len - 1, deadline, what, error_r) < 0)
        return -1;
    mc->rbuf[len - 1] = '\0';
    *cmd_r = (char)hdr[4];
    *len_r = len - 1;
    return 0;
}

/* Takes the next NUL-terminated string from *p (with *left bytes); NULL if none. */
static const char *take_str(const unsigned char **p, size_t *left)
{
    const unsigned char *nul = memchr(*p, '\0', *left);
    const char *s = (const char *)*p;

    if (nul == NULL)
        return NULL;
    *left -= (size_t)(nul - *p) + 1;
    *p = nul + 1;
    return s;
}

/* The action a modification needs (libmilter refuses to send it otherwise;
   a milter that does is broken). */
static uint32_t mod_needs(char cmd)
{
    switch (cmd) {
    case SMFIR_ADDHEADER:
    case SMFIR_INSHEADER:
        return FL_MC_ACT_ADDHDRS;
    case SMFIR_CHGHEADER:
        return FL_MC_ACT_CHGHDRS;
    case SMFIR_ADDRCPT:
        return FL_MC_ACT_ADDRCPT;
    case SMFIR_ADDRCPT_PAR:
        return FL_MC_ACT_ADDRCPT_PAR;
    case SMFIR_DELRCPT:
        return FL_MC_ACT_DELRCPT;
    case SMFIR_REPLBODY:
        return FL_MC_ACT_CHGBODY;
    case SMFIR_QUARANTINE:
        return FL_MC_ACT_QUARANTINE;
    case SMFIR_CHGFROM:
        return FL_MC_ACT_CHGFROM;
    default:
        return 0;
    }
}

/* Decodes one modification packet (in mc->rbuf) into r->mods. */
static int mc_add_mod(struct fl_mc *mc, char cmd, size_t len, int merge_body,
                      struct fl_mc_reply *r, const char **error_r)
{
    const unsigned char *p = mc->rbuf;
    size_t left = len;
    struct fl_mc_mod m = {.type = cmd};
    const char *a, *b = NULL;

    if ((mc->neg.actions & mod_needs(cmd)) == 0)
        return mc_fail(mc, error_r, "milter sent modification '%c' without negotiating it",
                       cmd);
    if (cmd == SMFIR_REPLBODY && merge_body) {
        struct fl_mc_mod *last = &r->mods[r->nmods - 1];

        last->value = mc_realloc(last->value, last->value_len + len + 1);
        memcpy(last->value + last->value_len, p, len);
        last->value_len += len;
        last->value[last->value_len] = '\0';
        return 0;
    }
    if (cmd == SMFIR_INSHEADER || cmd == SMFIR_CHGHEADER) {
        if (left < 4)
            return mc_fail(mc, error_r, "short '%c' modification (%zu bytes)", cmd, len);
        m.index = get_u32(p);
        p += 4;
        left -= 4;
    }
    if (cmd == SMFIR_REPLBODY) {
        m.value = mc_memdup(p, len);
        m.value_len = len;
    } else {
        if ((a = take_str(&p, &left)) == NULL)
            return mc_fail(mc, error_r, "malformed '%c' modification", cmd);
        if (cmd == SMFIR_ADDHEADER || cmd == SMFIR_INSHEADER || cmd == SMFIR_CHGHEADER) {
            if ((b = take_str(&p, &left)) == NULL)
                return mc_fail(mc, error_r, "'%c' modification without a value", cmd);
            if (*a == '\0')
                return mc_fail(mc, error_r, "'%c' modification with empty header name",
                               cmd);
        } else if ((cmd == SMFIR_ADDRCPT_PAR || cmd == SMFIR_CHGFROM) && left > 0) {
            if ((b = take_str(&p, &left)) == NULL)
                return mc_fail(mc, error_r, "malformed '%c' ESMTP arguments", cmd);
        }
        if (left != 0)
            return mc_fail(mc, error_r, "%zu trailing bytes in '%c' modification", left,
                           cmd);
        m.name = mc_strdup(a);
        if (b != NULL) {
            m.value = mc_strdup(b);
            m.value_len = strlen(b);
        }
    }
    r->mods = mc_realloc(r->mods, (r->nmods + 1) * sizeof(*r->mods));
    r->mods[r->nmods++] = m;
    return 0;
}

/* Postfix milter8.c: "ddd d.d.d text" with a 4xx/5xx code, class digit
   repeated in the enhanced code; '-' for multi-line replies. */
static int reply_text_ok(const char *t)
{
    return (t[0] == '4' || t[0] == '5') && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' &&
           t[2] <= '9' && (t[3] == ' ' || t[3] == '-') && t[4] == t[0];
}

static int mc_get_reply_inner(struct fl_mc *mc, enum fl_mc_step step,
                              struct fl_mc_reply *r, const char **error_r)
{
    char what[64];
    int merge_body = 0;

    snprintf(what, sizeof(what), "reply to %s", steps[step].name);
    for (;;) {
        const unsigned char *p;
        const char *t;
        size_t len, left;
        char cmd;

        if (mc_read_packet(mc, what, &cmd, &len, error_r) < 0)
            return -1;
        p = mc->rbuf;
        left = len;
        switch (cmd) {
        case SMFIR_PROGRESS:
            merge_body = 0;
            continue;
        case SMFIR_CONTINUE:
        case SMFIR_ACCEPT:
        case SMFIR_REJECT:
        case SMFIR_TEMPFAIL:
        case SMFIR_DISCARD:
        case SMFIR_SHUTDOWN:
        case SMFIR_CONN_FAIL:
        case SMFIR_SKIP:
            if (len != 0)
                return mc_fail(mc, error_r, "reply '%c' to %s carries %zu data bytes", cmd,
                               steps[step].name, len);
            if (cmd == SMFIR_SKIP && step != FL_MC_STEP_BODY)
                return mc_fail(mc, error_r, "SMFIR_SKIP in reply to %s (only for body)",
                               steps[step].name);
            r->code = cmd;
            return 0;
        case SMFIR_REPLYCODE:
            if ((t = take_str(&p, &left)) == NULL || left != 0 || strlen(t) < 5 ||
                !reply_text_ok(t))
                return mc_fail(mc, error_r, "malformed SMFIR_REPLYCODE to %s: \"%.200s\"",
                               steps[step].name, (const char *)mc->rbuf);
            r->code = cmd;
            r->text = mc_strdup(t);
            return 0;
        case SMFIR_ADDHEADER:
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER:
        case SMFIR_ADDRCPT:
        case SMFIR_ADDRCPT_PAR:
        case SMFIR_DELRCPT:
        case SMFIR_REPLBODY:
        case SMFIR_QUARANTINE:
        case SMFIR_CHGFROM:
            /* Postfix accepts quarantine at any event, edits only at eom. */
            if (step != FL_MC_STEP_EOM && cmd != SMFIR_QUARANTINE)
                return mc_fail(mc, error_r,
                               "modification '%c' in reply to %s (only allowed at eom)",
                               cmd, steps[step].name);
            if (mc_add_mod(mc, cmd, len, merge_body, r, error_r) < 0)
                return -1;
            merge_body = cmd == SMFIR_REPLBODY;
            continue;
        default:
            return mc_fail(mc, error_r, "unexpected reply code 0x%02x ('%c') to %s",
                           (unsigned char)cmd, cmd >= ' ' && cmd < 127 ? cmd : '?',
                           steps[step].name);
        }
    }
}

static int mc_get_reply(struct fl_mc *mc, enum fl_mc_step step, struct fl_mc_reply *r,
                        const char **error_r)
{
    if (mc_get_reply_inner(mc, step, r, error_r) < 0) {
        fl_mc_reply_clear(r);
        return -1;
    }
    return 0;
}

/* ---- macros ---- */

/* Writes the canonical form of macro name tok/n to out: one letter bare
   ("i", also for "{i}"), longer names in braces ("{mail_addr}", also for
   "mail_addr").  Returns -1 if it does not fit. */
static int macro_norm(const char *tok, size_t n, char *out, size_t size)
{
    if (n >= 2 && tok[0] == '{' && tok[n - 1] == '}') {
        tok++;
        n -= 2;
    }
    if (n == 0 || n + 3 > size)
        return -1;
    if (n == 1) {
        out[0] = tok[0];
        out[1] = '\0';
    } else {
        out[0] = '{';
        memcpy(out + 1, tok, n);
        out[n + 1] = '}';
        out[n + 2] = '\0';
    }
    return 0;
}

/* Does the token tok/n (any spelling) name the canonical macro norm? */
static int macro_name_eq(const char *norm, const char *tok, size_t n)
{
    char buf[MC_MACRO_NAME_MAX];

    return macro_norm(tok, n, buf, sizeof(buf)) == 0 && strcmp(buf, norm) == 0;
}

static int symlist_has(const char *list, const char *norm)
{
    while (*list != '\0') {
        size_t n;

        list += strspn(list, " ,\t");
        n = strcspn(list, " ,\t");
        if (n > 0 && macro_name_eq(norm, list, n))
            return 1;
        list += n;
    }
    return 0;
}

static struct mc_macro *macro_find(const struct mc_macros *m, const char *name)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (macro_name_eq(m->v[i].name, name, strlen(name)))
            return &m->v[i];
    return NULL;
}

int fl_mc_set_macro(struct fl_mc *mc, enum fl_mc_stage stage, const char *name,
                    const char *value)
{
    struct mc_macros *m;
    struct mc_macro *e;
    char norm[MC_MACRO_NAME_MAX];

    if ((unsigned)stage >= FL_MC_STAGE_COUNT || name == NULL ||
        macro_norm(name, strlen(name), norm, sizeof(norm)) < 0)
        return -1;
    m = &mc->macros[stage];
    e = macro_find(m, name);
    if (value == NULL) {
        if (e != NULL) {
            free(e->name);
            free(e->value);
            *e = m->v[--m->n];
        }
        return 0;
    }
    if (e != NULL) {
        free(e->value);
        e->value = mc_strdup(value);
        return 0;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->v = mc_realloc(m->v, m->cap * sizeof(*m->v));
    }
    e = &m->v[m->n++];
    e->name = mc_strdup(norm);
    e->value = mc_strdup(value);
    return 0;
}

const char *fl_mc_get_macro(const struct fl_mc *mc, enum fl_mc_stage stage,
                            const char *name)
{
    const struct mc_macro *e;

    if ((unsigned)stage >= FL_MC_STAGE_COUNT || name == NULL || *name == '\0')
        return NULL;
    e = macro_find(&mc->macros[stage], name);
    return e != NULL ? e->value : NULL;
}

/* Queues SMFIC_MACRO for the step's stage: the set macros, restricted to
   the milter's SETSYMLIST list for that stage if it sent one. */
static void mc_queue_macros(struct fl_mc *mc, enum fl_mc_step step)
{
    const struct mc_macros *m;
    const char *list;
    size_t i;
    int any = 0;

    if (steps[step].stage < 0)
        return;
    m = &mc->macros[steps[step].stage];
    list = mc->neg.symlist[steps[step].stage];
    for (i = 0; i < m->n; i++) {
        if (list != NULL && !symlist_has(list, m->v[i].name))
            continue;
        if (!any) {
            wb_begin(mc, SMFIC_MACRO);
            wb_put(mc, &steps[step].cmd, 1);
            any = 1;
        }
        wb_str(mc, m->v[i].name);
        wb_str(mc, m->v[i].value);
    }
    if (any)
        wb_end(mc);
}

/* ---- events ---- */

/* Returns 1 when the event packet has been started (caller appends data,
   then calls ev_end), 0 when the step is not sent (reply says so), -1 on
   error.  Order as in Postfix milter8_event(): events outside the
   negotiated version and skipped body chunks get no macros; disabled
   envelope events still get their macros, but disabled header, eoh and
   body events do not (Postfix does not even visit them). */
static int ev_begin(struct fl_mc *mc, enum fl_mc_step step, struct fl_mc_reply *r,
                    const char **error_r)
{
    memset(r, 0, sizeof(*r));
    if (mc->fd < 0) {
        if (!mc->failed)
            snprintf(mc->err, sizeof(mc->err), "not connected");
        *error_r = mc->err;
        return -1;
    }
    if (mc->neg.version < steps[step].min_version ||
        (step == FL_MC_STEP_BODY && mc->skip_body)) {
        r->code = FL_MC_REPLY_NOT_SENT;
        return 0;
    }
    if ((mc->neg.protocol & steps[step].no_flag) != 0 &&
        (step == FL_MC_STEP_HEADER || step == FL_MC_STEP_EOH || step == FL_MC_STEP_BODY)) {
        r->code = FL_MC_REPLY_NOT_SENT;
        return 0;
    }
    mc_queue_macros(mc, step);
    if ((mc->neg.protocol & steps[step].no_flag) != 0) {
        r->code = FL_MC_REPLY_NOT_SENT;
        return mc_flush(mc, error_r);
    }
    wb_begin(mc, steps[step].cmd);
    return 1;
}

static int ev_end(struct fl_mc *mc, enum fl_mc_step step, struct fl_mc_reply *r,
                  const char **error_r)
{
    wb_end(mc);
    if (mc_flush(mc, error_r) < 0)
        return -1;
    if (step == FL_MC_STEP_ABORT || step == FL_MC_STEP_QUIT || step == FL_MC_STEP_EOM ||
        step == FL_MC_STEP_MAIL)
        mc->skip_body = 0;
    if (step == FL_MC_STEP_ABORT || step == FL_MC_STEP_QUIT ||
        (mc->neg.protocol & steps[step].nr_flag) != 0) {
        r->code = FL_MC_REPLY_NONE;
        return 0;
    }
    if (mc_get_reply(mc, step, r, error_r) < 0)
        return -1;
    if (step == FL_MC_STEP_BODY && r->code == SMFIR_SKIP)
        mc->skip_body = 1;
    return 0;
}

int fl_mc_connect(struct fl_mc *mc, const char *hostname, char family, uint16_t port,
                  const char *addr, struct fl_mc_reply *reply_r, const char **error_r)
{
    int rc = ev_begin(mc, FL_MC_STEP_CONNECT, reply_r, error_r);
    unsigned char nport[2] = {port >> 8, port & 0xff};

    if (rc <= 0)
        return rc;
    wb_str(mc, hostname);
    wb_put(mc, &family, 1);
    if (family != SMFIA_UNKNOWN) {
        wb_put(mc, nport, 2);
        wb_str(mc, addr);
    }
    return ev_end(mc, FL_MC_STEP_CONNECT, reply_r, error_r);
}

/* An event whose data is a list of NUL-terminated strings. */
static int ev_strings(struct fl_mc *mc, enum fl_mc_step step, const char *const *argv,
                      struct fl_mc_reply *r, const char **error_r)
{
    int rc = ev_begin(mc, step, r, error_r);

    if (rc <= 0)
        return rc;
    for (; argv != NULL && *argv != NULL; argv++)
        wb_str(mc, *argv);
    return ev_end(mc, step, r, error_r);
}

int fl_mc_helo(struct fl_mc *mc, const char *helo, struct fl_mc_reply *reply_r,
               const char **error_r)
{
    const char *argv[] = {helo, NULL};

    return ev_strings(mc, FL_MC_STEP_HELO, argv, reply_r, error_r);
}

int fl_mc_mail(struct fl_mc *mc, const char *const *argv, struct fl_mc_reply *reply_r,
               const char **error_r)
{
    return ev_strings(mc, FL_MC_STEP_MAIL, argv, reply_r, error_r);
}

int fl_mc_rcpt(struct fl_mc *mc, const char *const *argv, struct fl_mc_reply *reply_r,
               const char **error_r)
{
    return ev_strings(mc, FL_MC_STEP_RCPT, argv, reply_r, error_r);
}

int fl_mc_data(struct fl_mc *mc, struct fl_mc_reply *reply_r, const char **error_r)
{
    return ev_strings(mc, FL_MC_STEP_DATA, NULL, reply_r, error_r);
}

int fl_mc_unknown(struct fl_mc *mc, const char *command, struct fl_mc_reply *reply_r,
                  const char **error_r)
{
    const char *argv[] = {command, NULL};

    return ev_strings(mc, FL_MC_STEP_UNKNOWN, argv, reply_r, error_r);
}

int fl_mc_header(struct fl_mc *mc, const char *name, const char *raw_value,
                 struct fl_mc_reply *reply_r, const char **error_r)
{
    const char *argv[] = {name, raw_value, NULL};

    /* Sendmail eats one space (not a tab) after the colon unless asked. */
    if ((mc->neg.protocol & SMFIP_HDR_LEADSPC) == 0 && raw_value[0] == ' ')
        argv[1] = raw_value + 1;
    return ev_strings(mc, FL_MC_STEP_HEADER, argv, reply_r, error_r);
}

int fl_mc_eoh(struct fl_mc *mc, struct fl_mc_reply *reply_r, const char **error_r)
{
    return ev_strings(mc, FL_MC_STEP_EOH, NULL, reply_r, error_r);
}

int fl_mc_body(struct fl_mc *mc, const void *data, size_t len,
               struct fl_mc_reply *reply_r, const char **error_r)
{
    int rc;

    if (len == 0 || len > FL_MC_CHUNK_MAX) {
        memset(reply_r, 0, sizeof(*reply_r));
        snprintf(mc->err, sizeof(mc->err), "body chunk of %zu bytes (1..%u allowed)", len,
                 FL_MC_CHUNK_MAX);
        *error_r = mc->err;
        return -1;
    }
    if ((rc = ev_begin(mc, FL_MC_STEP_BODY, reply_r, error_r)) <= 0)
        return rc;
    wb_put(mc, data, len);
    return ev_end(mc, FL_MC_STEP_BODY, reply_r, error_r);
}

int fl_mc_eom(struct fl_mc *mc, struct fl_mc_reply *reply_r, const char **error_r)
{
    return ev_strings(mc, FL_MC_STEP_EOM, NULL, reply_r, error_r);
}

int fl_mc_abort(struct fl_mc *mc, const char **error_r)
{
    struct fl_mc_reply r;

    return ev_strings(mc, FL_MC_STEP_ABORT, NULL, &r, error_r);
}

int fl_mc_quit(struct fl_mc *mc, const char **error_r)
{
    struct fl_mc_reply r;

    if (ev_strings(mc, FL_MC_STEP_QUIT, NULL, &r, error_r) < 0)
        return -1;
    mc_close_fd(mc);
    return 0;
}

void fl_mc_close(struct fl_mc *mc)
{
    mc_close_fd(mc);
}

/* ---- connection ---- */

void fl_mc_settings_init(struct fl_mc_settings *set)
{
    memset(set, 0, sizeof(*set));
    set->connect_timeout_ms = 5000;
    set->reply_timeout_ms = 10000;
    set->version = SMFI_PROT_VERSION;
    set->actions = FL_MC_ACT_ALL;
    set->protocol = FL_MC_PROTO_POSTFIX;
}

struct fl_mc *fl_mc_create(const struct fl_mc_settings *set)
{
    struct fl_mc *mc = mc_realloc(NULL, sizeof(*mc));

    memset(mc, 0, sizeof(*mc));
    if (set != NULL)
        mc->set = *set;
    else
        fl_mc_settings_init(&mc->set);
    if (mc->set.connect_timeout_ms <= 0)
        mc->set.connect_timeout_ms = 5000;
    if (mc->set.reply_timeout_ms <= 0)
        mc->set.reply_timeout_ms = 10000;
    if (mc->set.version == 0)
        mc->set.version = SMFI_PROT_VERSION;
    mc->fd = -1;
    return mc;
}

static void mc_clear_neg(struct fl_mc *mc)
{
    int i;

    for (i = 0; i < FL_MC_STAGE_COUNT; i++)
        free(mc->neg.symlist[i]);
    memset(&mc->neg, 0, sizeof(mc->neg));
}

void fl_mc_destroy(struct fl_mc **mcp)
{
    struct fl_mc *mc = mcp != NULL ? *mcp : NULL;
    size_t i;
    int s;

    if (mc == NULL)
        return;
    mc_close_fd(mc);
    mc_clear_neg(mc);
    for (s = 0; s < FL_MC_STAGE_COUNT; s++) {
        for (i = 0; i < mc->macros[s].n; i++) {
            free(mc->macros[s].v[i].name);
            free(mc->macros[s].v[i].value);
        }
        free(mc->macros[s].v);
    }
    free(mc->wbuf);
    free(mc->rbuf);
    free(mc);
    *mcp = NULL;
}

const struct fl_mc_negotiated *fl_mc_negotiated(const struct fl_mc *mc)
{
    return &mc->neg;
}

/* Parses "PORT@HOST", "HOST:PORT" (inet only) or "PORT" into sa. */
static int parse_inet(const char *rest, int af, struct sockaddr_storage *ss,
                      socklen_t *len_r)
{
    char host[INET6_ADDRSTRLEN + 2], portbuf[8];
    const char *at = strchr(rest, '@'), *colon = strrchr(rest, ':');
    const char *hp = af == AF_INET ? "127.0.0.1" : "::1";
    size_t hlen = strlen(hp), plen = strlen(rest);
    const char *pp = rest;
    char *end;
    long port;

    if (at != NULL) {
        plen = (size_t)(at - rest);
        hp = at + 1;
        hlen = strlen(hp);
    } else if (af == AF_INET && colon != NULL) {
        hp = rest;
        hlen = (size_t)(colon - rest);
        pp = colon + 1;
        plen = strlen(pp);
    }
    if (hlen >= 2 && hp[0] == '[' && hp[hlen - 1] == ']') {
        hp++;
        hlen -= 2;
    }
    if (plen == 0 || plen >= sizeof(portbuf) || hlen == 0 || hlen >= sizeof(host))
        return -1;
    memcpy(portbuf, pp, plen);
    portbuf[plen] = '\0';
    memcpy(host, hp, hlen);
    host[hlen] = '\0';
    port = strtol(portbuf, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return -1;
    memset(ss, 0, sizeof(*ss));
    if (af == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len_r = sizeof(*sin);
        return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len_r = sizeof(*sin6);
        return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ? 0 : -1;
    }
}

static int mc_socket_connect(struct fl_mc *mc, const char *spec, const char **error_r)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    const char *path = NULL;
    long long deadline = now_ms() + mc->set.connect_timeout_ms;
    char eb[128];
    int on = 1;

    if (strncmp(spec, "unix:", 5) == 0)
        path = spec + 5;
    else if (strncmp(spec, "local:", 6) == 0)
        path = spec + 6;
    else if (spec[0] == '/')
        path = spec;
    if (path != NULL) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

        memset(&ss, 0, sizeof(ss));
        if (*path == '\0' || strlen(path) >= sizeof(sun->sun_path))
            return mc_fail(mc, error_r, "bad unix socket path in \"%s\"", spec);
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, path, strlen(path) + 1);
        sl = sizeof(*sun);
    } else if ((strncmp(spec, "inet:", 5) != 0 ||
                parse_inet(spec + 5, AF_INET, &ss, &sl) < 0) &&
               (strncmp(spec, "inet6:", 6) != 0 ||
                parse_inet(spec + 6, AF_INET6, &ss, &sl) < 0)) {
        return mc_fail(mc, error_r,
                       "bad milter socket \"%s\" (want unix:/path, inet:PORT@IP, "
                       "inet6:PORT@IP)",
                       spec);
    }
    mc->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (mc->fd < 0)
        return mc_fail(mc, error_r, "socket: %s", strerror_r(errno, eb, sizeof(eb)));
    while (connect(mc->fd, (struct sockaddr *)&ss, sl) < 0) {
        int err = errno, w;
        socklen_t elen = sizeof(err);

        if (err == EAGAIN || err == EINTR) {
            /* unix socket backlog full: retry until the deadline */
            struct timespec ts = {0, 2000000};

            if (now_ms() >= deadline)
                return mc_fail(mc, error_r, "connect %s: timeout (backlog full)", spec);
            nanosleep(&ts, NULL);
            continue;
        }
        if (err == EISCONN) /* an interrupted connect completed */
            break;
        if (err != EINPROGRESS && err != EALREADY)
            return mc_fail(mc, error_r, "connect %s: %s", spec,
                           strerror_r(err, eb, sizeof(eb)));
        w = mc_wait(mc->fd, POLLOUT, deadline);
        if (w == 0)
            return mc_fail(mc, error_r, "connect %s: timeout after %d ms", spec,
                           mc->set.connect_timeout_ms);
        if (w < 0 || getsockopt(mc->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            err = errno;
        if (err != 0)
            return mc_fail(mc, error_r, "connect %s: %s", spec,
                           strerror_r(err, eb, sizeof(eb)));
        break;
    }
    if (ss.ss_family != AF_UNIX)
        (void)setsockopt(mc->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return 0;
}

/* SMFIC_OPTNEG and its reply: version, actions, protocol, then optional
   SETSYMLIST pairs (uint32 stage, NUL-terminated list). */
static int mc_optneg(struct fl_mc *mc, const char **error_r)
{
    const unsigned char *p;
    size_t len, left;
    char cmd;

    wb_begin(mc, SMFIC_OPTNEG);
    wb_u32(mc, mc->set.version);
    wb_u32(mc, mc->set.actions);
    wb_u32(mc, mc->set.protocol);
    wb_end(mc);
    if (mc_flush(mc, error_r) < 0 ||
        mc_read_packet(mc, "option negotiation reply", &cmd, &len, error_r) < 0)
        return -1;
    if (cmd != SMFIC_OPTNEG || len < MILTER_OPTLEN)
        return mc_fail(mc, error_r, "bad option negotiation reply '%c' (%zu bytes)",
                       cmd >= ' ' && cmd < 127 ? cmd : '?', len);
    p = mc->rbuf;
    mc->neg.version = get_u32(p);
    mc->neg.actions = get_u32(p + 4);
    mc->neg.protocol = get_u32(p + 8);
    if (mc->neg.version < 2 || mc->neg.version > mc->set.version)
        return mc_fail(mc, error_r, "milter protocol version %u (we speak 2..%u)",
                       (unsigned)mc->neg.version, (unsigned)mc->set.version);
    if ((mc->neg.actions & ~mc->set.actions) != 0)
        return mc_fail(mc, error_r, "milter wants actions 0x%x, we offered 0x%x",
                       (unsigned)mc->neg.actions, (unsigned)mc->set.actions);
    p += MILTER_OPTLEN;
    left = len - MILTER_OPTLEN;
    while (left > 0) {
        uint32_t stage;
        const char *list;

        if (left < 4)
            return mc_fail(mc, error_r, "truncated SETSYMLIST in negotiation reply");
        stage = get_u32(p);
        p += 4;
        left -= 4;
        if ((list = take_str(&p, &left)) == NULL || stage >= FL_MC_STAGE_COUNT)
            return mc_fail(mc, error_r, "bad SETSYMLIST entry (stage %u)",
                           (unsigned)stage);
        free(mc->neg.symlist[stage]);
        mc->neg.symlist[stage] = mc_strdup(list);
    }
    return 0;
}

int fl_mc_open(struct fl_mc *mc, const char *socket_spec, const char **error_r)
{
    if (mc->fd >= 0) {
        snprintf(mc->err, sizeof(mc->err), "already connected");
        *error_r = mc->err;
        return -1;
    }
    mc->failed = 0;
    mc->skip_body = 0;
    mc->wlen = 0;
    mc_clear_neg(mc);
    if (mc_socket_connect(mc, socket_spec, error_r) < 0 || mc_optneg(mc, error_r) < 0)
        return -1;
    return 0;
}

void fl_mc_reply_clear(struct fl_mc_reply *reply)
{
    size_t i;

    for (i = 0; i < reply->nmods; i++) {
        free(reply->mods[i].name);
        free(reply->mods[i].value);
    }
    free(reply->mods);
    free(reply->text);
    memset(reply, 0, sizeof(*reply));
}

const char *fl_mc_step_name(enum fl_mc_step step)
{
    if ((unsigned)step >= sizeof(steps) / sizeof(steps[0]))
        return "?";
    return steps[step].name;
}
