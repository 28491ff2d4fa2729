/* session: see session.h. */
#include "tests/protocol/session.h"
#include "tests/harness/dns_server.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fl_test_run(struct fl_daemon *d, const struct fl_test_env *env, const char *msg_text,
                 struct fl_mc_session *s)
{
    struct fl_mc_message *msg;
    const char *err;
    ck_assert_msg(fl_mc_message_parse(msg_text, strlen(msg_text), &msg, &err) == 0,
                  "parse: %s", err);
    struct fl_mc *mc = fl_mc_create(NULL);
    const char *rcpts[] = {env && env->rcpt ? env->rcpt : "rcpt@example.net", NULL};
    struct fl_mc_envelope e = {
        .client_addr = env && env->client_ip ? env->client_ip : "192.0.2.7",
        .client_name = env ? env->client_name : NULL,
        .client_port = 41000,
        .helo = env && env->helo ? env->helo : "host.dns.example",
        .sender = env && env->sender ? env->sender : "sender@txt.dns.example",
        .rcpts = rcpts,
        .queue_id = env && env->queue_id ? env->queue_id : "4QTEST",
    };
    if (env && env->auth)
        fl_mc_set_macro(mc, FL_MC_STAGE_MAIL, "{auth_authen}", env->auth);
    memset(s, 0, sizeof(*s));
    int rc = fl_mc_run_session(mc, d->socket, &e, msg, s, &err);
    ck_assert_msg(rc == 0, "session failed: %s", err);
    fl_mc_destroy(&mc);
    fl_mc_message_free(&msg);
}

void fl_test_run_file(struct fl_daemon *d, const struct fl_test_env *env, const char *name,
                      struct fl_mc_session *s)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/msgs/%s", top ? top : ".", name);
    char *text = fl_daemon_read(path);
    ck_assert_msg(text[0] != '\0', "cannot read %s", path);
    fl_test_run(d, env, text, s);
    free(text);
}

const struct fl_mc_reply *fl_test_reply(const struct fl_mc_session *s, enum fl_mc_step step)
{
    const struct fl_mc_reply *r = NULL;
    for (size_t i = 0; i < s->nevents; i++)
        if (s->events[i].step == step)
            r = &s->events[i].reply;
    return r;
}

size_t fl_test_count_mods(const struct fl_mc_reply *r, char type, const struct fl_mc_mod **first_r)
{
    size_t n = 0;
    if (first_r)
        *first_r = NULL;
    for (size_t i = 0; r && i < r->nmods; i++) {
        if (r->mods[i].type != type)
            continue;
        if (n == 0 && first_r)
            *first_r = &r->mods[i];
        n++;
    }
    return n;
}

int fl_test_main(Suite *suite, struct fl_dnsd *dnsd_r)
{
    struct fl_dnsd local;
    struct fl_dnsd *dnsd = dnsd_r ? dnsd_r : &local;
    if (fl_dnsd_start(dnsd, NULL, NULL) < 0)
        return 1;
    fl_daemon_use_dns(dnsd->addr);
    if (fl_daemon_begin() < 0) {
        fl_dnsd_stop(dnsd);
        return 1;
    }
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fl_daemon_end();
    fl_dnsd_stop(dnsd);
    return failed == 0 ? 0 : 1;
}
