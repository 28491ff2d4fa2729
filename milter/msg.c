/* msg: see msg.h. */
#include "milter/msg.h"
#include "lib/core/clock.h"
#include "lib/lists/dnsbl.h"
#include "lib/core/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct fl_conn *fl_conn_new(struct fl_config *cfg)
{
    struct fl_conn *conn = fl_calloc(1, sizeof(*conn));
    conn->cfg = cfg;
    conn->t_connect = fl_monotonic_ms();
    return conn;
}

void fl_conn_free(struct fl_conn **connp)
{
    struct fl_conn *conn = *connp;
    if (conn == NULL)
        return;
    *connp = NULL;
    fl_conn_end_message(conn);
    fl_checks_clear(&conn->checks);
    fl_dnsbl_lists_unref(&conn->lists);
    free(conn->ptr);
    free(conn->helo);
    fl_config_unref(&conn->cfg);
    free(conn);
}

struct fl_msg *fl_msg_new(const struct fl_config *cfg)
{
    struct fl_msg *msg = fl_calloc(1, sizeof(*msg));
    msg->t_start = fl_monotonic_ms();
    msg->deadline = msg->t_start + cfg->message_deadline;
    return msg;
}

void fl_conn_end_message(struct fl_conn *conn)
{
    fl_checks_end_message(&conn->checks);
    fl_msg_free(&conn->msg);
}

void fl_msg_free(struct fl_msg **msgp)
{
    struct fl_msg *msg = *msgp;
    if (msg == NULL)
        return;
    *msgp = NULL;
    free(msg->mail_from);
    for (size_t i = 0; i < msg->nrcpts; i++)
        free(msg->rcpts[i]);
    free(msg->rcpts);
    free(msg->message_id);
    free(msg->queue_id);
    for (size_t i = 0; i < msg->nforged; i++)
        free(msg->forged[i].value);
    free(msg->forged);
    free(msg);
}

bool fl_msg_charge(struct fl_msg *msg, const struct fl_config *cfg, size_t n)
{
    if (msg->over_budget)
        return false;
    if (msg->mem_used + n > (size_t)cfg->message_memory_limit) {
        msg->over_budget = true;
        return false;
    }
    msg->mem_used += n;
    return true;
}

void fl_msg_stage(struct fl_conn *conn, const char *stage)
{
    struct fl_msg *msg = conn->msg;
    if (msg == NULL || msg->nstages >= FL_VERDICT_MAX_STAGES)
        return;
    /* A stage seen twice (several RCPTs) keeps its first time. */
    for (size_t i = 0; i < msg->nstages; i++)
        if (strcmp(msg->stages[i].stage, stage) == 0)
            return;
    msg->stages[msg->nstages].stage = stage;
    msg->stages[msg->nstages].ms = (long)(fl_monotonic_ms() - conn->t_connect);
    msg->nstages++;
}
