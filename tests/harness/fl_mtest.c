/* fl-mtest: drives a milter over its socket like Postfix does, for
   faultline's protocol tests and benchmarks.
     replay: one SMTP session, one transcript line per event on stdout;
     load:   many sessions from a pool of threads (one connection per
             session), one summary line with throughput and latency.
   Thread-safety: load mode shares only the parsed messages (read-only),
   atomic counters and a per-index latency array. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tests/harness/milter_client.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_RCPTS  64
#define MAX_MACROS 64

struct opt_macro {
    enum fl_mc_stage stage;
    char *name, *value;
};

struct opts {
    const char *socket;
    const char *client_ip, *client_ptr, *helo, *from, *queue_id;
    const char *rcpts[MAX_RCPTS + 1];
    size_t nrcpts;
    struct opt_macro macros[MAX_MACROS];
    size_t nmacros;
    int no_default_macros;
    unsigned port;
    size_t chunk;
    int timeout_ms;
    long concurrency, messages;
};

static const char usage_text[] =
    "usage: fl-mtest -s SOCKET [options] MSGFILE\n"
    "       fl-mtest load -s SOCKET -c CONCURRENCY -n MESSAGES [options] DIR_OR_FILE\n"
    "options:\n"
    "  -s SOCKET        unix:/path, local:/path, inet:PORT@IP, inet6:PORT@IP\n"
    "  -i CLIENT_IP     client address (default 192.0.2.1)\n"
    "  -p CLIENT_PTR    verified client name (default: unknown, sent as [ip])\n"
    "  -P PORT          client port (default 54321)\n"
    "  -H HELO          HELO name (default client.example)\n"
    "  -f MAILFROM      envelope sender, '' for <> (default sender@example.com)\n"
    "  -r RCPT          recipient, repeatable (default rcpt@example.net)\n"
    "  -q QUEUEID       queue id for macro i (default: generated)\n"
    "  -m STAGE:NAME=VALUE  macro (stage connect|helo|mail|rcpt|data|eoh|eom), "
    "repeatable\n"
    "  -M               send no default macros, only -m ones\n"
    "  -C CHUNK         body bytes per packet (default 65535)\n"
    "  -t TIMEOUT_MS    connect and per-reply timeout (default 10000)\n"
    "load: NAME.env next to NAME.eml (\"CLIENT_IP HELO MAIL_FROM\") is that message's envelope\n"
    "exit: 0 session(s) completed, 1 protocol/connection error, 2 usage error\n";

static int usage(const char *msg)
{
    if (msg != NULL)
        fprintf(stderr, "fl-mtest: %s\n", msg);
    fputs(usage_text, stderr);
    return 2;
}

static int stage_by_name(const char *s, size_t n, enum fl_mc_stage *stage_r)
{
    static const char *const names[FL_MC_STAGE_COUNT] = {
        [FL_MC_STAGE_CONNECT] = "connect", [FL_MC_STAGE_HELO] = "helo",
        [FL_MC_STAGE_MAIL] = "mail",       [FL_MC_STAGE_RCPT] = "rcpt",
        [FL_MC_STAGE_DATA] = "data",       [FL_MC_STAGE_EOM] = "eom",
        [FL_MC_STAGE_EOH] = "eoh"};
    int i;

    for (i = 0; i < FL_MC_STAGE_COUNT; i++) {
        if (strlen(names[i]) == n && strncmp(names[i], s, n) == 0) {
            *stage_r = (enum fl_mc_stage)i;
            return 0;
        }
    }
    return -1;
}

static const char *stage_name(int stage)
{
    static const char *const names[FL_MC_STAGE_COUNT] = {"connect", "helo", "mail", "rcpt",
                                                         "data",    "eom",  "eoh"};

    return stage >= 0 && stage < FL_MC_STAGE_COUNT ? names[stage] : "?";
}

static int parse_long(const char *s, long min, long max, long *v_r)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *v_r = v;
    return 0;
}

/* Parses the options shared by both modes; returns the index of the first
   operand, or -1 after printing a usage error. */
static int parse_opts(int argc, char **argv, int load, struct opts *o)
{
    int c;
    long v;

    o->client_ip = "192.0.2.1";
    o->helo = "client.example";
    o->from = "sender@example.com";
    o->port = 54321;
    o->timeout_ms = 10000;
    o->chunk = FL_MC_CHUNK_DEFAULT;
    while ((c = getopt(argc, argv, load ? "s:i:p:P:H:f:r:q:m:MC:t:c:n:h"
                                        : "s:i:p:P:H:f:r:q:m:MC:t:h")) != -1) {
        switch (c) {
        case 's':
            o->socket = optarg;
            break;
        case 'i':
            o->client_ip = optarg;
            break;
        case 'p':
            o->client_ptr = optarg;
            break;
        case 'P':
            if (parse_long(optarg, 0, 65535, &v) < 0)
                return usage("bad -P port"), -1;
            o->port = (unsigned)v;
            break;
        case 'H':
            o->helo = optarg;
            break;
        case 'f':
            o->from = optarg;
            break;
        case 'r':
            if (o->nrcpts == MAX_RCPTS)
                return usage("too many -r"), -1;
            o->rcpts[o->nrcpts++] = optarg;
            break;
        case 'q':
            o->queue_id = optarg;
            break;
        case 'm': {
            const char *colon = strchr(optarg, ':'), *eq;
            struct opt_macro *m = &o->macros[o->nmacros];

            if (o->nmacros == MAX_MACROS)
                return usage("too many -m"), -1;
            if (colon == NULL || (eq = strchr(colon, '=')) == NULL || eq == colon + 1 ||
                stage_by_name(optarg, (size_t)(colon - optarg), &m->stage) < 0)
                return usage("bad -m (want STAGE:NAME=VALUE)"), -1;
            m->name = strndup(colon + 1, (size_t)(eq - colon - 1));
            m->value = strdup(eq + 1);
            if (m->name == NULL || m->value == NULL)
                abort();
            o->nmacros++;
            break;
        }
        case 'M':
            o->no_default_macros = 1;
            break;
        case 'C':
            if (parse_long(optarg, 1, FL_MC_CHUNK_MAX, &v) < 0)
                return usage("bad -C chunk size"), -1;
            o->chunk = (size_t)v;
            break;
        case 't':
            if (parse_long(optarg, 1, 3600000, &v) < 0)
                return usage("bad -t timeout"), -1;
            o->timeout_ms = (int)v;
            break;
        case 'c':
            if (parse_long(optarg, 1, 4096, &o->concurrency) < 0)
                return usage("bad -c concurrency"), -1;
            break;
        case 'n':
            if (parse_long(optarg, 1, 100000000, &o->messages) < 0)
                return usage("bad -n messages"), -1;
            break;
        default:
            return usage(NULL), -1;
        }
    }
    if (o->socket == NULL)
        return usage("-s SOCKET is required"), -1;
    if (optind != argc - 1)
        return usage(load ? "one DIR_OR_FILE expected" : "one MSGFILE expected"), -1;
    if (load && (o->concurrency == 0 || o->messages == 0))
        return usage("load needs -c and -n"), -1;
    if (o->nrcpts == 0)
        o->rcpts[o->nrcpts++] = "rcpt@example.net";
    o->rcpts[o->nrcpts] = NULL;
    return optind;
}

static void free_opts(struct opts *o)
{
    size_t i;

    for (i = 0; i < o->nmacros; i++) {
        free(o->macros[i].name);
        free(o->macros[i].value);
    }
}

/* A queue id unique across runs and sessions: time, pid, index in hex. */
static void make_queue_id(char *buf, size_t size, size_t idx)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    snprintf(buf, size, "%05lX%04X%05zX", (unsigned long)tv.tv_sec & 0xfffff,
             (unsigned)getpid() & 0xffff, idx & 0xfffff);
}

static struct fl_mc *new_client(const struct opts *o)
{
    struct fl_mc_settings set;
    struct fl_mc *mc;
    size_t i;

    fl_mc_settings_init(&set);
    set.connect_timeout_ms = o->timeout_ms;
    set.reply_timeout_ms = o->timeout_ms;
    mc = fl_mc_create(&set);
    for (i = 0; i < o->nmacros; i++)
        fl_mc_set_macro(mc, o->macros[i].stage, o->macros[i].name, o->macros[i].value);
    return mc;
}

static void fill_envelope(const struct opts *o, const char *queue_id,
                          struct fl_mc_envelope *env)
{
    memset(env, 0, sizeof(*env));
    env->client_addr = o->client_ip;
    env->client_name = o->client_ptr;
    env->client_port = (uint16_t)o->port;
    env->helo = o->helo;
    env->sender = o->from;
    env->rcpts = o->rcpts;
    env->queue_id = queue_id;
    env->body_chunk = o->chunk;
    env->no_default_macros = o->no_default_macros;
}

/* ---- replay ---- */

/* Prints s with \n, \r, \t, \\ and other control bytes escaped. */
static void put_escaped(FILE *fp, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '\n')
            fputs("\\n", fp);
        else if (ch == '\r')
            fputs("\\r", fp);
        else if (ch == '\t')
            fputs("\\t", fp);
        else if (ch == '\\')
            fputs("\\\\", fp);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(fp, "\\x%02x", ch);
        else
            fputc(ch, fp);
    }
}

static void put_str(FILE *fp, const char *s)
{
    if (s != NULL)
        put_escaped(fp, s, strlen(s));
}

static void print_mod(FILE *fp, const char *step, const struct fl_mc_mod *m)
{
    fprintf(fp, "%s ", step);
    switch (m->type) {
    case 'h':
        fputs("addheader ", fp);
        put_str(fp, m->name);
        fputs(": ", fp);
        put_str(fp, m->value);
        break;
    case 'i':
        fprintf(fp, "insheader %u ", (unsigned)m->index);
        put_str(fp, m->name);
        fputs(": ", fp);
        put_str(fp, m->value);
        break;
    case 'm':
        fputs(m->value_len == 0 ? "delheader " : "chgheader ", fp);
        put_str(fp, m->name);
        fprintf(fp, " %u", (unsigned)m->index);
        if (m->value_len > 0) {
            fputc(' ', fp);
            put_str(fp, m->value);
        }
        break;
    case '+':
    case '-':
    case '2':
    case 'e':
        fputs(m->type == '+' ? "addrcpt " : m->type == '-' ? "delrcpt "
                                        : m->type == '2' ? "addrcpt_par "
                                                         : "chgfrom ",
              fp);
        put_str(fp, m->name);
        if (m->value != NULL) {
            fputc(' ', fp);
            put_str(fp, m->value);
        }
        break;
    case 'b':
        fprintf(fp, "replbody %zu", m->value_len);
        break;
    case 'q':
        fputs("quarantine ", fp);
        put_str(fp, m->name);
        break;
    default:
        fprintf(fp, "mod-%c", m->type);
    }
    fputc('\n', fp);
}

static void print_transcript(FILE *fp, const struct fl_mc *mc, const struct fl_mc_session *s)
{
    const struct fl_mc_negotiated *neg = fl_mc_negotiated(mc);
    char acts[256], proto[512];
    size_t i, k;
    int st;

    if (neg->version != 0) {
        fl_mc_actions_str(neg->actions, acts, sizeof(acts));
        fl_mc_protocol_str(neg->protocol, proto, sizeof(proto));
        fprintf(fp, "optneg version=%u actions=%s protocol=%s\n", (unsigned)neg->version,
                acts, proto);
        for (st = 0; st < FL_MC_STAGE_COUNT; st++) {
            if (neg->symlist[st] != NULL) {
                fprintf(fp, "symlist %s ", stage_name(st));
                put_str(fp, neg->symlist[st]);
                fputc('\n', fp);
            }
        }
    }
    for (i = 0; i < s->nevents; i++) {
        const struct fl_mc_event *e = &s->events[i];
        const char *step = fl_mc_step_name(e->step);

        for (k = 0; k < e->reply.nmods; k++)
            print_mod(fp, step, &e->reply.mods[k]);
        fprintf(fp, "%s %s", step, fl_mc_code_name(e->reply.code));
        if (e->reply.text != NULL) {
            fputc(' ', fp);
            put_str(fp, e->reply.text);
        }
        fputc('\n', fp);
    }
}

static int replay(int argc, char **argv)
{
    struct opts o = {0};
    struct fl_mc_message *msg = NULL;
    struct fl_mc_session s;
    struct fl_mc_envelope env;
    struct fl_mc *mc;
    const char *error;
    char errbuf[512], qid[32];
    int first = parse_opts(argc, argv, 0, &o), ret;

    if (first < 0) {
        free_opts(&o);
        return 2;
    }
    if (fl_mc_message_load(argv[first], &msg, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "fl-mtest: %s\n", errbuf);
        free_opts(&o);
        return 1;
    }
    if (o.queue_id == NULL)
        make_queue_id(qid, sizeof(qid), 0);
    fill_envelope(&o, o.queue_id != NULL ? o.queue_id : qid, &env);
    mc = new_client(&o);
    ret = fl_mc_run_session(mc, o.socket, &env, msg, &s, &error);
    print_transcript(stdout, mc, &s);
    fflush(stdout);
    if (ret < 0)
        fprintf(stderr, "fl-mtest: %s\n", error);
    fl_mc_session_clear(&s);
    fl_mc_destroy(&mc);
    fl_mc_message_free(&msg);
    free_opts(&o);
    return ret < 0 ? 1 : 0;
}

/* ---- load ---- */

/* A message's own envelope, from NAME.env next to NAME.eml (one line:
   "CLIENT_IP HELO MAIL_FROM"), overriding -i, -H and -f. */
struct load_env {
    char ip[64], helo[256], from[512];
};

struct load {
    const struct opts *o;
    struct fl_mc_message **msgs;
    struct load_env **envs; /* per message, NULL: the options' envelope */
    size_t nmsgs;
    double *lat_ms; /* per session; < 0 when it failed */
    atomic_size_t next;
    atomic_size_t errors;
};

static double mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *load_worker(void *arg)
{
    struct load *l = arg;
    size_t idx;

    while ((idx = atomic_fetch_add(&l->next, 1)) < (size_t)l->o->messages) {
        struct fl_mc *mc = new_client(l->o);
        struct fl_mc_envelope env;
        struct fl_mc_session s;
        const char *error;
        char qid[32];
        double t0 = mono_ms();

        make_queue_id(qid, sizeof(qid), idx);
        fill_envelope(l->o, qid, &env);
        if (l->envs != NULL && l->envs[idx % l->nmsgs] != NULL) {
            const struct load_env *e = l->envs[idx % l->nmsgs];
            env.client_addr = e->ip;
            env.helo = e->helo;
            env.sender = e->from;
        }
        if (fl_mc_run_session(mc, l->o->socket, &env, l->msgs[idx % l->nmsgs], &s,
                              &error) < 0) {
            if (atomic_fetch_add(&l->errors, 1) < 5)
                fprintf(stderr, "fl-mtest: session %zu: %s\n", idx, error);
            l->lat_ms[idx] = -1;
        } else {
            l->lat_ms[idx] = mono_ms() - t0;
        }
        fl_mc_session_clear(&s);
        fl_mc_destroy(&mc);
    }
    return NULL;
}

static int eml_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);

    return n > 4 && strcmp(d->d_name + n - 4, ".eml") == 0;
}

/* Reads the envelope sidecar of file NAME.eml (NAME.env), or NULL. */
static struct load_env *load_env_read(const char *eml)
{
    char path[4096];
    struct load_env *e;
    FILE *fp;
    size_t n = strlen(eml);

    if (n < 4 || n >= sizeof(path))
        return NULL;
    memcpy(path, eml, n - 4);
    memcpy(path + n - 4, ".env", 5);
    if ((fp = fopen(path, "r")) == NULL)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        abort();
    if (fscanf(fp, "%63s %255s %511s", e->ip, e->helo, e->from) != 3) {
        free(e);
        e = NULL;
    }
    fclose(fp);
    return e;
}

/* Loads the .eml files of a directory (sorted by name), or one file. */
static int load_messages(const char *path, struct load *l)
{
    struct dirent **names = NULL;
    struct stat st;
    char errbuf[512], file[4096];
    int n, i, ret = 0;

    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        l->msgs = calloc(1, sizeof(*l->msgs));
        if (l->msgs == NULL)
            abort();
        if (fl_mc_message_load(path, &l->msgs[0], errbuf, sizeof(errbuf)) < 0) {
            fprintf(stderr, "fl-mtest: %s\n", errbuf);
            return -1;
        }
        l->envs = calloc(1, sizeof(*l->envs));
        if (l->envs == NULL)
            abort();
        l->envs[0] = load_env_read(path);
        l->nmsgs = 1;
        return 0;
    }
    if ((n = scandir(path, &names, eml_filter, alphasort)) <= 0) {
        fprintf(stderr, "fl-mtest: %s: no .eml files\n", path);
        free(names);
        return -1;
    }
    l->msgs = calloc((size_t)n, sizeof(*l->msgs));
    l->envs = calloc((size_t)n, sizeof(*l->envs));
    if (l->msgs == NULL || l->envs == NULL)
        abort();
    for (i = 0; i < n; i++) {
        snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
        if (ret == 0 && fl_mc_message_load(file, &l->msgs[l->nmsgs], errbuf,
                                           sizeof(errbuf)) < 0) {
            fprintf(stderr, "fl-mtest: %s\n", errbuf);
            ret = -1;
        } else if (ret == 0) {
            l->envs[l->nmsgs] = load_env_read(file);
            l->nmsgs++;
        }
        free(names[i]);
    }
    free(names);
    return ret;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0;
    rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[rank == 0 ? 0 : rank - 1];
}

static int load(int argc, char **argv)
{
    struct opts o = {0};
    struct load l;
    pthread_t *threads;
    double t0, elapsed, *ok;
    size_t i, nok = 0, errors;
    long nthreads, started = 0;
    int first = parse_opts(argc, argv, 1, &o);

    if (first < 0) {
        free_opts(&o);
        return 2;
    }
    memset(&l, 0, sizeof(l));
    l.o = &o;
    atomic_init(&l.next, 0);
    atomic_init(&l.errors, 0);
    if (load_messages(argv[first], &l) < 0) {
        for (i = 0; i < l.nmsgs; i++)
            fl_mc_message_free(&l.msgs[i]);
        free(l.msgs);
        free_opts(&o);
        return 1;
    }
    nthreads = o.concurrency < o.messages ? o.concurrency : o.messages;
    l.lat_ms = calloc((size_t)o.messages, sizeof(double));
    ok = calloc((size_t)o.messages, sizeof(double));
    threads = calloc((size_t)nthreads, sizeof(*threads));
    if (l.lat_ms == NULL || ok == NULL || threads == NULL)
        abort();
    t0 = mono_ms();
    for (; started < nthreads; started++) {
        if (pthread_create(&threads[started], NULL, load_worker, &l) != 0) {
            fprintf(stderr, "fl-mtest: pthread_create failed after %ld threads\n",
                    started);
            break;
        }
    }
    for (i = 0; i < (size_t)started; i++)
        pthread_join(threads[i], NULL);
    elapsed = (mono_ms() - t0) / 1000.0;
    errors = atomic_load(&l.errors);
    if (started == 0)
        errors = (size_t)o.messages;
    for (i = 0; i < (size_t)o.messages && started > 0; i++)
        if (l.lat_ms[i] >= 0)
            ok[nok++] = l.lat_ms[i];
    qsort(ok, nok, sizeof(double), cmp_double);
    printf("messages=%ld concurrency=%ld errors=%zu elapsed_s=%.3f msgs_per_s=%.1f "
           "p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
           o.messages, o.concurrency, errors, elapsed,
           elapsed > 0 ? (double)nok / elapsed : 0.0, percentile(ok, nok, 50),
           percentile(ok, nok, 95), percentile(ok, nok, 99), nok ? ok[nok - 1] : 0.0);
    for (i = 0; i < l.nmsgs; i++) {
        fl_mc_message_free(&l.msgs[i]);
        if (l.envs != NULL)
            free(l.envs[i]);
    }
    free(l.msgs);
    free(l.envs);
    free(l.lat_ms);
    free(ok);
    free(threads);
    free_opts(&o);
    return errors > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "load") == 0)
        return load(argc - 1, argv + 1);
    return replay(argc, argv);
}
