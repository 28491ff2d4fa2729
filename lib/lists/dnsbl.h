/* dnsbl: DNS block and allow lists (RFC 5782) in postscreen's weighted
   model.  IP lists (dnsbl_sites) are asked about the client address,
   domain lists (rhsbl_sites) about the MAIL FROM domain, the From header
   domain, the HELO name and the client's verified PTR name.  Every list
   is asked at once as soon as its input is known; the answers are waited
   for (bounded) only when the verdict needs them.  Each matching list
   entry adds its weight (negative for allow lists) to one score: score >=
   dnsbl_threshold rejects, score <= dnsbl_allow_threshold allow-lists the
   client.

   List errors are not listings: an answer that is a list's error code
   (Spamhaus 127.255.255.252/254/255, DBL 127.0.1.255, dnswl 127.0.0.255,
   URIBL 127.0.0.1, any 127.255.255.0/24 answer a filter does not ask for,
   dnsbl_error_codes) or any answer outside 127.0.0.0/8 adds nothing and is
   reported with fault=receiver; so are timeouts and SERVFAILs.

   Results: method "dnsbl" (fail = rejected, pass = allow-listed, none,
   temperror = every list failed), never written to Authentication-Results
   (RFC 8601 registers no dnsbl method); it goes to the verdict record with
   the per-list breakdown (its record_json "lists" array: every list asked,
   the name, status, answers or DNS status, error code, TXT and weight).

   Observe mode (dnsbl_mode = observe, or "/observe" on an entry): an
   observed entry's weight goes to observe_score only; when that score
   would have refused the client and the enforced one does not, the
   result says so (fl_result_observe: the reply it would have given) and
   nothing is refused or allow-listed.  When an allow list (negative weight) lists the
   client, a second result with the registered method "dnswl" (RFC 8904:
   dns.zone, policy.ip, policy.txt, dns.sec) is written to the header.

   Thread-safety: a struct fl_dnsbl_lists is immutable after creation but
   for its atomic counters and health flags, and may be shared by every
   thread; a struct fl_dnsbl (one connection) is used by one thread at a
   time. */
#ifndef FL_LIB_DNSBL_H
#define FL_LIB_DNSBL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/buf.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/core/result.h"

/* The identities a list is asked about (bit mask). */
enum fl_dnsbl_identity {
    FL_DNSBL_ID_CLIENT = 0x01,   /* the client address (IP lists) */
    FL_DNSBL_ID_MAILFROM = 0x02, /* the MAIL FROM domain */
    FL_DNSBL_ID_FROM = 0x04,     /* the From header domain */
    FL_DNSBL_ID_HELO = 0x08,     /* the HELO/EHLO name */
    FL_DNSBL_ID_PTR = 0x10,      /* the client's verified PTR name */
};

/* Values of the enum settings dnsbl_reject_stage and dnsbl_reply_code
   (their index among the choices in lib/lists/config_dnsbl.c). */
enum fl_dnsbl_stage {
    FL_DNSBL_STAGE_RCPT,
    FL_DNSBL_STAGE_EOM,
};
enum fl_dnsbl_reply {
    FL_DNSBL_REPLY_554,
    FL_DNSBL_REPLY_550,
};

/* What one list said about one name. */
enum fl_dnsbl_status {
    FL_DNSBL_NOT_LISTED,  /* NXDOMAIN, NODATA, or answers no entry asks for */
    FL_DNSBL_LISTED,      /* an entry's filter matched */
    FL_DNSBL_ERROR_CODE,  /* an error code or an answer outside 127.0.0.0/8 */
    FL_DNSBL_UNAVAILABLE, /* timeout, SERVFAIL, bogus, malformed */
    FL_DNSBL_DISABLED,    /* not asked: the probe found the list broken */
};

/* One list asked about one name: a row of the verdict record. */
struct fl_dnsbl_check {
    const char *zone;
    bool domain_list;        /* rhsbl_sites */
    unsigned int identities; /* enum fl_dnsbl_identity bits this name stands for */
    const char *name;        /* the address or domain looked up */
    enum fl_dnsbl_status status;
    enum fl_dns_status dns_status;
    /* the A records, space-separated, at most 8 then "...": "127.0.0.2 127.0.0.4" */
    const char *answers;
    int weight;               /* added to the score by this check */
    bool observed;            /* an /observe entry (or dnsbl_mode = observe) */
    int observe_weight;       /* of its /observe entries (every entry in observe
                                 mode): counts only towards observe_score */
    const char *txt;          /* the list's TXT, sanitised and bounded, or NULL */
    const char *error_answer; /* the answer that was an error code, or NULL */
    const char *error;        /* what it means and who fixes it, or NULL */
    long ms;                  /* answer time of the A query (-1: not answered) */
};

struct fl_dnsbl_outcome {
    struct fl_result result; /* method "dnsbl" (in_header false) */
    bool has_dnswl;
    struct fl_result dnswl; /* method "dnswl" (RFC 8904), when has_dnswl */
    int score;
    int threshold, allow_threshold; /* the configured ones */
    bool listed;                    /* score >= dnsbl_threshold: reject */
    bool allow_listed;              /* score <= dnsbl_allow_threshold: trust the client */
    /* Observe mode: score plus the observed weights, and whether it would
       have been refused (then result.observe_* hold the reply). */
    int observe_score;
    bool would_list;
    const struct fl_dnsbl_check *checks;
    size_t nchecks;
    /* The reply when listed (else 0/NULL); reject at reject_stage. */
    int reply_code;         /* dnsbl_reply_code: 554 or 550 */
    const char *reply_dsn;  /* "5.7.1" */
    const char *reply_text; /* sanitised, the same text the verdict writes */
    bool reject_at_eom;     /* dnsbl_reject_stage = eom */
};

struct fl_dnsbl_lists;
struct fl_dnsbl;

/* Builds the lists from cfg (dnsbl_sites, rhsbl_sites, dnsbl_error_codes
   and the other dnsbl_ settings).  Returns 0 with *lists_r (refcount 1),
   or -1 with one line per problem appended to errors (the settings'
   checks make that impossible for a loaded config). */
int fl_dnsbl_lists_create(const struct fl_config *cfg, struct fl_dnsbl_lists **lists_r,
                          struct fl_buf *errors);
/* Another reference (atomic); returns lists. */
struct fl_dnsbl_lists *fl_dnsbl_lists_ref(struct fl_dnsbl_lists *lists);
/* Drops a reference, freeing on the last.  Accepts NULL; sets *lists NULL. */
void fl_dnsbl_lists_unref(struct fl_dnsbl_lists **lists);
/* True when no list is configured: the check need not run. */
bool fl_dnsbl_lists_empty(const struct fl_dnsbl_lists *lists);

/* Starts the queries of every IP list for client_ip (text; IPv4-mapped
   IPv6 is IPv4; NULL or not an address: no IP queries) and, with
   dnsbl_fetch_txt, their TXT queries, all at once; never waits.
   deadline_ms (monotonic, 0: none) bounds every query of the handle.
   Never NULL; keeps a reference to lists. */
struct fl_dnsbl *fl_dnsbl_start(struct fl_dnsbl_lists *lists, struct fl_dns *dns,
                                const char *client_ip, long long deadline_ms);

/* Starts the queries of the domain lists that check identity id (one
   FL_DNSBL_ID_ bit, not CLIENT) for name: a domain, or an address whose
   domain part is used.  The name is lower-cased; a name a list cannot
   hold (empty, an address literal, one label, bad characters, too long)
   is skipped.  A name already asked of a list is not asked again.
   deadline_ms bounds these queries (0: the deadline given to
   fl_dnsbl_start): the From domain is known only at end of message.
   Returns the number of queries started (0: none applies). */
int fl_dnsbl_check_domain(struct fl_dnsbl *bl, enum fl_dnsbl_identity id,
                          const char *name, long long deadline_ms);

/* A new transaction on the connection (MAIL FROM after RSET or a previous
   message): forgets the MAIL FROM and From checks, keeps the others.  The
   last outcome is invalid afterwards. */
void fl_dnsbl_new_message(struct fl_dnsbl *bl);

/* Waits for the answers started so far, until deadline_ms at most (0: the
   queries' own deadline), and computes the outcome.  A list still
   unanswered then is UNAVAILABLE (timeout).  When a list failed,
   fl_dns_fault tells whose side failed (the resolver probe, with its own
   budget, dns_probe_timeout, cached).  May be called again
   after more checks were started (e.g. at RCPT, then at EOM once From is
   known): the outcome is recomputed and the previous one is invalid.
   The outcome belongs to bl. */
const struct fl_dnsbl_outcome *fl_dnsbl_finish(struct fl_dnsbl *bl,
                                               long long deadline_ms);

/* Appends the per-list breakdown for a log line:
   "score=3 threshold=1 allow=-1 zen.example=127.0.0.2*3 wl.example=nxdomain*0". */
void fl_dnsbl_describe(const struct fl_dnsbl_outcome *o, struct fl_buf *out);

/* Accepts NULL; sets *bl NULL. */
void fl_dnsbl_free(struct fl_dnsbl **bl);

/* As a check (lib/core/check.h): started at connect. */
struct fl_check;
struct fl_checks;
extern const struct fl_check fl_check_lists;
/* The lists' outcome for the current transaction (waits until the
   message deadline at most), or NULL when no list is asked. */
const struct fl_dnsbl_outcome *fl_lists_outcome(const struct fl_checks *cs);
/* Writes the lists' rows (dnsbl, and dnswl when a list allow-lists the
   client) into the transaction's results, replacing earlier ones.  at_eom:
   the end of message, where a listing with dnsbl_reject_stage = eom is
   enforced. */
void fl_lists_record(struct fl_checks *cs, const struct fl_dnsbl_outcome *o, bool at_eom);

/* "not_listed", "listed", "error_code", "unavailable", "disabled". */
const char *fl_dnsbl_status_name(enum fl_dnsbl_status status);
/* "client", "mailfrom", "from", "helo", "ptr" for one bit; NULL otherwise. */
const char *fl_dnsbl_identity_name(enum fl_dnsbl_identity id);

/* --- health probe and statistics (daemon timer thread, admin tool) --- */

enum fl_dnsbl_health {
    FL_DNSBL_HEALTHY,          /* test entry listed, 127.0.0.1 (INVALID) not */
    FL_DNSBL_LISTS_EVERYTHING, /* 127.0.0.1 (INVALID) listed: broken or hijacked */
    FL_DNSBL_LISTS_NOTHING,    /* test entry not listed: the list is dead */
    FL_DNSBL_REFUSING,         /* answers an error code: refuses our resolver */
    FL_DNSBL_UNREACHABLE,      /* timeout or SERVFAIL */
};

struct fl_dnsbl_list_health {
    const char *zone;
    bool domain_list;
    enum fl_dnsbl_health health;
    bool disabled; /* after this probe */
    char detail[256];
};

/* Asks every list for its RFC 5782 test entries, all at once: IP lists
   127.0.0.2 (must be listed) and 127.0.0.1 (must not be), domain lists
   TEST and INVALID.  A list that lists everything or nothing is disabled
   (not asked per message, logged at error) until a later probe finds it
   healthy again; a refusing or unreachable list keeps its state.  Fills
   out[0..max) and returns the number of lists. */
size_t fl_dnsbl_probe_lists(struct fl_dnsbl_lists *lists, struct fl_dns *dns,
                            long long deadline_ms, struct fl_dnsbl_list_health *out,
                            size_t max);
/* "healthy", "lists_everything", "lists_nothing", "refusing", "unreachable". */
const char *fl_dnsbl_health_name(enum fl_dnsbl_health health);

struct fl_dnsbl_list_stats {
    const char *zone;
    bool domain_list;
    bool disabled;
    unsigned long queries;     /* A queries started */
    unsigned long listed;      /* answers an entry matched */
    unsigned long not_listed;  /* NXDOMAIN, NODATA, unmatched answers */
    unsigned long error_codes; /* error codes, answers outside 127/8 */
    unsigned long timeouts;
    unsigned long failures; /* SERVFAIL, bogus, malformed, local */
};

/* Copies the counters of every list (since the lists were created) into
   out[0..max); returns the number of lists. */
size_t fl_dnsbl_stats(const struct fl_dnsbl_lists *lists, struct fl_dnsbl_list_stats *out,
                      size_t max);

#endif
