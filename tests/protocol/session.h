/* session: helpers shared by the protocol tests -- run one session against
   a daemon and look at its end-of-message reply. */
#ifndef FL_TESTS_PROTOCOL_SESSION_H
#define FL_TESTS_PROTOCOL_SESSION_H

#include "tests/harness/milter_client.h"
#include "tests/protocol/daemon.h"

#include <check.h>

struct fl_test_env {
    const char *client_ip; /* default 192.0.2.7 (not trusted) */
    const char *client_name;
    const char *helo;
    const char *sender;
    const char *rcpt;
    const char *queue_id; /* default "4QTEST" */
    const char *auth;     /* {auth_authen}, or NULL */
};

/* Runs one session with msg_text (an RFC 5322 message) and returns the
   session (fl_mc_session_clear it).  Aborts the test on protocol errors. */
void fl_test_run(struct fl_daemon *d, const struct fl_test_env *env, const char *msg_text,
                 struct fl_mc_session *s);
/* Like fl_test_run with a file under $top_srcdir/tests/msgs. */
void fl_test_run_file(struct fl_daemon *d, const struct fl_test_env *env, const char *name,
                      struct fl_mc_session *s);
/* The reply of the last event of step, or NULL. */
const struct fl_mc_reply *fl_test_reply(const struct fl_mc_session *s, enum fl_mc_step step);
/* Number of modifications of type in r (and the first one in *first_r). */
size_t fl_test_count_mods(const struct fl_mc_reply *r, char type, const struct fl_mc_mod **first_r);

/* Runs suite with a test DNS server that every daemon of the suite uses
   (stored in *dnsd_r when not NULL, for tests that inject faults).
   Returns main's exit status. */
struct fl_dnsd;
int fl_test_main(Suite *suite, struct fl_dnsd *dnsd_r);

#endif
