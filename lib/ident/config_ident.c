/* config_ident: settings of the client and sender identity checks that are
   not SPF: iprev (lib/ident/iprev.c) and null MX (lib/ident/nullmx.c). */
#include "lib/core/config.h"
#include "lib/core/settings.h"

#include <stddef.h>

#define OFF(field) offsetof(struct fl_config, field)

const struct fl_setting fl_ident_settings[FL_IDENT_SETTINGS_COUNT] = {
    {"iprev_enable", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(iprev_enable), 0,
     "Check the client's forward-confirmed reverse DNS (RFC 8601 iprev): its PTR names must "
     "resolve back to its address. The lookups start at connect.", NULL},
    {"iprev_action", FL_SET_ENUM, "mark", 0, 0, "mark|reject", OFF(iprev_action), 0,
     "What an iprev fail does: mark (Authentication-Results and verdict only) or reject with "
     "550 5.7.25, telling the sender their provider must fix its PTR record. A temperror "
     "never rejects.", NULL},
    {"iprev_max_names", FL_SET_INT, "10", 1, 32, NULL, OFF(iprev_max_names), 0,
     "How many PTR names of the client are looked up forward at most.", NULL},
    {"nullmx_reject", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(nullmx_reject), 0,
     "Refuse mail whose MAIL FROM domain publishes a null MX (RFC 7505: \"MX 0 .\", it "
     "sends no mail) with 550 5.7.27.", NULL},
};
