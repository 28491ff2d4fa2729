/* domain: see domain.h. */
#include "lib/core/domain.h"

#include <stdbool.h>

#define FL_DOMAIN_MAX 253
#define FL_LABEL_MAX  63

/* Letters, digits, '-' and '_' (ASCII only, whatever the locale). */
static bool host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

enum fl_domain_problem fl_domain_check(const char *name, size_t len, unsigned int flags)
{
    if (len == 0)
        return FL_DOMAIN_EMPTY;
    if (len > FL_DOMAIN_MAX)
        return FL_DOMAIN_TOO_LONG;
    size_t label = 0, labels = 1;
    bool numeric = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0)
                return FL_DOMAIN_EMPTY_LABEL;
            label = 0;
            labels++;
            continue;
        }
        if (flags & FL_DOMAIN_HOSTCHARS) {
            if (c >= 0x80) {
                if (!(flags & FL_DOMAIN_8BIT))
                    return FL_DOMAIN_NON_ASCII;
            } else if (!host_char(c)) {
                return FL_DOMAIN_BAD_CHAR;
            }
        }
        if (++label > FL_LABEL_MAX)
            return FL_DOMAIN_LONG_LABEL;
        if (c < '0' || c > '9')
            numeric = false;
    }
    if (label == 0 && !(flags & FL_DOMAIN_EMPTY_LAST))
        return FL_DOMAIN_EMPTY_LABEL;
    if ((flags & FL_DOMAIN_TWO_LABELS) && labels < 2)
        return FL_DOMAIN_ONE_LABEL;
    if ((flags & FL_DOMAIN_NOT_NUMERIC) && numeric)
        return FL_DOMAIN_NUMERIC;
    return FL_DOMAIN_OK;
}
