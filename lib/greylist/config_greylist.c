/* config_greylist: settings of greylisting (lib/greylist/greylist.c) and its stores
   (lib/greylist/greylist_lmdb.c, lib/greylist/greylist_redis.c).  Defaults are written here
   and only here; see settings.h. */
#include "lib/core/config.h"
#include "lib/greylist/greylist.h"
#include "lib/core/settings.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define OFF(field) offsetof(struct fl_config, field)
#define SEC 1000LL
#define DAY (86400 * SEC)

/* A host name or domain: printable ASCII, no '@', no spaces. */
static int check_name(const char *v, struct fl_buf *err)
{
    if (*v == '\0' || strchr(v, '@') != NULL) {
        fl_buf_puts(err,
                    "expected a host or domain name (mail.example.com, .example.com)");
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '/' || *p == ',') {
            fl_buf_puts(
                err, "expected a host or domain name (mail.example.com, .example.com)");
            return -1;
        }
    }
    return 0;
}

/* local@domain, local@, @domain or domain. */
static int check_recipient(const char *v, struct fl_buf *err)
{
    const char *at = strrchr(v, '@');
    if (*v == '\0' || (at != NULL && strchr(v, '@') != at)) {
        fl_buf_puts(err, "expected local@domain, local@ (any domain), @domain or domain");
        return -1;
    }
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            fl_buf_puts(err,
                        "expected local@domain, local@ (any domain), @domain or domain");
            return -1;
        }
    }
    return 0;
}

/* HOST:PORT, [IPv6]:PORT, HOST (port 6379) or unix:/path. */
static int check_redis_server(const char *v, struct fl_buf *err)
{
    if (strncmp(v, "unix:", 5) == 0) {
        if (v[5] != '/') {
            fl_buf_puts(err,
                        "a unix socket needs an absolute path (unix:/run/redis.sock)");
            return -1;
        }
        return 0;
    }
    const char *colon = v[0] == '[' ? strstr(v, "]:") : strrchr(v, ':');
    if (v[0] == '[' && colon != NULL)
        colon++;
    if (*v == '\0' || (v[0] == '[' && strchr(v, ']') == NULL)) {
        fl_buf_puts(err, "expected HOST:PORT, [IPv6]:PORT or unix:/path");
        return -1;
    }
    if (colon != NULL && (v[0] == '[' || strchr(v, ':') == colon)) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
            fl_buf_puts(err, "port must be 1..65535 (127.0.0.1:6379)");
            return -1;
        }
    }
    return 0;
}

static int check_prefix(const char *v, struct fl_buf *err)
{
    for (const char *p = v; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            fl_buf_puts(err, "must be printable ASCII without spaces");
            return -1;
        }
    }
    return 0;
}

const struct fl_setting fl_greylist_settings[FL_GREYLIST_SETTINGS_COUNT] = {
    {"greylist_enable", FL_SET_BOOL, "no", 0, 0, NULL, OFF(greylist_enable), 0,
     "Greylist: defer (451 4.7.1) the first delivery attempt of an unknown client "
     "network, sender and recipient, and accept the retry after greylist_delay. Decided "
     "per recipient at RCPT. When the store fails, mail is accepted (fail-open, "
     "fault=receiver): greylisting never refuses mail because of us.", NULL},
    {"greylist_mode", FL_SET_ENUM, "enforce", 0, 0, "enforce|observe", OFF(greylist_mode), 0,
     "enforce: a first attempt is deferred. observe: the store is asked and updated and "
     "the decision made as usual, but nothing is deferred; the verdict record "
     "(\"observe\" in the greylist entry, \"observed\": \"greylist: would have "
     "deferred with 451 4.7.1 ...\"), the syslog line (observe=greylist:tempfail:451) "
     "and faultlinectl report say what would have happened. A triplet first seen in "
     "observe mode is recorded, so the first retry after switching to enforce passes.",
     NULL},
    {"greylist_store", FL_SET_ENUM, "lmdb", 0, 0, "lmdb|redis", OFF(greylist_store),
     FL_SET_RESTART,
     "Where triplets are kept: lmdb (an embedded database file in greylist_lmdb_dir, "
     "shared by every faultline process on this host) or redis (greylist_redis_server, "
     "shared by several MX hosts so a retry that lands on another MX is recognised).",
     NULL},
    {"greylist_lmdb_dir", FL_SET_STRING, "/var/lib/faultline/greylist", 0, 0, NULL,
     OFF(greylist_lmdb_dir), FL_SET_RESTART,
     "Directory of the LMDB store (data.mdb and lock.mdb). Created (mode 0750) if "
     "missing; it must be writable by the daemon's user. Keep it on a local file system "
     "(LMDB needs working shared memory maps and locks, so no NFS).", NULL},
    {"greylist_lmdb_map_size", FL_SET_SIZE, "256M", 32 * 1024LL,
     64LL * 1024 * 1024 * 1024, NULL, OFF(greylist_lmdb_map_size), FL_SET_RESTART,
     "Largest size of the LMDB store (a sparse file; about 3000 triplets per megabyte, "
     "so 256M holds about 750000). When it is full, decisions fail open and an error "
     "naming this setting is logged: raise it (faultlinectl run with the new value "
     "grows the store at once and the running daemon follows; a smaller value later "
     "never shrinks it), or run faultlinectl greylist expire.", NULL},
    {"greylist_lmdb_sync", FL_SET_ENUM, "meta", 0, 0, "full|meta|none",
     OFF(greylist_lmdb_sync), FL_SET_RESTART,
     "How LMDB commits reach the disk. full: data and meta page flushed at every commit. "
     "meta: data flushed, meta page not (a system crash may undo the last commit, never "
     "corrupts). none: nothing flushed at commit, the sweep flushes every "
     "greylist_sweep_interval (fastest; a system crash may lose or, on file systems that "
     "reorder writes, damage recent data). A killed process never loses a commit.", NULL},
    {"greylist_redis_server", FL_SET_STRING, "127.0.0.1:6379", 0, 0, NULL,
     OFF(greylist_redis_server), FL_SET_RESTART,
     "Redis server of greylist_store = redis: HOST:PORT, [IPv6]:PORT or unix:/path. One "
     "server (or a replicated primary behind a stable address). Sentinel would need the "
     "primary looked up through the sentinels (SENTINEL get-master-addr-by-name) and "
     "re-resolved on failover; Cluster would need MOVED/ASK handling and the three keys "
     "of a decision in one hash slot ({NET} hash tags): neither is supported.",
     check_redis_server},
    {"greylist_redis_password", FL_SET_STRING, "", 0, 0, NULL,
     OFF(greylist_redis_password), FL_SET_RESTART,
     "Password sent with AUTH after connecting. Empty: none. Keep faultline.conf "
     "readable only by root and the daemon when it is set.", NULL},
    {"greylist_redis_db", FL_SET_INT, "0", 0, 1000, NULL, OFF(greylist_redis_db),
     FL_SET_RESTART, "Redis database number (SELECT).", NULL},
    {"greylist_redis_prefix", FL_SET_STRING, "faultline:gl:", 0, 0, NULL,
     OFF(greylist_redis_prefix), FL_SET_RESTART,
     "Prefix of every Redis key faultline writes, so a shared server can tell them "
     "apart.",
     check_prefix},
    {"greylist_redis_timeout", FL_SET_DURATION, "500ms", 10, 10 * SEC, NULL,
     OFF(greylist_redis_timeout), FL_SET_RESTART,
     "Longest wait to connect to Redis and for each reply. A decision that misses it "
     "fails open; after a failure, reconnects back off from 100ms to 5s so a dead server "
     "does not slow every RCPT down.", NULL},
    {"greylist_redis_pool_size", FL_SET_INT, "8", 1, 256, NULL,
     OFF(greylist_redis_pool_size), FL_SET_RESTART,
     "Redis connections each faultline process keeps at most; a session waits up to "
     "greylist_redis_timeout for a free one.", NULL},
    {"greylist_delay", FL_SET_DURATION, "5m", 0, 1 * DAY, NULL, OFF(greylist_delay), 0,
     "How long after the first attempt a retry is accepted. The deferral says how many "
     "seconds are left (\"greylisted, please retry in 300 seconds\").", NULL},
    {"greylist_retry_window", FL_SET_DURATION, "2d", 60 * SEC, 30 * DAY, NULL,
     OFF(greylist_retry_window), 0,
     "How long a first attempt stays valid: a retry later than this is a first attempt "
     "again. Deferred triplets never retried within it are listed by faultlinectl "
     "greylist list --state never-retried for a day.", NULL},
    {"greylist_lifetime", FL_SET_DURATION, "35d", 3600 * SEC, 400 * DAY, NULL,
     OFF(greylist_lifetime), 0,
     "How long a triplet that passed (and an auto-allowed client network) is remembered "
     "after its last use; each use starts it again.", NULL},
    {"greylist_sweep_interval", FL_SET_DURATION, "5m", 10 * SEC, 1 * DAY, NULL,
     OFF(greylist_sweep_interval), 0,
     "How often the daemon removes expired entries from the LMDB store, in small batches "
     "that never hold sessions up. Redis expires its keys by itself.", NULL},
    {"greylist_ipv4_prefix", FL_SET_INT, "24", 8, 32, NULL, OFF(greylist_ipv4_prefix), 0,
     "IPv4 clients are grouped by this prefix length (like postgrey's "
     "--lookup-by-subnet), because large providers retry from another address of their "
     "pool. 32: by address.",
     NULL},
    {"greylist_ipv6_prefix", FL_SET_INT, "64", 16, 128, NULL, OFF(greylist_ipv6_prefix),
     0,
     "IPv6 clients are grouped by this prefix length (a /64 is usually one site).", NULL},
    {"greylist_auto_allow", FL_SET_INT, "5", 0, 100000, NULL, OFF(greylist_auto_allow), 0,
     "After this many successful retries (triplets that passed) from a client network, "
     "its mail is no longer greylisted until greylist_lifetime passes without mail from "
     "it "
     "(postgrey's --auto-whitelist-clients). 0: never.", NULL},
    {"greylist_exempt_trusted", FL_SET_BOOL, "yes", 0, 0, NULL,
     OFF(greylist_exempt_trusted), 0, "Never greylist clients in trusted_networks.",
     NULL},
    {"greylist_exempt_authenticated", FL_SET_BOOL, "yes", 0, 0, NULL,
     OFF(greylist_exempt_authenticated), 0,
     "Never greylist SMTP-AUTH authenticated clients.", NULL},
    {"greylist_exempt_dnswl", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(greylist_exempt_dnswl),
     0, "Never greylist clients allow-listed by a DNSWL (see the DNS lists settings).",
     NULL},
    {"greylist_spf_pass_exempt", FL_SET_BOOL, "no", 0, 0, NULL,
     OFF(greylist_spf_pass_exempt), 0,
     "Never greylist mail whose MAIL FROM domain passes SPF (for the null sender: the "
     "HELO name). Off by default: spammers publish SPF records too.", NULL},
    {"greylist_allow_clients", FL_SET_CIDRS, "", 0, 0, NULL, OFF(greylist_allow_clients),
     0,
     "Client networks never greylisted. A value starting with / names a file with one "
     "network per line.", NULL},
    {"greylist_allow_client_names", FL_SET_LIST,
     ".google.com, .outbound.protection.outlook.com, .amazonses.com, .yahoo.com", 0, 0,
     NULL, OFF(greylist_allow_client_names), 0,
     "Clients whose forward-confirmed reverse DNS name (iprev pass) matches are never "
     "greylisted: large providers that retry from a different address each time. "
     "mail.example.com matches that name and its subdomains, .example.com only "
     "subdomains. An unverified PTR name never matches. A value starting with / names a "
     "file.",
     check_name},
    {"greylist_allow_sender_domains", FL_SET_LIST, "", 0, 0, NULL,
     OFF(greylist_allow_sender_domains), 0,
     "MAIL FROM domains never greylisted, but only when SPF passes for them (so they "
     "cannot be forged into the exemption). Matched like greylist_allow_client_names.",
     check_name},
    {"greylist_allow_recipients", FL_SET_LIST, "postmaster@, abuse@", 0, 0, NULL,
     OFF(greylist_allow_recipients), 0,
     "Recipients never greylisted: local@domain, local@ (any domain), @domain or domain "
     "(and its subdomains).", check_recipient},
};
