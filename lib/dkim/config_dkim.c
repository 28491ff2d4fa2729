/* config_dkim: settings of DKIM verification (lib/dkim/dkim.c).  The enum
   choices are in the order of the enums in lib/dkim/dkim.h (policy first). */
#include "lib/core/config.h"
#include "lib/dkim/dkim.h"
#include "lib/core/settings.h"

#include <stddef.h>

#define OFF(field) offsetof(struct fl_config, field)
#define SEC        1000LL

const struct fl_setting fl_dkim_settings[FL_DKIM_SETTINGS_COUNT] = {
    {"dkim_enable", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(dkim_enable), 0,
     "Verify the DKIM signatures of incoming mail (RFC 6376, RFC 8463 Ed25519): each "
     "signature gets its own dkim= entry in Authentication-Results. The key lookups "
     "start when the headers are in and run while the body arrives.",
     NULL},
    {"dkim_skip_trusted", FL_SET_BOOL, "yes", 0, 0, NULL, OFF(dkim_skip_trusted), 0,
     "Do not verify mail from trusted_networks.", NULL},
    {"dkim_skip_authenticated", FL_SET_BOOL, "yes", 0, 0, NULL,
     OFF(dkim_skip_authenticated), 0,
     "Do not verify mail of SMTP-AUTH authenticated clients.", NULL},
    {"dkim_max_signatures", FL_SET_INT, "8", 1, 64, NULL, OFF(dkim_max_signatures), 0,
     "Signatures verified per message, from the top. Each costs a key lookup and a "
     "public-key operation; the rest are reported as dkim=policy (too many signatures).",
     NULL},
    {"dkim_min_rsa_bits", FL_SET_INT, "1024", 512, 8192, NULL, OFF(dkim_min_rsa_bits), 0,
     "Shortest RSA key accepted (RFC 8301: 1024). A signature made with a shorter key "
     "is dkim=policy (key too short): its sender must publish a longer key.",
     NULL},
    {"dkim_rsa_sha1", FL_SET_ENUM, "policy", 0, 0, "policy|fail|pass", OFF(dkim_rsa_sha1),
     0,
     "What a valid rsa-sha1 signature yields. RFC 8301 forbids accepting it: policy or "
     "fail; pass accepts it, for legacy senders only.",
     NULL},
    {"dkim_clock_skew", FL_SET_DURATION, "5m", 0, (FL_DKIM_MAX_SKEW_S * SEC), NULL,
     OFF(dkim_clock_skew), 0,
     "Clock difference allowed for a signature's timestamps: it expires this long after "
     "its x= and is accepted this long before its t=. Outside, dkim=policy (signature "
     "expired, signature not yet valid).",
     NULL},
    {"dkim_body_length", FL_SET_ENUM, "policy", 0, 0, "policy|accept",
     OFF(dkim_body_length), 0,
     "What a signature with a body length limit (l=) yields when content follows the "
     "part it signs (RFC 6376 8.2: anyone may append to such a message): policy, or "
     "accept (pass; the verdict detail counts the unsigned bytes). An l= covering the "
     "whole body passes.",
     NULL},
    {"dkim_added_headers", FL_SET_ENUM, "policy", 0, 0, "policy|accept",
     OFF(dkim_added_headers), 0,
     "What a signature yields when the message has more instances of a header allowed "
     "once (Sender, Reply-To, To, Cc, Date, Subject, Message-ID, In-Reply-To, "
     "References) than the signature covers, so one was added after signing (RFC 6376 "
     "8.15): policy or accept. A From added after signing is always dkim=policy.",
     NULL},
    {"dkim_testing_keys", FL_SET_ENUM, "accept", 0, 0, "policy|accept",
     OFF(dkim_testing_keys), 0,
     "What a signature verified with a key in testing mode (t=y) yields: accept (pass; "
     "the verdict detail notes it) or policy.",
     NULL},
    {"dkim_fail_action", FL_SET_ENUM, "mark", 0, 0, "mark|reject", OFF(dkim_fail_action),
     0,
     "What DKIM does when no signature of a message passes and one failed for a reason "
     "its sender can fix: mark (Authentication-Results and verdict only; DMARC decides) "
     "or reject with 550 5.7.20. A failed key lookup (temperror) never rejects, and an "
     "unsigned message is not a failure.",
     NULL},
};
