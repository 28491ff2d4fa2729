#!/bin/bash
# tests/e2e/test_postfix_greylist.sh -- end-to-end greylisting between two
# real Postfix instances: a sending Postfix (A) relays a message to the
# receiving Postfix (B) that runs faultline with greylisting on.  B's first
# answer is 451 4.7.1, so A keeps the message queued; after the
# (test-shortened) delay A's queue run delivers it, and B passes it on.
# Automake test protocol: exit 0 pass, 1 fail, 77 skip (only when not root).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
echo "== faultline greylisting end-to-end: Postfix A -> Postfix B + faultline"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (runs private Postfix masters and binds ports)"
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"
FAULTLINE=${FAULTLINE:-${top_builddir:-$HERE/../..}/milter/faultline}
[ -x "$FAULTLINE" ] || abort "faultline daemon not found: $FAULTLINE"
pf_install_if_absent || abort "postfix/swaks not available"

T=$(mktemp -d /tmp/faultline-e2e-grey.XXXXXX) || exit 1
chmod 755 "$T"
FL_PID=
# The library keeps one instance in PF_* variables: save and switch.
save_pf() { eval "$1_DIR=\$PF_DIR $1_CONF=\$PF_CONF $1_PORT=\$PF_PORT $1_SINK_PID=\$PF_SINK_PID $1_MASTER_PID=\$PF_MASTER_PID"; }
use_pf() { eval "PF_DIR=\$$1_DIR PF_CONF=\$$1_CONF PF_PORT=\$$1_PORT PF_SINK_PID=\$$1_SINK_PID PF_MASTER_PID=\$$1_MASTER_PID"; }
A_DIR= B_DIR=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$A_DIR" ]; then use_pf A; pf_stop; fi
	if [ -n "$B_DIR" ]; then use_pf B; pf_stop; fi
	if [ -n "$FL_PID" ] && _pf_pid_alive "$FL_PID"; then
		kill -TERM "$FL_PID" 2>/dev/null
		wait "$FL_PID" 2>/dev/null
	fi
	pf_dns_stop
	if [ "$rc" = 0 ]; then rm -rf "$T"; else echo "work directory kept: $T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pf_dns_start "$T/dns" || abort "the test DNS server did not start"
FL_PORT=$(pf_free_port)
# Postfix A connects from 127.0.0.1: loopback must not be trusted here, or
# greylisting would exempt it.
cat >"$T/faultline.conf" <<CONF
socket = inet:$FL_PORT@127.0.0.1
user =
pidfile = $T/faultline.pid
log = stderr
authserv_id = mx.faultline.example
verdict_log = $T/verdict.jsonl
stats_file =
dns_forwarders = $PF_DNS_ADDR
dns_probe_domain = dns.example
trusted_networks = 192.0.2.255/32
greylist_enable = yes
greylist_lmdb_dir = $T/greylist
greylist_delay = 3s
CONF
"$FAULTLINE" -f -c "$T/faultline.conf" </dev/null >"$T/faultline.out" 2>"$T/faultline.log" &
FL_PID=$!
pf_wait_port "$FL_PORT" 20 "$FL_PID" || { cat "$T/faultline.log"; abort "faultline did not start"; }

pf_start "$T/b" "inet:127.0.0.1:$FL_PORT" || abort "Postfix B did not start"
save_pf B
PF_NEXT_HOP_PORT=$B_PORT pf_start "$T/a" "" || abort "Postfix A did not start"
save_pf A
pass "Postfix A (relay to B) and Postfix B (with faultline, greylisting on) are up"

printf 'From: x@dns.example\nTo: bob@faultline.example\nSubject: greylisted relay\nMessage-ID: <fl-e2e-grey@dns.example>\n\nbody\n' >"$T/msg.eml"
use_pf A
pf_send x@dns.example bob@faultline.example "$T/msg.eml" || abort "Postfix A did not accept the message"
pass "Postfix A accepted the message"

# A's first delivery attempt to B is deferred by the greylist.
deferred=0
for _ in $(seq 1 100); do
	if grep -q "status=deferred.*4.7.1.*greylisted" "$A_DIR/maillog"; then deferred=1; break; fi
	sleep 0.1
done
if [ "$deferred" = 1 ]; then
	pass "B's 451 4.7.1 greylisting deferral made A keep the message queued"
else
	fail "A's delivery to B was not deferred by greylisting"
	tail -n 20 "$A_DIR/maillog"
fi
pf_wait_log "$T/faultline.log" "verdict action=tempfail code=451 dsn=4.7.1 fault=none" &&
	pass "faultline logged the deferral with fault=none" ||
	fail "no tempfail verdict in faultline's log"

sleep 3.2 # greylist_delay = 3s
pf_flush # A's queue run: the retry
use_pf B
if pf_wait_delivered 1 60; then
	pass "after the delay A's retry went through B to B's sink"
else
	fail "the retry was not delivered"
fi
grep -q "verdict action=accept" "$T/faultline.log" &&
	pass "faultline logged the accepted retry" || fail "no accept verdict for the retry"

if [ "$FAILS" -gt 0 ]; then
	echo "---- faultline.log (tail) ----"
	tail -n 20 "$T/faultline.log"
	echo "== FAILED: $FAILS assertion(s)"
	exit 1
fi
echo "== OK: all assertions held"
exit 0
