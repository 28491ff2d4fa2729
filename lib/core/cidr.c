/* cidr: see cidr.h. */
#include "lib/core/cidr.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void mask_host_bits(unsigned char *addr, size_t len, unsigned int prefix)
{
    for (size_t i = 0; i < len; i++) {
        unsigned int bits = prefix > i * 8 ? prefix - (unsigned int)i * 8 : 0;
        if (bits >= 8)
            continue;
        addr[i] &= (unsigned char)(0xff << (8 - bits));
    }
}

int fl_cidr_parse(const char *text, struct fl_cidr *cidr_r, struct fl_buf *err)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    if (hlen == 0 || hlen >= sizeof(host)) {
        fl_buf_puts(err, "not an IP address");
        return -1;
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    /* Allow the bracketed form Postfix uses: [2001:db8::]/32 */
    char *h = host;
    if (h[0] == '[' && h[hlen - 1] == ']') {
        h[hlen - 1] = '\0';
        h++;
    }
    memset(cidr_r, 0, sizeof(*cidr_r));
    unsigned int maxbits;
    if (inet_pton(AF_INET, h, cidr_r->addr) == 1) {
        cidr_r->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, h, cidr_r->addr) == 1) {
        cidr_r->family = AF_INET6;
        maxbits = 128;
    } else {
        fl_buf_puts(err, "not an IP address");
        return -1;
    }
    cidr_r->prefix = maxbits;
    if (slash != NULL) {
        char *end;
        errno = 0;
        long p = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || (unsigned long)p > maxbits) {
            fl_buf_puts(err, cidr_r->family == AF_INET ? "prefix length must be 0..32"
                                                       : "prefix length must be 0..128");
            return -1;
        }
        cidr_r->prefix = (unsigned int)p;
    }
    mask_host_bits(cidr_r->addr, maxbits / 8, cidr_r->prefix);
    return 0;
}

void fl_cidr_list_add(struct fl_cidr_list *list, const struct fl_cidr *cidr)
{
    list->items = fl_realloc(list->items, (list->count + 1) * sizeof(*list->items));
    list->items[list->count++] = *cidr;
}

static bool in_network(const struct fl_cidr *c, const unsigned char *addr)
{
    unsigned int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (addr[full] & mask) == c->addr[full];
}

bool fl_cidr_list_match(const struct fl_cidr_list *list, const char *addr)
{
    unsigned char a4[4], a6[16];
    bool is4 = inet_pton(AF_INET, addr, a4) == 1;
    bool is6 = !is4 && inet_pton(AF_INET6, addr, a6) == 1;
    if (!is4 && !is6)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (is6 && memcmp(a6, mapped, 12) == 0) {
        memcpy(a4, a6 + 12, 4);
        is4 = true;
    }
    for (size_t i = 0; i < list->count; i++) {
        const struct fl_cidr *c = &list->items[i];
        if (c->family == AF_INET && is4 && in_network(c, a4))
            return true;
        if (c->family == AF_INET6 && is6 && in_network(c, a6))
            return true;
    }
    return false;
}

void fl_cidr_list_free(struct fl_cidr_list *list)
{
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

void fl_cidr_format(const struct fl_cidr *cidr, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];
    if (inet_ntop(cidr->family, cidr->addr, host, sizeof(host)) == NULL)
        snprintf(host, sizeof(host), "?");
    snprintf(out, outlen, "%s/%u", host, cidr->prefix);
}
