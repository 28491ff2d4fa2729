/* fuzz_session: one whole message through faultline's milter callbacks,
   in-process: negotiate, connect, HELO, MAIL FROM, RCPT, DATA, every
   header, end of headers, the body in chunks, end of message, close --
   with arbitrary macros, envelope, headers and body.  libmilter is
   replaced by the few smfi_* functions below (this target does not link
   it): they hand the callbacks the fuzzed macros and record what the
   callbacks ask of the MTA, which the invariants check.

   The resolver is off (fl_srv.dns NULL), as in a daemon whose resolver
   could not start: the DNS-dependent checks are fuzzed through their
   parsers' targets and the daemon's fault matrix (tests/protocol/
   check_faults.c); this target covers the session code itself -- envelope
   and header handling, forged Authentication-Results removal, the memory
   budget, the verdict record and the reply.

   Input: lines (LF).  1: client name, 2: client IP, 3: HELO, 4: MAIL FROM
   argument, 5: RCPT argument, 6: {auth_authen} ("" for none), 7: queue id;
   the rest is the message (headers, empty line, body) as an MTA hands it
   over.  Invariants: every header we add or change is one header (folds
   only as "\n\t"), its name is printable, our AR header classifies as
   ours, a reply is a 4xx or 5xx line without CR or LF inside. */
#include "tests/fuzz/fuzz.h"
#include "tests/harness/milter_client.h"
#include "lib/core/authres.h"
#include "lib/core/config.h"
#include "milter/callbacks.h"
#include "milter/server.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <unistd.h>

/* The stand-in session context. */
struct smfi_str {
    void *priv;
    const char *macros[8][2]; /* name, value */
    size_t nmacros;
};

void *smfi_getpriv(SMFICTX *ctx)
{
    return ctx->priv;
}

int smfi_setpriv(SMFICTX *ctx, void *priv)
{
    ctx->priv = priv;
    return MI_SUCCESS;
}

char *smfi_getsymval(SMFICTX *ctx, char *name)
{
    for (size_t i = 0; i < ctx->nmacros; i++)
        if (strcmp(ctx->macros[i][0], name) == 0)
            return (char *)ctx->macros[i][1];
    return NULL;
}

static void assert_one_header(const char *name, const char *value)
{
    FUZZ_ASSERT(name != NULL && *name, "a header without a name");
    for (const char *p = name; *p; p++)
        FUZZ_ASSERT(*p > ' ' && *p < 0x7f && *p != ':', "a bad header name");
    for (const char *p = value ? value : ""; *p; p++)
        if (*p == '\r' || *p == '\n')
            FUZZ_ASSERT(p[0] == '\n' && p[1] == '\t', "a header line was injected");
    if (value != NULL && strcmp(name, FL_AUTHRES_HEADER) == 0)
        FUZZ_ASSERT(fl_authres_classify(value, "mx.fuzz.example", NULL) == FL_AUTHRES_OURS,
                    "our Authentication-Results header does not parse as ours");
}

int smfi_insheader(SMFICTX *ctx, int idx, char *name, char *value)
{
    (void)ctx;
    (void)idx;
    assert_one_header(name, value);
    return MI_SUCCESS;
}

int smfi_addheader(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx;
    assert_one_header(name, value);
    return MI_SUCCESS;
}

int smfi_chgheader(SMFICTX *ctx, char *name, int idx, char *value)
{
    (void)ctx;
    FUZZ_ASSERT(idx >= 1, "a header index below 1");
    assert_one_header(name, value);
    return MI_SUCCESS;
}

int smfi_quarantine(SMFICTX *ctx, char *reason)
{
    (void)ctx;
    FUZZ_ASSERT(reason != NULL, "quarantine without a reason");
    return MI_SUCCESS;
}

int smfi_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *message)
{
    (void)ctx;
    FUZZ_ASSERT(rcode != NULL && (rcode[0] == '4' || rcode[0] == '5') && strlen(rcode) == 3,
                "a reply code that is not 4xx or 5xx");
    FUZZ_ASSERT(xcode == NULL || xcode[0] == rcode[0], "an enhanced code of another class");
    for (const char *p = message ? message : ""; *p; p++)
        FUZZ_ASSERT(*p != '\r' && *p != '\n', "a line break in the reply text");
    return MI_SUCCESS;
}

size_t smfi_setmaxdatasize(size_t sz)
{
    return sz;
}

/* The configuration: everything that needs no resolver, a small memory
   budget so the budget paths run, records to /dev/null. */
static const char conf_text[] = "socket = unix:/nonexistent/fuzz.sock\n"
                                "user =\n"
                                "pidfile =\n"
                                "log = stderr\n"
                                "log_level = error\n"
                                "authserv_id = mx.fuzz.example\n"
                                "trusted_networks = 10.0.0.0/8\n"
                                "verdict_log = /dev/null\n"
                                "message_memory_limit = 64k\n"
                                "max_recipients = 4\n";

static void setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    if (fuzz_load_config(conf_text, sizeof(conf_text) - 1, &cfg, &errors) < 0) {
        fprintf(stderr, "%s", errors.data);
        abort();
    }
    fl_buf_free(&errors);
    fl_server_apply_log(cfg);
    if (fl_server_open_verdict_log(cfg) < 0)
        abort();
    fl_server_set_snapshot(cfg, NULL);
}

/* Splits off the next line of *p (up to end); returns it NUL-terminated. */
static char *next_line(char **p, char *end)
{
    char *s = *p;
    char *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
    if (nl == NULL) {
        *p = end;
        return s < end ? s : end;
    }
    *nl = '\0';
    *p = nl + 1;
    return s;
}

/* A step the MTA goes on from: on the unix socket configured here the
   never-refusing steps negotiate "no reply" and answer SMFIS_NOREPLY. */
static int goes_on(sfsistat r)
{
    return r == SMFIS_CONTINUE || r == SMFIS_NOREPLY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    char *buf = fuzz_cstr(data, size);
    char *p = buf, *end = buf + size;
    char *client = next_line(&p, end), *ip = next_line(&p, end), *helo = next_line(&p, end);
    char *from = next_line(&p, end), *rcpt = next_line(&p, end);
    char *auth = next_line(&p, end), *qid = next_line(&p, end);

    struct smfi_str ctx = {0};
    ctx.macros[ctx.nmacros][0] = "i";
    ctx.macros[ctx.nmacros++][1] = qid;
    if (*auth) {
        ctx.macros[ctx.nmacros][0] = "{auth_authen}";
        ctx.macros[ctx.nmacros++][1] = auth;
    }
    struct smfiDesc *d = &fl_milter_desc;
    unsigned long f0, f1, f2, f3;
    d->xxfi_negotiate(&ctx, 0x1ff, 0x1fffff, 0, 0, &f0, &f1, &f2, &f3);
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
    struct sockaddr_in sa4 = {.sin_family = AF_INET};
    _SOCK_ADDR *sa = NULL;
    if (inet_pton(AF_INET, ip, &sa4.sin_addr) == 1)
        sa = (_SOCK_ADDR *)&sa4;
    else if (inet_pton(AF_INET6, ip, &sa6.sin6_addr) == 1)
        sa = (_SOCK_ADDR *)&sa6;
    char *from_argv[] = {from, NULL}, *rcpt_argv[] = {rcpt, NULL};
    if (goes_on(d->xxfi_connect(&ctx, client, sa)) && goes_on(d->xxfi_helo(&ctx, helo)) &&
        goes_on(d->xxfi_envfrom(&ctx, from_argv)) && goes_on(d->xxfi_envrcpt(&ctx, rcpt_argv)) &&
        goes_on(d->xxfi_data(&ctx))) {
        struct fl_mc_message *msg = NULL;
        const char *err;
        if (fl_mc_message_parse(p, (size_t)(end - p), &msg, &err) == 0) {
            for (size_t i = 0; i < msg->nheaders; i++)
                d->xxfi_header(&ctx, msg->headers[i].name, msg->headers[i].value);
            d->xxfi_eoh(&ctx);
            /* the body in chunks of up to 4096 bytes, as an MTA might */
            for (size_t off = 0; off < msg->body_len; off += 4096) {
                size_t n = msg->body_len - off < 4096 ? msg->body_len - off : 4096;
                if (d->xxfi_body(&ctx, msg->body + off, n) == SMFIS_SKIP)
                    break;
            }
            d->xxfi_eom(&ctx);
            fl_mc_message_free(&msg);
        } else {
            d->xxfi_abort(&ctx);
        }
    } else {
        d->xxfi_abort(&ctx);
    }
    d->xxfi_close(&ctx);
    FUZZ_ASSERT(ctx.priv == NULL, "the session context outlived close");
    free(buf);
    return 0;
}
