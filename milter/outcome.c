/* outcome: see outcome.h. */
#include "milter/outcome.h"
#include "milter/server.h"
#include "lib/core/log.h"
#include "lib/core/sanitize.h"
#include "lib/core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fl_outcome_note_queue_id(SMFICTX *ctx, struct fl_msg *msg)
{
    if (msg->queue_id != NULL)
        return;
    const char *qid = smfi_getsymval(ctx, "i");
    if (qid == NULL || *qid == '\0')
        return;
    struct fl_buf tmp;
    fl_buf_init(&tmp);
    fl_sanitize_ascii(&tmp, qid, 40);
    msg->queue_id = fl_buf_steal(&tmp);
    fl_buf_free(&tmp);
}

/* smfi_setreply hands the text to the MTA, which treats % specially. */
void fl_outcome_reply(SMFICTX *ctx, const struct fl_verdict *v)
{
    struct fl_buf text;
    fl_buf_init(&text);
    for (const char *p = v->text ? v->text : ""; *p; p++) {
        if (*p == '%')
            fl_buf_putc(&text, '%');
        fl_buf_putc(&text, *p);
    }
    char code[8];
    snprintf(code, sizeof(code), "%d", v->code);
    if (smfi_setreply(ctx, code, (char *)v->dsn, text.data) != MI_SUCCESS)
        fl_warn("could not set the SMTP reply %s %s", code, v->dsn);
    fl_buf_free(&text);
}

void fl_outcome_record(struct fl_conn *conn, const struct fl_verdict *v)
{
    struct fl_msg *msg = conn->msg;
    if (msg->recorded)
        return;
    msg->recorded = true;
    /* The result that refused recipients belongs to the record too. */
    const struct fl_checks *cs = &conn->checks;
    size_t n = cs->nresults + (cs->rcpt_result != NULL);
    struct fl_result *all = fl_calloc(n ? n : 1, sizeof(*all));
    if (cs->nresults > 0)
        memcpy(all, cs->results, cs->nresults * sizeof(*all));
    if (cs->rcpt_result != NULL)
        all[cs->nresults] = *cs->rcpt_result;
    fl_metrics_message(fl_srv.metrics, v, all, n);
    struct fl_verdict_facts f = {0};
    clock_gettime(CLOCK_REALTIME, &f.when);
    f.queue_id = msg->queue_id;
    f.client_ip = conn->ip;
    f.client_port = conn->port;
    f.client_ptr = conn->ptr;
    f.helo = conn->helo;
    f.mail_from = msg->mail_from;
    f.rcpts = (const char *const *)msg->rcpts;
    f.nrcpts = msg->nrcpts;
    f.rcpts_dropped = msg->rcpts_dropped;
    f.rcpts_refused = msg->rcpts_refused;
    f.message_id = msg->message_id;
    f.skipped_reason = fl_skip_name(cs->skip);
    memcpy(f.stages, msg->stages, sizeof(f.stages));
    f.nstages = msg->nstages;
    f.work_ms = (long)msg->work_ms;
    f.nparts = fl_checks_record_parts(cs, f.parts, FL_VERDICT_MAX_PARTS);
    struct fl_buf line;
    fl_buf_init(&line);
    fl_verdict_summary(&line, &f, all, n, v);
    fl_info("%s", line.data);
    for (size_t i = 0; i < n; i++) {
        if (all[i].observe_action == FL_ACTION_ACCEPT)
            continue;
        fl_buf_reset(&line);
        fl_verdict_observe_line(&line, &f, &all[i]);
        fl_info("%s", line.data);
    }
    fl_buf_reset(&line);
    fl_verdict_json(&line, &f, all, n, v);
    fl_server_write_verdict(line.data);
    fl_buf_free(&line);
    free(all); /* the results themselves stay owned by msg */
}
