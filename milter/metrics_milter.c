/* metrics_milter: see metrics_milter.h. */
#include "milter/metrics_milter.h"
#include "milter/server.h"

#include <time.h>


static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Calls the wrapped callback and counts its time for stage. */
#define TIMED(stage, call)                                                                  \
    do {                                                                                    \
        long long t0 = now_us();                                                            \
        sfsistat rc = (call);                                                               \
        fl_metrics_stage(fl_srv.timed.metrics, (stage), now_us() - t0);                                  \
        return rc;                                                                          \
    } while (0)

static sfsistat t_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
    TIMED(FL_METRICS_STAGE_CONNECT, fl_srv.timed.inner.xxfi_connect(ctx, hostname, addr));
}

static sfsistat t_helo(SMFICTX *ctx, char *helo)
{
    TIMED(FL_METRICS_STAGE_HELO, fl_srv.timed.inner.xxfi_helo(ctx, helo));
}

static sfsistat t_envfrom(SMFICTX *ctx, char **argv)
{
    TIMED(FL_METRICS_STAGE_MAIL, fl_srv.timed.inner.xxfi_envfrom(ctx, argv));
}

static sfsistat t_envrcpt(SMFICTX *ctx, char **argv)
{
    TIMED(FL_METRICS_STAGE_RCPT, fl_srv.timed.inner.xxfi_envrcpt(ctx, argv));
}

static sfsistat t_data(SMFICTX *ctx)
{
    TIMED(FL_METRICS_STAGE_DATA, fl_srv.timed.inner.xxfi_data(ctx));
}

static sfsistat t_header(SMFICTX *ctx, char *name, char *value)
{
    TIMED(FL_METRICS_STAGE_HEADER, fl_srv.timed.inner.xxfi_header(ctx, name, value));
}

static sfsistat t_eoh(SMFICTX *ctx)
{
    TIMED(FL_METRICS_STAGE_EOH, fl_srv.timed.inner.xxfi_eoh(ctx));
}

static sfsistat t_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    TIMED(FL_METRICS_STAGE_BODY, fl_srv.timed.inner.xxfi_body(ctx, chunk, len));
}

static sfsistat t_eom(SMFICTX *ctx)
{
    TIMED(FL_METRICS_STAGE_EOM, fl_srv.timed.inner.xxfi_eom(ctx));
}

static sfsistat t_abort(SMFICTX *ctx)
{
    TIMED(FL_METRICS_STAGE_ABORT, fl_srv.timed.inner.xxfi_abort(ctx));
}

static sfsistat t_close(SMFICTX *ctx)
{
    TIMED(FL_METRICS_STAGE_CLOSE, fl_srv.timed.inner.xxfi_close(ctx));
}

struct smfiDesc fl_metrics_milter_desc(struct fl_metrics_milter *t, const struct smfiDesc *desc,
                                       struct fl_metrics *m)
{
    struct smfiDesc d = *desc;
    if (m == NULL)
        return d;
    t->inner = *desc;
    t->metrics = m;
    /* Wrap only what is set: a NULL callback stays NULL for libmilter. */
    if (d.xxfi_connect)
        d.xxfi_connect = t_connect;
    if (d.xxfi_helo)
        d.xxfi_helo = t_helo;
    if (d.xxfi_envfrom)
        d.xxfi_envfrom = t_envfrom;
    if (d.xxfi_envrcpt)
        d.xxfi_envrcpt = t_envrcpt;
    if (d.xxfi_data)
        d.xxfi_data = t_data;
    if (d.xxfi_header)
        d.xxfi_header = t_header;
    if (d.xxfi_eoh)
        d.xxfi_eoh = t_eoh;
    if (d.xxfi_body)
        d.xxfi_body = t_body;
    if (d.xxfi_eom)
        d.xxfi_eom = t_eom;
    if (d.xxfi_abort)
        d.xxfi_abort = t_abort;
    if (d.xxfi_close)
        d.xxfi_close = t_close;
    return d;
}
