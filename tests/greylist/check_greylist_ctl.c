/* check_greylist_ctl: the built `faultlinectl greylist` binary on prepared
   stores, LMDB and Redis alike.

   The store is filled through lib/greylist with a clock set in the past
   (faultlinectl runs on the real clock): a triplet deferred three days ago
   and never retried, one that passed an hour ago, one pending for ten
   minutes, and a client network auto-allowed after five retries.  Then a
   sequence of commands -- stats, list with each filter, expire, allow,
   remove -- each checked for its exit status and output, and the error
   cases for their documented exit statuses (64 usage, 65 bad value, 69
   store, 78 configuration).

   The binary is $FAULTLINECTL, else $top_builddir/milter/faultlinectl
   (make check exports top_builddir).  The Redis half is skipped when
   redis-server is not installed.  Run by `make check`. */
#include "lib/greylist/greylist.h"
#include "lib/core/log.h"
#include "tests/harness/redis_server.h"
#include "tests/greylist/greylist_fixture.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void ctl_path(char *out, size_t outlen)
{
    const char *env = getenv("FAULTLINECTL");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, outlen, "%s", env);
        return;
    }
    const char *top = getenv("top_builddir");
    snprintf(out, outlen, "%s/milter/faultlinectl", top && *top ? top : ".");
}

/* Runs faultlinectl -c conf ARGS (args split at spaces); returns its exit
   status with its stdout in *out_r and stderr in *err_r (free both). */
static int run_ctl(const char *conf, const char *args, char **out_r, char **err_r)
{
    char path[PATH_MAX], copy[512], errfile[] = "/tmp/fl-ctl-err-XXXXXX";
    ctl_path(path, sizeof(path));
    snprintf(copy, sizeof(copy), "%s", args);
    char *argv[32] = {path, "-c", (char *)conf};
    int argc = 3;
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok && argc < 31;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    int efd = mkstemp(errfile);
    int pfd[2];
    ck_assert(efd >= 0 && pipe(pfd) == 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        dup2(efd, STDERR_FILENO);
        close(pfd[0]);
        execv(path, argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 65536, len = 0;
    char *out = calloc(1, cap);
    ck_assert(out != NULL);
    ssize_t n;
    while ((n = read(pfd[0], out + len, cap - len - 1)) > 0 || (n < 0 && errno == EINTR))
        len += n > 0 ? (size_t)n : 0;
    close(pfd[0]);
    int status;
    waitpid(pid, &status, 0);
    char *err = calloc(1, 8192);
    ck_assert(err != NULL);
    ck_assert(pread(efd, err, 8191, 0) >= 0);
    close(efd);
    unlink(errfile);
    *out_r = out;
    *err_r = err;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 127, "cannot run %s", path);
    return WEXITSTATUS(status);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Fills the store of f (see the file comment). */
static void prepare(struct gl_fixture *f)
{
    struct fl_greylist_decision d;
    time_t now = time(NULL);
    f->now = now - 3 * DAY;
    ck_assert(glf_decide(f, "192.0.2.1", "old@example.org", "r@example.net", &d) == 0);
    f->now = now - HOUR;
    glf_decide(f, "192.0.2.1", "a@example.org", "r@example.net", &d);
    f->now += 300;
    ck_assert(glf_decide(f, "192.0.2.1", "a@example.org", "r@example.net", &d) == 1);
    f->now = now - 600;
    ck_assert(glf_decide(f, "198.51.100.5", "p@example.org", "r@other.example", &d) == 0);
    for (int i = 0; i < 5; i++) {
        char sender[64];
        snprintf(sender, sizeof(sender), "bulk%c@example.org", 'a' + i);
        f->now = now - 2 * HOUR;
        glf_decide(f, "203.0.113.9", sender, "r@example.net", &d);
        f->now += 400;
        ck_assert(glf_decide(f, "203.0.113.9", sender, "r@example.net", &d) == 1);
    }
    ck_assert(d.client_now_allowed);
}

struct ctl_step {
    const char *label;
    const char *args;
    int want_status;
    const char *want_out[3]; /* substrings of stdout */
    int want_lines;          /* -1: not checked */
};

/* clang-format off */
static const struct ctl_step steps[] = {
    {"stats counts triplets by state and client networks", "greylist stats", 0,
     {"triplets=8\npending=1\npassed=6\nnever_retried=1\n", "clients=2\ncounting=1\nauto_allowed=1\n",
      "hit_rate="}, -1},
    {"list shows triplets and clients, not pairs", "greylist list", 0,
     {"triplet state=passed net=192.0.2.0/24 sender=a@example.org recipient=r@example.net",
      "client state=auto-allowed net=203.0.113.0/24", NULL}, 10},
    {"list --all adds the sender/recipient pairs", "greylist list --all", 0, {"pair state="}, 18},
    {"list --state never-retried shows the sender that never came back",
     "greylist list --state never-retried", 0, {"sender=old@example.org", " deferred=1 "}, 1},
    {"list --client with an address shows its network", "greylist list --client 192.0.2.77", 0,
     {"sender=old@example.org", "sender=a@example.org", "client state=counting"}, 3},
    {"list --client with a wider network shows the networks inside", "greylist list --client 192.0.0.0/16",
     0, {"net=192.0.2.0/24"}, 3},
    {"list --sender matches the normalised sender", "greylist list --sender prvs=0123abcdef=A@Example.org",
     0, {"sender=a@example.org"}, 1},
    {"list --recipient @domain matches the domain", "greylist list --recipient @other.example", 0,
     {"sender=p@example.org"}, 1},
    {"list --state auto-allowed shows the client network", "greylist list --state auto-allowed", 0,
     {"net=203.0.113.0/24", " retries=5"}, 1},
    {"expire removes the never-retried triplet and its pair", "greylist expire", 0, {"removed=2\n"}, 1},
    {"after expire nothing is never-retried", "greylist list --state never-retried", 0, {NULL}, 0},
    {"allow --client makes a network admin-allowed", "greylist allow --client 198.51.100.0/24", 0,
     {"allowed client=198.51.100.0/24 until=removed"}, 1},
    {"the allowed network is listed as admin-allowed", "greylist list --state admin-allowed", 0,
     {"client state=admin-allowed net=198.51.100.0/24", "expires=-"}, 1},
    {"allow one triplet for an hour", "greylist allow --client 192.0.2.9 --sender x@example.org "
     "--recipient r@example.net --for 1h", 0, {"for=3600s"}, 1},
    {"the allowed triplet is listed", "greylist list --sender x@example.org", 0,
     {"triplet state=admin-allowed net=192.0.2.0/24"}, 1},
    {"remove one triplet", "greylist remove --client 192.0.2.1 --sender a@example.org "
     "--recipient r@example.net", 0, {"removed=1\n"}, 1},
    {"removing it again matches nothing: exit 1", "greylist remove --client 192.0.2.1 "
     "--sender a@example.org --recipient r@example.net", 1, {"removed=0\n"}, 1},
    {"remove a client: its record and its five triplets", "greylist remove --client 203.0.113.1", 0,
     {"removed=6\n"}, 1},
    {"stats after the changes", "greylist stats", 0,
     {"triplets=2\npending=1\npassed=0\nnever_retried=0\nexpired=0\nadmin_allowed_triplets=1\n",
      "clients=2\ncounting=1\nauto_allowed=0\nadmin_allowed_clients=1\n"}, -1},
    /* Errors */
    {"an unknown command is a usage error", "greylist frobnicate", 64, {NULL}, 0},
    {"allow without --client is a usage error", "greylist allow", 64, {NULL}, 0},
    {"a sender without a recipient is a usage error", "greylist allow --client 192.0.2.1 --sender a@b", 64,
     {NULL}, 0},
    {"stats takes no options", "greylist stats --all", 64, {NULL}, 0},
    {"a client that is no address is a bad value", "greylist allow --client nonsense", 65, {NULL}, 0},
    {"an unknown state is a bad value", "greylist list --state sleepy", 65, {NULL}, 0},
    {"a bad duration is a bad value", "greylist allow --client 192.0.2.1 --for soon", 65, {NULL}, 0},
};
/* clang-format on */

static void run_steps(const char *store, struct gl_fixture *f)
{
    for (size_t i = 0; i < NELEMS(steps); i++) {
        const struct ctl_step *st = &steps[i];
        char *out, *err;
        int rc = run_ctl(f->conf, st->args, &out, &err);
        ck_assert_msg(rc == st->want_status, "%s: %s: exit %d, want %d; stderr: %s",
                      store, st->label, rc, st->want_status, err);
        for (size_t k = 0; k < 3 && st->want_out[k]; k++)
            ck_assert_msg(strstr(out, st->want_out[k]) != NULL,
                          "%s: %s: output lacks \"%s\"; output:\n%s", store, st->label,
                          st->want_out[k], out);
        if (st->want_lines >= 0)
            ck_assert_msg(count_lines(out) == (size_t)st->want_lines,
                          "%s: %s: %zu lines, want %d; output:\n%s", store, st->label,
                          count_lines(out), st->want_lines, out);
        if (st->want_status >= 64)
            ck_assert_msg(err[0] != '\0', "%s: %s: no message on stderr", store,
                          st->label);
        free(out);
        free(err);
    }
}

START_TEST(test_ctl_lmdb)
{
    struct gl_fixture f;
    glf_setup(&f, NULL);
    prepare(&f);
    run_steps("lmdb", &f);
    glf_teardown(&f);
}
END_TEST

START_TEST(test_ctl_redis)
{
    if (!fl_redisd_available())
        return; /* nothing to test against; the LMDB half still runs */
    struct fl_redisd r;
    ck_assert(fl_redisd_start(&r) == 0);
    struct gl_fixture f;
    char extra[200];
    snprintf(extra, sizeof(extra), "greylist_store = redis\ngreylist_redis_server = %s",
             r.addr);
    glf_setup(&f, extra);
    prepare(&f);
    run_steps("redis", &f);
    /* Redis gone: the store cannot be used, exit 69. */
    fl_redisd_kill(&r);
    char *out, *err;
    int rc = run_ctl(f.conf, "greylist stats", &out, &err);
    ck_assert_msg(rc == 69 && strstr(err, "cannot connect") != NULL,
                  "stats with Redis down: exit %d, stderr %s", rc, err);
    free(out);
    free(err);
    glf_teardown(&f);
    fl_redisd_stop(&r);
}
END_TEST

START_TEST(test_ctl_store_and_config_errors)
{
    struct gl_fixture f;
    memset(&f, 0, sizeof(f));
    glf_config(&f, NULL); /* no store created */
    char *out, *err;
    int rc = run_ctl(f.conf, "greylist list", &out, &err);
    ck_assert_msg(rc == 69 && strstr(err, "no store at") != NULL,
                  "a missing LMDB store: exit %d, stderr %s", rc, err);
    free(out);
    free(err);
    FILE *fp = fopen(f.conf, "a");
    fputs("greylist_delay = soon\n", fp);
    fclose(fp);
    rc = run_ctl(f.conf, "greylist stats", &out, &err);
    ck_assert_msg(rc == 78 && strstr(err, "greylist_delay") != NULL,
                  "a broken configuration: exit %d, stderr %s", rc, err);
    free(out);
    free(err);
    glf_teardown(&f);
}
END_TEST

static Suite *ctl_suite(void)
{
    Suite *s = suite_create("greylist_ctl");
    TCase *tc = tcase_create("faultlinectl");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ctl_lmdb);
    tcase_add_test(tc, test_ctl_redis);
    tcase_add_test(tc, test_ctl_store_and_config_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fl_log_open("check_greylist_ctl", "stderr", FL_LOG_WARN);
    SRunner *sr = srunner_create(ctl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
