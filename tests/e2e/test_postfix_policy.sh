#!/bin/bash
# tests/e2e/test_postfix_policy.sh -- end-to-end: faultline's policies behind
# a real, private Postfix instance, resolving through the test DNS server:
#   - SPF fail is refused with 550 5.7.23; SPF and DKIM pass are delivered
#     with spf=pass and dkim=pass in the Authentication-Results header;
#   - a client on a DNS list is refused with 554 naming the list; a list that
#     answers an error code lets the mail through and blames our side;
#   - greylisting defers the first attempt with 451 4.7.1 and delivers the
#     retry after the (test-shortened) delay.
# Automake test protocol: exit 0 pass, 1 fail, 77 skip (only when not root).
set -u
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
echo "== faultline policy end-to-end test through a private Postfix instance"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (runs a private Postfix master and binds ports)"
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"

pf_e2e_begin policy

# ---- DNS server, faultline, Postfix ---------------------------------------
pf_dns_start "$T/dns" || abort "the test DNS server did not start"
FL_PORT=$(pf_free_port)
cat >"$T/faultline.conf" <<EOF
socket = inet:$FL_PORT@127.0.0.1
user =
pidfile = $T/faultline.pid
log = stderr
authserv_id = mx.faultline.example
verdict_log = $T/verdict.jsonl
dns_forwarders = $PF_DNS_ADDR
dns_probe_domain = dns.example
dnsbl_sites = zen.dnsbl.example
greylist_enable = yes
greylist_lmdb_dir = $T/greylist
greylist_delay = 2s
greylist_allow_clients = 198.51.100.7, 192.0.2.2, 192.0.2.7, 192.0.2.21
dmarc_reject_action = reject
EOF
"$FAULTLINE" -f -c "$T/faultline.conf" </dev/null >"$T/faultline.out" 2>"$T/faultline.log" &
FL_PID=$!
pf_wait_port "$FL_PORT" 20 "$FL_PID" || { cat "$T/faultline.log"; abort "faultline did not start"; }
pf_start "$T/postfix" "inet:127.0.0.1:$FL_PORT" || abort "private Postfix did not start"
pass "test DNS server, faultline and Postfix are up"

# A message signed by dkimpy with the key dns.example publishes.
"$PY" - "$SRC/tests/dns/keys/sel1.private" >"$T/signed.eml" <<'PYEOF' || abort "signing failed"
import dkim, sys
msg = (b"From: Alice <alice@dns.example>\r\nTo: bob@faultline.example\r\n"
       b"Subject: faultline e2e: signed\r\nMessage-ID: <fl-e2e-signed@dns.example>\r\n\r\n"
       b"A signed message.\r\n")
key = open(sys.argv[1], "rb").read()
sig = dkim.sign(msg, b"sel1", b"dns.example", key,
                include_headers=[b"from", b"to", b"subject", b"message-id"])
sys.stdout.write((sig + msg).decode())
PYEOF
plain() {
	printf 'From: %s\nTo: bob@faultline.example\nSubject: %s\nMessage-ID: <%s>\n\nbody\n' \
		"$1" "$2" "$3" >"$T/$3.eml"
	echo "$T/$3.eml"
}
transcript_has() { grep -q -- "$1" "$PF_LAST_TRANSCRIPT"; }
delivered=0

# ---- SPF ------------------------------------------------------------------
m=$(plain a@txt.dns.example "spf fail" spf-fail@e2e)
if ! pf_send a@txt.dns.example bob@faultline.example "$m" 198.51.100.7 mail.dns.example &&
	transcript_has "550 5.7.23"; then
	pass "SPF fail (198.51.100.7 for txt.dns.example) refused with 550 5.7.23"
else
	fail "SPF fail not refused with 550 5.7.23"
	cat "$PF_LAST_TRANSCRIPT"
fi
if pf_send alice@txt.dns.example bob@faultline.example "$T/signed.eml" 192.0.2.2 host.dns.example; then
	delivered=$((delivered + 1))
	pass "SPF and DKIM pass accepted"
else
	fail "SPF and DKIM pass not accepted"
	cat "$PF_LAST_TRANSCRIPT"
fi

# ---- DMARC --------------------------------------------------------------------
m=$(plain x@reject.dmarc.example "dmarc fail" dmarc-fail@e2e)
if ! pf_send x@aligned.dns.example bob@faultline.example "$m" 192.0.2.2 host.dns.example &&
	transcript_has "550 5.7.26" && transcript_has "reject.dmarc.example"; then
	pass "DMARC p=reject failure (From reject.dmarc.example) refused with 550 5.7.26"
else
	fail "DMARC p=reject failure not refused"
	cat "$PF_LAST_TRANSCRIPT"
fi
m=$(plain x@aligned.dns.example "dmarc pass" dmarc-pass@e2e)
if pf_send x@aligned.dns.example bob@faultline.example "$m" 192.0.2.2 host.dns.example; then
	delivered=$((delivered + 1))
	pass "DMARC pass (aligned SPF) accepted"
else
	fail "DMARC pass not accepted"
	cat "$PF_LAST_TRANSCRIPT"
fi

# ---- DNS lists --------------------------------------------------------------
m=$(plain x@dns.example "listed" listed@e2e)
if ! pf_send x@dns.example bob@faultline.example "$m" 192.0.2.7 host.dns.example &&
	transcript_has "554 5.7.1" && transcript_has "zen.dnsbl.example"; then
	pass "listed client 192.0.2.7 refused with 554 5.7.1 naming zen.dnsbl.example"
else
	fail "listed client not refused"
	cat "$PF_LAST_TRANSCRIPT"
fi
m=$(plain x@dns.example "error code" errcode@e2e)
if pf_send x@dns.example bob@faultline.example "$m" 192.0.2.21 host.dns.example; then
	delivered=$((delivered + 1))
	pass "a list answering 127.255.255.254 (refused) does not block 192.0.2.21"
else
	fail "the error-coded list blocked the mail"
	cat "$PF_LAST_TRANSCRIPT"
fi

# ---- greylisting --------------------------------------------------------------
m=$(plain x@dns.example "greylisted" grey@e2e)
if ! pf_send x@dns.example bob@faultline.example "$m" 192.0.2.50 host.dns.example &&
	transcript_has "451 4.7.1" && transcript_has "greylisted, please retry in"; then
	pass "first attempt from 192.0.2.50 greylisted with 451 4.7.1"
else
	fail "first attempt not greylisted"
	cat "$PF_LAST_TRANSCRIPT"
fi
sleep 2.2 # greylist_delay = 2s: the client retries after it
if pf_send x@dns.example bob@faultline.example "$m" 192.0.2.50 host.dns.example; then
	delivered=$((delivered + 1))
	pass "the retry after the delay is accepted"
else
	fail "the retry was not accepted"
	cat "$PF_LAST_TRANSCRIPT"
fi

# ---- what was delivered, and the records ----------------------------------------
pf_wait_delivered "$delivered" 60 || fail "only some of $delivered messages were delivered"
signed=""
for f in $(pf_sink_files); do
	grep -q "fl-e2e-signed@dns.example" "$f" && signed=$f
done
if [ -n "$signed" ] && "$PY" - "$signed" <<'PYEOF'; then
import authres, email, sys
raw = open(sys.argv[1], "rb").read()
start = raw.find(b"Received:")  # smtp-sink prepends its own X- lines
msg = email.message_from_bytes(raw[start if start >= 0 else 0:])
ar = [v for k, v in msg.items() if k.lower() == "authentication-results"]
ours = [a for a in ar if a.strip().lower().startswith("mx.faultline.example")]
assert len(ours) == 1, ar
h = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + ours[0])
got = {(r.method, r.result) for r in h.results}
assert ("spf", "pass") in got and ("dkim", "pass") in got, got
print("   ", " ".join("%s=%s" % m for m in sorted(got)))
PYEOF
	pass "the delivered signed message carries spf=pass and dkim=pass"
else
	fail "the delivered signed message lacks spf=pass/dkim=pass"
fi
if "$PY" - "$T/verdict.jsonl" <<'PYEOF'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
err = [r for r in recs if r["client"]["ip"] == "192.0.2.21"]
assert err and err[-1]["action"] == "accept", err
bl = [c for c in err[-1]["checks"] if c["method"] == "dnsbl"]
assert bl and bl[0]["fault"] == "receiver" and bl[0]["reason"] == "dnsbl.error_code", bl
spf = [r for r in recs if r["client"]["ip"] == "198.51.100.7"]
assert spf and spf[-1]["action"] == "reject" and spf[-1]["fault"] == "sender", spf
grey = [r for r in recs if r["client"]["ip"] == "192.0.2.50"]
assert [r["action"] for r in grey] == ["tempfail", "accept"], [r["action"] for r in grey]
dm = [r for r in recs if r.get("message_id") == "<dmarc-pass@e2e>"]
assert dm and any(c["method"] == "dmarc" and c["result"] == "pass" for c in dm[-1]["checks"]), dm
assert "dmarc" in dm[-1], "no DMARC aggregate-report data in the record"
PYEOF
	pass "verdict records: error-coded list blamed on us, SPF fail on the sender, greylist tempfail then accept"
else
	fail "the verdict records do not say what happened"
fi

if [ "$FAILS" -gt 0 ]; then
	echo "---- faultline.log (tail) ----"
	tail -n 30 "$T/faultline.log"
	echo "== FAILED: $FAILS assertion(s)"
	exit 1
fi
echo "== OK: all assertions held"
exit 0
