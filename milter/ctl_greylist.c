/* ctl_greylist: faultlinectl greylist list|allow|remove|stats|expire on the
   store the configuration names (LMDB or Redis), through the
   administration API of lib/greylist/greylist.h.  Output is one record per line of
   key=value fields, stable for scripts.  Single-threaded. */
#include "milter/cli.h"
#include "milter/ctl.h"
#include "lib/core/cidr.h"
#include "lib/greylist/greylist.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct opts {
    const char *client, *sender, *rcpt, *state, *for_text;
    bool all;
};

/* Parses the subcommand's options (argv[0] is the subcommand).  Returns
   0, or FL_CTL_USAGE after printing why. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"client", required_argument, NULL, 'c'},
        {"sender", required_argument, NULL, 's'},
        {"recipient", required_argument, NULL, 'r'},
        {"state", required_argument, NULL, 'S'},
        {"for", required_argument, NULL, 'f'},
        {"all", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    optind = 0; /* glibc: start a fresh scan */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o->client = optarg;
            break;
        case 's':
            o->sender = optarg;
            break;
        case 'r':
            o->rcpt = optarg;
            break;
        case 'S':
            o->state = optarg;
            break;
        case 'f':
            o->for_text = optarg;
            break;
        case 'a':
            o->all = true;
            break;
        default: {
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "faultlinectl: greylist %s", argv[0]);
            fl_cli_bad_option(prefix, opt, argv);
            return FL_CTL_USAGE;
        }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "faultlinectl: greylist %s: unexpected argument \"%s\"\n",
                argv[0], argv[optind]);
        return FL_CTL_USAGE;
    }
    return 0;
}

/* "30d", "12h", "90m", "600s" or plain seconds.  Returns -1 if bad. */
static long long parse_duration(const char *text)
{
    char *end;
    long long n = strtoll(text, &end, 10);
    if (end == text || n <= 0)
        return -1;
    long long unit = 1;
    if (*end != '\0') {
        if (end[1] != '\0')
            return -1;
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return -1;
        }
    }
    if (n > 3650LL * 86400 / unit)
        return -1;
    return n * unit;
}

static void print_time(const char *name, time_t t)
{
    char text[32] = "-";
    struct tm tm;
    if (t != 0 && gmtime_r(&t, &tm) != NULL)
        strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf(" %s=%s", name, text);
}

/* --- list and stats ---------------------------------------------------------- */

struct list_filter {
    bool have_net;
    struct fl_cidr net;
    char sender[FL_GREYLIST_ADDR_MAX];
    char rcpt[FL_GREYLIST_ADDR_MAX];
    bool have_state;
    enum fl_greylist_state state;
    bool all;
    unsigned long shown;
};

/* True if the network text lies inside f->net. */
static bool net_inside(const struct list_filter *f, const char *net)
{
    struct fl_cidr c;
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_cidr_parse(net, &c, &why);
    fl_buf_free(&why);
    if (rc < 0 || c.family != f->net.family || c.prefix < f->net.prefix)
        return false;
    for (unsigned int bit = 0; bit < f->net.prefix; bit++) {
        unsigned int byte = bit / 8, mask = 0x80u >> (bit % 8);
        if ((c.addr[byte] & mask) != (f->net.addr[byte] & mask))
            return false;
    }
    return true;
}

/* An address filter: "" any, "@domain" that domain, else exact. */
static bool addr_match(const char *filter, const char *addr)
{
    if (filter[0] == '\0')
        return true;
    if (filter[0] == '@') {
        const char *at = strrchr(addr, '@');
        return at != NULL && strcasecmp(at, filter) == 0;
    }
    return strcmp(filter, addr) == 0;
}

static int list_one(const struct fl_greylist_entry *e, void *arg)
{
    struct list_filter *f = arg;
    if (e->kind == FL_GREYLIST_PAIR && !f->all)
        return 0;
    if (f->have_net && !net_inside(f, e->net))
        return 0;
    if ((f->sender[0] || f->rcpt[0]) && e->kind == FL_GREYLIST_CLIENT)
        return 0;
    if (!addr_match(f->sender, e->sender) || !addr_match(f->rcpt, e->rcpt))
        return 0;
    if (f->have_state && e->state != f->state)
        return 0;
    f->shown++;
    const struct fl_greylist_record *r = &e->rec;
    switch (e->kind) {
    case FL_GREYLIST_TRIPLET:
        printf("triplet state=%s net=%s sender=%s recipient=%s",
               fl_greylist_state_name(e->state), e->net, e->sender, e->rcpt);
        print_time("first_seen", r->first_seen);
        print_time("last_seen", r->last_seen);
        print_time("passed_at", r->passed_at);
        print_time("expires", r->expires);
        printf(" deferred=%lu too_early=%lu accepted=%lu\n", r->deferred, r->early,
               r->passed);
        break;
    case FL_GREYLIST_CLIENT:
        printf("client state=%s net=%s", fl_greylist_state_name(e->state), e->net);
        print_time("first_seen", r->first_seen);
        print_time("last_seen", r->last_seen);
        print_time("allowed_since", r->admin ? r->first_seen : r->passed_at);
        print_time("expires", r->expires);
        printf(" retries=%lu\n", r->passed);
        break;
    case FL_GREYLIST_PAIR:
        printf("pair state=%s sender=%s recipient=%s last_net=%s",
               fl_greylist_state_name(e->state), e->sender, e->rcpt, r->net);
        print_time("first_seen", r->first_seen);
        print_time("last_seen", r->last_seen);
        print_time("expires", r->expires);
        printf("\n");
        break;
    }
    return 0;
}

static int cmd_list(struct fl_greylist *gl, const struct fl_config *cfg,
                    const struct opts *o)
{
    struct list_filter f;
    memset(&f, 0, sizeof(f));
    f.all = o->all;
    if (o->client != NULL) {
        char net[FL_GREYLIST_NET_MAX];
        struct fl_buf why; /* unused: the message below says it all */
        fl_buf_init(&why);
        int bad =
            fl_greylist_network(o->client, (int)cfg->greylist_ipv4_prefix,
                                (int)cfg->greylist_ipv6_prefix, net, sizeof(net)) < 0 ||
            fl_cidr_parse(net, &f.net, &why) < 0;
        fl_buf_free(&why);
        if (bad) {
            fprintf(stderr, "faultlinectl: --client %s: not an IP address or network\n",
                    o->client);
            return FL_CTL_DATAERR;
        }
        f.have_net = true;
    }
    if (o->sender != NULL) {
        if (o->sender[0] == '@')
            fl_greylist_normalize_rcpt(o->sender, f.sender, sizeof(f.sender));
        else
            fl_greylist_normalize_sender(o->sender, f.sender, sizeof(f.sender));
    }
    if (o->rcpt != NULL)
        fl_greylist_normalize_rcpt(o->rcpt, f.rcpt, sizeof(f.rcpt));
    if (o->state != NULL) {
        if (fl_greylist_state_parse(o->state, &f.state) < 0) {
            fprintf(stderr,
                    "faultlinectl: --state %s: expected pending, passed, never-retried, "
                    "expired, counting, auto-allowed or admin-allowed\n",
                    o->state);
            return FL_CTL_DATAERR;
        }
        f.have_state = true;
    }
    struct fl_buf err;
    fl_buf_init(&err);
    int rc = fl_greylist_foreach(gl, list_one, &f, &err);
    if (rc < 0)
        fprintf(stderr, "faultlinectl: %s\n", err.data);
    fl_buf_free(&err);
    return rc < 0 ? FL_CTL_UNAVAILABLE : FL_CTL_OK;
}

static double ratio(unsigned long long a, unsigned long long b)
{
    return b == 0 ? 0.0 : (double)a / (double)b;
}

static int cmd_stats(struct fl_greylist *gl)
{
    struct fl_greylist_stats st;
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_greylist_stats(gl, &st, &err) < 0) {
        fprintf(stderr, "faultlinectl: %s\n", err.data);
        fl_buf_free(&err);
        return FL_CTL_UNAVAILABLE;
    }
    fl_buf_free(&err);
    printf("store=%s\n", fl_greylist_store_name(gl));
    printf("triplets=%zu\npending=%zu\npassed=%zu\nnever_retried=%zu\nexpired=%zu\n"
           "admin_allowed_triplets=%zu\n",
           st.triplets, st.pending, st.passed, st.never_retried, st.expired,
           st.admin_triplets);
    printf("clients=%zu\ncounting=%zu\nauto_allowed=%zu\nadmin_allowed_clients=%zu\n",
           st.clients, st.counting, st.auto_allowed, st.admin_clients);
    printf("pairs=%zu\n", st.pairs);
    printf("deferred=%llu\ntoo_early=%llu\naccepted=%llu\n", st.deferred, st.early,
           st.accepted);
    /* Of the decisions on stored triplets, how many accepted mail; of the
       triplets whose fate is known, how many retried in time. */
    printf("hit_rate=%.3f\n", ratio(st.accepted, st.accepted + st.deferred));
    printf("retry_rate=%.3f\n", ratio(st.passed, st.passed + st.never_retried));
    return FL_CTL_OK;
}

/* --- changes ----------------------------------------------------------------- */

/* Returns 0 if client is an address or network, else prints why. */
static int check_client(const struct fl_config *cfg, const char *client)
{
    char net[FL_GREYLIST_NET_MAX];
    if (fl_greylist_network(client, (int)cfg->greylist_ipv4_prefix,
                            (int)cfg->greylist_ipv6_prefix, net, sizeof(net)) == 0)
        return 0;
    fprintf(stderr, "faultlinectl: --client %s: not an IP address or network\n", client);
    return -1;
}

static int need_client(const char *cmd, const struct opts *o)
{
    if (o->client == NULL) {
        fprintf(stderr, "faultlinectl: greylist %s: --client is required\n", cmd);
        return FL_CTL_USAGE;
    }
    if ((o->sender == NULL) != (o->rcpt == NULL)) {
        fprintf(stderr,
                "faultlinectl: greylist %s: a triplet needs both --sender and "
                "--recipient\n",
                cmd);
        return FL_CTL_USAGE;
    }
    if (o->state != NULL || o->all) {
        fprintf(stderr, "faultlinectl: greylist %s: --state and --all are list options\n",
                cmd);
        return FL_CTL_USAGE;
    }
    return 0;
}

static int cmd_allow(struct fl_greylist *gl, const struct fl_config *cfg,
                     const struct opts *o)
{
    long long secs = 0;
    if (o->for_text != NULL && (secs = parse_duration(o->for_text)) < 0) {
        fprintf(stderr,
                "faultlinectl: --for %s: expected a duration such as 30d, 12h, 90m "
                "or 600s\n",
                o->for_text);
        return FL_CTL_DATAERR;
    }
    struct fl_buf err;
    fl_buf_init(&err);
    int rc = fl_greylist_allow(gl, cfg, o->client, o->sender, o->rcpt, secs, &err);
    if (rc < 0)
        fprintf(stderr, "faultlinectl: %s\n", err.data);
    fl_buf_free(&err);
    if (rc < 0)
        return FL_CTL_UNAVAILABLE;
    printf("allowed client=%s", o->client);
    if (o->sender != NULL)
        printf(" sender=%s recipient=%s", o->sender, o->rcpt);
    if (secs > 0)
        printf(" for=%llds\n", secs);
    else
        printf(" until=removed\n");
    return FL_CTL_OK;
}

static int cmd_remove(struct fl_greylist *gl, const struct fl_config *cfg,
                      const struct opts *o)
{
    if (o->for_text != NULL) {
        fprintf(stderr, "faultlinectl: greylist remove: --for is an allow option\n");
        return FL_CTL_USAGE;
    }
    struct fl_buf err;
    fl_buf_init(&err);
    long n = fl_greylist_remove(gl, cfg, o->client, o->sender, o->rcpt, &err);
    if (n < 0)
        fprintf(stderr, "faultlinectl: %s\n", err.data);
    fl_buf_free(&err);
    if (n < 0)
        return FL_CTL_UNAVAILABLE;
    printf("removed=%ld\n", n);
    return n > 0 ? FL_CTL_OK : FL_CTL_NOTHING;
}

static int cmd_expire(struct fl_greylist *gl)
{
    size_t removed = 0;
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_greylist_expire(gl, &removed, &err) < 0) {
        fprintf(stderr, "faultlinectl: %s\n", err.data);
        fl_buf_free(&err);
        return FL_CTL_UNAVAILABLE;
    }
    fl_buf_free(&err);
    printf("removed=%zu\n", removed);
    return FL_CTL_OK;
}

int fl_ctl_greylist(const struct fl_config *cfg, int argc, char **argv)
{
    static const char *const commands[] = {"list", "allow", "remove", "stats", "expire"};
    const char *cmd = argv[0];
    size_t which = 0;
    while (which < 5 && strcmp(commands[which], cmd) != 0)
        which++;
    if (which == 5) {
        fprintf(stderr, "faultlinectl: greylist: unknown command \"%s\"\n", cmd);
        fl_ctl_brief_usage();
        return FL_CTL_USAGE;
    }
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc == 0 && (which == 3 || which == 4) &&
        (o.client || o.sender || o.rcpt || o.state || o.for_text || o.all)) {
        fprintf(stderr, "faultlinectl: greylist %s takes no options\n", cmd);
        rc = FL_CTL_USAGE;
    }
    if (rc == 0 && which == 0 && o.for_text != NULL) {
        fprintf(stderr, "faultlinectl: greylist list: --for is an allow option\n");
        rc = FL_CTL_USAGE;
    }
    if (rc == 0 && (which == 1 || which == 2))
        rc = need_client(cmd, &o);
    if (rc != 0) {
        fl_ctl_brief_usage();
        return rc;
    }
    if ((which == 1 || which == 2) && check_client(cfg, o.client) != 0)
        return FL_CTL_DATAERR;
    struct fl_greylist *gl;
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_greylist_open(cfg, NULL, FL_GREYLIST_OPEN_EXISTING, &gl, &err) < 0) {
        fprintf(stderr, "faultlinectl: %s\n", err.data);
        fl_buf_free(&err);
        return FL_CTL_UNAVAILABLE;
    }
    fl_buf_free(&err);
    switch (which) {
    case 0:
        rc = cmd_list(gl, cfg, &o);
        break;
    case 1:
        rc = cmd_allow(gl, cfg, &o);
        break;
    case 2:
        rc = cmd_remove(gl, cfg, &o);
        break;
    case 3:
        rc = cmd_stats(gl);
        break;
    default:
        rc = cmd_expire(gl);
        break;
    }
    fl_greylist_close(&gl);
    return rc;
}
