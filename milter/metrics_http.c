/* metrics_http: see metrics_http.h. */
#include "config.h"

#include "milter/metrics_http.h"
#include "milter/server.h"
#include "lib/core/log.h"
#include "lib/metrics/metrics.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* More DNS lists than anyone configures; the rest are left out. */
#define MAX_LISTS 256

struct fl_metrics_http {
    struct MHD_Daemon *mhd;
    int fd;
    long long start_time;
};

static void exposition(const struct fl_metrics_http *h, struct fl_buf *out)
{
    struct fl_metrics_env env = {
        .version = PACKAGE_VERSION,
        .start_time = h->start_time,
        .sessions = fl_server_sessions(),
    };
    struct fl_dns_stats dns;
    if (fl_srv.dns != NULL) {
        fl_dns_stats(fl_srv.dns, &dns);
        env.dns = &dns;
    }
    struct fl_dnsbl_list_stats *lists = fl_calloc(MAX_LISTS, sizeof(*lists));
    struct fl_dnsbl_lists *current = fl_server_dnsbl_lists();
    if (current != NULL) {
        size_t n = fl_dnsbl_stats(current, lists, MAX_LISTS);
        env.nlists = n < MAX_LISTS ? n : MAX_LISTS;
    }
    env.lists = lists;
    fl_metrics_expose(fl_srv.metrics, &env, out);
    fl_dnsbl_lists_unref(&current); /* the zone names were used above */
    free(lists);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
                             char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)req_cls;
    const struct fl_metrics_http *h = cls;
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body is never read */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                     fl_strdup("only GET and HEAD\n"));
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
                     fl_strdup("faultline: the metrics are at /metrics\n"));
    struct fl_buf out;
    fl_buf_init(&out);
    exposition(h, &out);
    char *body = fl_buf_steal(&out);
    fl_buf_free(&out); /* what steal left behind */
    return reply(c, MHD_HTTP_OK, FL_METRICS_CONTENT_TYPE, body);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
                                                           va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    fl_warn("metrics endpoint: %s", line);
}

/* "127.0.0.1:9795" / "[::1]:9795" of the bound socket (port 0 resolved). */
static void bound_name(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
            port = ntohs(s6->sin6_port);
            snprintf(out, outlen, "[%s]:%u", host, port);
            return;
        }
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
    }
    snprintf(out, outlen, "%s:%u", host, port);
}

/* Binds and listens on the address; returns the socket or -1 (logged). */
static int open_socket(const char *listen_at)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_metrics_parse_listen(listen_at, &ss, &len, &why) < 0) {
        fl_error("metrics_listen %s: %s", listen_at, why.data);
        fl_buf_free(&why);
        return -1;
    }
    fl_buf_free(&why);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fl_error("metrics_listen %s: socket: %s", listen_at, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
        fl_error("metrics_listen %s: cannot listen: %s", listen_at, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int fl_metrics_http_start(const struct fl_config *cfg)
{
    if (*cfg->metrics_listen == '\0' || fl_srv.metrics == NULL)
        return 0;
    int fd = open_socket(cfg->metrics_listen);
    if (fd < 0)
        return -1;
    struct fl_metrics_http *h = fl_calloc(1, sizeof(*h));
    h->fd = fd;
    h->start_time = (long long)time(NULL);
    /* One thread serves every scrape in turn: a scrape takes microseconds,
       and a slow client is cut off by the timeout. */
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                              on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    if (h->mhd == NULL) {
        fl_error("metrics_listen %s: the HTTP server did not start", cfg->metrics_listen);
        close(fd);
        free(h);
        return -1;
    }
    char name[80];
    bound_name(fd, name, sizeof(name));
    fl_info("metrics endpoint listening on http://%s/metrics", name);
    fl_srv.metrics_http = h;
    return 0;
}

void fl_metrics_http_stop(struct fl_metrics_http **h)
{
    if (h == NULL || *h == NULL)
        return;
    MHD_stop_daemon((*h)->mhd); /* closes the listening socket too */
    free(*h);
    *h = NULL;
}
