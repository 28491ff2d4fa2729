#!/bin/bash
# scripts/demo.sh -- see what faultline is for, in one command, offline:
#
#     scripts/demo.sh          run the demo, stop everything, exit 0
#     scripts/demo.sh --keep   leave it all running until Ctrl-C
#
# Needs root (prefix it with sudo when you are not: it re-runs itself with
# sudo).  It installs what is missing (scripts/deps.sh --build), builds
# faultline out of tree in _build-demo, starts the test DNS server
# (tests/dns/fakedns.py) with the demo zones of scripts/demo/, faultline
# resolving through it, and a throw-away private Postfix under /tmp wired to
# faultline.  Then it sends five messages from five made-up senders and
# prints, for each, the SMTP reply the sending client saw, whose side has to
# act (fault) and what to fix -- and one verdict explained in plain words.
# Nothing is installed as a service; the system's own Postfix (/etc/postfix)
# is neither configured, started nor stopped.

# shellcheck source-path=SCRIPTDIR
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd) || exit 1
# shellcheck source=common.sh
. "$ROOT/scripts/common.sh"

KEEP=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,16s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "usage: $0 [--keep]" >&2
		exit 2
		;;
	esac
done
fl_as_root demo.sh "$ROOT/scripts/demo.sh" "$@"
cd "$ROOT" || exit 1

heading() {
	if [ -t 1 ]; then
		printf '\n\033[1m== %s\033[0m\n' "$*"
	else
		printf '\n== %s\n' "$*"
	fi
}
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

DEMO=$ROOT/scripts/demo
# FAULTLINE= may point at another build of the daemon (the test suite's).
FAULTLINE=${FAULTLINE:-}

# ---------------------------------------------------------------------------
heading "1. Packages"
sh "$ROOT/scripts/deps.sh" --build || die "installing the packages failed"
echo "all installed"

# shellcheck source=../tests/e2e/postfix_lib.sh
. "$ROOT/tests/e2e/postfix_lib.sh"

# ---------------------------------------------------------------------------
heading "2. Build (out of tree, in _build-demo)"
if [ -z "$FAULTLINE" ]; then
	fl_build demo.sh "$ROOT" "$ROOT/_build-demo" || die "the build failed"
	FAULTLINE=$ROOT/_build-demo/milter/faultline
fi
[ -x "$FAULTLINE" ] || die "$FAULTLINE is missing"
echo "faultline: $FAULTLINE"

# ---------------------------------------------------------------------------
W=$(mktemp -d /tmp/faultline-demo.XXXXXX) || die "mktemp failed"
chmod 755 "$W"
FL_PID=

# shellcheck disable=SC2317 # reached via the EXIT trap
on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	heading "Stopping"
	pf_stop
	pf_faultline_stop
	pf_dns_stop
	echo "stopped faultline, the private Postfix, smtp-sink and the test DNS server"
	echo "logs, verdict records and delivered messages are kept in $W"
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

heading "3. The test DNS server with the demo zones (offline: nothing leaves this host)"
PF_DNS_BASE_ZONES=$DEMO pf_dns_start "$W/dns" || die "the test DNS server did not start"
echo "tests/dns/fakedns.py on $PF_DNS_ADDR serving $(cd "$DEMO" && echo *.zone)"

heading "4. faultline"
pf_faultline_start "$W" "dns_probe_domain = demo.example
dnsbl_sites = list.demo.example
greylist_enable = yes
greylist_lmdb_dir = $W/greylist
# a demo does not wait five minutes
greylist_delay = 2s
# known senders: only the new one is greylisted
greylist_allow_clients = 192.0.2.0/24, 198.51.100.0/24" || die "faultline did not start"
echo "faultline -f -c $W/faultline.conf is running (pid $FL_PID, milter on 127.0.0.1:$FL_PORT):"
sed 's/^/  /' "$W/faultline.conf"

heading "5. A private Postfix wired to faultline"
pf_start "$W/postfix" "inet:127.0.0.1:$FL_PORT" 2>&1 || die "the private Postfix did not start"
echo "smtpd on 127.0.0.1:$PF_PORT; what it accepts goes to smtp-sink on 127.0.0.1:$PF_SINK_PORT"

# ---------------------------------------------------------------------------
heading "6. Five messages"
M=$W/messages
mkdir -p "$M"
# message FILE FROM SUBJECT: a plain message
message() {
	printf 'From: %s\nTo: Bob <bob@faultline.example>\nSubject: %s\nDate: %s\nMessage-ID: <%s.%s@demo>\n\n%s\n' \
		"$2" "$3" "$(LC_ALL=C date -R)" "$(basename "$1" .eml)" "$$" "Hello from the faultline demo." >"$1"
}
message "$M/shop.eml" "Shop <orders@shop.demo.example>" "Your order has shipped"
# shop.demo.example signs its mail; the key is published in the demo zone.
/usr/bin/python3 - "$DEMO/demo.private" "$M/shop.eml" <<'PYEOF' || die "DKIM signing failed"
import dkim, sys
key = open(sys.argv[1], "rb").read()
msg = open(sys.argv[2], "rb").read().replace(b"\n", b"\r\n")
sig = dkim.sign(msg, b"demo", b"shop.demo.example", key,
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
open(sys.argv[2], "wb").write(sig + msg)
PYEOF
message "$M/news.eml" "News <news@news.demo.example>" "This week's news"
message "$M/new.eml" "Newcomer <hello@new.demo.example>" "Hello, first mail from us"
message "$M/partner.eml" "Partner <invoice@partner.demo.example>" "Invoice 42"

# ROWS: label, client address, HELO, MAIL FROM, file.  Each is sent as if
# from that client (Postfix's XCLIENT), the way a real sender's server
# would connect.
ROWS=$W/rows.tsv
: >"$ROWS"
send() {
	local label=$1 ip=$2 helo=$3 from=$4 file=$5
	pf_send "$from" bob@faultline.example "$file" "$ip" "$helo"
	printf '%s\t%s\t%s\t%s\n' "$label" "$ip" "$from" "$PF_LAST_TRANSCRIPT" >>"$ROWS"
	printf '  %-28s from %-14s MAIL FROM:<%s>\n' "$label" "$ip" "$from"
}
send "authenticated (shop)" 192.0.2.10 mail.shop.demo.example orders@shop.demo.example "$M/shop.eml"
send "SPF fail (news)" 198.51.100.7 bulk.news.demo.example news@news.demo.example "$M/news.eml"
send "first-time sender (new)" 203.0.113.50 mail.new.demo.example hello@new.demo.example "$M/new.eml"
send "DNS list error (partner)" 192.0.2.21 mail.partner.demo.example invoice@partner.demo.example "$M/partner.eml"
echo "  (waiting 2 s, the demo's greylist_delay, as the new sender's server would)"
sleep 2.1
send "new, retried after 2 s" 203.0.113.50 mail.new.demo.example hello@new.demo.example "$M/new.eml"
pf_wait_delivered 3 20 >/dev/null 2>&1 || echo "  (not every accepted message reached smtp-sink yet)"

# ---------------------------------------------------------------------------
heading "7. Whose fault, and what to fix"
/usr/bin/python3 "$DEMO/table.py" "$ROWS" "$W/verdicts.jsonl" || die "no verdict records"

DELIVERED=
for f in $(pf_sink_files); do
	grep -q "^Subject: Your order has shipped" "$f" && DELIVERED=$f
done
if [ -n "$DELIVERED" ]; then
	echo
	echo "The authenticated message as delivered carries faultline's header:"
	awk '
		/^$/ { exit }
		/^[^ \t]/ { show = tolower($0) ~ /^authentication-results: mx.faultline.example/ }
		show { print "  " $0 }
	' "$DELIVERED"
fi

if [ "$KEEP" = 1 ]; then
	trap 'exit 0' INT
	heading "Still running -- press Ctrl-C to stop"
	cat <<EOF
  send more mail:  swaks --server 127.0.0.1 --port $PF_PORT \\
                     --xclient-addr 192.0.2.10 --xclient-helo mail.shop.demo.example \\
                     --ehlo mail.shop.demo.example --from orders@shop.demo.example \\
                     --to bob@faultline.example
  delivered mail:  $PF_DIR/sink/
  Postfix log:     $PF_DIR/maillog
  faultline log:   $W/faultline.log
  verdicts:        $W/verdicts.jsonl
EOF
	while _pf_pid_alive "$FL_PID"; do
		sleep 1
	done
	echo "faultline exited:"
	tail -n 5 "$W/faultline.log"
	exit 1
fi
exit 0
