# shellcheck shell=bash
# tests/bench/load_lib.sh -- the test DNS server and the daemon for a load
# corpus (tests/bench/make_load_corpus.py), for tests/bench/load.sh and the
# protocol tests tests/protocol/test_load_verdicts.sh, test_resolver_down.sh.
#
# Source it, set LL_WORK (a directory of the caller's) and CORPUS, then:
#   ll_corpus N                      make CORPUS with N messages unless present
#   ll_start_dns [FAULTS]            fakedns on a free port: LL_DNS_PID, LL_DNS_PORT
#   ll_set_faults FAULTS             replace the fault lines (atomically)
#   ll_start_daemon [EXTRA_CONF]     faultline with every check on: LL_FL_PID,
#                                    LL_SOCK; verdicts in $LL_WORK/verdicts.jsonl
#                                    (LL_SOCKET=inet for a TCP socket)
#   ll_stop_daemon                   SIGTERM, wait
#   ll_mtest C N [DIR]               fl-mtest load over the corpus (or DIR)
#   ll_cleanup                       stop what was started
ll_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ll_top=$(cd "$ll_here/../.." && pwd)
ll_build=${top_builddir:-$ll_top/_build}
FAULTLINE=${FAULTLINE:-$ll_build/milter/faultline}
FL_MTEST=${FL_MTEST:-$ll_build/tests/fl-mtest}
PYTHON3=${PYTHON3:-/usr/bin/python3}
LL_DNS_PID= LL_FL_PID=

ll_die() { echo "${0##*/}: $*" >&2; exit 1; }

ll_corpus() {
	[ -d "$CORPUS/msgs" ] && return 0
	echo "${0##*/}: making a corpus of $1 messages in $CORPUS" >&2
	"$PYTHON3" "$ll_here/make_load_corpus.py" -n "$1" -d "${CORPUS_DOMAINS:-20}" "$CORPUS" ||
		ll_die "cannot make the corpus"
}

ll_set_faults() {
	printf '%s\n' "$1" >"$LL_WORK/faults.tmp" && mv "$LL_WORK/faults.tmp" "$LL_WORK/faults"
}

ll_start_dns() {
	ll_set_faults "${1:-}"
	rm -f "$LL_WORK/dns.ready"
	"$PYTHON3" "$ll_top/tests/dns/fakedns.py" --port 0 --zones "$CORPUS/zones" \
		--faults "$LL_WORK/faults" --log "${DNS_LOG:-/dev/null}" \
		--ready-file "$LL_WORK/dns.ready" 2>"$LL_WORK/dns.err" &
	LL_DNS_PID=$!
	for _ in $(seq 100); do [ -s "$LL_WORK/dns.ready" ] && break; sleep 0.1; done
	[ -s "$LL_WORK/dns.ready" ] || ll_die "the DNS server did not start: $(cat "$LL_WORK/dns.err")"
	LL_DNS_PORT=$(head -1 "$LL_WORK/dns.ready")
}

ll_start_daemon() {
	local port=
	if [ "${LL_SOCKET:-unix}" = inet ]; then
		port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		LL_SOCK="inet:$port@127.0.0.1"
	else
		LL_SOCK="unix:$LL_WORK/milter.sock"
		rm -f "$LL_WORK/milter.sock"
	fi
	rm -f "$LL_WORK/verdicts.jsonl"
	cat >"$LL_WORK/faultline.conf" <<EOC
socket = $LL_SOCK
user =
pidfile = $LL_WORK/faultline.pid
log = stderr
authserv_id = mx.load.example
trusted_networks =
verdict_log = $LL_WORK/verdicts.jsonl
stats_file = ${STATS_FILE:-}
stats_interval = 1s
dns_forwarders = 127.0.0.1@$LL_DNS_PORT
dns_probe_domain = load.example
dnsbl_sites = bl.load.example
${1:-}
EOC
	"$FAULTLINE" -f -c "$LL_WORK/faultline.conf" 2>>"$LL_WORK/faultline.log" &
	LL_FL_PID=$!
	for _ in $(seq 100); do
		if [ -n "$port" ]; then
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		else
			[ -S "$LL_WORK/milter.sock" ] && return 0
		fi
		kill -0 "$LL_FL_PID" 2>/dev/null ||
			ll_die "the daemon exited: $(tail -5 "$LL_WORK/faultline.log")"
		sleep 0.1
	done
	ll_die "the daemon did not listen on $LL_SOCK"
}

ll_stop_daemon() {
	[ -n "$LL_FL_PID" ] || return 0
	kill "$LL_FL_PID" 2>/dev/null
	wait "$LL_FL_PID" 2>/dev/null
	LL_FL_PID=
}

ll_mtest() { # concurrency messages [dir]
	"$FL_MTEST" load -s "$LL_SOCK" -c "$1" -n "$2" -t 120000 -r rcpt@example.net \
		"${3:-$CORPUS/msgs}"
}

ll_cleanup() {
	ll_stop_daemon
	if [ -n "$LL_DNS_PID" ]; then
		kill "$LL_DNS_PID" 2>/dev/null
		wait "$LL_DNS_PID" 2>/dev/null
		LL_DNS_PID=
	fi
}
