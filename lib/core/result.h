/* result: the result model every check returns (DESIGN.md "The result
   model").  The verdict, the Authentication-Results header, the syslog line
   and the SMTP reply are all built from these structs, so they never
   disagree.  Plain data; the strings live in one block the struct owns
   (set them only with the functions below; fl_result_clear frees it), so a
   result costs one or two allocations and a copy one. */
#ifndef FL_LIB_RESULT_H
#define FL_LIB_RESULT_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 8601 result values (section 2.7) plus greylist/dnsbl outcomes. */
enum fl_res {
    FL_RES_NONE,
    FL_RES_PASS,
    FL_RES_FAIL,
    FL_RES_SOFTFAIL,
    FL_RES_NEUTRAL,
    FL_RES_POLICY,
    FL_RES_TEMPERROR,
    FL_RES_PERMERROR,
    FL_RES_SKIPPED, /* not evaluated (trusted client, exemption) */
};

/* What a check asks the MTA to do with the message (its own policy
   decided); the verdict takes the strongest request. */
enum fl_action {
    FL_ACTION_ACCEPT,
    FL_ACTION_QUARANTINE,
    FL_ACTION_TEMPFAIL,
    FL_ACTION_REJECT,
};

/* Whose side has to act on a failure. */
enum fl_fault {
    FL_FAULT_NONE,
    FL_FAULT_SENDER,
    FL_FAULT_RECEIVER,
};

#define FL_RESULT_MAX_PROPS 12

struct fl_prop {
    char *ptype;    /* "smtp", "header", "policy", "dns" */
    char *property; /* "mailfrom", "d", "iprev" */
    char *value;    /* raw; quoted/sanitised only when written */
};

struct fl_result {
    char *method;      /* "spf", "dkim", "dmarc", "iprev", "dnsbl", ... */
    enum fl_res result;
    char *reason_code; /* machine code, e.g. "spf.not_permitted" */
    char *reason;      /* short human reason for the AR reason= */
    char *detail;      /* one sentence naming the fix and who makes it */
    enum fl_fault fault;
    bool transient;    /* a retry will likely succeed */
    bool in_header;    /* written to Authentication-Results (default true) */
    enum fl_action action; /* requested by the check's policy (default accept) */
    struct fl_prop props[FL_RESULT_MAX_PROPS];
    size_t nprops;
    /* Structured data the check adds to its entry of the verdict record: a
       JSON object text whose members are merged into the entry (e.g. the
       DNS lists' "lists" array), or NULL.  Write it with
       json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER): fl_verdict_json
       splices such a dump's members as they are (other text makes it
       build the whole record with jansson, which is slower). */
    char *record_json;
    /* Observe mode: the refusal this check's policy decided but did not
       apply (action is then accept).  observe_action is ACCEPT when none;
       else observe_code/observe_dsn/observe_text are the reply it would
       have given. */
    enum fl_action observe_action;
    int observe_code;
    char observe_dsn[16];
    char *observe_text;
    /* private: the block every string above points into */
    char *strings;
    size_t strings_len, strings_cap;
};

const char *fl_res_name(enum fl_res res);
const char *fl_fault_name(enum fl_fault fault);
const char *fl_action_name(enum fl_action action);

/* Initialises r for method with result res; other fields empty. */
void fl_result_init(struct fl_result *r, const char *method, enum fl_res res);
/* Sets the reason code, AR reason and detail (any may be NULL); copies. */
void fl_result_set_reason(struct fl_result *r, const char *code, const char *reason,
                          const char *detail);
/* Appends ptype.property=value; copies.  Returns -1 when full. */
int fl_result_add_prop(struct fl_result *r, const char *ptype, const char *property,
                       const char *value);
/* Sets r->record_json (copied; NULL clears it). */
void fl_result_set_record_json(struct fl_result *r, const char *json);
/* Turns r's refusal into an observation: records action, code, dsn and
   text as what would have been done, and sets r->action to accept. */
void fl_result_observe(struct fl_result *r, int code, const char *dsn, const char *text);
/* Makes dst (uninitialised) a deep copy of src. */
void fl_result_copy(struct fl_result *dst, const struct fl_result *src);
void fl_result_clear(struct fl_result *r);

#endif
