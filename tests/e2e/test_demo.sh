#!/bin/bash
# tests/e2e/test_demo.sh -- README command 1 (scripts/demo.sh) in the suite,
# so the demo cannot rot: it runs with the daemon of this build (no build of
# its own), and its table must tell the five stories -- authenticated mail
# accepted, an SPF fail refused with 550 5.7.23 (fault=sender), a first-time
# sender greylisted with 451 4.7.1, a DNS list's error code accepted with
# fault=receiver, the greylisted retry accepted -- within 30 s, exit 0 and
# nothing left running.
# Automake test protocol: exit 0 pass, 1 fail, 77 skip (only when not root).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
echo "== scripts/demo.sh tells whose fault it is"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (the demo runs a private Postfix master)"
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=postfix_lib.sh
. "$HERE/postfix_lib.sh"
FAULTLINE=${FAULTLINE:-${top_builddir:-$HERE/../..}/milter/faultline}
[ -x "$FAULTLINE" ] || abort "faultline daemon not found: $FAULTLINE"

OUT=$(mktemp /tmp/faultline-test-demo.XXXXXX) || exit 1
W=
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$?
	rm -f "$OUT"
	[ -n "$W" ] && rm -rf "$W"
	exit "$rc"
}
trap cleanup EXIT

start=$(date +%s%N)
FAULTLINE=$FAULTLINE "$SRC/scripts/demo.sh" >"$OUT" 2>&1
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
W=$(sed -n 's/.*are kept in \(\/tmp\/faultline-demo\.[A-Za-z0-9]*\)$/\1/p' "$OUT")
[ "$rc" = 0 ] && pass "the demo exited 0" || fail "the demo exited $rc"
[ "$ms" -lt 30000 ] && pass "the demo took $ms ms (< 30 s)" || fail "the demo took $ms ms"

# row LABEL WORDS...: the table line of LABEL has every word
row() {
	local label=$1 line w
	shift
	line=$(grep -F -- "$label " "$OUT" | grep -v "MAIL FROM:" | head -n 1)
	for w in "$@"; do
		case $line in
		*"$w"*) ;;
		*)
			fail "row \"$label\" lacks \"$w\": ${line:-no such row}"
			return
			;;
		esac
	done
	pass "row \"$label\": $*"
}
row "authenticated (shop)" "250 2.0.0" " none " "nothing: SPF, DKIM, DMARC pass"
row "SPF fail (news)" "550 5.7.23" " sender "
row "first-time sender (new)" "451 4.7.1" "none (policy)"
row "DNS list error (partner)" "250 2.0.0" "receiver (dnsbl)" "list.demo.example"
row "new, retried after 2 s" "250 2.0.0" " none "
flat=$(tr -s ' \n' '  ' <"$OUT")
case $flat in
*'in plain words: A server at 198.51.100.7 offered a message from news@news.demo.example.'*'"550 5.7.23 SPF check failed:'*'Whose side has to act: the sender'"'"'s (fault=sender).'*)
	pass "the refused message's verdict is explained in plain words" ;;
*) fail "no verdict in plain words" ;;
esac
grep -q "dkim=pass header.d=shop.demo.example" "$OUT" && grep -q "^  	dmarc=pass" "$OUT" &&
	pass "the authenticated message's header has dkim=pass and dmarc=pass" ||
	fail "no dkim=pass/dmarc=pass header"

if [ -z "$W" ]; then
	fail "the demo did not say where its files are"
else
	# faultline, fakedns and smtp-sink name the work dir in their
	# arguments; Postfix's master is found by its pid file
	left=$(ps -eo pid=,args= | grep -F "$W" | grep -v grep)
	master=$(tr -dc '0-9' <"$W/postfix/queue/pid/master.pid" 2>/dev/null)
	if [ -n "$master" ] && _pf_pid_alive "$master"; then
		left="$left Postfix master $master"
	fi
	[ -z "$left" ] && pass "nothing the demo started is still running" ||
		fail "left running: $left"
fi

if [ "$FAILS" -gt 0 ]; then
	echo "---- the demo's output ----"
	cat "$OUT"
	echo "== FAILED: $FAILS assertion(s)"
	exit 1
fi
echo "== OK: all assertions held"
exit 0
