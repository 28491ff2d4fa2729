#!/bin/bash
# test_dmarc_report.sh: `faultlinectl dmarc-report` (RFC 9990 aggregate
# reports) over tests/ctl/dmarc/mx1.jsonl (a rotated .gz here, with bad
# lines) and mx2.jsonl: two MX hosts, seven policy domains with rua=, one
# without.  Golden cases (stdout, stderr, exit status, and the decompressed
# XML of every report) in tests/ctl/golden/dmarc-*.out; every report is
# validated against the RFC 9990 schema (xmllint --schema) and read back by
# independent parsers (xml.etree and dmarc-cat: tests/ctl/dmarc/check_reports.py).  Delivery:
# --dry-run and --send with destination verification against zones served
# by tests/dns/fakedns.py, a capturing sendmail(1) stand-in and a failing
# one, the size limit, the FILE.sent state; the private-Postfix delivery is
# tests/e2e/test_postfix_dmarc_report.sh.
#   test_dmarc_report.sh            run (make check)
#   test_dmarc_report.sh --update   rewrite the golden files (make update-golden)
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${top_builddir:-$src/_build}
ctl=$build/milter/faultlinectl
golden=$src/tests/ctl/golden
fx=$src/tests/ctl/dmarc
py=/usr/bin/python3
update=no
[ "${1:-}" = --update ] && update=yes
tmp=$(mktemp -d)
dns_pid=
cleanup() {
    [ -n "$dns_pid" ] && kill "$dns_pid" 2>/dev/null && wait "$dns_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
BEGIN=1796083200 # 2026-12-01T00:00:00Z
END=1796169599   # 2026-12-01T23:59:59Z
failed=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# The test DNS server: the Report Consumers' authorisation records.
$py "$src/tests/dns/fakedns.py" --port 0 --zones "$fx/zones" --ready-file "$tmp/dns.port" \
    --log "$tmp/dns.log" 2> "$tmp/dns.err" &
dns_pid=$!
for _ in $(seq 100); do [ -s "$tmp/dns.port" ] && break; sleep 0.1; done
[ -s "$tmp/dns.port" ] || { cat "$tmp/dns.err"; echo "FAIL: fakedns did not start"; exit 1; }
port=$(cat "$tmp/dns.port")

cd "$tmp" || exit 1
gzip -c "$fx/mx1.jsonl" > mx1.log.1.gz # mx1's rotated log
cp "$fx/mx2.jsonl" mx2.log
cat > faultline.conf <<CONF
dns_forwarders = 127.0.0.1@$port
dns_timeout = 2s
report_org_name = Receiver Example Mail
report_email = dmarc-reports@receiver.example
report_extra_contact_info = https://receiver.example/dmarc
report_sendmail = $tmp/sendmail-capture $tmp/mail
CONF
# A sendmail(1) stand-in that keeps what it was given: the real MTA is in
# the e2e test.  Arguments on the first line, the message after it.
cat > sendmail-capture <<'SH'
#!/bin/sh
dir=$1; shift
n=$(ls "$dir" 2>/dev/null | wc -l)
{ echo "ARGS $*"; cat; } > "$dir/msg.$n"
SH
chmod +x sendmail-capture
mkdir -p mail
# Two MX hosts, one reporting period, the rotated .gz first.
LOGS="mx1.log.1.gz mx2.log"

run_case() { # NAME DIR ARGS... ; golden: output, then each report's XML
    local name=$1 dir=$2
    shift 2
    "$ctl" -c faultline.conf "$@" > out 2> err
    local rc=$?
    { echo "== faultlinectl $*"; echo "== exit $rc"; echo "== stdout"; cat out
      echo "== stderr"; cat err
      if [ -n "$dir" ]; then
          for f in "$dir"/*.xml.gz; do
              [ -e "$f" ] || continue
              echo "== report $(basename "$f")"; zcat "$f"
          done
      fi; } | sed -e "s|$tmp/||g" -e 's|<generator>faultline [^<]*<|<generator>faultline VERSION<|' \
                  -e 's|^\(send .* bytes=\)[0-9]*|\1N|' > "$name.out"
    if [ $update = yes ]; then
        cp "$name.out" "$golden/$name.out"
    elif ! diff -u "$golden/$name.out" "$name.out"; then
        bad "$name (got above, want $golden/$name.out)"
    else
        ok "$name"
    fi
}

# 1. The reports of one day from both hosts, bad lines reported and skipped.
mkdir -p day
run_case dmarc-report-day day dmarc-report --since 2026-12-01 --until 2026-12-01 --out day $LOGS

# 2. Schema validation of every report (RFC 9990 appendix A).
n=0
for f in day/*.xml.gz; do
    zcat "$f" > report.xml
    if xmllint --noout --schema "$fx/dmarc-2.0.xsd" report.xml 2> xmllint.err; then
        n=$((n + 1))
    else
        cat xmllint.err; bad "schema: $(basename "$f")"
    fi
done
[ $n = 7 ] && ok "schema: all $n reports validate against the RFC 9990 XSD" ||
    bad "schema: $n of 7 reports validated"

# 3. Read back by independent parsers (xml.etree, and Debian's dmarc-cat for the
#    RFC 7489 elements it knows), counts equal to the records'.
if $py "$fx/check_reports.py" --dmarc-cat $BEGIN $END day "$fx/mx1.jsonl" "$fx/mx2.jsonl" > readback.out; then
    ok "read back: $(tail -1 readback.out)"
else
    cat readback.out; bad "read back"
fi

# 4. The same logs read again give byte-identical files (a re-sent report
#    keeps its file name and Report-ID, RFC 9990 2.4.2).
mkdir -p again
"$ctl" -c faultline.conf dmarc-report --since 2026-12-01 --until 2026-12-01 --out again $LOGS \
    > /dev/null 2>&1
if diff -r day again > /dev/null; then ok "rerun: identical report files"; else bad "rerun differs"; fi

# 5. Default period: the last full UTC day.
mkdir -p default
"$ctl" -c faultline.conf dmarc-report --out default $LOGS > out 2> err
today=$(( $(date -u +%s) / 86400 * 86400 ))
if grep -q "^period .* begin=$((today - 86400)) end=$((today - 1)) " out; then
    ok "default period is yesterday (UTC)"
else
    head -1 out; bad "default period"
fi

# 5b. Without file arguments: verdict_log and its rotations (.gz too).
mkdir -p deflogs deflog-out
gzip -c "$fx/mx1.jsonl" > deflogs/verdicts.log.1.gz
cp "$fx/mx2.jsonl" deflogs/verdicts.log
touch -d '2026-12-01 10:00' deflogs/verdicts.log.1.gz
{ cat faultline.conf; echo "verdict_log = $tmp/deflogs/verdicts.log"; } > deflog.conf
"$ctl" -c deflog.conf dmarc-report --since 2026-12-01 --until 2026-12-01 --out deflog-out \
    > o.txt 2> e.txt
if grep -q ' files=2 records=58$' o.txt && [ "$(ls deflog-out | wc -l)" = 7 ] &&
    diff -r day deflog-out > /dev/null; then
    ok "default files: verdict_log and its rotation give the same reports"
else
    cat o.txt e.txt; bad "default files"
fi

# 6. Delivery, dry run: verification through DNS, size limits, malformed
#    URIs; messages written next to the reports, nothing sent.
mkdir -p dry
run_case dmarc-report-dry-run dry dmarc-report --since 2026-12-01 --until 2026-12-01 --out dry \
    --dry-run $LOGS
if ls mail | grep -q .; then bad "dry run: sendmail was run"; else ok "dry run: nothing sent"; fi

# 7. The messages: MIME structure, Subject, the attachment equals the file.
if $py - dry << 'PY'
import email, email.policy, glob, gzip, os, sys
d = sys.argv[1]
emls = sorted(glob.glob(os.path.join(d, "*.eml")))
assert len(emls) == 6, emls
for path in emls:
    m = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
    report = os.path.basename(path).split(".xml.gz.")[0] + ".xml.gz"
    domain = report.split("!")[1]
    assert m["From"] == "dmarc-reports@receiver.example", m["From"]
    subj = " ".join(str(m["Subject"]).split())
    want = ("Report Domain: %s Submitter: receiver.example "
            "Report-ID: <1796083200-1796169599.%s@receiver.example>" % (domain, domain))
    assert subj == want, (subj, want)
    assert m.get_content_type() == "multipart/mixed"
    parts = list(m.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/gzip"], parts
    att = parts[1]
    assert att.get_filename() == report, att.get_filename()
    assert att["Content-Transfer-Encoding"] == "base64"
    data = att.get_content()
    assert data == open(os.path.join(d, report), "rb").read(), "attachment differs from the file"
    assert gzip.decompress(data).startswith(b"<?xml")
print(f"{len(emls)} messages: multipart/mixed, text/plain + application/gzip, Subject per RFC 9990")
PY
then ok "dry run: MIME structure and attachments"; else bad "dry run: messages"; fi

# 8. Sending through a sendmail(1) stand-in; a rerun sends nothing twice.
mkdir -p sent
run_case dmarc-report-send sent dmarc-report --since 2026-12-01 --until 2026-12-01 --out sent \
    --send $LOGS
nmail=$(ls mail | wc -l)
[ "$nmail" = 6 ] && ok "send: 6 messages handed to sendmail" || bad "send: $nmail messages"
if grep -q '^ARGS -oi -f dmarc-reports@receiver.example -- dmarc@bank.example$' mail/msg.*; then
    ok "send: sendmail -oi -f FROM -- RCPT"
else
    head -1 mail/msg.*; bad "send: sendmail arguments"
fi
run_case dmarc-report-send-again sent dmarc-report --since 2026-12-01 --until 2026-12-01 \
    --out sent --send $LOGS
nmail=$(ls mail | wc -l)
[ "$nmail" = 6 ] && ok "rerun: nothing sent twice" || bad "rerun: $nmail messages"

# 8b. Another --send run holds the report directory: exit 75, nothing sent.
flock sent/.dmarc-report.lock sleep 30 &
holder=$!
for _ in $(seq 100); do flock -n sent/.dmarc-report.lock true || break; sleep 0.1; done
"$ctl" -c faultline.conf dmarc-report --since 2026-12-01 --until 2026-12-01 --out sent --send \
    $LOGS > o.txt 2> e.txt
rc=$?
kill $holder 2>/dev/null
wait $holder 2>/dev/null
if [ $rc = 75 ] && grep -q 'another dmarc-report --send is running' e.txt && [ ! -s o.txt ]; then
    ok "a second --send on the same directory waits its turn (exit 75)"
else
    cat o.txt e.txt; bad "concurrent --send: exit $rc"
fi

# 9. A failing sendmail: exit 75, nothing recorded as sent.
mkdir -p failing
run_case dmarc-report-sendmail-fails failing dmarc-report --since 2026-12-01 --until 2026-12-01 \
    --out failing --send --sendmail /bin/false mx2.log
if ls failing/*.sent > /dev/null 2>&1; then bad "failing sendmail: recorded as sent"; else
    ok "failing sendmail: nothing recorded as sent"; fi

# 10. Our resolver down: verification cannot be made, exit 75 (run again).
printf 'dns_forwarders = 127.0.0.1@9\ndns_timeout = 1s\nreport_email = r@receiver.example\n' \
    > nodns.conf
mkdir -p nodns
"$ctl" -c nodns.conf dmarc-report --since 2026-12-01 --until 2026-12-01 --out nodns --dry-run \
    mx2.log > out 2> err
rc=$?
if [ $rc = 75 ] && grep -q 'uri=mailto:agg@reports.example result=failed reason="verification failed for now' out; then
    ok "resolver down: exit 75, external URI failed for now"
else
    cat out err; bad "resolver down: exit $rc"
fi

# 11. Bad invocations and an unwritable directory.
run_case dmarc-report-unwritable "" dmarc-report --since 2026-12-01 --until 2026-12-01 \
    --out /nonexistent/dir mx2.log
run_case dmarc-report-no-email "" dmarc-report --email '' --since 2026-12-01 mx2.log
run_case dmarc-report-bad-time "" dmarc-report --since yesterday mx2.log
run_case dmarc-report-send-and-dry-run "" dmarc-report --send --dry-run mx2.log
mkdir -p none
run_case dmarc-report-no-input none dmarc-report --since 2026-12-01 --out none missing.log

[ $update = yes ] && { echo "golden files written to $golden"; exit 0; }
[ $failed = 0 ] || { echo "$failed checks failed"; exit 1; }
echo "all checks passed"
