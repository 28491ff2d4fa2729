/* config_spf: settings of the SPF check (lib/spf/spf.c, RFC 7208).  Defaults
   are written here and only here; see settings.h. */
#include "lib/core/config.h"
#include "lib/core/settings.h"

#include <stddef.h>

#define OFF(field) offsetof(struct fl_config, field)

const struct fl_setting fl_spf_settings[FL_SPF_SETTINGS_COUNT] = {
    {"spf_enable", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(spf_enable), 0,
     "Check SPF (RFC 7208): is the client allowed to send mail for the MAIL FROM "
     "domain (for the null sender: the HELO name)? The check starts at MAIL FROM.",
     NULL},
    {"spf_check_helo", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(spf_check_helo), 0,
     "Also check the HELO name and report its result (smtp.helo) in "
     "Authentication-Results. The HELO result is reported only: the actions below "
     "apply to the MAIL FROM result.",
     NULL},
    {"spf_fail_action", FL_SET_ENUM, "reject", 0, 0, "mark|reject", OFF(spf_fail_action),
     0,
     "What an SPF fail (the domain's record says the client may not send for it) "
     "does: reject with 550 5.7.23, telling the sender their SPF record must "
     "authorize the client, or mark (Authentication-Results and verdict only).",
     NULL},
    {"spf_softfail_action", FL_SET_ENUM, "mark", 0, 0, "mark|reject",
     OFF(spf_softfail_action), 0,
     "What an SPF softfail (~all: probably not allowed) does: mark, or reject with "
     "550 5.7.23.",
     NULL},
    {"spf_permerror_action", FL_SET_ENUM, "mark", 0, 0, "mark|reject",
     OFF(spf_permerror_action), 0,
     "What an SPF permerror (the domain's record is broken, needs more than 10 DNS "
     "lookups or names more than 2 domains that do not exist) does: mark, or reject "
     "with 550 5.7.24, telling the sender what to fix.",
     NULL},
    {"spf_temperror_action", FL_SET_ENUM, "accept", 0, 0, "accept|tempfail",
     OFF(spf_temperror_action), 0,
     "What an SPF temperror (a DNS lookup failed) does: accept "
     "(Authentication-Results says temperror), or defer with 451: 4.7.24 when the "
     "sender's name servers failed, 4.4.3 when our own resolver did.",
     NULL},
    {"spf_received_header", FL_SET_BOOL, "no", 0, 0, NULL, OFF(spf_received_header), 0,
     "Also add a Received-SPF header (RFC 7208 9.1) with the MAIL FROM result. "
     "Authentication-Results carries the same result either way.",
     NULL},
    {"spf_skip_trusted", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(spf_skip_trusted), 0,
     "Skip SPF for clients in trusted_networks (the loopback addresses among them): "
     "they relay for us and are not the sender's servers.",
     NULL},
    {"spf_skip_authenticated", FL_SET_BOOL, "yes", 0, 0, NULL,
     OFF(spf_skip_authenticated), 0,
     "Skip SPF for clients that authenticated with SMTP AUTH.", NULL},
};
