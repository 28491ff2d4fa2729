#!/bin/bash
# tests/e2e/test_postfix_dmarc_report.sh -- end-to-end: `faultlinectl
# dmarc-report --send` hands RFC 9990 aggregate reports to a real, private
# Postfix through its sendmail(1) (report_sendmail = /usr/sbin/sendmail -C
# DIR), which delivers them to smtp-sink.  The verdict logs are the fixture
# of tests/ctl/test_dmarc_report.sh (two MX hosts, the first one rotated and
# gzip-compressed); destination verification asks tests/dns/fakedns.py.
# Checked on every delivered message: envelope sender and recipient, From,
# Subject (RFC 9990 2.4.2), the MIME structure, the base64 gzip attachment
# named receiver!policy-domain!begin!end.xml.gz equal to the report file,
# its XML valid against the RFC 9990 schema; that no report went to an
# unauthorised external destination or past a size limit; and that a rerun
# sends nothing twice.
#
# Automake test protocol: exit 0 pass, 1 fail, 77 skip (only when not root).
set -u
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
BUILD=${top_builddir:-$SRC/_build}
CTL=$BUILD/milter/faultlinectl
FX=$SRC/tests/ctl/dmarc

echo "== faultlinectl dmarc-report --send through a private Postfix instance"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (runs a private Postfix master)"
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"
pf_install_if_absent || abort "postfix is not installed"

T=$(mktemp -d /tmp/fl-e2e-dmarc-report.XXXXXX)
chmod 755 "$T" # Postfix (user postfix) works below it
DNS_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	trap - EXIT INT TERM
	pf_stop
	[ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null && wait "$DNS_PID" 2>/dev/null
	if [ "$FAILS" = 0 ] && [ -z "${FAULTLINE_E2E_KEEP:-}" ]; then rm -rf "$T"; else
		echo "work dir kept: $T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$PY" "$SRC/tests/dns/fakedns.py" --port 0 --zones "$FX/zones" --ready-file "$T/dns.port" \
	2>"$T/dns.err" &
DNS_PID=$!
for _ in $(seq 100); do [ -s "$T/dns.port" ] && break; sleep 0.1; done
[ -s "$T/dns.port" ] || abort "fakedns did not start: $(cat "$T/dns.err")"

pf_start "$T/pf" "" || abort "private Postfix did not start"

mkdir -p "$T/reports"
gzip -c "$FX/mx1.jsonl" >"$T/mx1.log.1.gz"
cp "$FX/mx2.jsonl" "$T/mx2.log"
cat >"$T/faultline.conf" <<CONF
dns_forwarders = 127.0.0.1@$(cat "$T/dns.port")
dns_timeout = 2s
report_org_name = Receiver Example Mail
report_email = dmarc-reports@receiver.example
report_dir = $T/reports
report_sendmail = $PF_SBIN/sendmail -C $PF_CONF
CONF

"$CTL" -c "$T/faultline.conf" dmarc-report --since 2026-12-01 --until 2026-12-01 --send \
	"$T/mx1.log.1.gz" "$T/mx2.log" >"$T/run1.out" 2>"$T/run1.err"
rc=$?
cat "$T/run1.out"
# Skipped URIs (malformed, unauthorised, over 1k) make the exit status 1.
[ $rc = 1 ] && pass "exit status 1: reports sent, some URIs skipped" || fail "exit status $rc"
sent=$(grep -c ' result=sent ' "$T/run1.out")
[ "$sent" = 6 ] && pass "6 messages handed to Postfix's sendmail" || fail "$sent messages sent"

pf_wait_delivered 6 60 || fail "not every report reached the sink"
n=$(pf_sink_files | wc -l)
[ "$n" = 6 ] && pass "6 messages delivered" || fail "$n messages delivered"

# shellcheck disable=SC2046 # one argument per delivered file
if "$PY" - "$T/reports" "$FX/dmarc-2.0.xsd" $(pf_sink_files) <<'PYEOF'; then
import email, email.policy, gzip, os, re, subprocess, sys
reports, xsd, files = sys.argv[1], sys.argv[2], sys.argv[3:]
rcpts = set()
for path in files:
    raw = open(path, "rb").read()
    env = dict(re.findall(rb"^X-(Mail|Rcpt)-Args: (.*)$", raw, re.M))
    start = raw.find(b"Received:")  # smtp-sink prepends its own X- lines
    m = email.message_from_bytes(raw[start:], policy=email.policy.default)
    assert env[b"Mail"].startswith(b"<dmarc-reports@receiver.example>"), env
    rcpt = env[b"Rcpt"].decode().split("<")[1].split(">")[0]
    assert m["To"] == rcpt, (m["To"], rcpt)
    rcpts.add(rcpt)
    assert m["From"] == "dmarc-reports@receiver.example"
    subject = " ".join(str(m["Subject"]).split())
    got = re.fullmatch(r"Report Domain: (\S+) Submitter: receiver\.example Report-ID: <(\S+)>", subject)
    assert got, subject
    domain, rid = got.groups()
    assert m["Message-ID"].strip("<>") == rid
    assert m.get_content_type() == "multipart/mixed"
    parts = list(m.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/gzip"]
    att = parts[1]
    name = att.get_filename()
    assert name == f"receiver.example!{domain}!1796083200!1796169599.xml.gz", name
    assert att["Content-Transfer-Encoding"] == "base64"
    data = att.get_content()
    assert data == open(os.path.join(reports, name), "rb").read(), "attachment != report file"
    xml = gzip.decompress(data)
    subprocess.run(["xmllint", "--noout", "--schema", xsd, "-"], input=xml, check=True,
                   capture_output=True)
    assert rid.encode() in xml
want = {"dmarc@bank.example", "agg@reports.example", "backup@big.example",
        "reports@list.example", "dmarc@malformed.example", "inbox@reports.example"}
assert rcpts == want, sorted(rcpts ^ want)
print("    6 messages: envelope, From, To, Subject, MIME, attachment == file, schema-valid XML")
PYEOF
	pass "delivered messages: RFC 9990 subject, MIME structure, decompressed attachment valid"
else
	fail "delivered messages"
fi
for r in d@thirdparty.example x@reports.example victim@elsewhere.example dmarc@big.example; do
	if grep -l "^X-Rcpt-Args: <$r>" $(pf_sink_files) >/dev/null 2>&1; then
		fail "a report went to $r"
	else
		pass "nothing delivered to $r (unauthorised or over its size limit)"
	fi
done

"$CTL" -c "$T/faultline.conf" dmarc-report --since 2026-12-01 --until 2026-12-01 --send \
	"$T/mx1.log.1.gz" "$T/mx2.log" >"$T/run2.out" 2>"$T/run2.err"
again=$(grep -c ' result=already-sent ' "$T/run2.out")
resent=$(grep -c ' result=sent ' "$T/run2.out")
sleep 2
n=$(pf_sink_files | wc -l)
if [ "$again" = 6 ] && [ "$resent" = 0 ] && [ "$n" = 6 ]; then
	pass "a rerun for the same period sends nothing twice"
else
	fail "rerun: $again already sent, $resent sent again, $n in the sink"
fi

[ "$FAILS" = 0 ] || { echo "$FAILS checks failed"; exit 1; }
echo "all checks passed"
