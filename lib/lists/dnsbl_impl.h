/* dnsbl_impl: the structures lib/lists/dnsbl.c, lib/lists/dnsbl_result.c and
   lib/lists/dnsbl_probe.c share.  Private to the module: nothing outside
   lib/dnsbl*.c includes it.  Counters and health flags of struct
   fl_dnsbl_list are read and written with __atomic builtins only. */
#ifndef FL_LIB_DNSBL_IMPL_H
#define FL_LIB_DNSBL_IMPL_H

#include "lib/lists/dnsbl.h"
#include "lib/lists/dnsbl_spec.h"

#include <arpa/inet.h>
#include <sys/socket.h>

/* Longest TXT text kept for a reply (more is cut and marked "..."). */
#define FL_DNSBL_TXT_MAX 120
/* At most one warning per list this often (error codes, failures). */
#define FL_DNSBL_WARN_EVERY_MS 60000

/* One configured entry (an item of dnsbl_sites or rhsbl_sites). */
struct fl_dnsbl_entry {
    struct fl_dnsbl_spec spec;
    size_t list; /* index into lists->lists */
};

/* One zone that is queried: several entries may share it. */
struct fl_dnsbl_list {
    char *zone;
    bool domain;
    unsigned int identities; /* union of its entries' */
    /* __atomic: */
    unsigned long queries, listed, not_listed, error_codes, timeouts, failures;
    int disabled;
    long long last_warn_ms;
};

struct fl_dnsbl_lists {
    int refcount; /* __atomic */
    struct fl_dnsbl_entry *entries;
    size_t nentries;
    struct fl_dnsbl_list *lists;
    size_t nlists;
    struct fl_dnsbl_spec *errcodes; /* dnsbl_error_codes */
    size_t nerrcodes;
    int threshold, allow_threshold;
    bool fetch_txt, reject_at_eom, validating;
    bool observe_all; /* dnsbl_mode = observe */
    int reply_code;
};

/* One list asked about one name on a connection. */
struct fl_dnsbl_q {
    size_t list;
    unsigned int ids; /* identities the name stands for */
    char *name;       /* the address or domain */
    struct fl_dns_query *a, *txt;
    bool disabled; /* the list was disabled when this would have started */
    bool counted;  /* in the list's statistics already */
};

/* What finish computed for one q, beyond the public row. */
struct fl_dnsbl_eval {
    char *answers;
    char *txt;
    char *error_addr; /* the answer that was an error code */
    enum fl_dnssec dnssec;
};

struct fl_dnsbl {
    struct fl_dnsbl_lists *lists;
    struct fl_dns *dns;
    long long deadline_ms;
    bool has_ip;
    char ip[INET6_ADDRSTRLEN];
    struct fl_dnsbl_q *qs;
    size_t nq, capq;
    /* the last outcome, and the storage it points into */
    bool have_outcome;
    struct fl_dnsbl_outcome out;
    struct fl_dnsbl_check *checks;
    struct fl_dnsbl_eval *evals;
    char *reply_text;
};

/* dnsbl_result.c: fills bl->out from bl->checks/evals (already scored). */
void fl_dnsbl_build_outcome(struct fl_dnsbl *bl, int probe_ok);
/* dnsbl_result.c: frees what bl->out owns. */
void fl_dnsbl_clear_outcome(struct fl_dnsbl *bl);

/* dnsbl.c: the error meaning of one A answer of list l, for q's
   identities; NULL if it is a code an entry may match. */
const char *fl_dnsbl_answer_error(const struct fl_dnsbl_lists *lists, size_t l,
                                  unsigned int ids, const unsigned char addr[4]);

#endif
