/* check_config: unit tests for lib/config, lib/settings and lib/cidr.

   - The settings tables are the one place a default is written: every
     default parses, conf/faultline.conf lists every key once at exactly its
     default, `faultline -d` prints the same key = value lines, and the
     SETTINGS section of conf/faultline.conf.5 is exactly what
     fl_settings_write_man() writes.
   - Good sample configs (tests/conf/good/) load with the asserted values;
     every value type (durations, sizes, booleans, enums, modes, networks)
     is exercised row by row.
   - Bad sample configs (the .conf files in tests/conf/bad/) each start with one or more
     "# expect: <file>:<line>: error: <text>" lines: loading fails with
     exactly those errors, in "file:line: error: " shape, and
     `faultline -n -c FILE` exits 2 printing the same text on stderr.
   - fl_config_restart_changes, reference counting, fl_config_format_value
     round trips, and CIDR parsing and matching (IPv4, IPv6, IPv4-mapped,
     /0, host bits, brackets).

   Environment (set by `make check`): top_srcdir, top_builddir, FAULTLINE.
   Run by `make check`; single-threaded. */
#include "lib/core/buf.h"
#include "lib/core/cidr.h"
#include "lib/core/config.h"
#include "lib/core/settings.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* --- environment and files ---------------------------------------------------- */

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static const char *srcdir(void)
{
    return env_or("top_srcdir", ".");
}

static void src_path(char *out, size_t outlen, const char *rel)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s/%s", srcdir(), rel);
    /* Absolute paths: they are what error messages and the daemon see. */
    if (realpath(buf, out) == NULL)
        snprintf(out, outlen, "%s", buf);
}

static const char *faultline_bin(void)
{
    static char path[PATH_MAX];
    const char *f = getenv("FAULTLINE");
    if (f && *f)
        snprintf(path, sizeof(path), "%s", f);
    else
        snprintf(path, sizeof(path), "%s/milter/faultline", env_or("top_builddir", "."));
    ck_assert_msg(
        access(path, X_OK) == 0,
        "the daemon %s is not there: run through `make check` (FAULTLINE is unset)",
        path);
    return path;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    struct fl_buf b;
    fl_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fl_buf_append(&b, chunk, n);
    fclose(f);
    char *s = fl_buf_steal(&b);
    fl_buf_free(&b);
    return s;
}

/* Runs cmd with sh; returns its stdout (caller frees) and exit status. */
static char *run(const char *cmd, int *status_r)
{
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    struct fl_buf b;
    fl_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        fl_buf_append(&b, chunk, n);
    int st = pclose(p);
    *status_r = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    char *s = fl_buf_steal(&b);
    fl_buf_free(&b);
    return s;
}

/* A private directory for generated configs, made by main() before the
   tests run and removed after them (also when a test failed). */
static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int tmp_make(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_config.XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static void tmp_remove(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

/* Writes text to tmpdir/name; returns the path (static buffer rotation). */
static const char *write_tmp(const char *name, const char *text, size_t len)
{
    static char paths[4][PATH_MAX];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_msg(fwrite(text, 1, len, f) == len, "cannot write %s", path);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *write_conf(const char *text)
{
    return write_tmp("test.conf", text, strlen(text));
}

/* --- settings helpers ------------------------------------------------------ */

static size_t settings_total(void)
{
    size_t n = 0;
    for (size_t g = 0; g < fl_setting_group_count; g++)
        n += fl_setting_groups[g].count;
    return n;
}

static const struct fl_setting *setting_at(size_t i)
{
    for (size_t g = 0; g < fl_setting_group_count; g++) {
        if (i < fl_setting_groups[g].count)
            return &fl_setting_groups[g].settings[i];
        i -= fl_setting_groups[g].count;
    }
    return NULL;
}

static char *format_value(const struct fl_config *cfg, const char *name)
{
    struct fl_buf b;
    fl_buf_init(&b);
    fl_config_format_value(cfg, name, &b);
    char *s = fl_buf_steal(&b);
    fl_buf_free(&b);
    return s;
}

/* Loads path; asserts success. */
static struct fl_config *load_ok(const char *label, const char *path)
{
    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load(path, &cfg, &errors);
    ck_assert_msg(rc == 0 && cfg != NULL, "%s: loading %s failed (rc %d):\n%s", label,
                  path, rc, errors.data);
    ck_assert_msg(errors.len == 0, "%s: errors on success: %s", label, errors.data);
    fl_buf_free(&errors);
    return cfg;
}

static void assert_value(const char *label, const struct fl_config *cfg, const char *key,
                         const char *want)
{
    char *got = format_value(cfg, key);
    ck_assert_msg(strcmp(got, want) == 0, "%s: %s: got \"%s\", want \"%s\"", label, key,
                  got, want);
    free(got);
}

static char *hostname(void)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    return strdup(host);
}

/* --- defaults --------------------------------------------------------------- */

START_TEST(test_defaults)
{
    struct fl_config *cfg = fl_config_defaults();
    ck_assert_msg(cfg != NULL && cfg->refcount == 1,
                  "fl_config_defaults: got %p refcount %d", (void *)cfg,
                  cfg ? cfg->refcount : 0);
    ck_assert_msg(cfg->path == NULL, "defaults have no path, got %s", cfg->path);
    char *host = hostname();
    ck_assert_msg(strcmp(cfg->authserv_id, host) == 0,
                  "an empty authserv_id is this host's name: got \"%s\", want \"%s\"",
                  cfg->authserv_id, host);
    free(host);
    /* A few typed fields, to catch an offset pointing at the wrong field. */
    ck_assert_msg(
        cfg->worker_threads == 4 && cfg->message_deadline == 20000 &&
            cfg->message_memory_limit == 4 * 1024 * 1024 && cfg->socket_mode == 0660 &&
            cfg->trust_authenticated && cfg->on_internal_error == FL_ON_ERROR_ACCEPT &&
            cfg->forged_header_action == FL_FORGED_REMOVE &&
            cfg->trusted_networks.count == 2,
        "typed defaults: worker_threads %lld deadline %lld memory %lld mode %llo",
        cfg->worker_threads, cfg->message_deadline, cfg->message_memory_limit,
        cfg->socket_mode);
    fl_config_unref(&cfg);

    /* path NULL: the embedded defaults. */
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_int_eq(fl_config_load(NULL, &cfg, &errors), 0);
    ck_assert_msg(cfg != NULL && cfg->path == NULL,
                  "load(NULL): want defaults without a path");
    fl_config_unref(&cfg);
    fl_buf_free(&errors);
}
END_TEST

START_TEST(test_table_entry_complete)
{
    /* No entry of any table is left empty or inconsistent (a module's
       table is sized in settings.h, so a missing row would be all zero). */
    const struct fl_setting *s = setting_at((size_t)_i);
    ck_assert_msg(s != NULL && s->name != NULL && s->name[0] != '\0',
                  "setting %d: no name (an empty row in a table?)", _i);
    ck_assert_msg(s->def != NULL, "%s: no default", s->name);
    ck_assert_msg(s->doc != NULL && strlen(s->doc) > 10, "%s: no documentation", s->name);
    ck_assert_msg(fl_setting_find(s->name) == s,
                  "%s: fl_setting_find finds another entry", s->name);
    for (const char *p = s->name; *p; p++)
        ck_assert_msg((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_',
                      "%s: a key is lower case, digits and _", s->name);
    if (s->type == FL_SET_ENUM)
        ck_assert_msg(s->choices && strchr(s->choices, '|'),
                      "%s: an enum without choices", s->name);
    if (s->type == FL_SET_INT || s->type == FL_SET_DURATION || s->type == FL_SET_SIZE ||
        s->type == FL_SET_MODE)
        ck_assert_msg(s->min <= s->max, "%s: min %lld > max %lld", s->name, s->min,
                      s->max);
    ck_assert_msg(s->offset >= offsetof(struct fl_config, socket) &&
                      s->offset < sizeof(struct fl_config),
                  "%s: offset %zu outside struct fl_config", s->name, s->offset);
    for (size_t j = 0; j < (size_t)_i; j++)
        ck_assert_msg(setting_at(j)->offset != s->offset, "%s and %s share a field",
                      setting_at(j)->name, s->name);
    ck_assert_msg(fl_setting_type_hint(s) != NULL, "%s: no type hint", s->name);
}
END_TEST

START_TEST(test_default_reparses)
{
    /* Each default, written as "name = def" in a file, loads and gives the
       same value as the built-in default. */
    const struct fl_setting *s = setting_at((size_t)_i);
    char text[1024];
    snprintf(text, sizeof(text), "%s = %s\n", s->name, s->def);
    struct fl_config *cfg = load_ok(s->name, write_conf(text));
    struct fl_config *def = fl_config_defaults();
    char *got = format_value(cfg, s->name), *want = format_value(def, s->name);
    ck_assert_msg(strcmp(got, want) == 0, "%s = %s: got \"%s\", want \"%s\"", s->name,
                  s->def, got, want);
    free(got);
    free(want);
    fl_config_unref(&cfg);
    fl_config_unref(&def);
}
END_TEST

START_TEST(test_default_formats_as_written)
{
    /* The canonical text of every default is the text in the table, so -d,
       the sample and the man page show what `faultline -n`-style dumps
       print.  authserv_id is derived from the host name. */
    const struct fl_setting *s = setting_at((size_t)_i);
    if (strcmp(s->name, "authserv_id") == 0)
        return;
    struct fl_config *def = fl_config_defaults();
    char *got = format_value(def, s->name);
    ck_assert_msg(strcmp(got, s->def) == 0,
                  "%s: formatted default \"%s\", table says \"%s\"", s->name, got,
                  s->def);
    free(got);
    fl_config_unref(&def);
}
END_TEST

START_TEST(test_format_round_trip)
{
    /* format -> parse -> format is stable for the defaults and for the
       non-default values of tests/conf/good/all_keys.conf. */
    const struct fl_setting *s = setting_at((size_t)_i);
    char fixture[PATH_MAX];
    src_path(fixture, sizeof(fixture), "tests/conf/good/all_keys.conf");
    struct fl_config *sources[2] = {fl_config_defaults(), load_ok("all_keys", fixture)};
    for (int k = 0; k < 2; k++) {
        char *first = format_value(sources[k], s->name);
        char text[1024];
        snprintf(text, sizeof(text), "%s = %s\n", s->name, first);
        struct fl_config *cfg = load_ok(s->name, write_conf(text));
        char *second = format_value(cfg, s->name);
        ck_assert_msg(strcmp(first, second) == 0,
                      "%s (%s): formatted \"%s\", re-read \"%s\"", s->name,
                      k ? "all_keys.conf" : "default", first, second);
        free(first);
        free(second);
        fl_config_unref(&cfg);
        fl_config_unref(&sources[k]);
    }
}
END_TEST

START_TEST(test_format_unknown_name)
{
    struct fl_config *cfg = fl_config_defaults();
    char *got = format_value(cfg, "no_such_setting");
    ck_assert_msg(strcmp(got, "") == 0, "an unknown name appends nothing, got \"%s\"",
                  got);
    free(got);
    fl_config_unref(&cfg);
}
END_TEST

/* --- sample config, -d, man page ---------------------------------------------- */

/* "key = value" lines of a config text, in order, as "key=value". */
static size_t key_lines(const char *text, char ***lines_r)
{
    char **lines = NULL;
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 0 && p[0] != '#' && p[0] != ' ' && p[0] != '\t') {
            const char *eq = memchr(p, '=', len);
            ck_assert_msg(eq != NULL, "not a key = value line: %.*s", (int)len, p);
            const char *kend = eq;
            while (kend > p && kend[-1] == ' ')
                kend--;
            const char *v = eq + 1;
            while (v < p + len && *v == ' ')
                v++;
            char *line;
            ck_assert_int_ge(
                asprintf(&line, "%.*s=%.*s", (int)(kend - p), p, (int)(p + len - v), v),
                0);
            lines = realloc(lines, (n + 1) * sizeof(*lines));
            lines[n++] = line;
        }
        p += len + (nl ? 1 : 0);
    }
    *lines_r = lines;
    return n;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

START_TEST(test_sample_lists_every_default)
{
    char path[PATH_MAX];
    src_path(path, sizeof(path), "conf/faultline.conf");
    char *text = read_file(path);
    char **lines;
    size_t n = key_lines(text, &lines);
    size_t total = settings_total();
    int *seen = calloc(total, sizeof(int));
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(lines[i], '=');
        *eq = '\0';
        const char *key = lines[i], *value = eq + 1;
        size_t idx = 0;
        while (idx < total && strcmp(setting_at(idx)->name, key) != 0)
            idx++;
        ck_assert_msg(idx < total, "conf/faultline.conf lists unknown key \"%s\"", key);
        seen[idx]++;
        ck_assert_msg(strcmp(value, setting_at(idx)->def) == 0,
                      "conf/faultline.conf: %s = \"%s\", but its default is \"%s\"", key,
                      value, setting_at(idx)->def);
    }
    for (size_t i = 0; i < total; i++)
        ck_assert_msg(seen[i] == 1,
                      "conf/faultline.conf lists %s %d times, want exactly once",
                      setting_at(i)->name, seen[i]);
    free(seen);
    free_lines(lines, n);
    free(text);
}
END_TEST

START_TEST(test_sample_loads_at_defaults)
{
    char path[PATH_MAX];
    src_path(path, sizeof(path), "conf/faultline.conf");
    struct fl_config *cfg = load_ok("conf/faultline.conf", path);
    struct fl_config *def = fl_config_defaults();
    for (size_t i = 0; i < settings_total(); i++) {
        const char *name = setting_at(i)->name;
        char *want = format_value(def, name);
        assert_value("conf/faultline.conf", cfg, name, want);
        free(want);
    }
    ck_assert_msg(cfg->path && strcmp(cfg->path, path) == 0, "path: got %s, want %s",
                  cfg->path, path);
    fl_config_unref(&cfg);
    fl_config_unref(&def);
}
END_TEST

/* Text after the opening comment block (lines up to the first blank one). */
static const char *after_header(const char *text)
{
    const char *p = text;
    while (*p == '#') {
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            return p + strlen(p);
        p = nl + 1;
    }
    return p;
}

START_TEST(test_dump_matches_sample)
{
    char path[PATH_MAX], cmd[PATH_MAX + 16];
    src_path(path, sizeof(path), "conf/faultline.conf");
    char *sample = read_file(path);
    snprintf(cmd, sizeof(cmd), "'%s' -d", faultline_bin());
    int status;
    char *dump = run(cmd, &status);
    ck_assert_msg(status == 0, "faultline -d exited with %d", status);
    ck_assert_msg(strncmp(dump, "# faultline ", 12) == 0,
                  "faultline -d: first line: got %.40s", dump);

    char **a, **b;
    size_t na = key_lines(sample, &a), nb = key_lines(dump, &b);
    ck_assert_msg(na == nb, "conf/faultline.conf has %zu key lines, faultline -d %zu", na,
                  nb);
    for (size_t i = 0; i < na; i++)
        ck_assert_msg(strcmp(a[i], b[i]) == 0,
                      "key line %zu: conf/faultline.conf \"%s\", -d \"%s\"", i + 1, a[i],
                      b[i]);
    /* The documentation comments are the same too. */
    ck_assert_msg(
        strcmp(after_header(sample), after_header(dump)) == 0,
        "conf/faultline.conf and faultline -d differ after their header comments: "
        "regenerate the sample with `faultline -d`");

    /* And both are what fl_settings_write_sample writes. */
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    fl_settings_write_sample(f);
    fclose(f);
    ck_assert_msg(strcmp(after_header(dump), mem) == 0,
                  "faultline -d differs from fl_settings_write_sample()");
    free(mem);
    free_lines(a, na);
    free_lines(b, nb);
    free(dump);
    free(sample);
}
END_TEST

START_TEST(test_man_page_matches_tables)
{
    char path[PATH_MAX];
    src_path(path, sizeof(path), "conf/faultline.conf.5");
    char *man = read_file(path);
    const char *begin_mark = ".\\\" BEGIN SETTINGS\n",
               *end_mark = "\n.\\\" END SETTINGS\n";
    char *begin = strstr(man, begin_mark);
    ck_assert_msg(begin != NULL, "%s: no line .\\\" BEGIN SETTINGS", path);
    begin += strlen(begin_mark);
    char *end = strstr(begin, end_mark);
    ck_assert_msg(end != NULL, "%s: no line .\\\" END SETTINGS after BEGIN", path);
    end[1] = '\0'; /* keep the last newline of the section */

    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    fl_settings_write_man(f);
    fclose(f);
    ck_assert_msg(
        strcmp(begin, mem) == 0,
        "%s: the SETTINGS section differs from fl_settings_write_man() (regenerate it "
        "with `faultline -m`):\n--- page ---\n%.400s\n--- tables ---\n%.400s",
        path, begin, mem);
    free(mem);
    free(man);
}
END_TEST

/* --- good configs --------------------------------------------------------------- */

struct kv {
    const char *key, *want;
};

#define MAX_KV 160

struct good_row {
    const char *label;
    const char *file; /* under tests/conf/good */
    struct kv values[MAX_KV];
};

/* clang-format off */
static const struct good_row good_rows[] = {
    {"a minimal config sets the socket and keeps every other default",
     "minimal.conf",
     {{"socket", "unix:/run/faultline/faultline.sock"},
      {"socket_mode", "0660"},
      {"user", "faultline"},
      {"worker_threads", "4"},
      {"log_level", "info"},
      {"message_deadline", "20s"},
      {"trusted_networks", "127.0.0.0/8, ::1/128"},
      {"forged_header_rename", "X-Original-Authentication-Results"}}},
    {"a config setting every key to a non-default value",
     "all_keys.conf",
     {{"socket", "inet6:8895@::1"},
      {"socket_mode", "0600"},
      {"socket_owner", "postfix:postfix"},
      {"user", ""},
      {"group", "nogroup"},
      {"pidfile", ""},
      {"log", "stderr"},
      {"log_level", "debug"},
      {"worker_threads", "16"},
      {"shutdown_timeout", "500ms"},
      {"session_idle_timeout", "90s"},
      {"authserv_id", "mx.example.org"},
      {"trusted_networks", "192.0.2.0/24, 2001:db8::/32"},
      {"trust_authenticated", "no"},
      {"on_internal_error", "tempfail"},
      {"message_deadline", "4m"},
      {"message_memory_limit", "64k"},
      {"max_recipients", "50"},
      {"forged_header_action", "rename"},
      {"forged_header_rename", "X-Forged-Authentication-Results"},
      {"verdict_log", "/var/log/faultline/verdicts.json"},
      {"stats_file", "/var/run/fl-stats.json"},
      {"stats_interval", "30s"},
      {"metrics_listen", "[::1]:9795"},
      {"report_org_name", "Example Net Mail"},
      {"report_email", "dmarc-reports@example.net"},
      {"report_submitter", "mx.example.net"},
      {"report_extra_contact_info", "https://example.net/dmarc"},
      {"report_dir", "/var/lib/faultline/dmarc"},
      {"report_sendmail", "/usr/sbin/sendmail -C /etc/postfix-out"},
      {"report_max_uris", "3"},
      {"dns_forwarders", "127.0.0.1@5353, ::1"},
      {"dns_timeout", "1500ms"},
      {"dns_trust_anchor_file", "/usr/share/dns/root.key"},
      {"dns_cache_size", "32M"},
      {"dns_probe_domain", "example.net"},
      {"dns_probe_cache", "1m"},
      {"dns_probe_timeout", "2s"},
      {"iprev_enable", "no"},
      {"iprev_action", "reject"},
      {"iprev_max_names", "5"},
      {"nullmx_reject", "no"},
      {"spf_enable", "no"},
      {"spf_check_helo", "no"},
      {"spf_fail_action", "mark"},
      {"spf_softfail_action", "reject"},
      {"spf_permerror_action", "reject"},
      {"spf_temperror_action", "tempfail"},
      {"spf_received_header", "yes"},
      {"spf_skip_trusted", "no"},
      {"spf_skip_authenticated", "no"},
      {"dnsbl_sites", "zen.example=127.0.0.[2..11]*2, list.dnswl.example=127.0.[0..255].[1..3]*-5"},
      {"rhsbl_sites", "dbl.example=127.0.1.[2..99]*3:mailfrom+from"},
      {"dnsbl_threshold", "3"},
      {"dnsbl_allow_threshold", "-5"},
      {"dnsbl_reject_stage", "eom"},
      {"dnsbl_reply_code", "550"},
      {"dnsbl_mode", "observe"},
      {"dnsbl_error_codes", "zen.example=127.255.255.254"},
      {"dnsbl_fetch_txt", "no"},
      {"dnsbl_probe_interval", "5m"},
      {"dkim_enable", "no"},
      {"dkim_skip_trusted", "no"},
      {"dkim_skip_authenticated", "no"},
      {"dkim_max_signatures", "4"},
      {"dkim_min_rsa_bits", "2048"},
      {"dkim_rsa_sha1", "fail"},
      {"dkim_clock_skew", "30s"},
      {"dkim_body_length", "accept"},
      {"dkim_added_headers", "accept"},
      {"dkim_testing_keys", "policy"},
      {"dkim_fail_action", "reject"},
      {"dmarc_enable", "no"},
      {"dmarc_skip_trusted", "no"},
      {"dmarc_skip_authenticated", "no"},
      {"dmarc_reject_action", "reject"},
      {"dmarc_quarantine_action", "quarantine"},
      {"dmarc_quarantine_header", "X-Spam-Quarantine"},
      {"dmarc_temperror_action", "tempfail"},
      {"dmarc_from_missing_action", "mark"},
      {"dmarc_from_multiple_action", "mark"},
      {"dmarc_override_domains", "lists.example.org:mailing_list, partner.example.net"},
      {"arc_enable", "no"},
      {"dmarc_arc_trusted_sealers", "lists.example.org, arc.forwarder.example"},
      {"greylist_enable", "yes"},
      {"greylist_mode", "observe"},
      {"greylist_store", "redis"},
      {"greylist_lmdb_dir", "/var/lib/faultline/gl"},
      {"greylist_lmdb_map_size", "1G"},
      {"greylist_lmdb_sync", "full"},
      {"greylist_redis_server", "192.0.2.10:6380"},
      {"greylist_redis_password", "s3cret"},
      {"greylist_redis_db", "2"},
      {"greylist_redis_prefix", "mx:gl:"},
      {"greylist_redis_timeout", "250ms"},
      {"greylist_redis_pool_size", "16"},
      {"greylist_delay", "10m"},
      {"greylist_retry_window", "1d"},
      {"greylist_lifetime", "60d"},
      {"greylist_sweep_interval", "1m"},
      {"greylist_ipv4_prefix", "32"},
      {"greylist_ipv6_prefix", "48"},
      {"greylist_auto_allow", "0"},
      {"greylist_exempt_trusted", "no"},
      {"greylist_exempt_authenticated", "no"},
      {"greylist_exempt_dnswl", "no"},
      {"greylist_spf_pass_exempt", "yes"},
      {"greylist_allow_clients", "198.51.100.0/24, 2001:db8:1::/48"},
      {"greylist_allow_client_names", ".mail.example.net, mx.example.org"},
      {"greylist_allow_sender_domains", "example.com, .lists.example.org"},
      {"greylist_allow_recipients", "postmaster@, abuse@example.org, @example.net"}}},
    {"continuation lines join a value across lines, comments and blank lines inside",
     "continuation.conf",
     {{"trusted_networks", "192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32, 203.0.113.7/32"},
      {"message_deadline", "30s"}}},
    {"comments, blank lines, spacing around =, # inside a value and = inside a value",
     "comments_blank.conf",
     {{"log_level", "warning"},
      {"shutdown_timeout", "2m"},
      {"verdict_log", "/var/log/faultline/verdicts.json # not a comment"},
      {"socket_owner", "a=b"}}},
    {"duration without unit, sizes with MB, range edges, mode 0",
     "units.conf",
     {{"shutdown_timeout", "90s"},
      {"message_deadline", "2m"},
      {"message_memory_limit", "4M"},
      {"max_recipients", "100000"},
      {"worker_threads", "1"},
      {"socket_mode", "0000"}}},
    {"booleans and enums in any case",
     "bools_enums.conf",
     {{"trust_authenticated", "no"},
      {"on_internal_error", "tempfail"},
      {"forged_header_action", "rename"},
      {"log_level", "error"}}},
    {"CRLF line endings load like LF (the CR is trimmed as trailing space)",
     "crlf.conf",
     {{"socket", "unix:/run/faultline/crlf.sock"},
      {"trusted_networks", "192.0.2.0/24, 198.51.100.0/24"},
      {"log_level", "debug"}}},
};
/* clang-format on */

START_TEST(test_good_config)
{
    const struct good_row *row = &good_rows[_i];
    char rel[256], path[PATH_MAX];
    snprintf(rel, sizeof(rel), "tests/conf/good/%s", row->file);
    src_path(path, sizeof(path), rel);
    struct fl_config *cfg = load_ok(row->label, path);
    ck_assert_msg(cfg->refcount == 1, "%s: refcount %d, want 1", row->label,
                  cfg->refcount);
    ck_assert_msg(cfg->path && strcmp(cfg->path, path) == 0, "%s: path: got %s, want %s",
                  row->label, cfg->path, path);
    for (size_t i = 0; i < NELEMS(row->values) && row->values[i].key; i++)
        assert_value(row->label, cfg, row->values[i].key, row->values[i].want);
    fl_config_unref(&cfg);
}
END_TEST

START_TEST(test_good_config_typed_fields)
{
    /* The values land in the right struct fields with the right units. */
    char path[PATH_MAX];
    src_path(path, sizeof(path), "tests/conf/good/all_keys.conf");
    struct fl_config *cfg = load_ok("all_keys.conf", path);
    ck_assert_msg(cfg->socket_mode == 0600, "socket_mode: got %llo, want 600",
                  cfg->socket_mode);
    ck_assert_msg(cfg->shutdown_timeout == 500, "shutdown_timeout: got %lld ms, want 500",
                  cfg->shutdown_timeout);
    ck_assert_msg(cfg->message_deadline == 240000,
                  "message_deadline: got %lld ms, want 240000", cfg->message_deadline);
    ck_assert_msg(cfg->message_memory_limit == 65536,
                  "message_memory_limit: got %lld, want 65536",
                  cfg->message_memory_limit);
    ck_assert_msg(cfg->max_recipients == 50 && cfg->worker_threads == 16,
                  "max_recipients %lld worker_threads %lld", cfg->max_recipients,
                  cfg->worker_threads);
    ck_assert_msg(!cfg->trust_authenticated, "trust_authenticated: got yes, want no");
    ck_assert_msg(cfg->on_internal_error == FL_ON_ERROR_TEMPFAIL,
                  "on_internal_error: got %d, want FL_ON_ERROR_TEMPFAIL",
                  cfg->on_internal_error);
    ck_assert_msg(cfg->forged_header_action == FL_FORGED_RENAME,
                  "forged_header_action: got %d, want FL_FORGED_RENAME",
                  cfg->forged_header_action);
    ck_assert_msg(strcmp(cfg->authserv_id, "mx.example.org") == 0, "authserv_id: got %s",
                  cfg->authserv_id);
    ck_assert_msg(cfg->trusted_networks.count == 2 &&
                      fl_cidr_list_match(&cfg->trusted_networks, "192.0.2.200") &&
                      fl_cidr_list_match(&cfg->trusted_networks, "2001:db8:1::1") &&
                      !fl_cidr_list_match(&cfg->trusted_networks, "127.0.0.1"),
                  "trusted_networks: want 192.0.2.0/24 and 2001:db8::/32 only");
    fl_config_unref(&cfg);

    /* An empty authserv_id in a file means this host's name. */
    src_path(path, sizeof(path), "tests/conf/good/minimal.conf");
    cfg = load_ok("minimal.conf", path);
    char *host = hostname();
    ck_assert_msg(strcmp(cfg->authserv_id, host) == 0, "authserv_id: got %s, want %s",
                  cfg->authserv_id, host);
    free(host);
    fl_config_unref(&cfg);
}
END_TEST

START_TEST(test_all_keys_covers_every_setting)
{
    /* all_keys.conf sets every key of every table to a value other than
       its default, so parsing and formatting of every setting is exercised
       off its default too: a new setting needs a line there. */
    char path[PATH_MAX];
    src_path(path, sizeof(path), "tests/conf/good/all_keys.conf");
    char *text = read_file(path);
    char **lines;
    size_t n = key_lines(text, &lines);
    struct fl_config *def = fl_config_defaults(), *cfg = load_ok("all_keys.conf", path);
    const struct good_row *row = &good_rows[1];
    for (size_t i = 0; i < settings_total(); i++) {
        const char *name = setting_at(i)->name;
        size_t klen = strlen(name);
        bool listed = false;
        for (size_t k = 0; k < n; k++)
            listed =
                listed || (strncmp(lines[k], name, klen) == 0 && lines[k][klen] == '=');
        ck_assert_msg(listed, "all_keys.conf does not set %s", name);
        bool asserted = false;
        for (size_t k = 0; k < MAX_KV && row->values[k].key; k++)
            asserted = asserted || strcmp(row->values[k].key, name) == 0;
        ck_assert_msg(asserted, "good_rows[1] (all_keys.conf) does not assert %s", name);
        char *a = format_value(def, name), *b = format_value(cfg, name);
        ck_assert_msg(strcmp(a, b) != 0, "all_keys.conf sets %s to its default \"%s\"",
                      name, a);
        free(a);
        free(b);
    }
    fl_config_unref(&def);
    fl_config_unref(&cfg);
    free_lines(lines, n);
    free(text);
}
END_TEST

START_TEST(test_good_fixtures_all_tested)
{
    /* Every .conf file in tests/conf/good/ has a row above, so none goes unasserted. */
    char dir[PATH_MAX];
    src_path(dir, sizeof(dir), "tests/conf/good");
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    int nfiles = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".conf") != 0)
            continue;
        nfiles++;
        bool found = false;
        for (size_t i = 0; i < NELEMS(good_rows); i++)
            found = found || strcmp(good_rows[i].file, e->d_name) == 0;
        ck_assert_msg(found, "%s/%s has no row in good_rows", dir, e->d_name);
    }
    closedir(d);
    ck_assert_msg(nfiles == (int)NELEMS(good_rows), "%d good fixtures, %zu rows", nfiles,
                  NELEMS(good_rows));
    /* CRLF survived checkout (tests/conf/.gitattributes). */
    char path[PATH_MAX];
    src_path(path, sizeof(path), "tests/conf/good/crlf.conf");
    char *text = read_file(path);
    ck_assert_msg(strstr(text, "\r\n") != NULL, "%s lost its CRLF line endings", path);
    free(text);
}
END_TEST

START_TEST(test_trusted_networks_from_file)
{
    /* A value starting with / names a file; its path is absolute, so the
       config is generated here with this checkout's path. */
    char cidr[PATH_MAX], text[PATH_MAX + 128];
    src_path(cidr, sizeof(cidr), "tests/conf/good/trusted.cidr");
    snprintf(text, sizeof(text), "trusted_networks = 127.0.0.0/8, %s,\n  203.0.113.5\n",
             cidr);
    struct fl_config *cfg = load_ok("trusted_networks from a file", write_conf(text));
    assert_value(
        "trusted_networks from a file", cfg, "trusted_networks",
        "127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 2001:db8:1::/48, "
        "2001:db8:2::1/128, 203.0.113.5/32");
    /* clang-format off */
    static const struct {
        const char *addr;
        bool want;
    } probes[] = {
        {"10.1.2.3", true},         {"172.31.255.255", true}, {"172.32.0.1", false},
        {"192.168.7.7", true},      {"2001:db8:1:ffff::1", true}, {"2001:db8:2::1", true},
        {"2001:db8:2::2", false},   {"203.0.113.5", true},    {"203.0.113.6", false},
        {"::ffff:10.9.9.9", true},
    };
    /* clang-format on */
    for (size_t i = 0; i < NELEMS(probes); i++) {
        bool got = fl_cidr_list_match(&cfg->trusted_networks, probes[i].addr);
        ck_assert_msg(got == probes[i].want, "trusted.cidr: %s: got %d, want %d",
                      probes[i].addr, got, probes[i].want);
    }
    fl_config_unref(&cfg);
}
END_TEST

/* --- single values, row by row ------------------------------------------------ */

struct value_row {
    const char *label;
    const char *line;       /* "key = value" */
    const char *want;       /* formatted value, or NULL when loading must fail */
    const char *want_error; /* text after "file:1: error: " */
};

/* clang-format off */
static const struct value_row value_rows[] = {
    /* durations */
    {"500ms is a duration", "shutdown_timeout = 500ms", "500ms", NULL},
    {"30s is a duration", "shutdown_timeout = 30s", "30s", NULL},
    {"5m is a duration", "shutdown_timeout = 5m", "5m", NULL},
    {"a duration without a unit is seconds", "shutdown_timeout = 45", "45s", NULL},
    {"60s prints as 1m", "shutdown_timeout = 60s", "1m", NULL},
    {"1500ms stays in ms", "shutdown_timeout = 1500ms", "1500ms", NULL},
    {"0 is allowed where the minimum is 0", "shutdown_timeout = 0", "0s", NULL},
    {"10m is the maximum of shutdown_timeout", "shutdown_timeout = 10m", "10m", NULL},
    {"one ms over the maximum is out of range", "shutdown_timeout = 600001ms", NULL,
     "shutdown_timeout = 600001ms: out of range (must be between 0s and 10m)"},
    {"2h parses as a duration but is out of range here", "shutdown_timeout = 2h", NULL,
     "shutdown_timeout = 2h: out of range (must be between 0s and 10m)"},
    {"1d parses as a duration but is out of range here", "message_deadline = 1d", NULL,
     "message_deadline = 1d: out of range (must be between 1s and 290s)"},
    {"1w parses as a duration but is out of range here", "message_deadline = 1w", NULL,
     "message_deadline = 1w: out of range (must be between 1s and 290s)"},
    {"duration units are lower case", "shutdown_timeout = 5S", NULL,
     "shutdown_timeout = 5S: expected a duration"},
    {"a negative duration is refused", "shutdown_timeout = -5s", NULL,
     "shutdown_timeout = -5s: expected a duration"},
    {"a space between number and unit is refused", "shutdown_timeout = 5 s", NULL,
     "shutdown_timeout = 5 s: expected a duration"},
    {"an overflowing duration is refused, not wrapped", "shutdown_timeout = 99999999999999999999s",
     NULL, "shutdown_timeout = 99999999999999999999s: expected a duration"},
    {"an empty duration is refused", "shutdown_timeout =", NULL,
     "shutdown_timeout = : expected a duration"},
    /* sizes */
    {"64k is a size", "message_memory_limit = 64k", "64k", NULL},
    {"64K is the same size", "message_memory_limit = 64K", "64k", NULL},
    {"65536 bytes print as 64k", "message_memory_limit = 65536", "64k", NULL},
    {"4M is a size", "message_memory_limit = 4M", "4M", NULL},
    {"4mb is the same size", "message_memory_limit = 4mb", "4M", NULL},
    {"1G is the maximum", "message_memory_limit = 1G", "1G", NULL},
    {"1025k stays in k", "message_memory_limit = 1025k", "1025k", NULL},
    {"1k is below the minimum", "message_memory_limit = 1k", NULL,
     "message_memory_limit = 1k: out of range (must be between 64k and 1G)"},
    {"4kib is not a size", "message_memory_limit = 4kib", NULL,
     "message_memory_limit = 4kib: expected a size such as 512, 64k, 4M or 1G"},
    {"a negative size is refused", "message_memory_limit = -1", NULL,
     "message_memory_limit = -1: expected a size"},
    /* integers */
    {"256 worker threads is the maximum", "worker_threads = 256", "256", NULL},
    {"257 worker threads is out of range", "worker_threads = 257", NULL,
     "worker_threads = 257: out of range (must be between 1 and 256)"},
    {"hex is not a whole number", "worker_threads = 0x10", NULL,
     "worker_threads = 0x10: expected a whole number"},
    {"a plus sign is not a whole number", "worker_threads = +5", NULL,
     "worker_threads = +5: expected a whole number"},
    {"a fraction is not a whole number", "worker_threads = 1.5", NULL,
     "worker_threads = 1.5: expected a whole number"},
    /* modes */
    {"a mode without the leading 0 is still octal", "socket_mode = 660", "0660", NULL},
    {"7777 is the largest mode", "socket_mode = 7777", "7777", NULL},
    {"a mode over 7777 is out of range, shown in octal", "socket_mode = 10000", NULL,
     "socket_mode = 10000: out of range (must be between 0000 and 7777)"},
    {"an empty mode is refused", "socket_mode =", NULL,
     "socket_mode = : expected an octal file mode such as 0660"},
    /* booleans */
    {"yes is true", "trust_authenticated = yes", "yes", NULL},
    {"no is false", "trust_authenticated = no", "no", NULL},
    {"true is true", "trust_authenticated = true", "yes", NULL},
    {"false is false", "trust_authenticated = false", "no", NULL},
    {"on is true", "trust_authenticated = on", "yes", NULL},
    {"off is false", "trust_authenticated = off", "no", NULL},
    {"1 is true", "trust_authenticated = 1", "yes", NULL},
    {"0 is false", "trust_authenticated = 0", "no", NULL},
    {"booleans ignore case", "trust_authenticated = FALSE", "no", NULL},
    {"y is not a boolean", "trust_authenticated = y", NULL,
     "trust_authenticated = y: expected yes or no"},
    /* enums */
    {"enum values ignore case", "log_level = WARNING", "warning", NULL},
    {"warn is not a log level", "log_level = warn", NULL,
     "log_level = warn: expected one of debug|info|warning|error"},
    {"a prefix of an enum value is refused", "forged_header_action = rem", NULL,
     "forged_header_action = rem: expected one of remove|rename"},
    /* strings with checks */
    {"a local socket", "socket = local:/run/faultline/faultline.sock",
     "local:/run/faultline/faultline.sock", NULL},
    {"an inet socket without a host", "socket = inet:8895", "inet:8895", NULL},
    {"port 0 is refused", "socket = inet:0@127.0.0.1", NULL,
     "socket = inet:0@127.0.0.1: expected inet:PORT@HOST"},
    {"a socket port that is not a number", "socket = inet:smtp@127.0.0.1", NULL,
     "socket = inet:smtp@127.0.0.1: expected inet:PORT@HOST"},
    {"an empty socket is refused", "socket =", NULL, "socket = : expected unix:/path"},
    {"a syslog facility as the log", "log = local3", "local3", NULL},
    {"an authserv_id with @ is refused", "authserv_id = mx@example.org", NULL,
     "authserv_id = mx@example.org: must be an RFC 2045 token"},
    {"a quoted authserv_id is refused", "authserv_id = \"mx\"", NULL,
     "authserv_id = \"mx\": must be an RFC 2045 token"},
    {"a header name with a space is refused", "forged_header_rename = X Old", NULL,
     "forged_header_rename = X Old: must be a header field name"},
    {"a header name with UTF-8 is refused", "forged_header_rename = X-\xc3\x96ld", NULL,
     /* 8-bit bytes from the file are shown escaped, never raw */
     "forged_header_rename = X-\\xc3\\x96ld: must be a header field name"},
    /* networks */
    {"an empty network list is allowed", "trusted_networks =", "", NULL},
    {"networks separated by spaces only", "trusted_networks = 192.0.2.1 192.0.2.2",
     "192.0.2.1/32, 192.0.2.2/32", NULL},
    {"host bits in a network are cleared", "trusted_networks = 192.0.2.77/24", "192.0.2.0/24",
     NULL},
    {"a bracketed IPv6 network", "trusted_networks = [2001:db8::]/32", "2001:db8::/32", NULL},
    {"a relative file name is not a file", "trusted_networks = trusted.cidr", NULL,
     "trusted_networks: \"trusted.cidr\": not an IP address"},
    /* lists */
    {"an empty list is allowed", "dns_forwarders =", "", NULL},
    {"list items separated by commas and spaces", "dns_forwarders = 127.0.0.1@5353,::1  192.0.2.53",
     "127.0.0.1@5353, ::1, 192.0.2.53", NULL},
    {"each list item is checked", "dns_forwarders = 127.0.0.1, resolver.example", NULL,
     "dns_forwarders: \"resolver.example\": expected an IP address"},
    {"a list item with port 0 is refused", "dns_forwarders = 127.0.0.1@0", NULL,
     "dns_forwarders: \"127.0.0.1@0\": port must be 1..65535"},
    {"a list item from a missing file", "dns_forwarders = /nonexistent/faultline-test/fwd", NULL,
     "cannot read /nonexistent/faultline-test/fwd: No such file or directory"},
    /* lines */
    {"a line with only = has an empty key", "= 5", NULL,
     "unknown key \"\" (faultline -d lists every key)"},
};
/* clang-format on */

START_TEST(test_value)
{
    const struct value_row *row = &value_rows[_i];
    char text[512];
    snprintf(text, sizeof(text), "%s\n", row->line);
    const char *path = write_conf(text);
    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load(path, &cfg, &errors);
    if (row->want != NULL) {
        ck_assert_msg(rc == 0, "%s: \"%s\" failed to load:\n%s", row->label, row->line,
                      errors.data);
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)strcspn(row->line, " ="), row->line);
        assert_value(row->label, cfg, key, row->want);
        fl_config_unref(&cfg);
    } else {
        char want[1024];
        snprintf(want, sizeof(want), "%s:1: error: %s", path, row->want_error);
        ck_assert_msg(rc == -1 && cfg == NULL, "%s: \"%s\" loaded, want an error",
                      row->label, row->line);
        ck_assert_msg(strstr(errors.data, want) != NULL, "%s:\n got: %s\nwant: %s...",
                      row->label, errors.data, want);
    }
    fl_buf_free(&errors);
}
END_TEST

START_TEST(test_list_from_file)
{
    /* A list value read from a file; an error in the file names the file
       and its line, not the config. */
    const char *good =
        write_tmp("forwarders", "# resolvers\n127.0.0.1@5353  # local\n\n::1\n",
                  strlen("# resolvers\n127.0.0.1@5353  # local\n\n::1\n"));
    char text[PATH_MAX + 64];
    snprintf(text, sizeof(text), "dns_forwarders = %s, 192.0.2.53\n", good);
    struct fl_config *cfg = load_ok("dns_forwarders from a file", write_conf(text));
    assert_value("dns_forwarders from a file", cfg, "dns_forwarders",
                 "127.0.0.1@5353, ::1, 192.0.2.53");
    ck_assert_msg(cfg->dns_forwarders.count == 3, "dns_forwarders: %zu items, want 3",
                  cfg->dns_forwarders.count);
    fl_config_unref(&cfg);

    static const char bad_text[] = "127.0.0.1\n\n192.0.2.1 bogus\n";
    const char *bad = write_tmp("forwarders.bad", bad_text, strlen(bad_text));
    snprintf(text, sizeof(text), "dns_forwarders = %s\n", bad);
    struct fl_buf errors, want;
    fl_buf_init(&errors);
    fl_buf_init(&want);
    cfg = NULL;
    int rc = fl_config_load(write_conf(text), &cfg, &errors);
    fl_buf_printf(&want,
                  "%s:3: error: dns_forwarders: \"bogus\": expected an IP address, "
                  "optionally @PORT (127.0.0.1@5353)\n",
                  bad);
    ck_assert_msg(rc == -1 && cfg == NULL,
                  "a bad item in a list file: loaded, want an error");
    ck_assert_msg(strcmp(errors.data, want.data) == 0,
                  "a bad item in a list file:\n got: %s\nwant: %s", errors.data,
                  want.data);
    fl_buf_free(&errors);
    fl_buf_free(&want);
}
END_TEST

START_TEST(test_nul_byte)
{
    static const char text[] = "socket = unix:/run/a\0b.sock\nlog_level = info\n";
    const char *path = write_tmp("nul.conf", text, sizeof(text) - 1);
    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load(path, &cfg, &errors);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s:1: error: NUL byte in configuration line\n", path);
    ck_assert_msg(rc == -1 && cfg == NULL, "a NUL byte: loaded, want an error");
    ck_assert_msg(strcmp(errors.data, want) == 0, "a NUL byte:\n got: %s\nwant: %s",
                  errors.data, want);
    fl_buf_free(&errors);
}
END_TEST

START_TEST(test_missing_file)
{
    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load("/nonexistent/faultline.conf", &cfg, &errors);
    const char *want =
        "/nonexistent/faultline.conf: error: cannot read: No such file or directory\n";
    ck_assert_msg(rc == -1 && cfg == NULL, "a missing file: loaded, want an error");
    ck_assert_msg(strcmp(errors.data, want) == 0, "a missing file:\n got: %s\nwant: %s",
                  errors.data, want);
    fl_buf_free(&errors);
}
END_TEST

/* Loads path and checks that it fails with an error containing want. */
static void assert_load_error(const char *label, const char *path, const char *want)
{
    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load(path, &cfg, &errors);
    ck_assert_msg(rc == -1 && cfg == NULL, "%s: loaded, want an error", label);
    ck_assert_msg(strstr(errors.data, want) != NULL, "%s:\n got: %s\nwant: ...%s...", label,
                  errors.data, want);
    fl_buf_free(&errors);
}

START_TEST(test_hostile_files)
{
    /* found by fuzz_config: an empty file (no buffer read yet) loads as
       the defaults, without undefined behaviour */
    struct fl_config *empty = load_ok("an empty file", write_tmp("empty.conf", "", 0));
    fl_config_unref(&empty);

    /* A FIFO as the configuration or as a list file: refused at once,
       never waited on (a reload once hung on one and SIGTERM no longer
       stopped the daemon). */
    char fifo[PATH_MAX], text[PATH_MAX + 64], want[PATH_MAX + 64];
    snprintf(fifo, sizeof(fifo), "%s/list.fifo", tmpdir);
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    snprintf(want, sizeof(want), "%s: error: cannot read: not a regular file", fifo);
    assert_load_error("a FIFO as the configuration", fifo, want);
    snprintf(text, sizeof(text), "trusted_networks = %s\n", fifo);
    snprintf(want, sizeof(want), "cannot read %s: not a regular file", fifo);
    assert_load_error("a FIFO as a list file", write_conf(text), want);

    /* Lines are bounded: 100 KB without a newline is an error naming the
       file and line, in a list file and in the configuration itself. */
    size_t n = 100 * 1024;
    char *big = malloc(n + 32);
    ck_assert_ptr_nonnull(big);
    memset(big, '1', n);
    const char *list = write_tmp("long.list", big, n);
    snprintf(text, sizeof(text), "trusted_networks = %s\n", list);
    snprintf(want, sizeof(want), "%s:1: line too long", list);
    assert_load_error("a 100 KB line in a list file", write_conf(text), want);
    memcpy(big, "log_level = ", 12);
    const char *conf = write_tmp("long.conf", big, n);
    snprintf(want, sizeof(want), "%s:1: error: line too long", conf);
    assert_load_error("a 100 KB line in the configuration", conf, want);
    free(big);

    /* Error output is capped: 500 bad lines give 49 errors and a note. */
    struct fl_buf many;
    fl_buf_init(&many);
    for (int i = 0; i < 500; i++)
        fl_buf_printf(&many, "no_such_key_%d = 1\n", i);
    conf = write_tmp("many.conf", many.data, many.len);
    fl_buf_free(&many);
    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_int_eq(fl_config_load(conf, &cfg, &errors), -1);
    size_t lines = 0;
    for (const char *p = errors.data; *p; p++)
        lines += *p == '\n';
    ck_assert_msg(lines == 50, "500 errors printed as %zu lines, want 50", lines);
    ck_assert_msg(strstr(errors.data, "too many errors; the rest are not shown") != NULL, "%s",
                  errors.data);
    fl_buf_free(&errors);
}
END_TEST

struct suggest_row {
    const char *label;
    const char *name;
    const char *want; /* NULL: no suggestion */
};

/* clang-format off */
static const struct suggest_row suggest_rows[] = {
    {"one letter missing", "worker_thread", "worker_threads"},
    {"two letters swapped", "socket_mdoe", "socket_mode"},
    {"a missing underscore", "loglevel", "log_level"},
    {"another case", "SOCKET", NULL},
    {"far from every key", "frobnicate", NULL},
    {"a short word two edits from a short key", "foo", NULL},
    {"a short key with one letter missing", "usr", "user"},
    {"a short key with two letters swapped", "lgo", "log"},
    {"a long name with the words reordered", "timeout_dns", NULL},
    {"a long key with one typo", "dns_timout", "dns_timeout"},
    {"a long key with two letters swapped and one missing", "greylist_dleay_", "greylist_delay"},
    {"the empty name", "", NULL},
};
/* clang-format on */

START_TEST(test_suggest)
{
    const struct suggest_row *row = &suggest_rows[_i];
    const char *got = fl_setting_suggest(row->name);
    ck_assert_msg((got == NULL && row->want == NULL) ||
                      (got && row->want && strcmp(got, row->want) == 0),
                  "%s: \"%s\": got %s, want %s", row->label, row->name,
                  got ? got : "(none)", row->want ? row->want : "(none)");
    ck_assert_msg(fl_setting_find(row->name) == NULL, "%s: \"%s\" is a real key",
                  row->label, row->name);
}
END_TEST

/* The reference the bounded search in settings.c must agree with: the
   full optimal string alignment distance, as a whole matrix, against
   every key, with the same closeness rule. */
static size_t osa_full(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    static size_t m[70][70];
    for (size_t i = 0; i <= la; i++)
        for (size_t j = 0; j <= lb; j++) {
            if (i == 0 || j == 0) {
                m[i][j] = i + j;
                continue;
            }
            size_t best = m[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (m[i - 1][j] + 1 < best)
                best = m[i - 1][j] + 1;
            if (m[i][j - 1] + 1 < best)
                best = m[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                m[i - 2][j - 2] + 1 < best)
                best = m[i - 2][j - 2] + 1;
            m[i][j] = best;
        }
    return m[la][lb];
}

static const char *suggest_reference(const char *name)
{
    const char *best = NULL;
    size_t best_d = 99;
    for (size_t g = 0; g < fl_setting_group_count; g++)
        for (size_t i = 0; i < fl_setting_groups[g].count; i++) {
            const char *key = fl_setting_groups[g].settings[i].name;
            size_t longer = strlen(key) > strlen(name) ? strlen(key) : strlen(name);
            size_t limit = longer < 8 ? 1 : longer >= 12 ? 3 : longer / 4;
            size_t d = osa_full(name, key);
            if (d <= limit && d < best_d) {
                best_d = d;
                best = key;
            }
        }
    return best;
}

/* Variant k of key (k % 4: the kind, k / 4: the position): one letter deleted, swapped
   with the next, replaced, or one inserted, or two or three edits at
   once; into out. */
static void key_variant(const char *key, size_t k, char *out, size_t size)
{
    size_t n = strlen(key), pos = k / 4 % (n + 1);
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%s", key);
    switch (k % 4) {
    case 0: /* delete at pos, and swap at pos/2 for every second one */
        if (pos < n)
            memmove(tmp + pos, tmp + pos + 1, n - pos);
        if (k % 8 == 0 && pos / 2 + 1 < strlen(tmp)) {
            char c = tmp[pos / 2];
            tmp[pos / 2] = tmp[pos / 2 + 1];
            tmp[pos / 2 + 1] = c;
        }
        break;
    case 1: /* swap neighbours at pos */
        if (pos + 1 < n) {
            char c = tmp[pos];
            tmp[pos] = tmp[pos + 1];
            tmp[pos + 1] = c;
        }
        break;
    case 2: /* replace at pos and at the end */
        if (pos < n)
            tmp[pos] = 'x';
        if (n > 0)
            tmp[n - 1] = 'q';
        break;
    default: /* insert at pos, delete the first letter */
        memmove(tmp + pos + 1, tmp + pos, n - pos + 1);
        tmp[pos] = 'z';
        memmove(tmp, tmp + 1, strlen(tmp));
        break;
    }
    snprintf(out, size, "%s", tmp);
}

START_TEST(test_suggest_same_as_full_search)
{
    size_t tried = 0;
    for (size_t g = 0; g < fl_setting_group_count; g++)
        for (size_t i = 0; i < fl_setting_groups[g].count; i++) {
            const char *key = fl_setting_groups[g].settings[i].name;
            /* every kind of edit, at positions spread over the key */
            for (size_t k = 0; k < 4 * strlen(key) + 4; k += 3) {
                char v[80];
                key_variant(key, k, v, sizeof(v));
                if (fl_setting_find(v) != NULL)
                    continue;
                const char *got = fl_setting_suggest(v), *want = suggest_reference(v);
                ck_assert_msg(got == want, "\"%s\": got %s, want %s", v, got ? got : "(none)",
                              want ? want : "(none)");
                tried++;
            }
        }
    ck_assert_uint_gt(tried, 1500);
}
END_TEST

/* --- bad configs ------------------------------------------------------------------ */

#define MAX_BAD 64
static char *bad_files[MAX_BAD];
static int nbad;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the .conf files in tests/conf/bad/ (sorted) before the suite is built. */
static void scan_bad_fixtures(void)
{
    char dir[PATH_MAX];
    src_path(dir, sizeof(dir), "tests/conf/bad");
    DIR *d = opendir(dir);
    if (d == NULL)
        return; /* test_bad_fixtures_present fails */
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nbad < MAX_BAD) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".conf") == 0)
            bad_files[nbad++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(bad_files, (size_t)nbad, sizeof(bad_files[0]), cmp_str);
}

START_TEST(test_bad_fixtures_present)
{
    ck_assert_msg(nbad >= 20,
                  "found %d bad fixtures under %s/tests/conf/bad, want at least 20", nbad,
                  srcdir());
}
END_TEST

/* Reads a bad fixture; writes an expanded copy (${confdir} replaced) to the
   temp directory when needed.  Returns the path to load and the expected
   error lines (full text, with absolute paths). */
static void prepare_bad(const char *name, char *path, size_t pathlen, struct fl_buf *want,
                        int *nwant)
{
    char confdir[PATH_MAX], fixture[PATH_MAX + 256];
    src_path(confdir, sizeof(confdir), "tests/conf/bad");
    snprintf(fixture, sizeof(fixture), "%s/%s", confdir, name);
    char *text = read_file(fixture);
    ck_assert_msg(strlen(fixture) < pathlen, "%s: path too long", fixture);
    memcpy(path, fixture, strlen(fixture) + 1);
    if (strstr(text, "${confdir}") != NULL) {
        struct fl_buf exp;
        fl_buf_init(&exp);
        for (const char *p = text; *p;) {
            if (strncmp(p, "${confdir}", 10) == 0) {
                fl_buf_puts(&exp, confdir);
                p += 10;
            } else {
                fl_buf_putc(&exp, *p++);
            }
        }
        snprintf(path, pathlen, "%s", write_tmp(name, exp.data, exp.len));
        fl_buf_free(&exp);
    }
    *nwant = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (strncmp(line, "# expect: ", 10) == 0) {
            const char *e = line + 10;
            size_t elen = len - 10;
            size_t flen = strcspn(e, ":");
            /* The file part is the loaded file's name or an included file
               next to the fixture: make it the absolute path. */
            if (flen == strlen(name) && strncmp(e, name, flen) == 0)
                fl_buf_puts(want, path);
            else
                fl_buf_printf(want, "%s/%.*s", confdir, (int)flen, e);
            fl_buf_append(want, e + flen, elen - flen);
            fl_buf_putc(want, '\n');
            (*nwant)++;
        }
        line = nl ? nl + 1 : NULL;
    }
    ck_assert_msg(*nwant > 0, "%s: no \"# expect: \" line", fixture);
    free(text);
}

/* Checks that every line of errors is "/abs/path:LINE: error: text". */
static void assert_error_shape(const char *label, const char *errors)
{
    for (const char *line = errors; *line;) {
        const char *nl = strchr(line, '\n');
        ck_assert_msg(nl != NULL, "%s: the error text does not end in a newline: %s",
                      label, line);
        const char *tag = strstr(line, ": error: ");
        ck_assert_msg(line[0] == '/' && tag != NULL && tag < nl,
                      "%s: not \"/path:line: error: \": %.*s", label, (int)(nl - line),
                      line);
        const char *d = tag;
        while (d > line && d[-1] >= '0' && d[-1] <= '9')
            d--;
        ck_assert_msg(d < tag && d > line && d[-1] == ':',
                      "%s: no line number before \": error: \": %.*s", label,
                      (int)(nl - line), line);
        ck_assert_msg(tag + 9 < nl, "%s: empty message: %.*s", label, (int)(nl - line),
                      line);
        line = nl + 1;
    }
}

/* Asserts each line of want is somewhere in got (want's text may be a
   prefix of the real message), and that got has as many lines. */
static void assert_errors_expected(const char *label, const char *got, const char *want,
                                   int nwant)
{
    int ngot = 0;
    for (const char *p = got; (p = strchr(p, '\n')) != NULL; p++)
        ngot++;
    ck_assert_msg(ngot == nwant, "%s: %d error lines, want %d:\n%s", label, ngot, nwant,
                  got);
    for (const char *line = want; *line;) {
        const char *nl = strchr(line, '\n');
        char *one = strndup(line, (size_t)(nl - line));
        ck_assert_msg(strstr(got, one) != NULL, "%s:\n got: %s\nwant: %s", label, got,
                      one);
        free(one);
        line = nl + 1;
    }
}

START_TEST(test_bad_config)
{
    const char *name = bad_files[_i];
    char path[PATH_MAX];
    struct fl_buf want;
    fl_buf_init(&want);
    int nwant;
    prepare_bad(name, path, sizeof(path), &want, &nwant);

    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_config_load(path, &cfg, &errors);
    ck_assert_msg(rc == -1, "%s: loaded (rc %d), want an error", name, rc);
    ck_assert_msg(cfg == NULL, "%s: *cfg_r was set on failure", name);
    assert_error_shape(name, errors.data);
    assert_errors_expected(name, errors.data, want.data, nwant);
    fl_buf_free(&errors);
    fl_buf_free(&want);
}
END_TEST

START_TEST(test_bad_config_daemon)
{
    /* faultline -n -c BAD exits 2 and prints exactly the loader's errors. */
    const char *name = bad_files[_i];
    char path[PATH_MAX];
    struct fl_buf want;
    fl_buf_init(&want);
    int nwant;
    prepare_bad(name, path, sizeof(path), &want, &nwant);
    struct fl_config *cfg = NULL;
    struct fl_buf errors;
    fl_buf_init(&errors);
    ck_assert_int_eq(fl_config_load(path, &cfg, &errors), -1);

    char cmd[2 * PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "'%s' -n -c '%s' 2>&1 >/dev/null", faultline_bin(), path);
    int status;
    char *got = run(cmd, &status);
    ck_assert_msg(status == 2, "%s: faultline -n exited with %d, want 2", name, status);
    ck_assert_msg(strcmp(got, errors.data) == 0,
                  "%s: faultline -n stderr:\n got: %s\nwant: %s", name, got, errors.data);
    free(got);
    fl_buf_free(&errors);
    fl_buf_free(&want);
}
END_TEST

START_TEST(test_good_config_daemon)
{
    /* all_keys.conf sets user empty, so the check does not depend on a
       "faultline" account existing on the test host. */
    char path[PATH_MAX], cmd[2 * PATH_MAX + 64], want[PATH_MAX + 64];
    src_path(path, sizeof(path), "tests/conf/good/all_keys.conf");
    snprintf(cmd, sizeof(cmd), "'%s' -n -c '%s' 2>&1", faultline_bin(), path);
    int status;
    char *got = run(cmd, &status);
    snprintf(want, sizeof(want), "%s: configuration is valid\n", path);
    ck_assert_msg(status == 0, "faultline -n on a good config exited with %d: %s", status,
                  got);
    ck_assert_msg(strcmp(got, want) == 0, "faultline -n output:\n got: %s\nwant: %s", got,
                  want);
    free(got);
}
END_TEST

/* --- restart changes, reference counting ---------------------------------------- */

struct restart_row {
    const char *label;
    const char *a, *b;
    const char *want;
};

/* clang-format off */
static const struct restart_row restart_rows[] = {
    {"a changed socket needs a restart",
     "socket = unix:/run/faultline/faultline.sock\n", "socket = inet:1234@127.0.0.1\n",
     "socket changed from \"unix:/run/faultline/faultline.sock\" to \"inet:1234@127.0.0.1\": "
     "takes effect after a restart\n"},
    {"a changed log_level does not", "log_level = info\n", "log_level = debug\n", ""},
    {"a changed trusted_networks does not", "trusted_networks = 10.0.0.0/8\n",
     "trusted_networks = 192.0.2.0/24\n", ""},
    {"the same value spelled differently is no change", "socket_mode = 660\nworker_threads = 4\n",
     "socket_mode = 0660\n", ""},
    {"several changes are listed in table order",
     "worker_threads = 8\nuser = a\n", "user = b\nworker_threads = 2\n",
     "user changed from \"a\" to \"b\": takes effect after a restart\n"
     "worker_threads changed from \"8\" to \"2\": takes effect after a restart\n"},
    {"identical configs have no changes", "", "", ""},
};
/* clang-format on */

START_TEST(test_restart_changes)
{
    const struct restart_row *row = &restart_rows[_i];
    struct fl_config *a =
        load_ok(row->label, write_tmp("a.conf", row->a, strlen(row->a)));
    struct fl_config *b =
        load_ok(row->label, write_tmp("b.conf", row->b, strlen(row->b)));
    struct fl_buf out;
    fl_buf_init(&out);
    fl_config_restart_changes(a, b, &out);
    ck_assert_msg(strcmp(out.data, row->want) == 0, "%s:\n got: %s\nwant: %s", row->label,
                  out.data, row->want);
    fl_buf_free(&out);
    fl_config_unref(&a);
    fl_config_unref(&b);
}
END_TEST

START_TEST(test_ref_unref)
{
    struct fl_config *cfg = fl_config_defaults();
    struct fl_config *second = fl_config_ref(cfg);
    ck_assert_msg(second == cfg, "ref returns the same snapshot");
    ck_assert_msg(cfg->refcount == 2, "after ref: refcount %d, want 2", cfg->refcount);
    fl_config_unref(&second);
    ck_assert_msg(second == NULL, "unref sets the pointer to NULL");
    ck_assert_msg(cfg->refcount == 1,
                  "after one unref: refcount %d, want 1 (still usable)", cfg->refcount);
    ck_assert_msg(strcmp(cfg->socket, "inet:8895@127.0.0.1") == 0,
                  "still usable: socket %s", cfg->socket);
    fl_config_unref(&cfg); /* frees; valgrind checks nothing leaks */
    ck_assert_msg(cfg == NULL, "the last unref sets the pointer to NULL");
    fl_config_unref(&cfg); /* NULL is accepted */
}
END_TEST

/* --- CIDR -------------------------------------------------------------------------- */

struct match_row {
    const char *label;
    const char *networks; /* comma separated */
    const char *addr;
    bool want;
};

/* clang-format off */
static const struct match_row match_rows[] = {
    {"an IPv4 address inside a /24", "192.0.2.0/24", "192.0.2.7", true},
    {"the network address itself", "192.0.2.0/24", "192.0.2.0", true},
    {"the broadcast address", "192.0.2.0/24", "192.0.2.255", true},
    {"the next network is outside", "192.0.2.0/24", "192.0.3.0", false},
    {"a /23 includes its odd half", "192.0.2.0/23", "192.0.3.200", true},
    {"a /25 excludes the upper half", "192.0.2.0/25", "192.0.2.128", false},
    {"a bare IPv4 address is a /32", "192.0.2.7", "192.0.2.7", true},
    {"a bare IPv4 address matches only itself", "192.0.2.7", "192.0.2.8", false},
    {"host bits in the network text are ignored", "192.0.2.77/24", "192.0.2.1", true},
    {"0.0.0.0/0 matches every IPv4 address", "0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0 does not match IPv6", "0.0.0.0/0", "2001:db8::1", false},
    {"::/0 matches every IPv6 address", "::/0", "2001:db8::1", true},
    {"::/0 does not match a plain IPv4 address", "::/0", "192.0.2.1", false},
    {"an IPv6 address inside a /32", "2001:db8::/32", "2001:db8:ffff::1", true},
    {"an IPv6 address outside a /32", "2001:db8::/32", "2001:db9::1", false},
    {"a /121 IPv6 boundary", "2001:db8::80/121", "2001:db8::ff", true},
    {"below a /121 IPv6 boundary", "2001:db8::80/121", "2001:db8::7f", false},
    {"upper-case IPv6 text matches", "2001:db8::/32", "2001:DB8::1", true},
    {"a bracketed IPv6 network", "[2001:db8::]/32", "2001:db8::5", true},
    {"a bracketed IPv6 address is a /128", "[2001:db8::1]", "2001:db8::1", true},
    {"an IPv4-mapped IPv6 client matches an IPv4 network", "192.0.2.0/24", "::ffff:192.0.2.7",
     true},
    {"an IPv4-mapped IPv6 client outside the IPv4 network", "192.0.2.0/24",
     "::ffff:198.51.100.1", false},
    {"an IPv4-mapped IPv6 client matches 0.0.0.0/0", "0.0.0.0/0", "::ffff:10.0.0.1", true},
    {"an IPv4-mapped client matches a mapped IPv6 network too", "::ffff:0:0/96",
     "::ffff:192.0.2.1", true},
    {"::1 is loopback", "127.0.0.0/8, ::1/128", "::1", true},
    {"::1/128 does not match 127.0.0.1", "::1/128", "127.0.0.1", false},
    {"the second network of a list matches", "10.0.0.0/8, 192.0.2.0/24", "192.0.2.9", true},
    {"text that is not an address never matches", "0.0.0.0/0, ::/0", "not-an-ip", false},
    {"an empty address never matches", "0.0.0.0/0, ::/0", "", false},
    {"a bracketed client address is not an address", "::/0", "[2001:db8::1]", false},
    {"an empty list matches nothing", "", "192.0.2.1", false},
};
/* clang-format on */

static void parse_list(const char *label, const char *text, struct fl_cidr_list *list)
{
    memset(list, 0, sizeof(*list));
    char *copy = strdup(text), *save = NULL;
    for (char *item = strtok_r(copy, ", ", &save); item;
         item = strtok_r(NULL, ", ", &save)) {
        struct fl_cidr c;
        struct fl_buf why;
        fl_buf_init(&why);
        ck_assert_msg(fl_cidr_parse(item, &c, &why) == 0, "%s: \"%s\": %s", label, item,
                      why.data);
        fl_buf_free(&why);
        fl_cidr_list_add(list, &c);
    }
    free(copy);
}

START_TEST(test_cidr_match)
{
    const struct match_row *row = &match_rows[_i];
    struct fl_cidr_list list;
    parse_list(row->label, row->networks, &list);
    bool got = fl_cidr_list_match(&list, row->addr);
    ck_assert_msg(got == row->want, "%s: %s in %s: got %d, want %d", row->label,
                  row->addr, row->networks, got, row->want);
    fl_cidr_list_free(&list);
    ck_assert_msg(list.items == NULL && list.count == 0, "%s: free left items",
                  row->label);
}
END_TEST

struct cidr_parse_row {
    const char *label;
    const char *text;
    const char *want; /* formatted, or NULL when parsing fails */
    const char *want_error;
};

/* clang-format off */
static const struct cidr_parse_row cidr_parse_rows[] = {
    {"host bits are cleared", "192.0.2.77/24", "192.0.2.0/24", NULL},
    {"a bare IPv4 address is /32", "192.0.2.7", "192.0.2.7/32", NULL},
    {"an odd prefix clears part of a byte", "10.255.255.255/9", "10.128.0.0/9", NULL},
    {"/0 clears everything", "10.1.2.3/0", "0.0.0.0/0", NULL},
    {"IPv6 is written in lower case", "2001:DB8::1", "2001:db8::1/128", NULL},
    {"brackets are dropped", "[2001:db8::]/32", "2001:db8::/32", NULL},
    {"IPv6 host bits are cleared", "2001:db8::ffff/112", "2001:db8::/112", NULL},
    {"an empty text", "", NULL, "not an IP address"},
    {"a host name", "example.org", NULL, "not an IP address"},
    {"three octets", "192.0.2", NULL, "not an IP address"},
    {"an octet over 255", "192.0.2.300", NULL, "not an IP address"},
    {"an unclosed bracket", "[2001:db8::1", NULL, "not an IP address"},
    {"only a prefix", "/24", NULL, "not an IP address"},
    {"a slash without a prefix", "192.0.2.0/", NULL, "prefix length must be 0..32"},
    {"an IPv4 prefix over 32", "192.0.2.0/33", NULL, "prefix length must be 0..32"},
    {"a negative prefix", "192.0.2.0/-1", NULL, "prefix length must be 0..32"},
    {"junk after the prefix", "192.0.2.0/24x", NULL, "prefix length must be 0..32"},
    {"an IPv6 prefix over 128", "2001:db8::/129", NULL, "prefix length must be 0..128"},
};
/* clang-format on */

START_TEST(test_cidr_parse)
{
    const struct cidr_parse_row *row = &cidr_parse_rows[_i];
    struct fl_cidr c;
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_cidr_parse(row->text, &c, &why);
    if (row->want) {
        ck_assert_msg(rc == 0, "%s: \"%s\": got error %s", row->label, row->text,
                      why.data);
        char out[64];
        fl_cidr_format(&c, out, sizeof(out));
        ck_assert_msg(strcmp(out, row->want) == 0, "%s: \"%s\": got %s, want %s",
                      row->label, row->text, out, row->want);
    } else {
        ck_assert_msg(rc == -1, "%s: \"%s\": parsed, want an error", row->label,
                      row->text);
        ck_assert_msg(strcmp(why.data, row->want_error) == 0,
                      "%s: \"%s\": got \"%s\", want \"%s\"", row->label, row->text,
                      why.data, row->want_error);
    }
    fl_buf_free(&why);
}
END_TEST

/* --- main --------------------------------------------------------------------- */

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    int total = (int)settings_total();

    TCase *tc = tcase_create("defaults");
    tcase_add_test(tc, test_defaults);
    tcase_add_loop_test(tc, test_table_entry_complete, 0, total);
    tcase_add_loop_test(tc, test_default_reparses, 0, total);
    tcase_add_loop_test(tc, test_default_formats_as_written, 0, total);
    tcase_add_loop_test(tc, test_format_round_trip, 0, total);
    tcase_add_test(tc, test_format_unknown_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("generated_docs");
    tcase_add_test(tc, test_sample_lists_every_default);
    tcase_add_test(tc, test_sample_loads_at_defaults);
    tcase_add_test(tc, test_dump_matches_sample);
    tcase_add_test(tc, test_man_page_matches_tables);
    suite_add_tcase(s, tc);

    tc = tcase_create("good");
    tcase_add_loop_test(tc, test_good_config, 0, (int)NELEMS(good_rows));
    tcase_add_test(tc, test_good_config_typed_fields);
    tcase_add_test(tc, test_all_keys_covers_every_setting);
    tcase_add_test(tc, test_good_fixtures_all_tested);
    tcase_add_test(tc, test_trusted_networks_from_file);
    tcase_add_loop_test(tc, test_value, 0, (int)NELEMS(value_rows));
    tcase_add_test(tc, test_list_from_file);
    tcase_add_test(tc, test_nul_byte);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_hostile_files);
    tcase_add_loop_test(tc, test_suggest, 0, (int)NELEMS(suggest_rows));
    tcase_add_test(tc, test_suggest_same_as_full_search);
    tcase_add_test(tc, test_good_config_daemon);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad");
    tcase_add_test(tc, test_bad_fixtures_present);
    tcase_add_loop_test(tc, test_bad_config, 0, nbad);
    tcase_add_loop_test(tc, test_bad_config_daemon, 0, nbad);
    suite_add_tcase(s, tc);

    tc = tcase_create("snapshot");
    tcase_add_loop_test(tc, test_restart_changes, 0, (int)NELEMS(restart_rows));
    tcase_add_test(tc, test_ref_unref);
    suite_add_tcase(s, tc);

    tc = tcase_create("cidr");
    tcase_add_loop_test(tc, test_cidr_match, 0, (int)NELEMS(match_rows));
    tcase_add_loop_test(tc, test_cidr_parse, 0, (int)NELEMS(cidr_parse_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (tmp_make() < 0) {
        perror("check_config: mkdtemp");
        return EXIT_FAILURE;
    }
    scan_bad_fixtures();
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < nbad; i++)
        free(bad_files[i]);
    tmp_remove();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
