/* check_faults: the fault matrix through the real daemon.  For every fault
   of the things faultline depends on -- DNS answers that are garbage,
   truncated, of the wrong id, huge, slow, missing; the Redis and LMDB
   greylist stores; the verdict log; clients that drop or stall -- the
   daemon must not crash, must answer every session within its deadline,
   must never refuse or defer mail because of its own side (temperror and
   fault=receiver instead, per on_internal_error), and must come back to
   its idle count of threads and descriptors afterwards. */
#include "tests/harness/dns_server.h"
#include "tests/harness/redis_server.h"
#include "tests/protocol/session.h"

#include <check.h>
#include <jansson.h>
#include <dirent.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct fl_dnsd dnsd;

/* The sender's record authorises 192.0.2.2: without faults the message
   passes SPF, so any refusal below would be ours. */
static const char *msg_text =
    "From: a@txt.dns.example\nSubject: fault\nMessage-ID: <fault@x>\n\nbody\n";

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_entries(pid_t pid, const char *what)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

struct idle_count {
    int threads, fds;
};

/* Established TCP connections to the test DNS server: libunbound keeps an
   outgoing TCP connection for reuse (tcp-reuse-timeout, 60 s) after a
   truncated answer, which is a pooled connection, not a leak. */
static int dns_tcp_connections(pid_t pid)
{
    int n = 0;
    const char *files[] = {"net/tcp", "net/tcp6"};
    for (int i = 0; i < 2; i++) {
        char path[64], line[512];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
        FILE *f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            char rem[128];
            unsigned int st = 0;
            if (sscanf(line, "%*d: %*s %127s %x", rem, &st) != 2 || st != 1)
                continue;
            const char *colon = strrchr(rem, ':');
            if (colon != NULL && (int)strtol(colon + 1, NULL, 16) == dnsd.port)
                n++;
        }
        if (f != NULL)
            fclose(f);
    }
    return n;
}

/* Threads and descriptors, not counting pooled resolver connections. */
static struct idle_count idle_now(struct fl_daemon *d)
{
    struct idle_count c = {count_entries(d->pid, "task"),
                           count_entries(d->pid, "fd") - dns_tcp_connections(d->pid)};
    return c;
}

/* Waits up to 20 s for the daemon to come back to (at most) base: a query
   abandoned at the message deadline may keep its socket in the resolver
   until the resolver's own retries end. */
static void assert_back_to_idle(struct fl_daemon *d, struct idle_count base, const char *label)
{
    struct idle_count c = idle_now(d);
    for (int i = 0; i < 200 && (c.threads > base.threads || c.fds > base.fds); i++) {
        usleep(100000);
        c = idle_now(d);
    }
    ck_assert_msg(c.threads <= base.threads && c.fds <= base.fds,
                  "%s: %d threads and %d descriptors after the fault, %d and %d before", label,
                  c.threads, c.fds, base.threads, base.fds);
}

/* One session from 192.0.2.2 for sender (NULL: a@txt.dns.example).
   Asserts that it was answered within limit_ms (message_deadline plus a
   margin for a machine busy with other work) and neither refused nor
   deferred; returns the Authentication-Results value (malloc'd, "" if
   none). */
static char *session_from(struct fl_daemon *d, const char *sender, const char *queue_id,
                          long long limit_ms, const char *label)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2",
                              .sender = sender ? sender : "a@txt.dns.example",
                              .queue_id = queue_id};
    long long t0 = now_ms();
    fl_test_run(d, &env, msg_text, &s);
    long long took = now_ms() - t0;
    ck_assert_msg(took <= limit_ms, "%s: the session took %lld ms (limit %lld)", label, took,
                  limit_ms);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_msg(eom != NULL, "%s: the message never reached end of message", label);
    ck_assert_msg(eom->code != 'y' && eom->code != 'r' && eom->code != 't',
                  "%s: refused or deferred because of our side: %c %s", label, eom->code,
                  eom->text ? eom->text : "");
    const struct fl_mc_mod *ar = NULL;
    for (size_t i = 0; i < eom->nmods; i++)
        if (eom->mods[i].type == 'i' && strcmp(eom->mods[i].name, "Authentication-Results") == 0)
            ar = &eom->mods[i];
    char *v = strdup(ar ? ar->value : "");
    fl_mc_session_clear(&s);
    return v;
}

static char *session_accepted(struct fl_daemon *d, const char *queue_id, long long limit_ms,
                              const char *label)
{
    return session_from(d, NULL, queue_id, limit_ms, label);
}

/* Warms the daemon up (threads, resolver) without caching the names the
   fault rows need: the sender's domain has no SPF record here. */
static struct idle_count warm_up(struct fl_daemon *d)
{
    free(session_from(d, "a@dns.example", "4QWARM", 8000, "warm-up"));
    return idle_now(d);
}

/* The fault recorded for the first check of method in the verdict record
   of queue_id (every record of it must agree), or "" when absent. */
static const char *recorded_fault(struct fl_daemon *d, const char *queue_id,
                                  const char *method, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", "");
    char *all = fl_daemon_read(d->verdicts);
    for (char *line = strtok(all, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *rec = json_loads(line, 0, NULL);
        if (rec == NULL)
            continue;
        const char *qid = json_string_value(json_object_get(rec, "queue_id"));
        json_t *checks = json_object_get(rec, "checks");
        size_t i;
        json_t *c;
        if (qid != NULL && strcmp(qid, queue_id) == 0) {
            json_array_foreach(checks, i, c)
            {
                const char *m = json_string_value(json_object_get(c, "method"));
                const char *f = json_string_value(json_object_get(c, "fault"));
                if (m != NULL && f != NULL && strcmp(m, method) == 0) {
                    snprintf(out, outlen, "%s", f);
                    break;
                }
            }
        }
        json_decref(rec);
    }
    free(all);
    return out;
}

/* Asserts that queue_id's verdict line was logged (accepted) and that the
   verdict record blames method's fault on want. */
static void assert_fault_recorded(struct fl_daemon *d, const char *queue_id, const char *method,
                                  const char *want, const char *label)
{
    char line[128], got[32];
    snprintf(line, sizeof(line), "%s: verdict action=accept", queue_id);
    ck_assert_msg(fl_daemon_wait_log(d, line, 3000), "%s: no accepting verdict line", label);
    recorded_fault(d, queue_id, method, got, sizeof(got));
    ck_assert_msg(strcmp(got, want) == 0, "%s: %s's fault in the verdict record: got \"%s\", want %s",
                  label, method, got, want);
}

/* Once the resolver answers again, messages are judged normally within a
   few seconds (failures are cached briefly, the probe for dns_probe_cache).
   Until then, a failure is never blamed on never_fault (NULL: any fault
   goes). */
static void assert_dns_recovers(struct fl_daemon *d, const char *never_fault, const char *label)
{
    int recovered = 0;
    for (int i = 0; i < 15 && !recovered; i++) {
        char qid[32], got[32];
        snprintf(qid, sizeof(qid), "4QRECOVER%d", i);
        char *ar = session_accepted(d, qid, 6000 + 4000, "after the fault");
        recovered = strstr(ar, "spf=pass") != NULL;
        free(ar);
        if (recovered)
            break;
        if (never_fault != NULL) {
            char line[64];
            snprintf(line, sizeof(line), "%s: verdict", qid);
            ck_assert_msg(fl_daemon_wait_log(d, line, 3000), "%s: no verdict line", label);
            recorded_fault(d, qid, "spf", got, sizeof(got));
            ck_assert_msg(strcmp(got, never_fault) != 0,
                          "%s: SPF failed %d s after the fault ended, blamed on the %s", label, i,
                          got);
        }
        usleep(1000000);
    }
    ck_assert_msg(recovered, "%s: SPF still failing 15 s after the fault ended", label);
}

/* Replaces the line of the base configuration that starts with prefix
   ("user =") by line (ending in a newline). */
static void conf_replace_base(struct fl_daemon *d, const char *prefix, const char *line)
{
    char *conf = fl_daemon_read(d->conf);
    char *p = strstr(conf, prefix);
    ck_assert_msg(p != NULL, "no \"%s\" in the base configuration", prefix);
    FILE *f = fopen(d->conf, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(conf, 1, (size_t)(p - conf), f);
    fputs(line, f);
    fputs(strchr(p, '\n') + 1, f);
    fclose(f);
    free(conf);
}

/* --- DNS faults ------------------------------------------------------------ */

struct dns_row {
    const char *label;
    const char *faults;     /* the test server's fault file */
    const char *want_spf;   /* "spf=..." in the AR header */
    const char *want_fault; /* SPF's fault in the verdict record, or NULL */
};

/* dns_timeout is the harness's 2 s; message_deadline 6 s. */
static const struct dns_row dns_rows[] = {
    {"garbage answers (a record cut short)", "* ANY malformed\n", "spf=temperror", "receiver"},
    {"answers with the wrong id", "* ANY badid\n", "spf=temperror", "receiver"},
    {"truncated over UDP and TCP refused", "* ANY notcp\n", "spf=temperror", "receiver"},
    {"no answer at all", "* ANY drop\n", "spf=temperror", "receiver"},
    {"every query refused", "* ANY refused\n", "spf=temperror", "receiver"},
    {"every query SERVFAIL", "* ANY servfail\n", "spf=temperror", "receiver"},
    /* slow, under libunbound's first retransmission (376 ms): an answer
       slower than that is retransmitted with backoff and, if the server is
       always that slow, lands after dns_timeout */
    {"slow answers, within the resolver's patience", "* ANY delay 300\n", "spf=pass", NULL},
    {"the sender's zone just over dns_timeout", "txt.dns.example TXT delay 2600\n",
     "spf=temperror", NULL},
    {"the sender's TXT only over TCP, 40 records", "txt.dns.example TXT truncate\n", "spf=pass",
     NULL},
};

START_TEST(dns_fault)
{
    const struct dns_row *row = &dns_rows[_i];
    struct fl_daemon d;
    fl_dnsd_set_faults(&dnsd, NULL); /* whatever an earlier row left */
    fl_daemon_prepare(&d, NULL, "message_deadline = 6s\ndns_probe_cache = 1s\n");
    ck_assert(fl_daemon_start(&d) == 0);
    struct idle_count base = warm_up(&d);
    fl_dnsd_set_faults(&dnsd, row->faults);
    char qid[32];
    snprintf(qid, sizeof(qid), "4QDNSFAULT%d", _i);
    /* several sessions, so a fault cached by the resolver is met too */
    for (int i = 0; i < 3; i++) {
        char *ar = session_accepted(&d, qid, 6000 + 4000, row->label);
        ck_assert_msg(strstr(ar, row->want_spf) != NULL, "%s: want %s in: %s", row->label,
                      row->want_spf, ar);
        free(ar);
    }
    if (row->want_fault != NULL)
        assert_fault_recorded(&d, qid, "spf", row->want_fault, row->label);
    fl_dnsd_set_faults(&dnsd, NULL);
    assert_dns_recovers(&d, NULL, row->label);
    assert_back_to_idle(&d, base, row->label);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* A 64 KB TXT RRset for the sender's SPF name: over TCP, within limits,
   and judged (permerror or pass), never a crash or a hang. */
START_TEST(dns_huge_txt)
{
    char zone[512];
    snprintf(zone, sizeof(zone), "%s/huge.example.zone", dnsd.dir);
    FILE *f = fopen(zone, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "$ORIGIN huge.example.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 60\n"
               "@ NS ns\nns A 192.0.2.53\n@ TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n");
    /* 250 strings of 250 bytes: about 63 KB, the most one DNS message holds */
    for (int r = 0; r < 25; r++) {
        fprintf(f, "@ TXT");
        for (int i = 0; i < 10; i++) {
            fputs(" \"", f);
            for (int j = 0; j < 250; j++)
                fputc('a' + (r + i + j) % 26, f);
            fputc('"', f);
        }
        fputc('\n', f);
    }
    fclose(f);
    fl_dnsd_reload(&dnsd);
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "message_deadline = 5s\n");
    ck_assert(fl_daemon_start(&d) == 0);
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .sender = "a@huge.example",
                              .queue_id = "4QHUGETXT"};
    long long t0 = now_ms();
    fl_test_run(&d, &env, msg_text, &s);
    ck_assert_msg(now_ms() - t0 < 6500, "a 64 KB answer took %lld ms", now_ms() - t0);
    const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
    ck_assert_ptr_nonnull(eom);
    ck_assert_msg(eom->code != 't', "deferred: %s", eom->text ? eom->text : "");
    fl_mc_session_clear(&s);
    ck_assert(fl_daemon_wait_log(&d, "4QHUGETXT: verdict", 3000));
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
    unlink(zone);
    fl_dnsd_reload(&dnsd);
}
END_TEST

/* --- greylist store faults ---------------------------------------------------- */

/* A store that fails makes greylisting fail open: the message is accepted
   (no 451 of ours) and the verdict says greylist temperror, fault=receiver. */
static void assert_greylist_fails_open(struct fl_daemon *d, const char *qid, const char *label)
{
    char *ar = session_accepted(d, qid, 8000, label);
    free(ar);
    char want[128];
    snprintf(want, sizeof(want), "%s: verdict action=accept", qid);
    ck_assert_msg(fl_daemon_wait_log(d, want, 3000), "%s: no accepting verdict", label);
    char *verdicts = fl_daemon_read(d->verdicts);
    ck_assert_msg(strstr(verdicts, "\"greylist\"") != NULL && strstr(verdicts, "receiver"),
                  "%s: no greylist result blamed on us in the record", label);
    free(verdicts);
}

/* The store works again: the first message from a new triplet is
   greylisted (451 4.7.1) within 5 s. */
static void assert_greylisting_resumes(struct fl_daemon *d, const char *qid, const char *label)
{
    struct fl_mc_session s;
    struct fl_test_env env = {.client_ip = "192.0.2.2", .queue_id = qid};
    int deferred = 0;
    for (int i = 0; i < 20 && !deferred; i++) {
        fl_test_run(d, &env, msg_text, &s);
        const struct fl_mc_reply *rr = fl_test_reply(&s, FL_MC_STEP_RCPT);
        deferred = rr->code == 'y' && strncmp(rr->text, "451 4.7.1 ", 10) == 0;
        fl_mc_session_clear(&s);
        if (!deferred)
            usleep(250000);
    }
    ck_assert_msg(deferred, "%s: greylisting did not resume", label);
}

static void redis_daemon(struct fl_daemon *d, const struct fl_redisd *r, const char *more)
{
    char extra[512];
    snprintf(extra, sizeof(extra),
             "greylist_enable = yes\ngreylist_store = redis\ngreylist_redis_server = %s\n"
             "greylist_redis_timeout = 200ms\n%s",
             r->addr, more);
    fl_daemon_prepare(d, NULL, extra);
    ck_assert(fl_daemon_start(d) == 0);
}

START_TEST(redis_killed_slow_and_refusing_auth)
{
    struct fl_redisd r;
    ck_assert(fl_redisd_start(&r) == 0);
    struct fl_daemon d;
    redis_daemon(&d, &r, "");
    /* killed: nobody listens any more; then back on the same port */
    fl_redisd_kill(&r);
    assert_greylist_fails_open(&d, "4QREDISDOWN", "Redis killed");
    ck_assert(fl_redisd_restart(&r) == 0);
    assert_greylisting_resumes(&d, "4QREDISBACK", "Redis back");
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);

    /* slow: a server that accepts and never answers (stopped) */
    redis_daemon(&d, &r, "");
    kill(r.pid, SIGSTOP);
    assert_greylist_fails_open(&d, "4QREDISSLOW", "Redis slower than greylist_redis_timeout");
    kill(r.pid, SIGCONT);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);

    /* our password refused */
    redis_daemon(&d, &r, "greylist_redis_password = wrong\n");
    assert_greylist_fails_open(&d, "4QREDISAUTH", "Redis refusing our password");
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
    fl_redisd_stop(&r);
}
END_TEST

static void make_lmdb_dir(char *dir, size_t size)
{
    snprintf(dir, size, "%s/fl-faults-lmdb-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_tree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(lmdb_full_and_corrupted)
{
    char dir[256];
    make_lmdb_dir(dir, sizeof(dir));
    /* a map of 32 KB fills after a few triplets */
    char extra[512];
    snprintf(extra, sizeof(extra),
             "greylist_enable = yes\ngreylist_lmdb_dir = %s\ngreylist_lmdb_map_size = 32k\n", dir);
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, extra);
    ck_assert(fl_daemon_start(&d) == 0);
    for (int i = 0; i < 60; i++) {
        struct fl_mc_session s;
        char rcpt[256], qid[32];
        snprintf(rcpt, sizeof(rcpt), "user%d-%0160d@example.net", i, i);
        snprintf(qid, sizeof(qid), "4QLMDB%d", i);
        struct fl_test_env env = {.client_ip = "192.0.2.2", .rcpt = rcpt, .queue_id = qid};
        fl_test_run(&d, &env, msg_text, &s);
        const struct fl_mc_reply *rr = fl_test_reply(&s, FL_MC_STEP_RCPT);
        /* a deferral is greylisting's own 451 4.7.1; a full map must not
           turn into any other refusal */
        ck_assert_msg(rr->code != 'y' || strncmp(rr->text, "451 4.7.1 ", 10) == 0,
                      "recipient %d: %s", i, rr->text);
        fl_mc_session_clear(&s);
    }
    char *log = fl_daemon_read(d.log);
    const char *gl = strstr(log, "greylist");
    ck_assert_msg(strstr(log, "is full (greylist_lmdb_map_size") != NULL, "the full map was never reported: %.600s",
                  gl ? gl : "(no greylist line)");
    free(log);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);

    /* a corrupted data file: the daemon starts or refuses to start with a
       message, and never crashes on a session */
    char data[320];
    snprintf(data, sizeof(data), "%s/data.mdb", dir);
    FILE *f = fopen(data, "r+");
    if (f != NULL) {
        for (int i = 0; i < 4096; i++)
            fputc(0xA5, f);
        fclose(f);
    }
    fl_daemon_prepare(&d, NULL, extra);
    if (fl_daemon_start(&d) == 0) {
        assert_greylist_fails_open(&d, "4QLMDBBAD", "a corrupted LMDB file");
        ck_assert_int_eq(fl_daemon_stop(&d), 0);
    }
    fl_daemon_cleanup(&d);
    remove_tree(dir);
}
END_TEST

/* The greylist directory is not writable for the daemon: it drops root for
   nobody (the tests run as root, who could write anywhere) and the
   directory is root's, 0755.  The store cannot open; greylisting fails
   open.  Once the directory is the daemon's, a SIGHUP opens the store and
   greylisting resumes. */
START_TEST(lmdb_dir_unwritable)
{
    struct passwd *pw = getpwnam("nobody");
    ck_assert_msg(pw != NULL, "no user nobody");
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    char dir[256];
    make_lmdb_dir(dir, sizeof(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    char extra[512];
    snprintf(extra, sizeof(extra), "greylist_enable = yes\ngreylist_lmdb_dir = %s\n", dir);
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, extra);
    conf_replace_base(&d, "user =", "user = nobody\n");
    /* nobody reads the configuration again on SIGHUP */
    ck_assert_int_eq(chmod(d.dir, 0755), 0);
    ck_assert_int_eq(chmod(d.conf, 0644), 0);
    ck_assert(fl_daemon_start(&d) == 0);
    ck_assert(fl_daemon_wait_log(&d, "greylisting fails open", 3000));
    struct idle_count base = warm_up(&d);
    assert_greylist_fails_open(&d, "4QLMDBRO1", "greylist directory not writable");
    /* a reload tries the store again, and fails again without a leak */
    fl_daemon_signal(&d, SIGHUP);
    ck_assert(fl_daemon_wait_log(&d, "reload: greylist store", 5000));
    assert_greylist_fails_open(&d, "4QLMDBRO2", "greylist directory not writable, reloaded");
    assert_back_to_idle(&d, base, "greylist directory not writable");

    /* (the open store then holds descriptors of its own) */
    ck_assert_int_eq(chown(dir, uid, gid), 0);
    fl_daemon_signal(&d, SIGHUP);
    assert_greylisting_resumes(&d, "4QLMDBRW", "greylist directory writable again");
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
    remove_tree(dir);
}
END_TEST

/* --- the verdict log ---------------------------------------------------------- */

START_TEST(verdict_log_full_or_deleted)
{
    /* /dev/full: every write fails with ENOSPC */
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    conf_replace_base(&d, "verdict_log = ", "verdict_log = /dev/full\n");
    ck_assert(fl_daemon_start(&d) == 0);
    for (int i = 0; i < 3; i++)
        free(session_accepted(&d, "4QDEVFULL", 10000, "verdict log on a full disk"));
    ck_assert(fl_daemon_alive(&d));
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);

    /* deleted under the daemon: sessions go on; SIGHUP creates it again */
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    free(session_accepted(&d, "4QBEFOREDEL", 10000, "before the deletion"));
    ck_assert_int_eq(unlink(d.verdicts), 0);
    free(session_accepted(&d, "4QDELETED", 10000, "verdict log deleted"));
    fl_daemon_signal(&d, SIGHUP);
    ck_assert(fl_daemon_wait_log(&d, "configuration reloaded", 5000));
    free(session_accepted(&d, "4QREOPENED", 10000, "after SIGHUP"));
    char *v = fl_daemon_read(d.verdicts);
    ck_assert_msg(strstr(v, "4QREOPENED") != NULL, "the reopened verdict log has no record");
    free(v);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* --- clients that drop ------------------------------------------------------------ */

/* The MTA drops the connection after each stage in turn: no crash, and
   the next session is served normally; descriptors and threads return. */
START_TEST(client_drops_at_every_stage)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    struct idle_count base = warm_up(&d);
    const char *from[] = {"<a@txt.dns.example>", NULL};
    const char *to[] = {"<rcpt@example.net>", NULL};
    for (int stage = 0; stage < 9; stage++) {
        struct fl_mc *mc = fl_mc_create(NULL);
        struct fl_mc_reply r = {0};
        const char *err;
        ck_assert_msg(fl_mc_open(mc, d.socket, &err) == 0, "open: %s", err);
        int ok = 1;
        for (int s = 0; s < stage && ok; s++) {
            switch (s) {
            case 0: ok = fl_mc_connect(mc, "[192.0.2.2]", '4', 41000, "192.0.2.2", &r, &err) == 0; break;
            case 1: ok = fl_mc_helo(mc, "host.dns.example", &r, &err) == 0; break;
            case 2: ok = fl_mc_mail(mc, from, &r, &err) == 0; break;
            case 3: ok = fl_mc_rcpt(mc, to, &r, &err) == 0; break;
            case 4: ok = fl_mc_data(mc, &r, &err) == 0; break;
            case 5: ok = fl_mc_header(mc, "From", " a@txt.dns.example", &r, &err) == 0; break;
            case 6: ok = fl_mc_eoh(mc, &r, &err) == 0; break;
            case 7: ok = fl_mc_body(mc, "body\r\n", 6, &r, &err) == 0; break;
            }
            fl_mc_reply_clear(&r);
        }
        ck_assert_msg(ok, "stage %d: %s", stage, err);
        fl_mc_destroy(&mc); /* dropped without QUIT */
    }
    free(session_accepted(&d, "4QAFTERDROPS", 10000, "after the drops"));
    assert_back_to_idle(&d, base, "dropped clients");
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* --- signals under load ------------------------------------------------------------ */

struct flight {
    struct fl_daemon *d;
    int index;
    int answered; /* end of message reached and not refused or deferred */
};

static void *one_flight(void *arg)
{
    struct flight *f = arg;
    struct fl_mc_message *msg;
    const char *err;
    if (fl_mc_message_parse(msg_text, strlen(msg_text), &msg, &err) != 0)
        return NULL;
    struct fl_mc *mc = fl_mc_create(NULL);
    char qid[32];
    snprintf(qid, sizeof(qid), "4QFLIGHT%d", f->index);
    const char *rcpts[] = {"rcpt@example.net", NULL};
    struct fl_mc_envelope e = {.client_addr = "192.0.2.2", .client_port = 41000,
                               .helo = "host.dns.example", .sender = "a@txt.dns.example",
                               .rcpts = rcpts, .queue_id = qid};
    struct fl_mc_session s;
    memset(&s, 0, sizeof(s));
    if (fl_mc_run_session(mc, f->d->socket, &e, msg, &s, &err) == 0) {
        const struct fl_mc_reply *eom = fl_test_reply(&s, FL_MC_STEP_EOM);
        f->answered = eom != NULL && eom->code != 'y' && eom->code != 't' && eom->code != 'r';
    }
    fl_mc_session_clear(&s);
    fl_mc_destroy(&mc);
    fl_mc_message_free(&msg);
    return NULL;
}

/* 100 sessions in flight (every DNS answer 300 ms late), a storm of 50
   SIGHUPs, then SIGTERM: every session is answered, none refused, and the
   daemon drains and exits 0. */
START_TEST(sighup_storm_and_sigterm_with_100_sessions)
{
    enum { N = 100 };
    struct fl_daemon d;
    fl_dnsd_set_faults(&dnsd, "* ANY delay 300\n");
    fl_daemon_prepare(&d, NULL, "shutdown_timeout = 20s\n");
    ck_assert(fl_daemon_start(&d) == 0);
    static struct flight flights[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        flights[i] = (struct flight){.d = &d, .index = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, one_flight, &flights[i]), 0);
    }
    usleep(100000);
    for (int i = 0; i < 50; i++)
        fl_daemon_signal(&d, SIGHUP);
    usleep(100000);
    fl_daemon_signal(&d, SIGTERM);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    int answered = 0;
    for (int i = 0; i < N; i++)
        answered += flights[i].answered;
    fl_dnsd_set_faults(&dnsd, NULL);
    ck_assert_msg(answered == N, "%d of %d sessions answered through the storm and SIGTERM",
                  answered, N);
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
}
END_TEST

/* --- our resolver dies and comes back ------------------------------------------ */

/* The forwarder is killed (as a crash would) while five sessions wait for
   its slow answers, stays dead for three more sessions, and comes back on
   the same port.  In flight and meanwhile: answered within the deadline,
   SPF temperror with fault=receiver, accepted (on_internal_error); after:
   normal results within seconds, a failure until then still ours. */
START_TEST(resolver_dies_and_returns)
{
    enum { N = 5 };
    struct fl_dnsd own; /* its own server: the shared one serves the other tests */
    ck_assert(fl_dnsd_start(&own, NULL, NULL) == 0);
    fl_daemon_use_dns(own.addr);
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, "message_deadline = 6s\ndns_probe_cache = 2s\n");
    fl_daemon_use_dns(dnsd.addr);
    ck_assert(fl_daemon_start(&d) == 0);
    struct idle_count base = warm_up(&d);

    fl_dnsd_set_faults(&own, "* ANY delay 1500\n");
    static struct flight flights[N];
    pthread_t th[N];
    long long t0 = now_ms();
    for (int i = 0; i < N; i++) {
        flights[i] = (struct flight){.d = &d, .index = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, one_flight, &flights[i]), 0);
    }
    usleep(500000);
    fl_dnsd_kill(&own);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    long long took = now_ms() - t0;
    for (int i = 0; i < N; i++)
        ck_assert_msg(flights[i].answered, "session %d in flight when the resolver died: "
                      "not answered, or refused", i);
    ck_assert_msg(took <= 6000 + 4000, "the sessions in flight took %lld ms", took);

    for (int i = 0; i < 3; i++) {
        char qid[32];
        snprintf(qid, sizeof(qid), "4QRESOLVERDEAD%d", i);
        char *ar = session_accepted(&d, qid, 6000 + 4000, "resolver dead");
        ck_assert_msg(strstr(ar, "spf=temperror") != NULL, "resolver dead: %s", ar);
        free(ar);
        assert_fault_recorded(&d, qid, "spf", "receiver", "resolver dead");
    }

    /* back: names that failed while it was down may fail a few seconds
       more (the resolver library caches failures), but those failures are
       ours, never the sender's */
    ck_assert(fl_dnsd_restart(&own, NULL) == 0);
    assert_dns_recovers(&d, "sender", "resolver back on its port");
    assert_back_to_idle(&d, base, "resolver died and came back");
    ck_assert_int_eq(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
    fl_dnsd_stop(&own);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("dns");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, dns_fault, 0, (int)(sizeof(dns_rows) / sizeof(dns_rows[0])));
    tcase_add_test(tc, dns_huge_txt);
    suite_add_tcase(s, tc);
    tc = tcase_create("resolver");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, resolver_dies_and_returns);
    suite_add_tcase(s, tc);
    tc = tcase_create("stores");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, redis_killed_slow_and_refusing_auth);
    tcase_add_test(tc, lmdb_full_and_corrupted);
    tcase_add_test(tc, lmdb_dir_unwritable);
    tcase_add_test(tc, verdict_log_full_or_deleted);
    suite_add_tcase(s, tc);
    tc = tcase_create("clients");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, client_drops_at_every_stage);
    tcase_add_test(tc, sighup_storm_and_sigterm_with_100_sessions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_test_main(faults_suite(), &dnsd);
}
