#!/bin/bash
# tests/e2e/test_postfix_ar.sh -- end-to-end: faultline behind a real, private
# Postfix instance.  Forged Authentication-Results headers must be removed,
# faultline's own header must come first, the verdict must be logged with
# Postfix's queue id.
#
# Automake test protocol: exit 0 pass, 1 fail, 77 skip (only when not root).
#
# Environment:
#   FAULTLINE   path to the built daemon (default $top_builddir/milter/faultline,
#               else milter/faultline next to this script's tree)
#   FAULTLINE_E2E_EXTRA_CONF  optional extra lines appended to faultline.conf
#   FAULTLINE_E2E_KEEP=1      keep the work directory even on success
#   FAULTLINE_E2E_TIMEOUT     delivery timeout in seconds (default 90)
#   FAULTLINE_E2E_SENDER      envelope/From address of message 1 (default
#               alice@sender.example: a reserved name, so a host with working
#               DNS gets a deterministic spf=none/dmarc=none, never a real
#               domain's SPF/DMARC policy)

set -u

PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

echo "== faultline end-to-end test through a private Postfix instance"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (runs a private Postfix master and binds ports)"
	exit 77
fi

# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"

FAILS=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
# check DESCRIPTION COMMAND...
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}
abort() {
	fail "$*"
	echo "ABORTED after $FAILS failed assertion(s); work dir kept: ${T:-}"
	exit 1
}

# ---- locate the daemon --------------------------------------------------
if [ -z "${FAULTLINE:-}" ]; then
	if [ -n "${top_builddir:-}" ]; then
		FAULTLINE=$top_builddir/milter/faultline
	else
		FAULTLINE=$HERE/../../milter/faultline
	fi
fi
case $FAULTLINE in
/*) ;;
*) FAULTLINE=$(pwd)/$FAULTLINE ;;
esac
if [ ! -x "$FAULTLINE" ]; then
	echo "FAIL: faultline daemon not found or not executable: $FAULTLINE (build it, or set FAULTLINE=)"
	exit 1
fi
echo "daemon: $FAULTLINE"

# ---- prerequisites ------------------------------------------------------
if ! pf_install_if_absent; then
	echo "FAIL: postfix/swaks not available and could not be installed"
	exit 1
fi
if ! "$PY" -c 'import authres' 2>/dev/null; then
	echo "FAIL: $PY cannot import authres (apt-get install python3-authres)"
	exit 1
fi

# ---- work directory + cleanup -------------------------------------------
# Under /tmp (not the build tree): the postfix user must be able to traverse
# every parent, and queue socket paths must stay short.
T=$(mktemp -d /tmp/faultline-e2e.XXXXXX) || exit 1
chmod 755 "$T"
FL_PID=
FL_KILLED=0
FL_EXIT=

stop_faultline() {
	local i
	if [ -n "$FL_PID" ] && _pf_pid_alive "$FL_PID"; then
		kill -TERM "$FL_PID" 2>/dev/null
		# shutdown_timeout defaults to 10s
		for i in $(seq 1 150); do
			_pf_pid_alive "$FL_PID" || break
			sleep 0.1
		done
		if _pf_pid_alive "$FL_PID"; then
			echo "faultline did not exit on SIGTERM within 15s; killing it"
			kill -9 "$FL_PID" 2>/dev/null
			FL_KILLED=1
		fi
		wait "$FL_PID" 2>/dev/null
		FL_EXIT=$?
	fi
	FL_PID=
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	pf_stop
	stop_faultline
	pf_dns_stop
	if [ "$rc" = 0 ] && [ "${FAULTLINE_E2E_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "work directory kept: $T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

dump_logs() {
	echo "---- faultline.log (tail) ----"
	tail -n 40 "$T/faultline.log" 2>/dev/null
	echo "---- end ----"
	pf_maillog_tail 40
}

# ---- 1. start the test DNS server and faultline ---------------------------
pf_dns_start "$T/dns" || abort "the test DNS server did not start"
pass "test DNS server listens on $PF_DNS_ADDR"
FL_PORT=$(pf_free_port)
cat >"$T/faultline.conf" <<EOF
socket = inet:$FL_PORT@127.0.0.1
user =
pidfile = $T/faultline.pid
log = stderr
log_level = info
authserv_id = mx.faultline.example
verdict_log = $T/verdict.jsonl
dns_forwarders = $PF_DNS_ADDR
dns_probe_domain = dns.example
EOF
if [ -n "${FAULTLINE_E2E_EXTRA_CONF:-}" ]; then
	printf '%s\n' "$FAULTLINE_E2E_EXTRA_CONF" >>"$T/faultline.conf"
fi
echo "-- starting faultline on 127.0.0.1:$FL_PORT (config $T/faultline.conf)"
"$FAULTLINE" -f -c "$T/faultline.conf" </dev/null >"$T/faultline.stdout" 2>"$T/faultline.log" &
FL_PID=$!
if pf_wait_port "$FL_PORT" 20 "$FL_PID"; then
	pass "faultline listens on 127.0.0.1:$FL_PORT (pid $FL_PID)"
else
	cat "$T/faultline.log"
	abort "faultline did not start listening on 127.0.0.1:$FL_PORT"
fi

# ---- 2. start the private Postfix ------------------------------------------
echo "-- starting private Postfix (milter inet:127.0.0.1:$FL_PORT)"
if pf_start "$T/postfix" "inet:127.0.0.1:$FL_PORT"; then
	pass "private Postfix started (smtpd 127.0.0.1:$PF_PORT, sink 127.0.0.1:$PF_SINK_PORT)"
else
	abort "private Postfix did not start"
fi

# ---- 3. message with forged Authentication-Results headers -------------------
SENDER=${FAULTLINE_E2E_SENDER:-alice@sender.example}
STAMP=$(date +%s).$$
MSGID1="fl-e2e-forged.$STAMP@example.org"
MSGID2="fl-e2e-trusted.$STAMP@example.org"
cat >"$T/msg1.eml" <<EOF
Authentication-Results: mx.faultline.example; spf=pass smtp.mailfrom=forged.example; dkim=pass header.d=forged.example
From: Alice Example <$SENDER>
Authentication-Results: (forged)
	MX.FAULTLINE.EXAMPLE; spf=pass
To: Bob Example <bob@faultline.example>
Authentication-Results: other.example; spf=pass smtp.mailfrom=example.org
Subject: faultline e2e: forged Authentication-Results
Authentication-Results: ;;;
Date: $(LC_ALL=C date -R)
Message-ID: <$MSGID1>
X-E2E-Marker: keep-me
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello Bob,

this message carries forged Authentication-Results headers.
E2E-BODY-MARKER-1
EOF

echo "-- sending message 1 from 192.0.2.7 (HELO client.example) via XCLIENT"
if pf_send "$SENDER" bob@faultline.example "$T/msg1.eml" 192.0.2.7 client.example; then
	pass "message 1 accepted by Postfix (swaks exit 0)"
else
	fail "message 1 accepted by Postfix (swaks exit $?); transcript:"
	cat "$PF_LAST_TRANSCRIPT"
fi
QID_SWAKS=$(sed -n 's/.*queued as \([0-9A-Za-z]\{1,\}\).*/\1/p' "$PF_LAST_TRANSCRIPT" | tail -n 1)

TIMEOUT=${FAULTLINE_E2E_TIMEOUT:-90}
if pf_wait_delivered 1 "$TIMEOUT"; then
	pass "message 1 delivered to the sink"
else
	dump_logs
	abort "message 1 delivered to the sink within ${TIMEOUT}s"
fi

find_delivered() { # MSGID -> file
	local f
	for f in $(pf_sink_files); do
		if grep -qiF "Message-ID: <$1>" "$f"; then
			echo "$f"
			return 0
		fi
	done
	return 1
}
DELIVERED1=$(find_delivered "$MSGID1") || DELIVERED1=
if [ -n "$DELIVERED1" ]; then
	pass "delivered copy of message 1 found: $DELIVERED1"
else
	abort "delivered copy of message 1 (Message-ID <$MSGID1>) found in $PF_DIR/sink"
fi

# ---- 4. Authentication-Results assertions ---------------------------------
echo "-- checking headers of the delivered message"
"$PY" - "$DELIVERED1" <<'PYEOF'
import re
import sys

import authres

AUTHSERV = "mx.faultline.example"
fails = 0


def ok(cond, desc, detail=None):
    global fails
    if cond:
        print("PASS: " + desc)
    else:
        fails += 1
        print("FAIL: " + desc + ("" if detail is None else "\n      " + str(detail)))
    return cond


raw = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
raw = raw.replace("\r\n", "\n")
head, _, body = raw.partition("\n\n")

# Unfold into (name, raw_value) keeping the folding (for display).
headers = []
for line in head.split("\n"):
    if line[:1] in (" ", "\t") and headers:
        headers[-1][1] += "\n" + line
    elif ":" in line:
        name, _, value = line.partition(":")
        headers.append([name, value])
    else:
        ok(False, "delivered header block is well formed", repr(line))

# Drop smtp-sink's prefix: X-Client-*/X-*-Args and its own Received header.
cut = None
for i, (name, value) in enumerate(headers):
    if name.lower() == "received" and "(smtp-sink)" in value:
        cut = i
        break
if not ok(cut is not None, "smtp-sink capture header found"):
    sys.exit(min(fails, 100))
msg = headers[cut + 1:]

print("   delivered message headers:")
for name, value in msg:
    print("     | " + (name + ":" + value).replace("\n", "\n     | "))


def unfold(v):
    return re.sub(r"\s+", " ", v).strip()


def strip_comments(v):
    out, depth, esc = [], 0, False
    for ch in v:
        if esc:
            esc = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            esc = True
            if depth == 0:
                out.append(ch)
            continue
        if ch == "(":
            depth += 1
            continue
        if ch == ")" and depth > 0:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out)


def authserv_id(value):
    """authserv-id of an AR header value, lower-cased; '' if absent."""
    v = strip_comments(unfold(value)).strip()
    m = re.match(r"([^\s;]*)", v)
    return m.group(1).lower() if m else ""


ar = [(i, name, value) for i, (name, value) in enumerate(msg)
      if name.strip().lower() == "authentication-results"]
ours = [x for x in ar if authserv_id(x[2]) == AUTHSERV]
others = [x for x in ar if authserv_id(x[2]) != AUTHSERV]

ok(len(ours) == 1,
   "exactly one Authentication-Results header with authserv-id %s (found %d)"
   % (AUTHSERV, len(ours)), [unfold(x[2]) for x in ours])

if len(ours) != 1:
    ok(False, "position and syntax of faultline's Authentication-Results checked",
       "not possible: its header is not uniquely identifiable")
else:
    idx, _, value = ours[0]
    # Headers that came from the submitted message (they all survive).
    orig_names = {"from", "to", "subject", "date", "message-id",
                  "x-e2e-marker", "mime-version", "content-type"}
    orig_idx = [i for i, (n, v) in enumerate(msg) if n.strip().lower() in orig_names]
    orig_idx += [x[0] for x in others]
    ok(all(idx < j for j in orig_idx),
       "faultline's Authentication-Results is first among the message's own headers "
       "(position %d, message's own headers start at %s)"
       % (idx, min(orig_idx) if orig_idx else "-"))
    above = [n for n, v in msg[:idx]]
    ok(all(n.strip().lower() == "received" for n in above),
       "only Received: headers above faultline's Authentication-Results", above)
    ok(all(idx < x[0] for x in others),
       "faultline's Authentication-Results precedes all other Authentication-Results headers")
    try:
        parsed = authres.AuthenticationResultsHeader.parse(
            "Authentication-Results:" + value)
        ok(parsed.authserv_id == AUTHSERV,
           "authres parses faultline's header, authserv_id == %s (got %r)"
           % (AUTHSERV, parsed.authserv_id))
        print("   results: " + ", ".join(
            "%s=%s" % (r.method, r.result) for r in parsed.results))
    except Exception as e:  # noqa: BLE001
        ok(False, "authres parses faultline's Authentication-Results header",
           "%s: %r" % (type(e).__name__, unfold(value)))

genuine = [x for x in others if authserv_id(x[2]) == "other.example"]
ok(len(genuine) == 1,
   "the other.example Authentication-Results header is kept (found %d)" % len(genuine))
if genuine:
    ok(unfold(genuine[0][2]) == "other.example; spf=pass smtp.mailfrom=example.org",
       "the other.example header is unchanged", unfold(genuine[0][2]))

forged = [unfold(v) for i, n, v in ar if "forged" in v.lower()]
ok(not forged, "forged Authentication-Results headers (authserv-id %s, any case, "
   "with comments/folding) are removed" % AUTHSERV, forged)
malformed = [unfold(v) for i, n, v in ar if authserv_id(v) == ""]
ok(not malformed, "malformed Authentication-Results header (';;;') is removed", malformed)
stray = [unfold(v) for i, n, v in others if authserv_id(v) != "other.example"]
ok(not stray, "no other Authentication-Results headers remain", stray)

# The rest of the message must be intact and in order.
want = ["from", "to", "subject", "date", "message-id", "x-e2e-marker",
        "mime-version", "content-type"]
seen = [n.strip().lower() for n, v in msg if n.strip().lower() in want]
ok(seen == want, "the message's other headers are kept, in order", seen)
ok("E2E-BODY-MARKER-1" in body, "message body is intact")

sys.exit(min(fails, 100))
PYEOF
PYFAILS=$?
FAILS=$((FAILS + PYFAILS))

# ---- 5. verdict log lines -----------------------------------------------------
QID=$(pf_queue_id_for_msgid "$MSGID1")
if [ -n "$QID" ]; then
	pass "Postfix queue id of message 1 from maillog: $QID"
else
	fail "Postfix queue id of message 1 found in maillog"
fi
if [ -n "$QID_SWAKS" ] && [ -n "$QID" ]; then
	check "queue id in SMTP reply ($QID_SWAKS) matches maillog ($QID)" [ "$QID_SWAKS" = "$QID" ]
fi

wait_for_grep() { # FIXED-STRING FILE TIMEOUT
	for _ in $(seq 1 $(($3 * 10))); do
		grep -qF -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

if [ -n "$QID" ]; then
	if wait_for_grep "$QID: verdict action=accept" "$T/faultline.log" 10; then
		pass "faultline.log has '$QID: verdict action=accept'"
		grep -F -- "$QID: verdict" "$T/faultline.log" | sed 's/^/   | /'
	else
		fail "faultline.log has a line matching '$QID: verdict action=accept'"
		echo "   faultline.log lines mentioning 'verdict':"
		grep -i verdict "$T/faultline.log" | tail -n 10 | sed 's/^/   | /'
	fi

	wait_for_grep "\"$QID\"" "$T/verdict.jsonl" 10
	"$PY" - "$T/verdict.jsonl" "$QID" <<'PYEOF'
import json
import sys

path, qid = sys.argv[1], sys.argv[2]
fails = 0
try:
    lines = [l for l in open(path, encoding="utf-8").read().split("\n") if l.strip()]
except OSError as e:
    print("FAIL: verdict log %s readable: %s" % (path, e))
    sys.exit(1)
objs = []
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        print("FAIL: verdict.jsonl line %d is valid JSON: %s: %r" % (n, e, line[:200]))
        fails += 1
        continue
    if not isinstance(o, dict):
        print("FAIL: verdict.jsonl line %d is a JSON object" % n)
        fails += 1
        continue
    objs.append(o)
if not fails:
    print("PASS: verdict.jsonl: all %d line(s) are JSON objects" % len(lines))
mine = [o for o in objs if o.get("queue_id") == qid]
if len(mine) == 1:
    print("PASS: verdict.jsonl has exactly one object with queue_id %s" % qid)
    print("   | " + json.dumps(mine[0], sort_keys=True)[:600])
else:
    print("FAIL: verdict.jsonl has exactly one object with queue_id %s (found %d; "
          "queue_ids present: %s)" % (qid, len(mine), [o.get("queue_id") for o in objs]))
    fails += 1
sys.exit(fails)
PYEOF
	FAILS=$((FAILS + $?))
fi

# ---- 6. a trusted (loopback, no XCLIENT) client -------------------------------
cat >"$T/msg2.eml" <<EOF
From: Local Sender <local@faultline.example>
To: Remote <someone@example.net>
Subject: faultline e2e: trusted loopback client
Date: $(LC_ALL=C date -R)
Message-ID: <$MSGID2>

Sent from 127.0.0.1 without XCLIENT.
E2E-BODY-MARKER-2
EOF
echo "-- sending message 2 from the loopback client (trusted, no XCLIENT)"
if pf_send local@faultline.example someone@example.net "$T/msg2.eml"; then
	pass "message 2 (trusted client) accepted by Postfix"
else
	fail "message 2 (trusted client) accepted by Postfix (swaks exit $?); transcript:"
	cat "$PF_LAST_TRANSCRIPT"
fi
if pf_wait_delivered 2 "$TIMEOUT"; then
	DELIVERED2=$(find_delivered "$MSGID2") || DELIVERED2=
	check "message 2 (trusted client) delivered to the sink" [ -n "$DELIVERED2" ]
	if [ -n "$DELIVERED2" ]; then
		echo "   (info) Authentication-Results on message 2:"
		grep -i -A3 '^Authentication-Results:' "$DELIVERED2" | sed 's/^/   | /'
	fi
else
	fail "message 2 (trusted client) delivered to the sink within ${TIMEOUT}s"
fi

# ---- 7. shut down ---------------------------------------------------------
check "faultline is still running after both messages" _pf_pid_alive "$FL_PID"
if [ "$FAILS" != 0 ]; then
	dump_logs
fi
echo "-- stopping Postfix, smtp-sink and faultline"
SINK_PID_SAVED=$PF_SINK_PID
pf_stop
stop_faultline
check "faultline exited on SIGTERM (no SIGKILL needed)" [ "$FL_KILLED" = 0 ]
check "faultline exit status after SIGTERM is 0 (got ${FL_EXIT:-none})" [ "${FL_EXIT:-}" = 0 ]
FL_STATUS=$(grep -ciE 'error|fatal|sanitizer|runtime error' "$T/faultline.log")
echo "   (info) faultline.log lines mentioning error/fatal/sanitizer: $FL_STATUS"
LEFT=$(pf_leftover_pids; _pf_pid_alive "$SINK_PID_SAVED" && echo "$SINK_PID_SAVED")
check "no Postfix or smtp-sink process is left (master pid $PF_MASTER_PID)" [ -z "$LEFT" ]

if [ "$FAILS" = 0 ]; then
	echo "== OK: all assertions held"
	exit 0
fi
echo "== FAILED: $FAILS assertion(s) failed (work directory $T)"
exit 1
