#!/bin/bash
# tests/e2e/test_postfix_dmarc_report.sh -- end-to-end: DMARC aggregate
# reports (RFC 9990) from verdict records to a real, private Postfix.
#  1. The daemon behind Postfix judges mail from none.dmarc.example (p=none),
#     nop.dmarc.example (rua= without p) and reject.dmarc.example (refused
#     with 550) and writes its verdict log.
#  2. `faultlinectl dmarc-report --send` over the fixture logs of
#     tests/ctl/test_dmarc_report.sh (two MX hosts, the first one rotated
#     and gzip-compressed) hands its reports to Postfix's sendmail(1)
#     (report_sendmail = /usr/sbin/sendmail -C DIR); destination
#     verification asks tests/dns/fakedns.py.
#  3. The same over the daemon's own log for today: one report per policy
#     domain, counts equal to the records, mailed to each domain's rua=.
# Checked on every report message that reaches smtp-sink: envelope sender
# and recipient, From, Subject (RFC 9990 2.4.2), Message-ID = Report-ID,
# the MIME structure, the base64 gzip attachment named
# receiver!policy-domain!begin!end.xml.gz equal to the report file, its XML
# valid against the RFC 9990 schema; that no report went to an unauthorised
# external destination or past a size limit; that a rerun sends nothing
# twice.
#
# Automake test protocol: exit 0 pass, 1 fail, 77 skip (only when not root).
set -u
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
BUILD=${top_builddir:-$SRC/_build}
CTL=$BUILD/milter/faultlinectl
FAULTLINE=${FAULTLINE:-$BUILD/milter/faultline}
FX=$SRC/tests/ctl/dmarc

echo "== DMARC aggregate reports: daemon, faultlinectl dmarc-report, a private Postfix"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (runs a private Postfix master)"
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"
pf_install_if_absent || abort "postfix is not installed"
[ -x "$FAULTLINE" ] || abort "faultline daemon not found: $FAULTLINE"

T=$(mktemp -d /tmp/fl-e2e-dmarc-report.XXXXXX)
chmod 755 "$T" # Postfix (user postfix) works below it
DNS_PID=
FL_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	trap - EXIT INT TERM
	pf_stop
	if [ -n "$FL_PID" ] && _pf_pid_alive "$FL_PID"; then
		kill -TERM "$FL_PID" 2>/dev/null
		wait "$FL_PID" 2>/dev/null
	fi
	[ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null && wait "$DNS_PID" 2>/dev/null
	if [ "$FAILS" = 0 ] && [ -z "${FAULTLINE_E2E_KEEP:-}" ]; then rm -rf "$T"; else
		echo "work dir kept: $T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- DNS (the base zones and the Report Consumers), daemon, Postfix --------
"$PY" "$SRC/tests/dns/fakedns.py" --port 0 --zones "$SRC/tests/dns/zones" "$FX/zones" \
	--ready-file "$T/dns.port" 2>"$T/dns.err" &
DNS_PID=$!
for _ in $(seq 100); do [ -s "$T/dns.port" ] && break; sleep 0.1; done
[ -s "$T/dns.port" ] || abort "fakedns did not start: $(cat "$T/dns.err")"
DNS_ADDR=127.0.0.1@$(cat "$T/dns.port")
FL_PORT=$(pf_free_port)
cat >"$T/faultline.conf" <<CONF
socket = inet:$FL_PORT@127.0.0.1
user =
pidfile = $T/faultline.pid
log = stderr
authserv_id = mx.faultline.example
verdict_log = $T/verdict.jsonl
dns_forwarders = $DNS_ADDR
dns_probe_domain = dns.example
dns_timeout = 2s
dmarc_reject_action = reject
report_org_name = Receiver Example Mail
report_email = dmarc-reports@receiver.example
report_sendmail = $PF_SBIN/sendmail -C $T/pf/etc
CONF
"$FAULTLINE" -f -c "$T/faultline.conf" </dev/null >"$T/faultline.out" 2>"$T/faultline.log" &
FL_PID=$!
pf_wait_port "$FL_PORT" 20 "$FL_PID" || abort "faultline did not start: $(cat "$T/faultline.log")"
pf_start "$T/pf" "inet:127.0.0.1:$FL_PORT" || abort "private Postfix did not start"
[ "$PF_CONF" = "$T/pf/etc" ] || abort "unexpected Postfix configuration directory $PF_CONF"

# ---- 1. mail judged by the daemon ----------------------------------------------
plain() {
	printf 'From: %s\nTo: bob@faultline.example\nSubject: dmarc report e2e\nMessage-ID: <%s>\n\nbody\n' \
		"$1" "$2" >"$T/$2.eml"
	echo "$T/$2.eml"
}
accepted=0
for i in 1 2 3; do
	pf_send "a@none.dmarc.example" bob@faultline.example "$(plain a@none.dmarc.example n$i@e2e)" \
		192.0.2.50 mail.none.dmarc.example && accepted=$((accepted + 1))
done
pf_send "a@nop.dmarc.example" bob@faultline.example "$(plain a@nop.dmarc.example p1@e2e)" \
	192.0.2.51 mail.nop.dmarc.example && accepted=$((accepted + 1))
if pf_send "a@reject.dmarc.example" bob@faultline.example "$(plain a@reject.dmarc.example r1@e2e)" \
	192.0.2.52 mail.reject.dmarc.example; then
	fail "DMARC p=reject failure was accepted"
elif grep -q "550 5.7.26" "$PF_LAST_TRANSCRIPT"; then
	pass "DMARC p=reject failure refused with 550 5.7.26"
else
	fail "DMARC p=reject failure not refused with 550 5.7.26"
fi
[ $accepted = 4 ] && pass "4 messages under p=none accepted" || fail "$accepted of 4 accepted"
pf_wait_delivered 4 60 || fail "the accepted messages were not delivered"
for _ in $(seq 50); do [ "$(wc -l <"$T/verdict.jsonl" 2>/dev/null)" -ge 5 ] && break; sleep 0.1; done

# check_messages BEGIN END REPORT-DIR RCPT... : every report message in the
# sink for that period, against the report files; exactly those recipients.
check_messages() {
	# shellcheck disable=SC2046 # one argument per delivered file
	"$PY" - "$@" -- $(pf_sink_files) <<'PYEOF'
import email, email.policy, gzip, os, re, subprocess, sys
args = sys.argv[1:]
sep = args.index("--")
(begin, end, reports, xsd), want, files = args[:4], set(args[4:sep]), args[sep + 1:]
rcpts = set()
for path in files:
    raw = open(path, "rb").read()
    start = raw.find(b"Received:")  # smtp-sink prepends its own X- lines
    m = email.message_from_bytes(raw[start:], policy=email.policy.default)
    subject = " ".join(str(m["Subject"]).split())
    got = re.fullmatch(r"Report Domain: (\S+) Submitter: receiver\.example Report-ID: <(\S+)>", subject)
    if not got or not got.group(2).startswith(f"{begin}-{end}."):
        continue  # other mail, or another period's report
    domain, rid = got.groups()
    env = dict(re.findall(rb"^X-(Mail|Rcpt)-Args: (.*)$", raw, re.M))
    assert env[b"Mail"].startswith(b"<dmarc-reports@receiver.example>"), env
    rcpt = env[b"Rcpt"].decode().split("<")[1].split(">")[0]
    assert m["To"] == rcpt, (m["To"], rcpt)
    assert rcpt not in rcpts, f"{rcpt} got two reports"
    rcpts.add(rcpt)
    assert m["From"] == "dmarc-reports@receiver.example"
    assert m["Message-ID"].strip("<>") == rid
    assert m.get_content_type() == "multipart/mixed"
    parts = list(m.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/gzip"]
    att = parts[1]
    name = att.get_filename()
    assert name == f"receiver.example!{domain}!{begin}!{end}.xml.gz", name
    assert att["Content-Transfer-Encoding"] == "base64"
    data = att.get_content()
    assert data == open(os.path.join(reports, name), "rb").read(), "attachment != report file"
    xml = gzip.decompress(data)
    subprocess.run(["xmllint", "--noout", "--schema", xsd, "-"], input=xml, check=True,
                   capture_output=True)
    assert rid.encode() in xml
assert rcpts == want, sorted(rcpts ^ want)
print(f"    {len(rcpts)} report messages: envelope, From, To, Subject, Message-ID, MIME, "
      "attachment == file, schema-valid XML")
PYEOF
}

# ---- 2. reports from the fixture logs of two MX hosts ----------------------------
mkdir -p "$T/reports"
gzip -c "$FX/mx1.jsonl" >"$T/mx1.log.1.gz"
cp "$FX/mx2.jsonl" "$T/mx2.log"
"$CTL" -c "$T/faultline.conf" dmarc-report --since 2026-12-01 --until 2026-12-01 --send \
	--out "$T/reports" "$T/mx1.log.1.gz" "$T/mx2.log" >"$T/run1.out" 2>"$T/run1.err"
rc=$?
cat "$T/run1.out"
# Skipped URIs (malformed, unauthorised, over 1k) make the exit status 1.
[ $rc = 1 ] && pass "exit status 1: reports sent, some URIs skipped" || fail "exit status $rc"
sent=$(grep -c ' result=sent ' "$T/run1.out")
[ "$sent" = 6 ] && pass "6 messages handed to Postfix's sendmail" || fail "$sent messages sent"
pf_wait_delivered 10 60 || fail "not every report reached the sink"
if check_messages 1796083200 1796169599 "$T/reports" "$FX/dmarc-2.0.xsd" dmarc@bank.example \
	agg@reports.example backup@big.example reports@list.example dmarc@malformed.example \
	inbox@reports.example; then
	pass "fixture reports delivered: RFC 9990 subject, MIME, decompressed attachment valid"
else
	fail "fixture report messages"
fi
for r in d@thirdparty.example x@reports.example victim@elsewhere.example dmarc@big.example; do
	# shellcheck disable=SC2046
	if grep -l "^X-Rcpt-Args: <$r>" $(pf_sink_files) >/dev/null 2>&1; then
		fail "a report went to $r"
	else
		pass "nothing delivered to $r (unauthorised or over its size limit)"
	fi
done
"$CTL" -c "$T/faultline.conf" dmarc-report --since 2026-12-01 --until 2026-12-01 --send \
	--out "$T/reports" "$T/mx1.log.1.gz" "$T/mx2.log" >"$T/run2.out" 2>"$T/run2.err"
again=$(grep -c ' result=already-sent ' "$T/run2.out")
resent=$(grep -c ' result=sent ' "$T/run2.out")
sleep 2
n=$(pf_sink_files | wc -l)
if [ "$again" = 6 ] && [ "$resent" = 0 ] && [ "$n" = 10 ]; then
	pass "a rerun for the same period sends nothing twice"
else
	fail "rerun: $again already sent, $resent sent again, $n in the sink"
fi

# ---- 3. reports from the daemon's own verdict log (today) -----------------------
today=$(date -u +%Y-%m-%d)
begin=$(date -u -d "$today" +%s)
end=$((begin + 86399))
mkdir -p "$T/today"
"$CTL" -c "$T/faultline.conf" dmarc-report --since "$today" --until "$today" --send \
	--out "$T/today" >"$T/run3.out" 2>"$T/run3.err"
rc=$?
cat "$T/run3.out" "$T/run3.err"
[ $rc = 0 ] && pass "the daemon's log: exit 0, every report sent" || fail "daemon log: exit $rc"
if "$PY" "$FX/check_reports.py" --dmarc-cat "$begin" "$end" "$T/today" "$T/verdict.jsonl" \
	>"$T/readback.out"; then
	pass "the daemon's records read back: $(tail -1 "$T/readback.out")"
else
	cat "$T/readback.out"
	fail "the daemon's records and the reports differ"
fi
grep -q 'report domain=none.dmarc.example .* records=1 messages=3 ' "$T/run3.out" &&
	grep -q 'report domain=reject.dmarc.example .* messages=1 ' "$T/run3.out" &&
	pass "none.dmarc.example: 3 messages in one row; the refused message is reported" ||
	fail "daemon-log report counts"
if zcat "$T/today/receiver.example!reject.dmarc.example!$begin!$end.xml.gz" |
	grep -q '<disposition>reject</disposition>'; then
	pass "the refused message is reported with disposition reject"
else
	fail "disposition of the refused message"
fi
pf_wait_delivered 13 60 || fail "the daemon-log reports did not reach the sink"
if check_messages "$begin" "$end" "$T/today" "$FX/dmarc-2.0.xsd" agg@none.dmarc.example \
	agg@nop.dmarc.example agg@reject.dmarc.example; then
	pass "daemon-log reports delivered to each policy domain's rua="
else
	fail "daemon-log report messages"
fi

[ "$FAILS" = 0 ] || { echo "$FAILS checks failed"; exit 1; }
echo "all checks passed"
