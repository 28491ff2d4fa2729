/* ctl_dmarc_send: delivery of aggregate reports (RFC 9990 section 2.4 and
   section 4).
   - rua= is a comma-separated list of URIs, read in order; only mailto:
     is supported; a malformed URI is skipped with a reason (RFC 9990:
     "SHOULD be ignored").  A size limit "!10m" (k/m/g/t, powers of 1024)
     is compared with the whole message; a larger report is not sent to
     that URI.  At most report_max_uris URIs per report.
   - External destinations: when the destination host is not the policy
     domain's Organizational Domain or below it, the TXT record
     <policy-domain>._report._dmarc.<destination-host> must hold a record
     starting with v=DMARC1 (through lib/dns); its rua=, if any, replaces
     the URI, and must name the same host (else neither is used).  A DNS
     failure is temporary: the run exits 75 and a rerun tries again.
     The Organizational Domain is the one the daemon recorded for the
     Author Domain, else the policy domain itself: a destination outside
     it is verified even when a tree walk would have found them related
     (verifying too often is safe; mailing a victim is not).
   - The message: RFC 5322 + MIME, From report_email, Subject "Report
     Domain: D Submitter: S Report-ID: <ID>", a text part and the
     application/gzip attachment named as RFC 9990 2.4.2 asks, base64.
     It goes to report_sendmail (sendmail(1): -oi -f FROM -- RCPT, the
     message on stdin); a non-zero exit is a failed delivery.
   - FILE.sent in the report directory lists the URIs a report went to: a
     rerun for the same period does not send it to them again.
   --dry-run writes each message as FILE.ADDRESS.eml instead of sending.
   Single-threaded. */
#include "milter/ctl_dmarc.h"
#include "lib/dmarc/dmarc.h"
#include "lib/dns/dns.h"
#include "lib/core/xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_URIS 20
#define MAX_LIMIT (1ULL << 50) /* a petabyte: larger limits are typos */

struct fl_dr_sender {
    const struct fl_config *cfg;
    const struct fl_dr_settings *s;
    struct fl_dns *dns;
    char *dns_error; /* why the resolver could not be created */
};


struct fl_dr_sender *fl_dr_sender_new(const struct fl_config *cfg, const struct fl_dr_settings *s)
{
    struct fl_dr_sender *snd = fl_calloc(1, sizeof(*snd));
    snd->cfg = cfg;
    snd->s = s;
    return snd;
}

void fl_dr_sender_free(struct fl_dr_sender **snd)
{
    if (*snd == NULL)
        return;
    fl_dns_destroy(&(*snd)->dns);
    free((*snd)->dns_error);
    free(*snd);
    *snd = NULL;
}

bool fl_dr_domain_ok(const char *d)
{
    size_t n = strlen(d), label = 0;
    if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || strchr(d, '.') == NULL)
        return false;
    for (const char *p = d; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                  (*p == '-' && label > 0);
        if (!ok || ++label > 63)
            return false;
    }
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int fl_dr_parse_uri(const char *text, size_t n, struct fl_dr_uri *u, const char **why_r)
{
    while (n > 0 && (*text == ' ' || *text == '\t'))
        text++, n--;
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
        n--;
    memset(u, 0, sizeof(*u));
    snprintf(u->text, sizeof(u->text), "%.*s", (int)(n < 500 ? n : 500), text);
    for (char *p = u->text; *p; p++)
        if (*p < ' ' || *p >= 0x7f)
            *p = '?';
    if (n < 7 || strncasecmp(text, "mailto:", 7) != 0) {
        *why_r = "not a mailto: URI (the only scheme supported)";
        return -1;
    }
    text += 7;
    n -= 7;
    /* RFC 7489 6.2 size limit, kept by RFC 9989 readers: URI "!" size. */
    const char *bang = memchr(text, '!', n);
    size_t body = bang ? (size_t)(bang - text) : n;
    if (bang != NULL) {
        const char *p = bang + 1, *end = text + n;
        unsigned long long v = 0;
        if (p == end) {
            *why_r = "empty size limit after \"!\"";
            return -1;
        }
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (v > MAX_LIMIT / 10) {
                *why_r = "size limit too large";
                return -1;
            }
            v = v * 10 + (unsigned long long)(*p - '0');
        }
        if (p < end) {
            static const char units[] = "kmgt";
            const char *k = strchr(units, *p | 0x20);
            if (k == NULL || p + 1 != end || *p == '\0') {
                *why_r = "bad size limit (digits and one of k, m, g, t)";
                return -1;
            }
            for (const char *q = units; q <= k; q++) {
                if (v > MAX_LIMIT / 1024) {
                    *why_r = "size limit too large";
                    return -1;
                }
                v *= 1024;
            }
        }
        if (v == 0) {
            *why_r = "size limit of zero";
            return -1;
        }
        u->limit = v;
    }
    /* The address, percent-decoded, up to any "?hfields". */
    size_t o = 0;
    for (size_t i = 0; i < body && text[i] != '?'; i++) {
        char c = text[i];
        if (c == '%' && i + 2 < body && hexval(text[i + 1]) >= 0 &&
            hexval(text[i + 2]) >= 0) {
            c = (char)(hexval(text[i + 1]) * 16 + hexval(text[i + 2]));
            i += 2;
        }
        if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == ',' || c == '"' ||
            c == '(' || c == ')' || c == ';' || c == '\\' || o + 1 >= sizeof(u->addr)) {
            *why_r = "bad character in the address";
            return -1;
        }
        u->addr[o++] = c;
    }
    u->addr[o] = '\0';
    const char *at = strrchr(u->addr, '@');
    if (at == NULL || at == u->addr || strchr(u->addr, '@') != at) {
        *why_r = "no local-part@domain address";
        return -1;
    }
    snprintf(u->host, sizeof(u->host), "%s", at + 1);
    for (char *p = u->host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (!fl_dr_domain_ok(u->host)) {
        *why_r = "the address has no valid domain";
        return -1;
    }
    return 0;
}

static void say(const struct fl_dr_report *rep, const struct fl_dr_uri *u, const char *result,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void say(const struct fl_dr_report *rep, const struct fl_dr_uri *u, const char *result,
                const char *fmt, ...)
{
    printf("send domain=%s uri=%s result=%s", rep->d->domain, u->text, result);
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        putchar(' ');
        vprintf(fmt, ap);
        va_end(ap);
    }
    putchar('\n');
}

/* Is host inside org (equal, or a name below it)? */
static bool inside(const char *host, const char *org)
{
    size_t h = strlen(host), o = strlen(org);
    return strcasecmp(host, org) == 0 ||
           (h > o && host[h - o - 1] == '.' && strcasecmp(host + h - o, org) == 0);
}

/* RFC 9990 section 4.  Returns 1 authorised (*u may be replaced by the
   Report Consumer's rua=, *nu set), 0 not (*why_r), -1 temporary DNS
   failure (*why_r). */
static int verify(struct fl_dr_sender *snd, const char *policy_domain, struct fl_dr_uri *u,
                  struct fl_dr_uri *over, size_t *nover, struct fl_buf *why)
{
    *nover = 0;
    struct fl_buf name;
    fl_buf_init(&name);
    fl_buf_printf(&name, "%s._report._dmarc.%s", policy_domain, u->host);
    if (name.len > 253) {
        fl_buf_printf(why, "%s is longer than DNS allows", name.data);
        fl_buf_free(&name);
        return 0;
    }
    if (snd->dns == NULL && snd->dns_error == NULL) {
        struct fl_buf err;
        fl_buf_init(&err);
        if (fl_dns_create(snd->cfg, &snd->dns, &err) < 0)
            snd->dns_error = fl_buf_steal(&err);
        fl_buf_free(&err);
    }
    if (snd->dns == NULL) {
        fl_buf_printf(why, "resolver: %s", snd->dns_error);
        fl_buf_free(&name);
        return -1;
    }
    struct fl_dns_query *q = fl_dns_start(snd->dns, name.data, FL_DNS_TXT, 0);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    int rc = 0;
    if (a->status == FL_DNS_NXDOMAIN || a->status == FL_DNS_NODATA) {
        fl_buf_printf(why, "not authorised: no TXT record at %s (%s)", name.data,
                      fl_dns_status_name(a->status));
    } else if (a->status != FL_DNS_OK) {
        fl_buf_puts(why, "verification failed for now: ");
        fl_dns_describe(a, why);
        rc = -1;
    } else {
        fl_buf_printf(why, "not authorised: no v=DMARC1 record at %s", name.data);
        for (size_t i = 0; i < a->count && rc == 0; i++) {
            struct fl_dmarc_record rec;
            if (fl_dmarc_record_parse(a->records[i].data, a->records[i].len, &rec) != 1)
                continue;
            rc = 1;
            fl_buf_reset(why);
            fl_buf_printf(why, "authorised by %s", name.data);
            /* Step 9: the Report Consumer's rua replaces ours, same host. */
            const char *p = rec.rua;
            while (*p && *nover < MAX_URIS) {
                const char *c = strchr(p, ',');
                size_t n = c ? (size_t)(c - p) : strlen(p);
                const char *bad;
                struct fl_dr_uri o;
                if (fl_dr_parse_uri(p, n, &o, &bad) == 0) {
                    if (strcmp(o.host, u->host) != 0) {
                        fl_buf_reset(why);
                        fl_buf_printf(why, "not authorised: %s names another host in rua=%s",
                                      name.data, o.text);
                        rc = 0;
                        *nover = 0;
                        break;
                    }
                    over[(*nover)++] = o;
                }
                p += n + (c ? 1 : 0);
            }
        }
    }
    fl_dns_query_free(&q);
    fl_buf_free(&name);
    return rc;
}

static void base64(struct fl_buf *out, const unsigned char *d, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        fl_buf_putc(out, tab[(v >> 18) & 63]);
        fl_buf_putc(out, tab[(v >> 12) & 63]);
        fl_buf_putc(out, i + 1 < n ? tab[(v >> 6) & 63] : '=');
        fl_buf_putc(out, i + 2 < n ? tab[v & 63] : '=');
        if ((col += 4) == 76) {
            fl_buf_putc(out, '\n');
            col = 0;
        }
    }
    if (col)
        fl_buf_putc(out, '\n');
}

static void message(const struct fl_dr_settings *s, const struct fl_dr_report *rep,
                    const char *to, struct fl_buf *m)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char boundary[64];
    snprintf(boundary, sizeof(boundary), "=_faultline_%lld_%lld", s->begin, s->end);
    fl_buf_printf(m, "From: %s\n", s->email);
    fl_buf_printf(m, "To: %s\n", to);
    fl_buf_printf(m, "Date: %s\n", date);
    /* RFC 9990 2.4.2 dmarc-subject, folded before Submitter: and
       Report-ID: (1*FWS). */
    fl_buf_printf(m, "Subject: Report Domain: %s\n Submitter: %s\n Report-ID: <%s>\n",
                  rep->d->domain, s->submitter, rep->report_id);
    fl_buf_printf(m, "Message-ID: <%s>\n", rep->report_id);
    fl_buf_puts(m, "Auto-Submitted: auto-generated\n");
    fl_buf_puts(m, "MIME-Version: 1.0\n");
    fl_buf_printf(m, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n", boundary);
    fl_buf_puts(m, "This is a multi-part message in MIME format.\n\n");
    fl_buf_printf(m, "--%s\nContent-Type: text/plain; charset=us-ascii\n"
                     "Content-Transfer-Encoding: 7bit\n\n", boundary);
    fl_buf_printf(m, "This is a DMARC aggregate report (RFC 9990) for %s from %s,\n"
                     "covering %lld to %lld (seconds since the epoch, UTC): %lu messages.\n"
                     "Questions: %s\n\n",
                  rep->d->domain, s->org_name, s->begin, s->end, rep->d->messages, s->email);
    fl_buf_printf(m, "--%s\nContent-Type: application/gzip; name=\"%s\"\n"
                     "Content-Disposition: attachment; filename=\"%s\"\n"
                     "Content-Transfer-Encoding: base64\n\n",
                  boundary, rep->file_name, rep->file_name);
    base64(m, rep->gz, rep->gz_len);
    fl_buf_printf(m, "\n--%s--\n", boundary);
}

/* Runs report_sendmail with the message on stdin.  Returns 0 when it
   exited 0, else -1 with why filled. */
static int sendmail(const char *command, const char *from, const char *to,
                    const struct fl_buf *m, struct fl_buf *why)
{
    char *copy = fl_strdup(command);
    char *argv[32];
    int argc = 0;
    for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w && argc < 24;
         w = strtok_r(NULL, " \t", &save))
        argv[argc++] = w;
    if (argc == 0) {
        fl_buf_puts(why, "report_sendmail is empty");
        free(copy);
        return -1;
    }
    argv[argc++] = "-oi";
    argv[argc++] = "-f";
    argv[argc++] = (char *)from;
    argv[argc++] = "--";
    argv[argc++] = (char *)to;
    argv[argc] = NULL;
    int fds[2];
    if (pipe(fds) < 0) {
        fl_buf_printf(why, "pipe: %s", strerror(errno));
        free(copy);
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fl_buf_printf(why, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(copy);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        fprintf(stderr, "faultlinectl: dmarc-report: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    close(fds[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    const char *p = m->data;
    size_t left = m->len;
    bool write_failed = false;
    while (left > 0) {
        ssize_t w = write(fds[1], p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            write_failed = true;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    close(fds[1]);
    signal(SIGPIPE, old);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !write_failed) {
        rc = 0;
    } else {
        rc = -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            fl_buf_printf(why, "%s exited before reading the whole message", argv[0]);
        else if (WIFEXITED(status))
            fl_buf_printf(why, "%s exited %d", argv[0], WEXITSTATUS(status));
        else
            fl_buf_printf(why, "%s killed by signal %d", argv[0],
                          WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    free(copy);
    return rc;
}

/* FILE.sent of a report, opened with mode, or NULL. */
static FILE *open_sent(const char *dir, const char *file, const char *mode)
{
    struct fl_buf path;
    fl_buf_init(&path);
    fl_buf_printf(&path, "%s/%s.sent", dir, file);
    FILE *f = fopen(path.data, mode);
    fl_buf_free(&path);
    return f;
}

/* Was the report already sent to addr (a line of FILE.sent)? */
static bool already_sent(const char *dir, const char *file, const char *addr)
{
    FILE *f = open_sent(dir, file, "r");
    if (f == NULL)
        return false;
    char line[400];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        line[strcspn(line, " \n")] = '\0';
        found = strcmp(line, addr) == 0;
    }
    fclose(f);
    return found;
}

static int mark_sent(const char *dir, const char *file, const char *addr)
{
    FILE *f = open_sent(dir, file, "a");
    if (f == NULL)
        return -1;
    fprintf(f, "%s %lld\n", addr, (long long)time(NULL));
    return fclose(f);
}

/* Delivers to one (verified) address. */
static int deliver(struct fl_dr_sender *snd, const struct fl_dr_report *rep, const struct fl_dr_uri *u,
                   const char *how)
{
    const struct fl_dr_settings *s = snd->s;
    if (already_sent(s->out_dir, rep->file_name, u->addr)) {
        say(rep, u, "already-sent", "to=%s", u->addr);
        return 0;
    }
    struct fl_buf m, why;
    fl_buf_init(&m);
    fl_buf_init(&why);
    message(s, rep, u->addr, &m);
    int rc = 0;
    if (u->limit > 0 && m.len > u->limit) {
        say(rep, u, "skipped", "to=%s reason=\"message of %zu bytes is over the limit of %llu\"",
            u->addr, m.len, u->limit);
        rc = FL_DR_SKIPPED;
    } else if (s->dry_run) {
        struct fl_buf name;
        fl_buf_init(&name);
        fl_buf_printf(&name, "%s.%s.eml", rep->file_name, u->addr);
        if (fl_dr_write_file(s->out_dir, name.data, m.data, m.len) < 0) {
            fprintf(stderr, "faultlinectl: dmarc-report: cannot write %s/%s: %s\n", s->out_dir,
                    name.data, strerror(errno));
            rc = FL_DR_CANTCREAT;
        } else {
            say(rep, u, "dry-run", "to=%s %s bytes=%zu file=%s", u->addr, how, m.len, name.data);
        }
        fl_buf_free(&name);
    } else if (sendmail(s->sendmail, s->email, u->addr, &m, &why) < 0) {
        say(rep, u, "failed", "to=%s reason=\"%s\"", u->addr, why.data);
        rc = FL_DR_TEMPFAIL;
    } else {
        say(rep, u, "sent", "to=%s %s bytes=%zu", u->addr, how, m.len);
        if (mark_sent(s->out_dir, rep->file_name, u->addr) < 0)
            fprintf(stderr, "faultlinectl: dmarc-report: cannot record the delivery in %s/%s.sent"
                            ": %s\n", s->out_dir, rep->file_name, strerror(errno));
    }
    fl_buf_free(&m);
    fl_buf_free(&why);
    return rc;
}

int fl_dr_send(struct fl_dr_sender *snd, const struct fl_dr_report *rep)
{
    const struct fl_dr_domain *d = rep->d;
    /* The policy domain's Organizational Domain: the one recorded for the
       Author Domain when the policy domain is inside it (not for a PSD
       record, found above it), else the policy domain itself. */
    const char *org = d->domain;
    if (d->org_domain != NULL && fl_dr_domain_ok(d->org_domain) && inside(d->domain, d->org_domain))
        org = d->org_domain;
    int status = 0;
    unsigned long used = 0;
    const char *p = d->rua ? d->rua : "";
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        struct fl_dr_uri u;
        const char *bad;
        if (fl_dr_parse_uri(p, n, &u, &bad) < 0) {
            say(rep, &u, "skipped", "reason=\"malformed: %s\"", bad);
            status = fl_dr_worse(status, FL_DR_SKIPPED);
        } else if (used >= snd->s->max_uris) {
            say(rep, &u, "skipped", "reason=\"more than report_max_uris=%lu URIs\"",
                snd->s->max_uris);
            status = fl_dr_worse(status, FL_DR_SKIPPED);
        } else if (inside(u.host, org)) {
            used++;
            status = fl_dr_worse(status, deliver(snd, rep, &u, "verification=same-organization"));
        } else {
            used++;
            struct fl_dr_uri over[MAX_URIS];
            size_t nover;
            struct fl_buf why;
            fl_buf_init(&why);
            int v = verify(snd, d->domain, &u, over, &nover, &why);
            if (v < 0) {
                say(rep, &u, "failed", "reason=\"%s\"", why.data);
                status = fl_dr_worse(status, FL_DR_TEMPFAIL);
            } else if (v == 0) {
                say(rep, &u, "skipped", "reason=\"%s\"", why.data);
                status = fl_dr_worse(status, FL_DR_SKIPPED);
            } else if (nover == 0) {
                status = fl_dr_worse(status, deliver(snd, rep, &u, "verification=external"));
            } else {
                for (size_t i = 0; i < nover; i++) {
                    if (over[i].limit == 0)
                        over[i].limit = u.limit;
                    status = fl_dr_worse(status,
                                         deliver(snd, rep, &over[i], "verification=external-rua"));
                }
            }
            fl_buf_free(&why);
        }
        p += n + (c ? 1 : 0);
    }
    return status;
}
