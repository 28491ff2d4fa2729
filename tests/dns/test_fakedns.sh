#!/bin/bash
# tests/dns/test_fakedns.sh -- self-test of tests/dns/fakedns.py, the
# hermetic test DNS server: every record type and negative answer the base
# zones have, every fault action, big answers and truncation, the query log,
# fault and zone reload without a restart, garbage packets, start-up errors
# and a clean SIGTERM.
#
# Automake test protocol: exit 0 pass, 1 fail.
#
# The queries are made with dnspython (dig is not assumed to be installed,
# and timing a 300 ms delay needs a client that starts in less than that).
#
# Environment:
#   PYTHON3             interpreter with python3-dnspython (default /usr/bin/python3)
#   FAKEDNS_TEST_KEEP=1 keep the work directory even on success

set -u

PY=${PYTHON3:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
FAKEDNS=$HERE/fakedns.py

echo "== fakedns self-test ($PY)"

if ! "$PY" -c 'import dns.message, dns.edns, dns.zone' 2>/dev/null; then
	echo "FAIL: $PY cannot import dnspython (install Debian's python3-dnspython)"
	exit 1
fi

FAILS=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

T=$(mktemp -d "${TMPDIR:-/tmp}/fakedns-test.XXXXXX")
SERVER_PID=
# shellcheck disable=SC2317  # called through trap
cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	if [ "$FAILS" -eq 0 ] && [ "${FAKEDNS_TEST_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "work dir kept: $T"
	fi
}
trap cleanup EXIT

# The server runs on a copy of the zones, so the zone-reload check can edit one.
cp -R "$HERE/zones" "$T/zones"
: >"$T/faults"

# wait_ready FILE: up to 10 s for the ready file.
wait_ready() {
	for _ in $(seq 1 1000); do
		[ -s "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

# --- start-up errors: exit status 2, no ready file ---------------------------
# shellcheck disable=SC2016  # $ORIGIN and $TTL are zone-file text
printf '$ORIGIN bad.example.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nx TXT "%s"\n' \
	"$(printf 'x%.0s' $(seq 1 300))" >"$T/bad.zone"
"$PY" "$FAKEDNS" --port 0 --zones "$T/bad.zone" --ready-file "$T/ready.bad" 2>"$T/bad.err"
rc=$?
if [ "$rc" = 2 ] && [ ! -e "$T/ready.bad" ] && grep -q 'bad.zone' "$T/bad.err"; then
	pass "a zone file with a 300-byte TXT string is refused at start (exit 2)"
else
	fail "bad zone: exit $rc, stderr: $(cat "$T/bad.err")"
fi
printf 'probe.dns.example A explode\n' >"$T/bad.faults"
"$PY" "$FAKEDNS" --port 0 --zones "$T/zones" --faults "$T/bad.faults" \
	--ready-file "$T/ready.bad" 2>"$T/bad.err"
rc=$?
if [ "$rc" = 2 ] && [ ! -e "$T/ready.bad" ] && grep -q 'line 1' "$T/bad.err"; then
	pass "a bad fault file is refused at start (exit 2)"
else
	fail "bad faults: exit $rc, stderr: $(cat "$T/bad.err")"
fi

# --- the server under test -------------------------------------------------
"$PY" "$FAKEDNS" --port 0 --zones "$T/zones" --faults "$T/faults" --log "$T/queries.log" \
	--ready-file "$T/ready" --pidfile "$T/pid" 2>"$T/stderr" &
SERVER_PID=$!
if ! wait_ready "$T/ready"; then
	fail "server did not write its ready file within 10 s: $(cat "$T/stderr")"
	exit 1
fi
PORT=$(cat "$T/ready")
if [ "$(cat "$T/pid")" = "$SERVER_PID" ]; then
	pass "server listening on port $PORT, pid file written"
else
	fail "pid file $(cat "$T/pid") != $SERVER_PID"
fi

# A second server on the same fixed port must fail, not steal it.
"$PY" "$FAKEDNS" --port "$PORT" --zones "$T/zones" 2>"$T/busy.err"
rc=$?
if [ "$rc" = 2 ]; then
	pass "a busy fixed port is an error (exit 2)"
else
	fail "busy port: exit $rc"
fi

# --- the checks, in one Python process (so timing is measurable) ------------
"$PY" - "$PORT" "$T" "$SERVER_PID" <<'PYEOF'
import os
import signal
import socket
import sys
import threading
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename

PORT = int(sys.argv[1])
T = sys.argv[2]
PID = int(sys.argv[3])
HOST = "127.0.0.1"
LOG = os.path.join(T, "queries.log")
FAULTS = os.path.join(T, "faults")
fails = 0


def check(ok, desc, detail=""):
    global fails
    if ok:
        print("PASS: " + desc)
    else:
        fails += 1
        print("FAIL: %s %s" % (desc, detail))


def mkq(name, rdtype, edns=0, payload=1232, options=None):
    if edns is None:
        return dns.message.make_query(name, rdtype, use_edns=False)
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload,
                               options=options)
    if edns:  # make_query takes use_edns=1 for True
        q.use_edns(edns, 0, payload, options=options)
    return q


def udp(name, rdtype, timeout=2.0, **kw):
    return dns.query.udp(mkq(name, rdtype, **kw), HOST, port=PORT, timeout=timeout)


def tcp(name, rdtype, timeout=2.0, **kw):
    return dns.query.tcp(mkq(name, rdtype, **kw), HOST, port=PORT, timeout=timeout)


def texts(r, rdtype):
    out = set()
    for rrset in r.answer:
        if rrset.rdtype == rdtype:
            out |= {rd.to_text() for rd in rrset}
    return out


def has_soa(r, zone):
    return any(rr.rdtype == dns.rdatatype.SOA and rr.name == dns.name.from_text(zone)
               for rr in r.authority)


def reload_lines():
    with open(LOG) as f:
        return sum(1 for line in f if line.startswith("# faults "))


def set_faults(text, hup=True):
    before = reload_lines()
    with open(FAULTS + ".new", "w") as f:
        f.write(text)
    os.rename(FAULTS + ".new", FAULTS)
    if hup:
        os.kill(PID, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if reload_lines() > before:
            return True
        time.sleep(0.01)
    return False


def count(proto, qname, qtype):
    with open(LOG) as f:
        return sum(1 for line in f if line.rstrip("\n") == "%s %s %s" % (proto, qname, qtype))


def raw_udp(wire, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(wire, (HOST, PORT))
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    try:
        r = fn(*a, **kw)
    except dns.exception.Timeout:
        r = None
    return r, time.monotonic() - t0


def timed_in(lo, hi, fn, *a, **kw):
    """timed(), tried up to 3 times until the time is in [lo, hi]: a busy
    machine (make -j check) may be late once; never early."""
    for _ in range(3):
        r, dt = timed(fn, *a, **kw)
        if dt < lo or (r is not None and dt <= hi):
            break
    return r, dt


# --- records -------------------------------------------------------------
r = udp("dns.example", "A")
check(r.rcode() == dns.rcode.NOERROR and texts(r, dns.rdatatype.A) == {"192.0.2.10"}
      and r.flags & dns.flags.RA and r.flags & dns.flags.RD, "A answer, RD and RA set", r)
r = udp("dns.example", "AAAA")
check(texts(r, dns.rdatatype.AAAA) == {"2001:db8::10"}, "AAAA answer", r)
r = udp("dns.example", "MX")
check(texts(r, dns.rdatatype.MX) == {"10 mx1.dns.example.", "20 mx2.dns.example."},
      "MX answer", r)
r = udp("nullmx.dns.example", "MX")
check(texts(r, dns.rdatatype.MX) == {"0 ."}, "null MX answer", r)
r = udp("10.2.0.192.in-addr.arpa", "PTR")
check(texts(r, dns.rdatatype.PTR) == {"dns.example."}, "PTR in 2.0.192.in-addr.arpa", r)
r = udp("50.2.0.192.in-addr.arpa", "PTR")
check(texts(r, dns.rdatatype.PTR) == {"dual.dns.example.", "dual2.dns.example."},
      "two PTRs for one address", r)
r = udp(dns.reversename.from_address("2001:db8::2"), "PTR")
check(texts(r, dns.rdatatype.PTR) == {"host.dns.example."}, "PTR in ip6.arpa", r)
r = udp("split.dns.example", "TXT")
rds = [rd for rrset in r.answer for rd in rrset]
check(len(rds) == 1 and rds[0].strings == (b"v=spf1 ", b"ip4:192.0.2.0/24 ", b"-all"),
      "TXT of three strings is one record of three strings", r)
r = udp("long.dns.example", "TXT")
rds = [rd for rrset in r.answer for rd in rrset]
check(len(rds) == 1 and [len(s) for s in rds[0].strings] == [200, 200, 200],
      "600-byte TXT in three strings", r)
r = udp("multi.dns.example", "TXT")
check(texts(r, dns.rdatatype.TXT) == {'"first record"', '"second record"'},
      "TXT RRset of two records", r)
r = udp("empty.dns.example", "TXT")
check(texts(r, dns.rdatatype.TXT) == {'""'}, "empty TXT string", r)
r = udp("dns.example", "NS")
check(texts(r, dns.rdatatype.NS) == {"ns1.dns.example."}, "NS at the apex", r)
r = udp("dns.example", "SOA")
check(len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.SOA, "SOA at the apex", r)
r = udp("dns.example", "ANY")
check({rr.rdtype for rr in r.answer} >= {dns.rdatatype.A, dns.rdatatype.MX,
                                          dns.rdatatype.SOA}, "ANY query", r)

# --- negative answers ------------------------------------------------------------
r = udp("nope.dns.example", "A")
check(r.rcode() == dns.rcode.NXDOMAIN and not r.answer and has_soa(r, "dns.example")
      and r.authority[0].ttl == 60, "NXDOMAIN with SOA (TTL = SOA minimum 60)", r)
r = udp("txt.dns.example", "A")
check(r.rcode() == dns.rcode.NOERROR and not r.answer and has_soa(r, "dns.example"),
      "NODATA (name has TXT only) with SOA", r)
r = udp("ent.dns.example", "A")
check(r.rcode() == dns.rcode.NOERROR and not r.answer and has_soa(r, "dns.example"),
      "empty non-terminal is NODATA, not NXDOMAIN", r)
r = udp("nowhere.org", "A")
check(r.rcode() == dns.rcode.REFUSED and not r.answer, "name in no zone: REFUSED", r)
r = udp(".", "NS")
check(r.rcode() == dns.rcode.REFUSED, "parent of our zones (the root): REFUSED", r)
r = udp("nowhere.example", "A")
check(r.rcode() == dns.rcode.NXDOMAIN and has_soa(r, "example"),
      "under the example. TLD zone: NXDOMAIN", r)

# --- zones, CNAMEs, wildcards ------------------------------------------------
r = udp("cname1.dns.example", "A")
chain = [(rr.name.to_text(), rr.rdtype) for rr in r.answer]
check(chain == [("cname1.dns.example.", dns.rdatatype.CNAME),
                ("cname2.dns.example.", dns.rdatatype.CNAME),
                ("cname3.dns.example.", dns.rdatatype.CNAME),
                ("chain-end.dns.example.", dns.rdatatype.A)]
      and texts(r, dns.rdatatype.A) == {"192.0.2.33"}, "CNAME chain of 3 to A", r)
r = udp("cname1.dns.example", "TXT")
check(len(r.answer) == 4 and texts(r, dns.rdatatype.TXT) == {'"end of chain"'},
      "CNAME chain of 3 to TXT", r)
r = udp("cname1.dns.example", "CNAME")
check(texts(r, dns.rdatatype.CNAME) == {"cname2.dns.example."} and len(r.answer) == 1,
      "CNAME query is not chased", r)
r = udp("dangling.dns.example", "A")
check(r.rcode() == dns.rcode.NXDOMAIN and len(r.answer) == 1 and has_soa(r, "dns.example"),
      "CNAME to a missing name: NXDOMAIN with the CNAME", r)
r = udp("to-other.dns.example", "A")
check(texts(r, dns.rdatatype.A) == {"192.0.2.81"}, "CNAME into another zone", r)
r = udp("www.sub.dns.example", "A")
check(texts(r, dns.rdatatype.A) == {"192.0.2.80"}, "child zone answers (longest match)", r)
r = udp("nx.sub.dns.example", "A")
check(r.rcode() == dns.rcode.NXDOMAIN and has_soa(r, "sub.dns.example"),
      "NXDOMAIN in the child zone carries the child's SOA", r)
r = udp("anything.wild.dns.example", "TXT")
check(texts(r, dns.rdatatype.TXT) == {'"wildcard"'}
      and r.answer[0].name == dns.name.from_text("anything.wild.dns.example"),
      "wildcard synthesised with the query name", r)
r = udp("exact.wild.dns.example", "A")
check(r.rcode() == dns.rcode.NOERROR and not r.answer, "existing name hides the wildcard", r)
r = udp("PrObE.DnS.eXaMpLe", "A")
check(texts(r, dns.rdatatype.A) == {"192.0.2.53"}
      and r.question[0].name.labels[0] == b"PrObE", "case-insensitive, query case kept", r)

# --- EDNS and sizes -------------------------------------------------------------
r = udp("probe.dns.example", "A", edns=None)
check(r.edns < 0 and texts(r, dns.rdatatype.A) == {"192.0.2.53"}, "query without EDNS: no OPT", r)
r = udp("probe.dns.example", "A", edns=1)
check(r.rcode() == dns.rcode.BADVERS, "EDNS version 1: BADVERS", r)
r = dns.query.udp(mkq("big.dns.example", "TXT"), HOST, port=PORT, timeout=2)
check(r.flags & dns.flags.TC and not r.answer, "40 x 200-byte TXT over UDP: TC, no records", r)
r = dns.query.udp(mkq("big.dns.example", "TXT", payload=65000), HOST, port=PORT, timeout=2)
check(r.flags & dns.flags.TC and not r.answer, "... even with a 65000-byte EDNS size", r)
r = tcp("big.dns.example", "TXT")
check(not r.flags & dns.flags.TC and len(texts(r, dns.rdatatype.TXT)) == 40,
      "... and over TCP all 40 records", "")
r = udp("long.dns.example", "TXT", edns=None)
check(r.flags & dns.flags.TC and not r.answer, "600-byte TXT without EDNS (512): TC", r)
r = udp("long.dns.example", "TXT", payload=1232)
check(not r.flags & dns.flags.TC and r.answer, "600-byte TXT with EDNS 1232: fits", r)

# --- query log ----------------------------------------------------------------
u0, t0 = count("udp", "probe.dns.example.", "A"), count("tcp", "probe.dns.example.", "A")
for _ in range(3):
    udp("probe.dns.example", "A")
tcp("probe.dns.example", "A")
check(count("udp", "probe.dns.example.", "A") == u0 + 3
      and count("tcp", "probe.dns.example.", "A") == t0 + 1,
      "query log counts 3 UDP + 1 TCP queries", "")
check(count("udp", "probe.dns.example.", "AAAA") == 0, "query log: no AAAA queried", "")

# --- faults ----------------------------------------------------------------------
FAULT_TEXT = """# the self-test's faults
slow.dns.example     ANY delay 300
slow.dns.example     TXT servfail      # combined: a slow SERVFAIL
fail.dns.example     ANY servfail
dead.dns.example     ANY drop
tcponly.dns.example  ANY truncate
notcp.dns.example    ANY notcp
garbage.dns.example  ANY malformed
badid.dns.example    ANY badid
ede.dns.example      ANY ede 15 blocked by test
ede.dns.example      TXT servfail
host.dns.example     AAAA nxdomain
dual.dns.example     ANY refused
*.rc.dns.example     ANY rcode NOTIMP
*.wild.dns.example   TXT rcode YXDOMAIN
"""
check(set_faults(FAULT_TEXT), "fault file loaded on SIGHUP", "")

r, dt = timed_in(0.3, 0.45, udp, "slow.dns.example", "A")
check(r is not None and texts(r, dns.rdatatype.A) == {"192.0.2.60"} and 0.3 <= dt <= 0.45,
      "delay 300: answered in %.0f ms" % (dt * 1000), r)
r, dt = timed_in(0.3, 0.45, tcp, "slow.dns.example", "A")
check(r is not None and 0.3 <= dt <= 0.45, "delay 300 over TCP: %.0f ms" % (dt * 1000), "")

res = {}


def slow_query():
    res["slow"] = timed(udp, "slow.dns.example", "A")


for _ in range(3):  # as timed_in: retry a late run, never an early one
    th = threading.Thread(target=slow_query)
    th.start()
    time.sleep(0.05)
    r, dt = timed(udp, "probe.dns.example", "A")
    th.join()
    if res["slow"][1] < 0.3 or (dt < 0.1 and res["slow"][1] <= 0.45):
        break
check(r is not None and dt < 0.1, "a delayed answer does not hold up another query "
      "(%.0f ms)" % (dt * 1000), "")
check(res["slow"][0] is not None and 0.3 <= res["slow"][1] <= 0.45,
      "... and the delayed one still took %.0f ms" % (res["slow"][1] * 1000), "")
r, dt = timed_in(0.3, 0.45, udp, "slow.dns.example", "TXT")
check(r is not None and r.rcode() == dns.rcode.SERVFAIL and 0.3 <= dt <= 0.45,
      "delay + servfail: SERVFAIL after %.0f ms" % (dt * 1000), r)

r = udp("fail.dns.example", "A")
check(r.rcode() == dns.rcode.SERVFAIL and not r.answer, "servfail", r)
r = udp("dual.dns.example", "A")
check(r.rcode() == dns.rcode.REFUSED, "refused", r)
r = udp("host.dns.example", "AAAA")
check(r.rcode() == dns.rcode.NXDOMAIN and has_soa(r, "dns.example"), "nxdomain (with SOA)", r)
r = udp("host.dns.example", "A")
check(texts(r, dns.rdatatype.A) == {"192.0.2.2"}, "a TYPE-specific fault leaves other types", r)
r = udp("x.rc.dns.example", "A")
check(r.rcode() == dns.rcode.NOTIMP, "rcode NOTIMP on a *.suffix name outside the data", r)
r = udp("a.wild.dns.example", "TXT")
check(r.rcode() == dns.rcode.YXDOMAIN, "rcode YXDOMAIN via *.suffix TXT", r)
r = udp("wild.dns.example", "TXT")
check(r.rcode() == dns.rcode.NOERROR, "*.suffix does not match the suffix itself", r)

r, dt = timed(udp, "dead.dns.example", "A", timeout=2.0)
check(r is None and dt >= 1.9, "drop: no UDP answer within 2 s", "")
r, dt = timed(tcp, "dead.dns.example", "A", timeout=1.0)
check(r is None, "drop: no TCP answer within 1 s", "")

r = dns.query.udp(mkq("tcponly.dns.example", "A"), HOST, port=PORT, timeout=2)
check(r.flags & dns.flags.TC and not r.answer, "truncate: UDP answer has TC, no records", r)
r = tcp("tcponly.dns.example", "A")
check(texts(r, dns.rdatatype.A) == {"192.0.2.63"} and not r.flags & dns.flags.TC,
      "truncate: TCP gets the full answer", r)
r, _ = dns.query.udp_with_fallback(mkq("tcponly.dns.example", "TXT"), HOST, port=PORT,
                                    timeout=2)
check(texts(r, dns.rdatatype.TXT) == {'"tcponly"'}, "truncate: a client falls back to TCP", r)

r = dns.query.udp(mkq("notcp.dns.example", "A"), HOST, port=PORT, timeout=2)
check(r.flags & dns.flags.TC and not r.answer, "notcp: UDP answer has TC", r)
s = socket.create_connection((HOST, PORT), timeout=2)
wire = mkq("notcp.dns.example", "A").to_wire()
s.sendall(len(wire).to_bytes(2, "big") + wire)
try:
    got = s.recv(65535)
    closed = got == b""
except ConnectionResetError:
    closed = True
except socket.timeout:
    closed = False
s.close()
check(closed, "notcp: TCP connection closed without an answer", "")

q = mkq("garbage.dns.example", "A")
wire = raw_udp(q.to_wire())
try:
    dns.message.from_wire(wire)
    parsed = True
except Exception:
    parsed = False
check(wire is not None and wire[:2] == q.to_wire()[:2] and not parsed,
      "malformed: right ID, does not parse", wire)
with socket.create_connection((HOST, PORT), timeout=2) as s:
    qw = q.to_wire()
    s.sendall(len(qw).to_bytes(2, "big") + qw)
    n = int.from_bytes(s.recv(2), "big")
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            break
        body += chunk
try:
    dns.message.from_wire(body)
    parsed = True
except Exception:
    parsed = False
check(len(body) == n and body[:2] == qw[:2] and not parsed, "malformed over TCP too", body)

q = mkq("badid.dns.example", "A")
wire = raw_udp(q.to_wire())
r = dns.message.from_wire(wire)
check(r.id != q.id and texts(r, dns.rdatatype.A) == {"192.0.2.67"},
      "badid: a good answer with ID %d for query %d" % (r.id, q.id), r)
try:
    dns.query.udp(q, HOST, port=PORT, timeout=1)
    ok = False
except (dns.exception.Timeout, dns.query.BadResponse):
    ok = True
check(ok, "badid: a stub client rejects it", "")

r = udp("ede.dns.example", "A")
edes = [o for o in r.options if o.otype == dns.edns.OptionType.EDE]
check(r.rcode() == dns.rcode.NOERROR and len(edes) == 1 and edes[0].code == 15
      and edes[0].text == "blocked by test" and texts(r, dns.rdatatype.A) == {"192.0.2.66"},
      "ede 15 with text on a normal answer", r)
r = udp("ede.dns.example", "TXT")
edes = [o for o in r.options if o.otype == dns.edns.OptionType.EDE]
check(r.rcode() == dns.rcode.SERVFAIL and [o.code for o in edes] == [15],
      "ede + servfail combined", r)
r = udp("ede.dns.example", "A", edns=None)
check(r.edns < 0 and r.rcode() == dns.rcode.NOERROR, "ede: query without EDNS gets no OPT", r)

# --- reload without restart ----------------------------------------------------
check(set_faults("probe.dns.example A servfail\n"), "faults replaced via SIGHUP", "")
check(udp("probe.dns.example", "A").rcode() == dns.rcode.SERVFAIL
      and udp("slow.dns.example", "A", timeout=0.2) is not None,
      "new faults apply, old ones are gone", "")
check(set_faults("", hup=False), "fault file change noticed without SIGHUP (mtime)", "")
check(udp("probe.dns.example", "A").rcode() == dns.rcode.NOERROR, "... and applied", "")
set_faults("probe.dns.example A servfail\n")
before = reload_lines()
with open(FAULTS + ".new", "w") as f:
    f.write("probe.dns.example A explode\n")
os.rename(FAULTS + ".new", FAULTS)
os.kill(PID, signal.SIGHUP)
deadline = time.monotonic() + 5
while reload_lines() <= before and time.monotonic() < deadline:
    time.sleep(0.01)
with open(LOG) as f:
    last = [line for line in f if line.startswith("# faults ")][-1]
check(last.startswith("# faults rejected")
      and udp("probe.dns.example", "A").rcode() == dns.rcode.SERVFAIL,
      "a bad fault file is rejected and the old faults stay", last)
set_faults("")

zf = os.path.join(T, "zones", "dns.example.zone")
with open(zf, "a") as f:
    f.write("added A 192.0.2.123\n")
check(udp("added.dns.example", "A").rcode() == dns.rcode.NXDOMAIN, "zone edit not live yet", "")
set_faults("")
check(texts(udp("added.dns.example", "A"), dns.rdatatype.A) == {"192.0.2.123"},
      "zones reloaded on SIGHUP", "")

# --- garbage ------------------------------------------------------------------
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for junk in (b"", b"\x00", b"\xff" * 11, os.urandom(12), os.urandom(300),
             mkq("probe.dns.example", "A").to_wire()[:20]):
    s.sendto(junk, (HOST, PORT))
resp = dns.message.make_response(mkq("probe.dns.example", "A"))
s.sendto(resp.to_wire(), (HOST, PORT))  # a response: must not be answered
s.settimeout(0.5)
try:
    s.recv(65535)
    answered = True
except socket.timeout:
    answered = False
s.close()
check(not answered, "garbage and stray responses get no answer", "")
for junk in (b"\x00", b"\x00\x05abc", b"\x00\x0c" + os.urandom(12), b"\xff\xff" + b"x" * 10):
    with socket.create_connection((HOST, PORT), timeout=2) as c:
        c.sendall(junk)
r = udp("probe.dns.example", "A")
check(texts(r, dns.rdatatype.A) == {"192.0.2.53"}, "server alive after garbage", r)
# Several queries pipelined on one TCP connection are all answered.
with socket.create_connection((HOST, PORT), timeout=2) as c:
    qs = [mkq("probe.dns.example", "A") for _ in range(3)]
    c.sendall(b"".join(len(w).to_bytes(2, "big") + w for w in (x.to_wire() for x in qs)))
    ids = set()
    for _ in qs:
        n = int.from_bytes(c.recv(2, socket.MSG_WAITALL), "big")
        ids.add(dns.message.from_wire(c.recv(n, socket.MSG_WAITALL)).id)
check(ids == {x.id for x in qs}, "three pipelined TCP queries answered", "")

sys.exit(1 if fails else 0)
PYEOF
py_rc=$?
[ "$py_rc" = 0 ] || FAILS=$((FAILS + 1))

# --- clean shutdown ------------------------------------------------------------
kill -TERM "$SERVER_PID"
for _ in $(seq 1 500); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.01
done
wait "$SERVER_PID"
rc=$?
SERVER_PID=
if [ "$rc" = 0 ] && [ ! -e "$T/pid" ]; then
	pass "SIGTERM: exit 0, pid file removed"
else
	fail "SIGTERM: exit $rc"
fi
if grep -q Traceback "$T/stderr"; then
	fail "server printed a traceback: $(cat "$T/stderr")"
else
	pass "no traceback on the server's stderr"
fi

if [ "$FAILS" -eq 0 ]; then
	echo "== all fakedns checks passed"
	exit 0
fi
echo "== $FAILS fakedns check(s) failed"
exit 1
