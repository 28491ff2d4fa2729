#!/bin/bash
# tests/bench/postfix_load.sh -- faultline behind a real Postfix: the
# throughput of a private Postfix instance (tests/e2e/postfix_lib.sh, relaying
# to smtp-sink) with faultline as its milter, over a TCP and over a unix
# socket, against the same Postfix without a milter.  smtp-source sends a
# signed corpus message (SPF, DKIM, DMARC, iprev and the DNS list all do
# their work for it), one connection per message, at concurrency 8 and 64.
# Prints one line per run, then per mode the medians and their ratios to
# Postfix without a milter:
#
#   run=1 mode=none c=8 n=2000 accept_s=... delivered_s=...
#   median mode=tcp c=8 n=2000 accept_s=... ratio_accept=0.93 ratio_delivered=...
#
# accept_s: messages per second accepted by smtpd (smtp-source's wall time);
# delivered_s: until every message reached smtp-sink.
# Needs root (Postfix's master).  Knobs: N=2000, CONCURRENCY="8 64",
# MODES="none tcp unix", REPEAT=3, CORPUS (as load.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/load_lib.sh
. "$here/load_lib.sh"
# shellcheck source=tests/e2e/postfix_lib.sh
. "$here/../e2e/postfix_lib.sh"
N=${N:-2000}
CONCURRENCY=${CONCURRENCY:-"8 64"}
MODES=${MODES:-"none tcp unix"}
REPEAT=${REPEAT:-3}
CORPUS=${CORPUS:-/tmp/faultline-load-corpus}
[ "$(id -u)" = 0 ] || ll_die "needs root (Postfix)"
pf_install_if_absent || ll_die "no Postfix"
ll_corpus "${CORPUS_N:-2000}"

LL_WORK=$(mktemp -d /tmp/faultline-pfload.XXXXXX)
chmod 755 "$LL_WORK" # the postfix user reaches the milter's unix socket
cleanup() {
	pf_stop
	ll_cleanup
	rm -rf "$LL_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The corpus zones, with 127.0.0.1 (smtp-source's address) allowed by the
# SPF record of d00.load.example, the signer of the message sent.
mkdir -p "$LL_WORK/zones"
cp "$CORPUS"/zones/*.zone "$LL_WORK/zones/"
sed -i '/^d00 TXT/s|ip4:198.51.100.0/27|ip4:198.51.100.0/27 ip4:127.0.0.0/8|' \
	"$LL_WORK/zones/load.example.zone"
tr -d '\r' <"$CORPUS/msgs/00000.eml" >"$LL_WORK/msg.txt" # smtp-source adds CRLF
CORPUS_SAVED=$CORPUS
CORPUS=$LL_WORK # ll_start_dns serves $CORPUS/zones
ll_start_dns
CORPUS=$CORPUS_SAVED

sent_count() { grep -c ' status=sent ' "$PF_DIR/maillog" 2>/dev/null; }

# run MODE C: prints the figures line; sets RATE_ACCEPT and RATE_DELIVERED
run() {
	local mode=$1 c=$2 milter= t0 t1 t2 base
	case $mode in
	tcp)
		LL_SOCKET=inet
		ll_start_daemon "socket_mode = 0666"
		milter=${LL_SOCK#inet:}
		milter="inet:127.0.0.1:${milter%@*}"
		;;
	unix)
		LL_SOCKET=unix
		ll_start_daemon "socket_mode = 0666"
		milter=$LL_SOCK
		;;
	esac
	pf_start "$LL_WORK/pf-$mode-$c" "$milter" 2>/dev/null || ll_die "Postfix did not start"
	# a warm-up pass (DNS cache, Postfix processes)
	/usr/sbin/smtp-source -s "$c" -m "$c" -F "$LL_WORK/msg.txt" -f user0@d00.load.example \
		-t rcpt@faultline.example -M mx1.load.example "127.0.0.1:$PF_PORT" ||
		ll_die "smtp-source (warm-up) failed"
	base=$c
	pf_wait_delivered "$base" 120 >/dev/null 2>&1 || ll_die "warm-up not delivered"
	t0=$(date +%s.%N)
	/usr/sbin/smtp-source -s "$c" -m "$N" -F "$LL_WORK/msg.txt" -f user0@d00.load.example \
		-t rcpt@faultline.example -M mx1.load.example "127.0.0.1:$PF_PORT" ||
		ll_die "smtp-source failed"
	t1=$(date +%s.%N)
	while [ "$(sent_count)" -lt $((base + N)) ]; do
		sleep 0.05
		[ "$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN {print (b - a > 300)}')" = 1 ] &&
			ll_die "not delivered after 300 s"
	done
	t2=$(date +%s.%N)
	if [ "$mode" != none ] && ! grep -q 'dkim=pass' "$(pf_sink_files | tail -1)"; then
		ll_die "$mode: the message did not get dkim=pass through faultline"
	fi
	pf_stop
	ll_stop_daemon
	RATE_ACCEPT=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
	RATE_DELIVERED=$(awk -v n="$N" -v a="$t0" -v b="$t2" 'BEGIN {printf "%.0f", n / (b - a)}')
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for c in $CONCURRENCY; do
	declare -A acc=() del=()
	# the modes take turns, REPEAT times: a neighbour's burst on a shared
	# machine then hits every mode alike; the medians are compared
	for r in $(seq "$REPEAT"); do
		for mode in $MODES; do
			run "$mode" "$c"
			echo "run=$r mode=$mode c=$c n=$N accept_s=$RATE_ACCEPT delivered_s=$RATE_DELIVERED"
			acc[$mode]="${acc[$mode]:-} $RATE_ACCEPT"
			del[$mode]="${del[$mode]:-} $RATE_DELIVERED"
		done
	done
	for mode in $MODES; do
		a=$(median <<<"${acc[$mode]}") d=$(median <<<"${del[$mode]}")
		line="median mode=$mode c=$c n=$N accept_s=$a delivered_s=$d"
		if [ "$mode" != none ] && [ -n "${acc[none]:-}" ]; then
			line="$line $(awk -v a="$a" -v b="$(median <<<"${acc[none]}")" -v d="$d" \
				-v e="$(median <<<"${del[none]}")" \
				'BEGIN {printf "ratio_accept=%.2f ratio_delivered=%.2f", a / b, d / e}')"
		fi
		echo "$line"
	done
	unset acc del
done
