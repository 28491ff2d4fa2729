#!/bin/bash
# tests/e2e/test_sendmail.sh -- end-to-end: faultline behind a real Sendmail
# 8.17 (Debian's sendmail-bin, unpacked into a private prefix with dpkg -x:
# it conflicts with postfix), with its own sendmail.cf built from an .mc with
#   INPUT_MAIL_FILTER(`faultline', `S=unix:..., F=T, T=S:10s;R:10s;E:5m'),
# listening on a loopback port and relaying to smtp-sink.  Resolves through
# the test DNS server.  Checks, as the SMTP client (swaks) sees them:
#   - faultline's Authentication-Results header is the first header of the
#     delivered message, forged ones (our authserv-id) are removed, others kept;
#   - the verdict record and the log line are keyed by Sendmail's queue id
#     (the id of "250 2.0.0 QUEUEID Message accepted for delivery");
#   - SPF fail is refused with 550 5.7.23;
#   - greylisting defers the first attempt with 451 4.7.1, the retry passes;
#   - DMARC p=reject (dmarc_reject_action = reject) is refused with 550 5.7.26;
#   - with the milter down, F=T makes Sendmail tempfail (4xx), not accept.
# Clients connect from documentation addresses added to lo, so the test runs
# in network and UTS namespaces of its own (unshare): the host's interfaces
# and host name are never touched; Sendmail gets a qualified host name
# (mx.faultline.example) and no DNS.  The packages are fetched first, with
# the host's apt (the only step that needs the Debian mirror): set
# FL_SENDMAIL_DEBS to a directory that holds them to skip the download.
# Runs from scripts/test.sh (as root; a separate step: it downloads).
# Exit 0 pass, 1 fail; never skips.
set -u
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
FAULTLINE=${FAULTLINE:-${top_builddir:-$HERE/../..}/milter/faultline}
# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"
# shellcheck source-path=SCRIPTDIR source=sendmail_lib.sh
. "$HERE/sendmail_lib.sh"

if [ -z "${FL_SM_INSIDE:-}" ]; then
	echo "== faultline end-to-end test through a private Sendmail"
	[ "$(id -u)" = 0 ] || abort "needs root (Sendmail's daemon, namespaces)"
	[ -x "$FAULTLINE" ] || abort "faultline daemon not found: $FAULTLINE"
	pf_install_if_absent || abort "postfix (smtp-sink) and swaks are needed"
	command -v m4 >/dev/null || abort "m4 is needed to build sendmail.cf"
	# /run, not /tmp: Sendmail refuses a milter socket below a world-writable
	# directory.
	T=$(mktemp -d /run/faultline-e2e-sm.XXXXXX) || exit 1
	chmod 755 "$T"
	debs=${FL_SENDMAIL_DEBS:-$T/debs}
	sm_fetch "$debs" || { rm -rf "$T"; abort "apt-get download $SM_PACKAGES failed"; }
	export FL_SM_INSIDE=1 FL_SM_DEBS=$debs FL_SM_DIR=$T FAULTLINE
	unshare --net --uts /bin/bash "$0"
	rc=$?
	if [ "$rc" = 0 ]; then rm -rf "$T"; else echo "work directory kept: $T"; fi
	exit "$rc"
fi

# ---- inside the namespaces ---------------------------------------------------
T=$FL_SM_DIR
hostname mx.faultline.example
ip link set lo up
for a in 192.0.2.2 192.0.2.50 198.51.100.7; do
	ip addr add "$a/32" dev lo || abort "cannot add $a to lo"
done
FL_PID=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	sm_stop
	[ -n "$FL_PID" ] && kill -TERM "$FL_PID" 2>/dev/null && wait "$FL_PID" 2>/dev/null
	pf_dns_stop
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pf_dns_start "$T/dns" || abort "the test DNS server did not start"
SOCK=$T/faultline.sock
cat >"$T/faultline.conf" <<EOF
socket = unix:$SOCK
user =
pidfile = $T/faultline.pid
log = stderr
authserv_id = mx.faultline.example
verdict_log = $T/verdict.jsonl
dns_forwarders = $PF_DNS_ADDR
dns_probe_domain = dns.example
greylist_enable = yes
greylist_lmdb_dir = $T/greylist
greylist_delay = 2s
greylist_allow_clients = 198.51.100.7, 192.0.2.2
dmarc_reject_action = reject
EOF
start_faultline() {
	"$FAULTLINE" -f -c "$T/faultline.conf" </dev/null >"$T/faultline.out" 2>>"$T/faultline.log" &
	FL_PID=$!
	for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
	cat "$T/faultline.log"
	abort "faultline did not create $SOCK"
}
start_faultline
sm_start "$T/sendmail" "$FL_SM_DEBS" "unix:$SOCK" || abort "private Sendmail did not start"
version=$(LD_LIBRARY_PATH=$SM_DIR/prefix/usr/lib/x86_64-linux-gnu "$SM_BIN" -d0.1 -bt </dev/null 2>&1 |
	sed -n 's/^Version //p' | head -n 1)
case $version in
8.17*) pass "Sendmail $version from $(basename "$(ls "$FL_SM_DEBS"/sendmail-bin_*.deb)"), faultline and the DNS server are up" ;;
*) fail "Sendmail version is '$version', not 8.17" ;;
esac
transcript_has() { grep -q -- "$1" "$SM_LAST_TRANSCRIPT"; }
# a reply line as swaks prints it (with or without its "<-" marker)
reply_has() { grep -q -E -- "^(<[~-]* *)?$1" "$SM_LAST_TRANSCRIPT"; }
reply_line() { grep -m1 -E -- "^(<[~-]* *)?$1" "$SM_LAST_TRANSCRIPT" | sed -E 's/^<[~-]* *//'; }
plain() {
	printf 'From: %s\nTo: bob@faultline.example\nSubject: %s\nMessage-ID: <%s>\n\nbody\n' \
		"$1" "$2" "$3" >"$T/$3.eml"
	echo "$T/$3.eml"
}

# ---- Authentication-Results, forged ones, queue id ------------------------------
cat >"$T/forged.eml" <<'EOF'
Authentication-Results: mx.faultline.example; spf=pass smtp.mailfrom=forged.example; dkim=pass header.d=forged.example
From: Alice <x@aligned.dns.example>
Authentication-Results: (forged)
	MX.FAULTLINE.EXAMPLE; spf=pass
To: Bob <bob@faultline.example>
Authentication-Results: other.example; spf=pass smtp.mailfrom=example.org
Subject: faultline e2e through Sendmail: forged Authentication-Results
Message-ID: <sm-forged@e2e>

E2E-BODY-MARKER
EOF
QID=
if sm_send x@aligned.dns.example bob@faultline.example "$T/forged.eml" 192.0.2.2 host.dns.example; then
	QID=$(sm_queue_id)
	pass "message accepted by Sendmail, queue id ${QID:-?}"
else
	cat "$SM_LAST_TRANSCRIPT"
	fail "message not accepted by Sendmail"
fi
sm_wait_delivered 1 30 || fail "the message did not reach the sink"
delivered=$(grep -l 'sm-forged@e2e' $(sm_sink_files) 2>/dev/null | head -n 1)
if [ -n "$delivered" ] && "$PY" - "$delivered" "$QID" <<'PYEOF'; then
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace").replace("\r\n", "\n")
qid = sys.argv[2]
head = raw.partition("\n\n")[0]
headers = []
for line in head.split("\n"):
    if line[:1] in (" ", "\t") and headers:
        headers[-1][1] += " " + line.strip()
    elif ":" in line:
        n, _, v = line.partition(":")
        headers.append([n.strip(), v.strip()])
# smtp-sink's capture starts with its X- lines and its own Received header.
cut = [i for i, (n, v) in enumerate(headers) if n.lower() == "received" and "smtp-sink" in v]
assert cut, "no smtp-sink Received header"
msg = headers[cut[0] + 1:]
for n, v in msg:
    print("     | %s: %s" % (n, v))
def authserv(v):
    v = re.sub(r"\([^)]*\)", "", v).strip()
    return v.split(";")[0].strip().lower()
ar = [(i, v) for i, (n, v) in enumerate(msg) if n.lower() == "authentication-results"]
ours = [(i, v) for i, v in ar if authserv(v) == "mx.faultline.example"]
assert len(ours) == 1, "want exactly one AR of ours, got %r" % ours
assert ours[0][0] == 0, "faultline's AR is header %d, not the first" % ours[0][0]
assert "spf=pass" in ours[0][1] and "dmarc=pass" in ours[0][1], ours[0][1]
assert [v for i, v in ar if authserv(v) == "other.example"], "other.example's AR was removed"
assert len(ar) == 2, "a forged AR survived: %r" % ar
rcvd = [v for n, v in msg if n.lower() == "received"]
assert rcvd and ("id " + qid) in rcvd[0], "Sendmail's Received does not name %s: %r" % (qid, rcvd)
PYEOF
	pass "delivered: faultline's AR is the first header (spf=pass, dmarc=pass), forged ARs removed, other.example's kept; Received names $QID"
else
	fail "the delivered message's headers are wrong (${delivered:-not delivered})"
fi
if [ -n "$QID" ] && "$PY" - "$T/verdict.jsonl" "$QID" <<'PYEOF'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in recs if r.get("queue_id") == sys.argv[2]]
assert len(mine) == 1 and mine[0]["action"] == "accept", [r.get("queue_id") for r in recs]
assert mine[0].get("message_id") == "<sm-forged@e2e>", mine[0].get("message_id")
PYEOF
	pass "verdict record keyed by Sendmail's queue id $QID (action accept, Message-ID <sm-forged@e2e>)"
else
	fail "no verdict record keyed by Sendmail's queue id '$QID'"
fi
grep -q "^.*$QID: verdict action=accept" "$T/faultline.log" &&
	pass "log line '$QID: verdict action=accept ...'" || fail "no log line '$QID: verdict action=accept'"

# ---- SPF fail ----------------------------------------------------------------------
m=$(plain a@txt.dns.example "spf fail" sm-spf-fail@e2e)
if ! sm_send a@txt.dns.example bob@faultline.example "$m" 198.51.100.7 mail.dns.example &&
	reply_has "550 5\\.7\\.23"; then
	pass "SPF fail (198.51.100.7 for txt.dns.example) refused with 550 5.7.23: $(reply_line "550 5\\.7\\.23")"
else
	cat "$SM_LAST_TRANSCRIPT"
	fail "SPF fail not refused with 550 5.7.23"
fi
if "$PY" - "$T/verdict.jsonl" <<'PYEOF'; then
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
spf = [r for r in recs if r["client"]["ip"] == "198.51.100.7"]
assert spf and spf[-1]["action"] == "reject" and spf[-1]["fault"] == "sender", spf
assert re.fullmatch(r"[0-9A-Za-z]{14}", spf[-1].get("queue_id", "")), spf[-1].get("queue_id")
print("    SPF reject recorded under Sendmail queue id", spf[-1]["queue_id"])
PYEOF
	pass "SPF reject recorded with fault=sender under Sendmail's queue id"
else
	fail "SPF reject not recorded under a Sendmail queue id"
fi

# ---- greylisting -------------------------------------------------------------------
m=$(plain x@dns.example "greylisted" sm-grey@e2e)
if ! sm_send x@dns.example bob@faultline.example "$m" 192.0.2.50 host.dns.example &&
	reply_has "451 4\\.7\\.1"; then
	pass "first attempt from 192.0.2.50 greylisted: $(reply_line "451 4\\.7\\.1")"
else
	cat "$SM_LAST_TRANSCRIPT"
	fail "first attempt not greylisted with 451 4.7.1"
fi
sleep 2.2 # greylist_delay = 2s
if sm_send x@dns.example bob@faultline.example "$m" 192.0.2.50 host.dns.example; then
	pass "the retry after greylist_delay is accepted (queue id $(sm_queue_id))"
else
	cat "$SM_LAST_TRANSCRIPT"
	fail "the retry was not accepted"
fi

# ---- DMARC p=reject -------------------------------------------------------------------
m=$(plain x@reject.dmarc.example "dmarc fail" sm-dmarc-fail@e2e)
if ! sm_send x@aligned.dns.example bob@faultline.example "$m" 192.0.2.2 host.dns.example &&
	reply_has "550 5\\.7\\.26" && transcript_has "reject.dmarc.example"; then
	pass "DMARC p=reject failure refused with 550 5.7.26: $(reply_line "550 5\\.7\\.26")"
else
	cat "$SM_LAST_TRANSCRIPT"
	fail "DMARC p=reject failure not refused with 550 5.7.26"
fi

# ---- the milter down: F=T ----------------------------------------------------------------
kill -TERM "$FL_PID" && wait "$FL_PID"
FL_PID=
m=$(plain x@aligned.dns.example "milter down" sm-down@e2e)
if ! sm_send x@aligned.dns.example bob@faultline.example "$m" 192.0.2.2 host.dns.example &&
	reply_has "4[0-9][0-9] "; then
	pass "faultline stopped: Sendmail tempfails (F=T): $(reply_line "4[0-9][0-9] ")"
else
	cat "$SM_LAST_TRANSCRIPT"
	fail "with faultline stopped Sendmail did not tempfail"
fi
sm_wait_delivered 2 30 || fail "the greylist retry did not reach the sink"
[ "$(sm_sink_files | wc -l)" = 2 ] && pass "exactly the 2 accepted messages reached the sink" ||
	fail "$(sm_sink_files | wc -l) messages in the sink, want 2"
[ "$FAILS" = 0 ]
