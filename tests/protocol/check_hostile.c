/* check_hostile: regressions for what a hostile-input probe found, through
   the real daemon -- a long local part that hid the MAIL FROM domain from
   SPF (a reject bypass), a header over libmilter's 64 KiB packet limit that
   dropped the whole session, stalled MTA connections held for two hours,
   and connections accepted but not negotiated yet that SIGTERM reset. */
#include "tests/harness/dns_server.h"
#include "lib/core/buf.h"
#include "tests/protocol/session.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *simple = "From: a@txt.dns.example\nSubject: s\nMessage-ID: <h@x>\n\nbody\n";

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void finish(struct fl_daemon *d, struct fl_mc_session *s)
{
    fl_mc_session_clear(s);
    ck_assert_int_eq(fl_daemon_stop(d), 0);
    fl_daemon_cleanup(d);
}

/* The SPF reject bypass: txt.dns.example's record does not authorise
   198.51.100.7, and a 500-character local part (which Postfix passes) once
   made the address lose its domain, so SPF said "none" and the message
   went through.  It must be refused like the short one. */
START_TEST(long_local_part_is_still_refused_by_spf)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    char *local = repeat('L', 500);
    char sender[600];
    snprintf(sender, sizeof(sender), "%s@txt.dns.example", local);
    struct fl_test_env env = {.client_ip = "198.51.100.7", .sender = sender,
                              .queue_id = "4QLONGLOCAL"};
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom != NULL && eom->code == 'y' && strncmp(eom->text, "550 5.7.23 ", 11) == 0,
                  "a 500-character local part: eom %c %s, want 550 5.7.23",
                  eom ? eom->code : '?', eom && eom->text ? eom->text : "");
    ck_assert(fl_daemon_wait_log(&d, "4QLONGLOCAL: verdict action=reject code=550 dsn=5.7.23 "
                                     "fault=sender reason=spf.not_permitted",
                                 3000));
    free(local);
    finish(&d, &s);
}
END_TEST

/* A long recipient and a long HELO are kept whole too: the session runs
   to its end with the recipient recorded as sent. */
START_TEST(long_recipient_and_helo_are_kept_whole)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    char *local = repeat('r', 400);
    char rcpt[500];
    snprintf(rcpt, sizeof(rcpt), "%s@example.net", local);
    char *helo = repeat('h', 300);
    struct fl_test_env env = {.client_ip = "192.0.2.2", .rcpt = rcpt, .helo = helo,
                              .queue_id = "4QLONGRCPT"};
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    fl_test_run(&d, &env, simple, &s);
    ck_assert(fl_daemon_wait_log(&d, "4QLONGRCPT: verdict action=accept", 3000));
    char *verdicts = fl_daemon_read(d.verdicts);
    ck_assert_msg(strstr(verdicts, rcpt) != NULL, "the verdict record lost the whole recipient");
    ck_assert_msg(strstr(verdicts, helo) != NULL, "the verdict record lost the whole HELO");
    free(verdicts);
    free(local);
    free(helo);
    finish(&d, &s);
}
END_TEST

/* A 100 KB header (Postfix's default header_size_limit is 102400) once
   dropped the session at libmilter's 64 KiB packet cap: the MTA then
   applied milter_default_action and a forged Authentication-Results header
   of ours went through.  Now the message is judged and the forgery removed. */
START_TEST(header_of_100k_is_judged_and_forged_header_removed)
{
    struct fl_daemon d;
    struct fl_mc_session s;
    char *big = repeat('x', 100 * 1024);
    size_t len = strlen(big) + 512;
    char *msg = malloc(len);
    snprintf(msg, len,
             "Authentication-Results: mx.faultline.example; spf=pass smtp.mailfrom=a@bank.example\n"
             "From: a@txt.dns.example\nX-Big: %s\nSubject: s\n\nbody\n",
             big);
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = "4QBIGHDR"};
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    fl_test_run(&d, &env, msg, &s);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom != NULL && eom->code != 'f', "the session was dropped");
    const struct fl_mc_mod *chg;
    ck_assert_uint_eq(fl_test_count_mods(eom, 'm', &chg), 1);
    ck_assert_msg(chg->index == 1 && chg->value[0] == '\0', "forged header not removed");
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(eom, 'i', &ins), 1);
    ck_assert_msg(strstr(ins->value, "mx.faultline.example") != NULL, "%s", ins->value);
    ck_assert(fl_daemon_wait_log(&d, "4QBIGHDR: verdict action=accept", 3000));
    free(big);
    free(msg);
    finish(&d, &s);
}
END_TEST

/* Runs a session up to the middle of the body, stays silent for
   silence_us, then asks for the end of message.  Returns what fl_mc_eom
   returned: -1 when the daemon had closed the session. */
static int stall_mid_body(const char *extra, useconds_t silence_us)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, extra);
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc *mc = fl_mc_create(NULL);
    struct fl_mc_reply r = {0};
    const char *err;
    const char *from[] = {"<a@txt.dns.example>", NULL};
    const char *to[] = {"<rcpt@example.net>", NULL};
    ck_assert_msg(fl_mc_open(mc, d.socket, &err) == 0, "open: %s", err);
    ck_assert(fl_mc_connect(mc, "[192.0.2.2]", '4', 41000, "192.0.2.2", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_helo(mc, "host.dns.example", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_mail(mc, from, &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_rcpt(mc, to, &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_header(mc, "From", " a@txt.dns.example", &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_eoh(mc, &r, &err) == 0);
    fl_mc_reply_clear(&r);
    ck_assert(fl_mc_body(mc, "part", 4, &r, &err) == 0);
    fl_mc_reply_clear(&r);
    usleep(silence_us);
    int rc = fl_mc_eom(mc, &r, &err);
    fl_mc_reply_clear(&r);
    fl_mc_destroy(&mc);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
    return rc;
}

/* An MTA that stops mid-body: the session is closed after
   session_idle_timeout (once two hours), freeing its descriptor; with the
   default (330 s) the same silence is a healthy session. */
START_TEST(stalled_session_is_closed_after_the_idle_timeout)
{
    ck_assert_msg(stall_mid_body("session_idle_timeout = 2s\n", 3500000) < 0,
                  "a session silent for 3.5 s was still open (idle timeout 2 s)");
    ck_assert_msg(stall_mid_body(NULL, 3500000) == 0,
                  "a session silent for 3.5 s was closed with the default idle timeout");
}
END_TEST

/* Connects to the unix socket of spec without negotiating.  Returns the fd. */
static int raw_connect(const char *spec)
{
    const char *path = strchr(spec, ':') + 1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "connect: %s",
                  strerror(errno));
    return fd;
}

/* Sends SMFIC_OPTNEG (version 6) and reads the reply's command letter:
   'O' when the milter negotiated, 0 when the connection was closed or
   reset. */
static char negotiate(int fd)
{
    unsigned char pkt[17];
    uint32_t v = htonl(13), ver = htonl(6), act = htonl(0x1ff), proto = htonl(0x1fffff);
    memcpy(pkt, &v, 4);
    pkt[4] = 'O';
    memcpy(pkt + 5, &ver, 4);
    memcpy(pkt + 9, &act, 4);
    memcpy(pkt + 13, &proto, 4);
    if (send(fd, pkt, sizeof(pkt), MSG_NOSIGNAL) != (ssize_t)sizeof(pkt))
        return 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 5000) != 1)
        return 0;
    unsigned char hdr[5];
    if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr))
        return 0;
    return (char)hdr[4];
}

/* Connections the daemon had accepted before SIGTERM, on which the MTA has
   not negotiated yet, are sessions about to start: once the daemon exited
   under them (reset); now they are served, and only then does it stop. */
START_TEST(connections_accepted_before_sigterm_are_served)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "shutdown_timeout = 5s\n");
    ck_assert(fl_daemon_start(&d) == 0);
    enum { N = 8 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = raw_connect(d.socket);
    usleep(200000); /* libmilter has accepted them all */
    fl_daemon_signal(&d, SIGTERM);
    usleep(300000); /* the daemon is draining */
    ck_assert_msg(fl_daemon_alive(&d), "the daemon exited with connections not negotiated yet");
    for (int i = 0; i < N; i++) {
        char c = negotiate(fds[i]);
        ck_assert_msg(c == 'O', "connection %d: got %s, want a negotiation reply", i,
                      c ? "another reply" : "closed or reset");
        unsigned char quit[5] = {0, 0, 0, 1, 'Q'};
        ck_assert(send(fds[i], quit, sizeof(quit), MSG_NOSIGNAL) == 5);
        close(fds[i]);
    }
    /* New connections are refused meanwhile: the socket name is gone. */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", strchr(d.socket, ':') + 1);
    int late = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_msg(connect(late, (struct sockaddr *)&sun, sizeof(sun)) < 0,
                  "a connection after SIGTERM was accepted");
    close(late);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* Hostile list files on a running daemon: a FIFO once hung the SIGHUP
   reload (and SIGTERM no longer stopped the daemon), /dev/zero once
   "reloaded" with trusted_networks silently empty.  Both are refused, the
   running configuration keeps serving, and SIGTERM still stops it. */
START_TEST(hostile_list_files_fail_the_reload_and_keep_the_daemon)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    char fifo[400], extra[512];
    snprintf(fifo, sizeof(fifo), "%s/networks.fifo", d.dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *lists[] = {fifo, "/dev/zero"};
    for (int i = 0; i < 2; i++) {
        snprintf(extra, sizeof(extra), "trusted_networks = %s\n", lists[i]);
        fl_daemon_write_conf(&d, NULL, extra, true);
        fl_daemon_signal(&d, SIGHUP);
        char want[600];
        snprintf(want, sizeof(want), "cannot read %s: not a regular file", lists[i]);
        ck_assert_msg(fl_daemon_wait_log(&d, want, 5000), "no error for %s", lists[i]);
        ck_assert(fl_daemon_wait_log(&d, "keeping the running configuration", 2000));
    }
    /* still the old trusted_networks (127.0.0.0/8): 192.0.2.2 is checked */
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = "4QAFTERFIFO"};
    fl_test_run(&d, &env, simple, &s);
    const struct fl_mc_mod *ins;
    ck_assert_uint_eq(fl_test_count_mods(fl_test_reply(&s, FL_MC_STEP_EOM), 'i', &ins), 1);
    ck_assert_msg(strstr(ins->value, "spf=") != NULL, "%s", ins->value);
    finish(&d, &s);
}
END_TEST

/* --- hostile traffic: bounded in time and memory -------------------------------- */

static long long vm_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            kb = atoll(line + strlen(field) + 1);
    if (f != NULL)
        fclose(f);
    return kb;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Our AR header: one header (folds only as "\n\t"), our authserv-id, and
   none of the methods in forbidden (an injection would add them). */
static void assert_our_ar_only(const struct fl_mc_reply *eom, const char *label,
                               const char *const *forbidden)
{
    const struct fl_mc_mod *ar = NULL;
    for (size_t i = 0; eom && i < eom->nmods; i++)
        if (eom->mods[i].type == 'i' && strcmp(eom->mods[i].name, "Authentication-Results") == 0)
            ar = &eom->mods[i];
    ck_assert_msg(ar != NULL, "%s: no Authentication-Results header", label);
    for (const char *p = ar->value; *p; p++) {
        if (*p == '\r' || *p == '\n')
            ck_assert_msg(p[0] == '\n' && p[1] == '\t', "%s: a line was injected into: %s",
                          label, ar->value);
    }
    ck_assert_msg(strncmp(ar->value, "mx.faultline.example;", 21) == 0, "%s: %s", label,
                  ar->value);
    /* What an RFC 8601 parser reads as syntax: the header without its
       quoted-strings and comments, where sender text may sit harmlessly. */
    char *bare = strdup(ar->value);
    size_t n = 0;
    int depth = 0, quoted = 0;
    for (const char *p = ar->value; *p; p++) {
        if (*p == '\\' && p[1] != '\0' && (quoted || depth > 0)) {
            p++;
            continue;
        }
        if (!quoted && *p == '(')
            depth++;
        else if (!quoted && *p == ')' && depth > 0)
            depth--;
        else if (depth == 0 && *p == '"')
            quoted = !quoted;
        else if (depth == 0 && !quoted)
            bare[n++] = *p;
    }
    bare[n] = '\0';
    ck_assert_msg(!quoted && depth == 0, "%s: unbalanced quotes or comments: %s", label,
                  ar->value);
    for (size_t i = 0; forbidden && forbidden[i]; i++)
        ck_assert_msg(strstr(bare, forbidden[i]) == NULL, "%s: \"%s\" injected into: %s",
                      label, forbidden[i], ar->value);
    free(bare);
}

struct hostile_row {
    const char *label;
    int kind;
};

enum { MANY_HEADERS, MANY_FROMS, MANY_SIGS, BAD_BYTES, INJECTION, MANY_RCPTS, HUGE_PACKET };

static const struct hostile_row hostile_rows[] = {
    {"10,000 headers", MANY_HEADERS},
    {"1,000 From addresses in several domains", MANY_FROMS},
    {"50 broken DKIM signatures", MANY_SIGS},
    {"bare CR, NUL and invalid UTF-8 in every field", BAD_BYTES},
    {"envelope and HELO crafted to inject results and header lines", INJECTION},
    {"5,000 recipients", MANY_RCPTS},
    {"a 2 MB header packet, past the 1 MiB limit", HUGE_PACKET},
};

static char *hostile_message(int kind)
{
    struct fl_buf b;
    fl_buf_init(&b);
    fl_buf_puts(&b, "Subject: hostile\nMessage-ID: <hostile@x>\n");
    if (kind == MANY_FROMS) {
        fl_buf_puts(&b, "From: a0@txt.dns.example");
        for (int i = 1; i < 1000; i++)
            fl_buf_printf(&b, ",\n a%d@d%d.example", i, i);
        fl_buf_puts(&b, "\n");
    } else {
        fl_buf_puts(&b, "From: a@txt.dns.example\n");
    }
    if (kind == MANY_HEADERS)
        for (int i = 0; i < 10000; i++)
            fl_buf_printf(&b, "X-Many-%d: value %d\n", i, i);
    if (kind == MANY_SIGS)
        for (int i = 0; i < 50; i++)
            fl_buf_printf(&b, "DKIM-Signature: v=1; a=rsa-sha256; d=d%d.example; s=s; "
                              "h=from; bh=AAAA; b=%s%d\n",
                          i, i % 2 ? "!!!" : "AAAA", i);
    if (kind == BAD_BYTES)
        fl_buf_puts(&b, "X-Bad: cr\rinside \xff\xfe not utf-8 \xc3\x28\n"
                        "Authentication-Results: mx.faultline.example; dkim=pass \xff\r\n");
    if (kind == HUGE_PACKET) {
        fl_buf_puts(&b, "X-Huge: ");
        for (int i = 0; i < 2 * 1024 * 1024 / 64; i++)
            fl_buf_puts(&b, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        fl_buf_puts(&b, "\n");
    }
    fl_buf_puts(&b, "\nbody\n");
    if (kind == BAD_BYTES)
        fl_buf_append(&b, "nul\0inside\r\nbare\rcr\xff\n", 22);
    char *text = fl_buf_steal(&b);
    fl_buf_free(&b); /* steal leaves an empty buffer behind */
    return text;
}

START_TEST(hostile_traffic_is_bounded)
{
    const struct hostile_row *row = &hostile_rows[_i];
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "message_deadline = 5s\n");
    ck_assert(fl_daemon_start(&d) == 0);
    char *text = hostile_message(row->kind);
    struct fl_mc_message *msg;
    const char *err;
    size_t len = row->kind == BAD_BYTES ? strlen(text) + 22 : strlen(text);
    ck_assert_msg(fl_mc_message_parse(text, len, &msg, &err) == 0, "parse: %s", err);
    enum { NRCPT = 5000 };
    static char rcpt_buf[NRCPT][40];
    static const char *rcpts[NRCPT + 1];
    size_t nrcpt = row->kind == MANY_RCPTS ? NRCPT : 1;
    for (size_t i = 0; i < nrcpt; i++) {
        snprintf(rcpt_buf[i], sizeof(rcpt_buf[i]), "user%zu@example.net", i);
        rcpts[i] = rcpt_buf[i];
    }
    rcpts[nrcpt] = NULL;
    struct fl_mc_envelope e = {
        .client_addr = "192.0.2.2", .client_port = 41000, .helo = "host.dns.example",
        .sender = "a@txt.dns.example", .rcpts = rcpts, .queue_id = "4QHOSTILE",
    };
    if (row->kind == BAD_BYTES) {
        e.helo = "helo\r.with\xff bytes";
        e.sender = "bad\rbytes\xfe@txt.dns.example";
    }
    if (row->kind == INJECTION) {
        e.helo = "x.example; dkim=pass header.d=bank.example";
        e.sender = "a@txt.dns.example\r\n\tdkim=pass; arc=pass";
        e.client_name = "evil.example;\r\nAuthentication-Results: mx.faultline.example; dmarc=pass";
    }
    struct fl_mc *mc = fl_mc_create(NULL);
    struct fl_mc_session s;
    memset(&s, 0, sizeof(s));
    long long t0 = mono_ms();
    int rc = fl_mc_run_session(mc, d.socket, &e, msg, &s, &err);
    long long took = mono_ms() - t0;
    ck_assert_msg(took < 15000, "%s: the session took %lld ms", row->label, took);
    if (row->kind == HUGE_PACKET) {
        /* libmilter closes a session on a packet over its limit: the MTA
           applies milter_default_action.  The daemon itself goes on. */
        ck_assert(fl_daemon_alive(&d));
    } else {
        ck_assert_msg(rc == 0, "%s: %s", row->label, err);
        const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
        if (row->kind == MANY_FROMS) {
            /* several author domains: DMARC cannot apply, refused (RFC 9989 4.4) */
            ck_assert_msg(eom && eom->code == 'y' && strncmp(eom->text, "550 5.7.26", 10) == 0,
                          "%s: %c %s", row->label, eom ? eom->code : '?',
                          eom && eom->text ? eom->text : "");
        } else {
            static const char *const injected[] = {"dkim=pass", "arc=pass", "dmarc=pass",
                                                   NULL};
            assert_our_ar_only(eom, row->label, injected);
        }
    }
    fl_mc_session_clear(&s);
    fl_mc_destroy(&mc);
    fl_mc_message_free(&msg);
    free(text);
    /* memory stays bounded (message_memory_limit is 4 MB; libmilter's
       packets up to 1 MiB), and the next ordinary session is served */
    long long hwm = vm_kb(d.pid, "VmHWM:");
    ck_assert_msg(hwm > 0 && hwm < 200 * 1024, "%s: peak RSS %lld kB", row->label, hwm);
    struct fl_mc_session next;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = "4QNEXT"};
    fl_test_run(&d, &env, simple, &next);
    ck_assert_ptr_nonnull(fl_test_reply(&next, FL_MC_STEP_EOM));
    fl_mc_session_clear(&next);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("envelope");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, long_local_part_is_still_refused_by_spf);
    tcase_add_test(tc, long_recipient_and_helo_are_kept_whole);
    suite_add_tcase(s, tc);
    tc = tcase_create("session");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, header_of_100k_is_judged_and_forged_header_removed);
    tcase_add_test(tc, stalled_session_is_closed_after_the_idle_timeout);
    tcase_add_test(tc, connections_accepted_before_sigterm_are_served);
    tcase_add_test(tc, hostile_list_files_fail_the_reload_and_keep_the_daemon);
    suite_add_tcase(s, tc);
    tc = tcase_create("traffic");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, hostile_traffic_is_bounded, 0,
                        (int)(sizeof(hostile_rows) / sizeof(hostile_rows[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_test_main(hostile_suite(), NULL);
}
