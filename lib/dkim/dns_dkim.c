/* dns_dkim: see dns_dkim.h.  libopendkim parses the raw DNS reply itself
   (it reads the rcode for "key not found"), so the adapter hands it the
   answer packet libunbound produced. */
#include "lib/dkim/dns_dkim.h"
#include "lib/core/clock.h"
#include "lib/core/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>

static _Thread_local long long thread_deadline;

struct dkim_q {
    struct fl_dns_query *q;
    unsigned char *buf;
    size_t buflen;
};

void fl_dkim_dns_set_deadline(long long deadline_ms)
{
    thread_deadline = deadline_ms;
}

static int q_start(void *srv, int type, unsigned char *query, unsigned char *buf, size_t buflen,
                   void **qh)
{
    struct dkim_q *dq = fl_calloc(1, sizeof(*dq));
    dq->q = fl_dns_start(srv, (const char *)query, (uint16_t)type, thread_deadline);
    dq->buf = buf;
    dq->buflen = buflen;
    *qh = dq;
    return DKIM_DNS_SUCCESS;
}

static int q_cancel(void *srv, void *qh)
{
    (void)srv;
    struct dkim_q *dq = qh;
    if (dq != NULL) {
        fl_dns_query_free(&dq->q);
        free(dq);
    }
    return DKIM_DNS_SUCCESS;
}

static int q_waitreply(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error,
                       int *dnssec)
{
    (void)srv;
    struct dkim_q *dq = qh;
    long long until = 0;
    if (to != NULL)
        until = fl_monotonic_ms() + (long long)to->tv_sec * 1000 + to->tv_usec / 1000;
    const struct fl_dns_answer *a = fl_dns_wait_until(dq->q, until > 0 ? until : 0);
    if (a == NULL)
        return DKIM_DNS_NOREPLY;
    if (dnssec != NULL)
        *dnssec = a->dnssec == FL_DNSSEC_SECURE  ? DKIM_DNSSEC_SECURE
                  : a->dnssec == FL_DNSSEC_BOGUS ? DKIM_DNSSEC_BOGUS
                                                 : DKIM_DNSSEC_INSECURE;
    if (a->status == FL_DNS_TIMEOUT)
        return DKIM_DNS_EXPIRED;
    if (a->packet == NULL || a->status == FL_DNS_MALFORMED) {
        if (error != NULL)
            *error = (int)a->status;
        return DKIM_DNS_ERROR;
    }
    size_t n = a->packet_len < dq->buflen ? a->packet_len : dq->buflen;
    memcpy(dq->buf, a->packet, n);
    if (bytes != NULL)
        *bytes = n;
    return DKIM_DNS_SUCCESS;
}

/* lib/dns outlives every DKIM_LIB: nothing to set up or tear down, and
   libopendkim's own resolver (libresolv state) must never be created. */
static int svc_init(void **srv)
{
    (void)srv;
    return 0;
}

static void svc_close(void *srv)
{
    (void)srv;
}

void fl_dkim_dns_install(DKIM_LIB *lib, struct fl_dns *dns)
{
    dkim_dns_set_init(lib, svc_init);
    dkim_dns_set_close(lib, svc_close);
    void *previous = dkim_dns_set_query_service(lib, dns);
    /* dkim_init() may already have opened a libresolv state: close it. */
    if (previous != NULL && previous != dns) {
        res_nclose(previous);
        free(previous);
    }
    dkim_dns_set_query_start(lib, q_start);
    dkim_dns_set_query_cancel(lib, q_cancel);
    dkim_dns_set_query_waitreply(lib, q_waitreply);
}
