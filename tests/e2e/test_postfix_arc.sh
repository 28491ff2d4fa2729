#!/bin/bash
# tests/e2e/test_postfix_arc.sh -- end-to-end: ARC (RFC 8617) and the DMARC
# override for trusted forwarders behind a real, private Postfix instance.
# A p=reject author (author.arc.example) posts to a mailing list that tags
# the Subject and appends a footer, then seals the result (dkimpy,
# tests/arc/make_vectors.py, keys made now): DMARC fails.  Sealed by the
# trusted list it is delivered with dmarc=fail policy.override=arc and
# arc=pass; the same message sealed by an untrusted sealer is refused with
# 550 5.7.26; `faultlinectl dmarc-report` reports the override
# (trusted_forwarder) in the author's aggregate report.
# Automake test protocol: exit 0 pass, 1 fail, 77 skip (only when not root).
set -u
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
echo "== faultline ARC end-to-end test through a private Postfix instance"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (runs a private Postfix master and binds ports)"
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"

pf_e2e_begin arc

"$PY" "$SRC/tests/arc/make_vectors.py" "$T/vec" || abort "make_vectors.py failed"
pf_dns_start "$T/dns" "$T/vec/zones" || abort "the test DNS server did not start"
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
dmarc_reject_action = reject
dmarc_arc_trusted_sealers = lists.arc.example
EOF
"$FAULTLINE" -f -c "$T/faultline.conf" </dev/null >"$T/faultline.out" 2>"$T/faultline.log" &
FL_PID=$!
pf_wait_port "$FL_PORT" 20 "$FL_PID" || { cat "$T/faultline.log"; abort "faultline did not start"; }
pf_start "$T/postfix" "inet:127.0.0.1:$FL_PORT" || abort "private Postfix did not start"
pass "test DNS server, faultline and Postfix are up"

transcript_has() { grep -q -- "$1" "$PF_LAST_TRANSCRIPT"; }
# The envelope senders tell the two copies apart (the sealed headers must
# stay as they are).
cp "$T/vec/msgs/list_trusted.eml" "$T/trusted.eml"
cp "$T/vec/msgs/list_untrusted.eml" "$T/untrusted.eml"

if pf_send list-bounces@lists.arc.example bob@faultline.example "$T/trusted.eml" \
	192.0.2.2 host.dns.example; then
	pass "list message sealed by the trusted sealer accepted despite p=reject"
else
	fail "list message sealed by the trusted sealer not accepted"
	cat "$PF_LAST_TRANSCRIPT"
fi
if ! pf_send list-bounces@untrusted.arc.example bob@faultline.example "$T/untrusted.eml" \
	192.0.2.2 host.dns.example && transcript_has "550 5.7.26"; then
	pass "the same message sealed by an untrusted sealer refused with 550 5.7.26"
else
	fail "the untrusted sealer's message was not refused"
	cat "$PF_LAST_TRANSCRIPT"
fi

pf_wait_delivered 1 60 || fail "the accepted message was not delivered"
got=""
for f in $(pf_sink_files); do
	grep -q "arc1@author.arc.example" "$f" && got=$f
done
if [ -n "$got" ] && "$PY" - "$got" <<'PYEOF'; then
import authres, email, sys
raw = open(sys.argv[1], "rb").read()
start = raw.find(b"Received:")  # smtp-sink prepends its own X- lines
msg = email.message_from_bytes(raw[start if start >= 0 else 0:])
ar = [v for k, v in msg.items() if k.lower() == "authentication-results"]
ours = [a for a in ar if a.strip().lower().startswith("mx.faultline.example")]
assert len(ours) == 1, ar
h = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + ours[0])
res = {r.method: r for r in h.results}
assert res["arc"].result == "pass", ours[0]
props = {(p.type, p.name): p.value for p in res["arc"].properties}
assert props[("header", "oldest-pass")] == "0" and props[("smtp", "remote-ip")] == "192.0.2.2", props
assert res["dmarc"].result == "fail", ours[0]
props = {(p.type, p.name): p.value for p in res["dmarc"].properties}
assert props[("policy", "override")] == "arc" and props[("policy", "dmarc")] == "none", props
print("    arc=pass, dmarc=fail policy.override=arc (parsed by the authres package)")
PYEOF
	pass "the delivered message's Authentication-Results parse as RFC 8601 and carry the override"
else
	fail "the delivered message lacks arc=pass / dmarc=fail policy.override=arc"
fi
if "$PY" - "$T/verdict.jsonl" <<'PYEOF'; then
import json, sys
recs = {r["mail_from"]: r for r in (json.loads(l) for l in open(sys.argv[1]))}
t = recs["list-bounces@lists.arc.example"]
u = recs["list-bounces@untrusted.arc.example"]
assert t["action"] == "accept", t["action"]
ov = t["dmarc"]["policy_evaluated"]["reason"]
assert ov["type"] == "trusted_forwarder" and "lists.arc.example" in ov["comment"], ov
assert t["arc"]["chain"] == ["lists.arc.example"], t["arc"]
assert u["action"] == "reject" and u["dmarc"]["policy_evaluated"]["reason"] is None, u["dmarc"]
assert u["arc"]["result"] == "pass" and u["arc"]["chain"] == ["untrusted.arc.example"], u["arc"]
PYEOF
	pass "verdict records: trusted_forwarder naming the sealer; no override for the untrusted one"
else
	fail "the verdict records do not say what happened"
fi

# The aggregate report for author.arc.example (rua=) carries the override.
CTL=${FAULTLINECTL:-$(dirname "$FAULTLINE")/faultlinectl}
day=$(date -u +%Y-%m-%d)
mkdir -p "$T/reports"
"$CTL" -c "$T/faultline.conf" dmarc-report --since "$day" --until "$day" --out "$T/reports" \
	--email dmarc-reports@receiver.example --org-name "Receiver Example" \
	"$T/verdict.jsonl" >"$T/report.out" 2>"$T/report.err"
if "$PY" - "$T/reports" <<'PYEOF'; then
import gzip, os, sys, zipfile
xml = b""
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        data = open(p, "rb").read()
        if f.endswith(".gz"):
            data = gzip.decompress(data)
        elif f.endswith(".zip"):
            z = zipfile.ZipFile(p)
            data = b"".join(z.read(n) for n in z.namelist())
        if b"author.arc.example" in data:
            xml += data
assert b"<type>trusted_forwarder</type>" in xml, xml[:2000]
assert b"lists.arc.example" in xml, xml[:2000]
PYEOF
	pass "the aggregate report row for author.arc.example has reason trusted_forwarder"
else
	fail "no trusted_forwarder reason in the aggregate report"
	cat "$T/report.out" "$T/report.err"
fi

if [ "$FAILS" -gt 0 ]; then
	echo "---- faultline.log (tail) ----"
	tail -n 30 "$T/faultline.log"
	echo "== FAILED: $FAILS assertion(s)"
	exit 1
fi
echo "== OK: all assertions held"
exit 0
