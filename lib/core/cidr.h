/* cidr: lists of IPv4/IPv6 networks ("192.0.2.0/24, 2001:db8::/32",
   bare addresses mean /32 or /128).  Immutable after parsing, so a list
   may be shared by any number of threads. */
#ifndef FL_LIB_CIDR_H
#define FL_LIB_CIDR_H

#include "lib/core/buf.h"
#include <stdbool.h>
#include <stddef.h>

struct fl_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network, host bits cleared */
    unsigned int prefix;
};

struct fl_cidr_list {
    struct fl_cidr *items;
    size_t count;
};

/* Parses one network.  Returns 0, or -1 with the reason appended to err. */
int fl_cidr_parse(const char *text, struct fl_cidr *cidr_r, struct fl_buf *err);
/* Appends a parsed network. */
void fl_cidr_list_add(struct fl_cidr_list *list, const struct fl_cidr *cidr);
/* Returns true if the address (text form, IPv4-mapped IPv6 treated as IPv4)
   is inside one of the networks. */
bool fl_cidr_list_match(const struct fl_cidr_list *list, const char *addr);
/* Writes the network as text ("192.0.2.0/24", "::1/128"). */
void fl_cidr_format(const struct fl_cidr *cidr, char *out, size_t outlen);
void fl_cidr_list_free(struct fl_cidr_list *list);

#endif
