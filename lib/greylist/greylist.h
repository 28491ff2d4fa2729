/* greylist: defer the first delivery attempt of an unknown (client
   network, sender, recipient) triplet and accept its retry (the technique
   of Harris, "The Next Step in the Spam Control War: Greylisting", 2003,
   and postgrey).  Built to spare legitimate senders: clients are grouped by
   network (IPv4 /24, IPv6 /64 by default) because large providers retry from
   another address of their pool; senders are normalised (BATV, SRS, VERP,
   numeric tags) so each bounce address does not make a new triplet; client
   networks are allowed automatically after N successful retries; and every
   exemption (trusted, authenticated, allow lists, DNSWL, SPF pass) is
   checked before the store is touched.

   The store sits behind struct fl_greylist_ops (lib/greylist/greylist_store.h): LMDB
   (embedded, lib/greylist/greylist_lmdb.c) or Redis (several MX hosts,
   lib/greylist/greylist_redis.c).  A store that fails never refuses mail: the
   decision is FL_GREYLIST_STORE_ERROR, the result says fault=receiver,
   action accept (fail-open).

   Time comes from a struct fl_clock (lib/core/clock.h) so tests move time
   instead of sleeping.

   Null sender: a bounce (MAIL FROM:<>) is greylisted like other mail under
   the sender "<>": its triplet is (client network, "<>", recipient), so one
   MTA's bounces to one recipient share a triplet.  Legitimate MTAs retry
   bounces; a flood of backscatter from a new network is deferred.

   Thread-safety: one struct fl_greylist per process, shared by every
   session thread and the sweep thread; all functions are thread-safe.
   LMDB: open it after fork() (daemonising) and after the privilege switch,
   and never twice in one process. */
#ifndef FL_LIB_GREYLIST_H
#define FL_LIB_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/core/buf.h"
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/core/result.h"

struct fl_greylist;

/* Values of greylist_store and greylist_lmdb_sync (lib/greylist/config_greylist.c). */
enum fl_greylist_store_type {
    FL_GREYLIST_STORE_LMDB,
    FL_GREYLIST_STORE_REDIS,
};

enum fl_greylist_lmdb_sync {
    FL_GREYLIST_SYNC_FULL, /* fsync data and meta page at every commit */
    FL_GREYLIST_SYNC_META, /* MDB_NOMETASYNC: a system crash may undo the last commit */
    FL_GREYLIST_SYNC_NONE, /* MDB_NOSYNC: the sweep flushes; see the setting's doc */
};

/* Sizes of the normalised triplet parts, with their NUL.  An address longer
   than FL_GREYLIST_ADDR_MAX - 1 keeps its start and ends in "#" and a hash
   of the whole address, so store keys stay bounded (LMDB: 511 bytes). */
#define FL_GREYLIST_NET_MAX  48
#define FL_GREYLIST_ADDR_MAX 201

/* An expired record stays in the store this long past its expiry before a
   sweep removes it, so `faultlinectl greylist list --state never-retried`
   can show the senders that never came back. */
#define FL_GREYLIST_KEEP_EXPIRED (24 * 3600)

/* The SPF result for the MAIL FROM identity (for the null sender: the HELO
   identity, RFC 7208 2.4), as far as the milter knows it at RCPT. */
enum fl_greylist_spf {
    FL_GREYLIST_SPF_UNKNOWN, /* not finished, not run, or no domain */
    FL_GREYLIST_SPF_PASS,
    FL_GREYLIST_SPF_NOT_PASS,
};

/* The SMTP facts of one recipient, gathered by the milter at RCPT. */
struct fl_greylist_query {
    const char *client_ip;   /* text form; IPv4-mapped IPv6 and "IPv6:" allowed */
    const char *client_name; /* FCrDNS-verified PTR name (iprev pass) or NULL */
    const char *sender;      /* MAIL FROM address without <>; "" for the null sender */
    const char *rcpt;        /* RCPT TO address without <> */
    enum fl_greylist_spf spf;
    bool trusted;       /* client in trusted_networks */
    bool authenticated; /* SMTP AUTH succeeded */
    bool dnswl;         /* client allow-listed by a DNSWL */
};

enum fl_greylist_outcome {
    FL_GREYLIST_PASS,        /* known triplet, or its retry after the delay */
    FL_GREYLIST_DEFER,       /* 451 4.7.1: first seen, or retried too early */
    FL_GREYLIST_EXEMPT,      /* not greylisted: see exemption */
    FL_GREYLIST_STORE_ERROR, /* store failed: accept (fail-open), fault=receiver */
};

enum fl_greylist_exemption {
    FL_GREYLIST_EX_NONE,
    FL_GREYLIST_EX_DISABLED,       /* greylist_enable = no */
    FL_GREYLIST_EX_TRUSTED,        /* trusted network (greylist_exempt_trusted) */
    FL_GREYLIST_EX_AUTHENTICATED,  /* SMTP AUTH (greylist_exempt_authenticated) */
    FL_GREYLIST_EX_NO_ADDRESS,     /* client_ip is no IP address (local submission) */
    FL_GREYLIST_EX_CLIENT_NETWORK, /* greylist_allow_clients */
    FL_GREYLIST_EX_CLIENT_NAME,    /* greylist_allow_client_names */
    FL_GREYLIST_EX_DNSWL,          /* greylist_exempt_dnswl */
    FL_GREYLIST_EX_SENDER_DOMAIN,  /* greylist_allow_sender_domains and SPF pass */
    FL_GREYLIST_EX_SPF_PASS,       /* greylist_spf_pass_exempt */
    FL_GREYLIST_EX_RECIPIENT,      /* greylist_allow_recipients */
    FL_GREYLIST_EX_AUTO_ALLOWED,   /* client network passed greylist_auto_allow retries */
    FL_GREYLIST_EX_ADMIN_ALLOWED,  /* faultlinectl greylist allow --client */
};

/* One decision.  Strings are copies; the struct needs no freeing. */
struct fl_greylist_decision {
    enum fl_greylist_outcome outcome;
    enum fl_greylist_exemption exemption; /* EXEMPT only */
    const char *reason_code; /* greylist.first_seen, .too_early, .store_down; else NULL */
    long retry_after;        /* DEFER: seconds until a retry is accepted */
    /* The triplet as stored (normalised); empty when exempt before the
       store was asked. */
    char net[FL_GREYLIST_NET_MAX];
    char sender[FL_GREYLIST_ADDR_MAX];
    char rcpt[FL_GREYLIST_ADDR_MAX];
    long delay; /* greylist_delay in seconds */
    time_t now;
    time_t first_seen;       /* of the triplet; 0 if unknown */
    time_t passed_at;        /* when its retry was accepted; 0 while pending */
    time_t expires;          /* when the triplet is forgotten; 0 = never */
    unsigned long attempts;  /* deferred attempts, this one included */
    unsigned long early;     /* of which retried before the delay */
    unsigned long accepted;  /* accepted deliveries, this one included */
    bool retry_accepted;     /* PASS: this decision accepted the retry */
    bool client_now_allowed; /* this retry made the client network auto-allowed */
    /* Sender behaviour for postmasters: the same sender and recipient were
       deferred from another network other_net_age seconds ago (a provider
       retrying from its pool).  "" if not. */
    char other_net[FL_GREYLIST_NET_MAX];
    long other_net_age;
    char store[8];   /* "lmdb" or "redis"; "" when not asked */
    char error[240]; /* STORE_ERROR: what failed */
};

/* Flags of fl_greylist_open. */
#define FL_GREYLIST_OPEN_EXISTING 0x1 /* fail instead of creating the store */

/* Opens the store cfg names (greylist_store and its settings; all
   FL_SET_RESTART).  clock may be NULL (the real time(3)); it is copied.
   Returns 0 and sets *gl_r, or -1 with one line appended to error.  LMDB:
   creates greylist_lmdb_dir (mode 0750) if missing, unless
   FL_GREYLIST_OPEN_EXISTING.  Redis: never fails for an unreachable server
   (decisions fail open until it answers). */
int fl_greylist_open(const struct fl_config *cfg, const struct fl_clock *clock,
                     unsigned int flags, struct fl_greylist **gl_r, struct fl_buf *error);
/* Closes the store; accepts NULL and sets *gl to NULL. */
void fl_greylist_close(struct fl_greylist **gl);
/* "lmdb" or "redis". */
const char *fl_greylist_store_name(const struct fl_greylist *gl);

/* Decides one recipient under cfg (the session's snapshot; its policy
   settings may differ from the ones gl was opened with).  Checks the
   exemptions first (no store access for them), then updates the triplet
   atomically.  gl may be NULL: with greylist_enable = no the decision is
   EXEMPT (disabled); otherwise a STORE_ERROR (not logged: the caller
   logged why the store did not open).
   Returns 1 for PASS or EXEMPT, 0 for DEFER (d->retry_after set), -1 for
   STORE_ERROR (d->error set; logged, rate-limited; the caller accepts). */
int fl_greylist_decide(struct fl_greylist *gl, const struct fl_config *cfg,
                       const struct fl_greylist_query *q, struct fl_greylist_decision *d);

/* Fills out (uninitialised) from d: method "greylist", not in the
   Authentication-Results header; PASS -> pass, EXEMPT -> skipped, DEFER ->
   policy with action tempfail, fault none, transient, reason_code
   greylist.first_seen or greylist.too_early; STORE_ERROR -> temperror,
   greylist.store_down, fault receiver, action accept.  A deferral's
   reason (the AR comment) is the reply text of fl_greylist_reply; its
   detail says "please retry in N seconds" and what the sender did (too
   early, another network of its pool), so fl_verdict_decide's reply reads
   "greylisted: a deliberate temporary deferral: please retry in 300
   seconds (...)".  The props record the triplet and its timings. */
void fl_greylist_result(const struct fl_greylist_decision *d, struct fl_result *out);
/* The SMTP reply text of a DEFER: "greylisted, please retry in 300 seconds". */
void fl_greylist_reply(const struct fl_greylist_decision *d, char *out, size_t outlen);

/* Removes records past their expiry plus FL_GREYLIST_KEEP_EXPIRED, in
   small batches so sessions are never held up for long.  The daemon calls
   it every greylist_sweep_interval from a timer thread.  Redis: a no-op
   (its keys carry TTLs).  Returns 0 and sets *removed_r, or -1 (error). */
int fl_greylist_sweep(struct fl_greylist *gl, size_t *removed_r, struct fl_buf *error);

const char *fl_greylist_exemption_name(enum fl_greylist_exemption ex);
const char *fl_greylist_outcome_name(enum fl_greylist_outcome o);

/* --- administration (faultlinectl greylist) ------------------------------ */

enum fl_greylist_kind {
    FL_GREYLIST_TRIPLET, /* key "t NET SENDER RCPT" */
    FL_GREYLIST_CLIENT,  /* key "c NET": retries counted, auto/admin allowed */
    FL_GREYLIST_PAIR,    /* key "p SENDER RCPT": network of the last deferral */
};

enum fl_greylist_state {
    FL_GREYLIST_PENDING,       /* triplet deferred, inside its retry window */
    FL_GREYLIST_PASSED,        /* triplet retried in time; accepted until expiry */
    FL_GREYLIST_NEVER_RETRIED, /* triplet deferred, retry window over */
    FL_GREYLIST_EXPIRED,       /* passed triplet or client past its lifetime */
    FL_GREYLIST_COUNTING,      /* client: retries counted, not yet allowed */
    FL_GREYLIST_AUTO_ALLOWED,  /* client allowed after greylist_auto_allow retries */
    FL_GREYLIST_ADMIN_ALLOWED, /* triplet or client allowed by faultlinectl */
};

/* One stored record.  Times are seconds since the epoch; 0 = none. */
struct fl_greylist_record {
    time_t first_seen;
    time_t last_seen;
    time_t passed_at;       /* triplet: retry accepted; client: auto-allowed since */
    time_t expires;         /* 0 = never (admin entries) */
    unsigned long deferred; /* triplet: deferred attempts */
    unsigned long early;    /* triplet: of which too early */
    unsigned long passed;   /* triplet: accepted deliveries; client: successful retries */
    bool admin;             /* set by faultlinectl greylist allow */
    char net[FL_GREYLIST_NET_MAX]; /* pair: network of the last deferral */
};

struct fl_greylist_entry {
    enum fl_greylist_kind kind;
    enum fl_greylist_state state;
    const char *net;    /* "" for a pair */
    const char *sender; /* "" for a client */
    const char *rcpt;   /* "" for a client */
    struct fl_greylist_record rec;
};

struct fl_greylist_stats {
    size_t triplets, pending, passed, never_retried, expired, admin_triplets;
    size_t clients, counting, auto_allowed, admin_clients;
    size_t pairs;
    unsigned long long deferred, early, accepted; /* summed over triplets */
};

const char *fl_greylist_state_name(enum fl_greylist_state s);
/* Returns 0 and sets *s_r for a state name ("never-retried"), else -1. */
int fl_greylist_state_parse(const char *name, enum fl_greylist_state *s_r);

/* Calls cb for every record (any order) until it returns non-zero.  cb
   must not call back into gl.  Returns 0, or -1 (error). */
int fl_greylist_foreach(struct fl_greylist *gl,
                        int (*cb)(const struct fl_greylist_entry *e, void *ctx),
                        void *ctx, struct fl_buf *error);
int fl_greylist_stats(struct fl_greylist *gl, struct fl_greylist_stats *st_r,
                      struct fl_buf *error);

/* Allows a client (sender and rcpt NULL) or one triplet.  client is an
   address (grouped by cfg's prefixes) or a network ("192.0.2.0/24").
   for_seconds 0: until removed.  Returns 0, or -1 (error: bad client, store). */
int fl_greylist_allow(struct fl_greylist *gl, const struct fl_config *cfg,
                      const char *client, const char *sender, const char *rcpt,
                      long long for_seconds, struct fl_buf *error);
/* Forgets a client (its client record and every triplet of its network)
   or one triplet.  Returns the number of records removed (0: none
   matched), or -1 (error). */
long fl_greylist_remove(struct fl_greylist *gl, const struct fl_config *cfg,
                        const char *client, const char *sender, const char *rcpt,
                        struct fl_buf *error);
/* Removes every record past its expiry now (no FL_GREYLIST_KEEP_EXPIRED
   grace).  Returns 0 and sets *removed_r, or -1 (error). */
int fl_greylist_expire(struct fl_greylist *gl, size_t *removed_r, struct fl_buf *error);

/* --- triplet normalisation (lib/greylist/greylist_triplet.c) ----------------------- */

/* Writes the client's network ("192.0.2.0/24", "2001:db8:1:2::/64") for
   the given prefix lengths; a text that is already a network is
   re-formatted with its own prefix.  Returns 0, or -1 if not an address. */
int fl_greylist_network(const char *client, int v4_prefix, int v6_prefix, char *out,
                        size_t outlen);
/* Lower-cases the envelope sender and reduces per-message tags: BATV
   (prvs=TAG=local, msprvs1=, btv1=), SRS (SRS0=HASH=TT=domain=local@fwd
   -> srs0=domain=local@fwd; SRS1 likewise), VERP and sub-addresses (from
   the first '+' of the local part), and numbers and id-like tokens of the
   local part (-> '#': hex of 8+ characters with 2+ digits, alphanumerics of
   16+ with 3+ digits).  The null sender becomes "<>". */
void fl_greylist_normalize_sender(const char *sender, char *out, size_t outlen);
/* Lower-cases the recipient (no other change). */
void fl_greylist_normalize_rcpt(const char *rcpt, char *out, size_t outlen);

/* As a check (lib/core/check.h): decided per recipient. */
struct fl_check;
extern const struct fl_check fl_check_greylist;

#endif
