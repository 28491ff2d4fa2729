#!/bin/bash
# tests/packaging/test_logrotate.sh -- the shipped logrotate file
# (packaging/faultline.logrotate) loses no verdict line while messages flow.
# The daemon writes one verdict record per message; fl-mtest sends messages
# from 4 parallel sessions while the real logrotate rotates the verdict log
# again and again (-f).  Afterwards every completed message has exactly one
# complete JSON line in the log and its rotated, compressed generations.
# Rotations during a refused reload (configuration with errors) lose nothing
# either.  For comparison the same run with copytruncate instead of rename + SIGHUP
# is measured and its losses printed (not asserted: they depend on timing).
# Automake test protocol: exit 0 pass, 1 fail.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
FAULTLINE=${FAULTLINE:-${top_builddir:-$HERE/../..}/milter/faultline}
FL_MTEST=${FL_MTEST:-${top_builddir:-$HERE/../..}/tests/fl-mtest}
echo "== logrotate: the verdict log loses no line while messages flow"
# shellcheck source-path=SCRIPTDIR source=../e2e/postfix_lib.sh
. "$SRC/tests/e2e/postfix_lib.sh"
for tool in "$FAULTLINE" "$FL_MTEST"; do [ -x "$tool" ] || abort "not found: $tool"; done
LOGROTATE=$(command -v logrotate || echo /usr/sbin/logrotate)
[ -x "$LOGROTATE" ] || abort "logrotate is not installed (scripts/deps.sh installs it)"

T=$(mktemp -d /tmp/faultline-logrotate.XXXXXX) || exit 1
FL_PID=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$FL_PID" ] && kill -TERM "$FL_PID" 2>/dev/null && wait "$FL_PID" 2>/dev/null
	pf_dns_stop
	if [ "$rc" = 0 ]; then rm -rf "$T"; else echo "work directory kept: $T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
pf_dns_start "$T/dns" || abort "the test DNS server did not start"

# run_case NAME LOGROTATE_CONF: prints "sent lost torn rotations"
run_case() {
	local name=$1 conf=$2 dir=$T/$1 port rotations=0 load_pid summary sent lines torn
	mkdir -p "$dir/log"
	port=$(pf_free_port)
	cat >"$dir/faultline.conf" <<CONF
socket = inet:$port@127.0.0.1
user =
pidfile = $dir/faultline.pid
log = stderr
verdict_log = $dir/log/verdicts.jsonl
dns_forwarders = $PF_DNS_ADDR
dns_probe_domain = dns.example
CONF
	sed -e "s|/var/log/faultline/verdicts.jsonl|$dir/log/verdicts.jsonl|" \
		-e "s|/run/faultline/faultline.pid|$dir/faultline.pid|g" "$conf" >"$dir/logrotate.conf"
	"$FAULTLINE" -f -c "$dir/faultline.conf" </dev/null >/dev/null 2>"$dir/faultline.log" &
	FL_PID=$!
	pf_wait_port "$port" 20 "$FL_PID" || { cat "$dir/faultline.log" >&2; abort "$name: faultline did not start"; }
	"$FL_MTEST" load -s "inet:$port@127.0.0.1" -c 4 -n 3000 -i 192.0.2.2 -f x@dns.example \
		"$SRC/tests/msgs/simple.eml" >"$dir/load.out" 2>&1 &
	load_pid=$!
	while _pf_pid_alive "$load_pid"; do
		sleep 0.2
		"$LOGROTATE" -f -s "$dir/logrotate.state" "$dir/logrotate.conf" 2>>"$dir/logrotate.err" &&
			rotations=$((rotations + 1))
	done
	wait "$load_pid" || { cat "$dir/load.out" >&2; abort "$name: fl-mtest load failed"; }
	sleep 0.5 # the last SIGHUP's reopen
	kill -TERM "$FL_PID" && wait "$FL_PID"
	FL_PID=
	summary=$(cat "$dir/load.out")
	sent=$(sed -n 's/^messages=\([0-9]*\) .* errors=\([0-9]*\) .*/\1 \2/p' <<<"$summary")
	[ "${sent#* }" = 0 ] || abort "$name: sessions failed: $summary"
	sent=${sent% *}
	for f in "$dir"/log/verdicts.jsonl*; do
		case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac
	done >"$dir/all.jsonl"
	lines=$(wc -l <"$dir/all.jsonl")
	torn=$(python3 -c '
import json, sys
bad = 0
for line in open(sys.argv[1]):
    try:
        json.loads(line)
    except ValueError:
        bad += 1
print(bad)' "$dir/all.jsonl")
	echo "$sent $((sent - lines)) $torn $rotations $(ls "$dir/log" | wc -l)"
}

read -r sent lost torn rotations files < <(run_case sighup "$SRC/packaging/faultline.logrotate")
echo "   rename + SIGHUP (shipped): $sent messages, $rotations rotations, $files files, lost $lost, torn $torn"
if [ "$rotations" -ge 3 ] && [ "$files" -ge 3 ]; then
	pass "the log was rotated $rotations times while messages flowed"
else
	fail "too few rotations ($rotations, $files files) to prove anything"
fi
if [ "$lost" = 0 ] && [ "$torn" = 0 ]; then
	pass "rename + SIGHUP: every one of $sent verdict lines kept, none torn"
else
	fail "rename + SIGHUP lost $lost and tore $torn of $sent lines"
fi

# Rotations while the configuration file has an error: the reload is refused
# and the daemon keeps writing into the renamed file; the next rotation must
# not compress and delete that file under it (missingok + notifempty: the
# log that was not reopened is absent or empty, so it is not rotated).
dir=$T/broken
mkdir -p "$dir/log"
port=$(pf_free_port)
printf 'socket = inet:%s@127.0.0.1\nuser =\npidfile = %s\nlog = stderr\nverdict_log = %s\ndns_forwarders = %s\n' \
	"$port" "$dir/faultline.pid" "$dir/log/verdicts.jsonl" "$PF_DNS_ADDR" >"$dir/faultline.conf"
sed -e "s|/var/log/faultline/verdicts.jsonl|$dir/log/verdicts.jsonl|" \
	-e "s|/run/faultline/faultline.pid|$dir/faultline.pid|g" \
	"$SRC/packaging/faultline.logrotate" >"$dir/logrotate.conf"
"$FAULTLINE" -f -c "$dir/faultline.conf" </dev/null >/dev/null 2>"$dir/faultline.log" &
FL_PID=$!
pf_wait_port "$port" 20 "$FL_PID" || abort "broken: faultline did not start"
msg() { "$FL_MTEST" -s "inet:$port@127.0.0.1" -q "$1" -i 192.0.2.2 -f x@dns.example \
	"$SRC/tests/msgs/simple.eml" >/dev/null 2>&1 || fail "fl-mtest $1 failed"; }
msg FLROT00001
echo "no_such_key = 1" >>"$dir/faultline.conf"
"$LOGROTATE" -f -s "$dir/logrotate.state" "$dir/logrotate.conf" || fail "logrotate failed"
sleep 0.5
msg FLROT00002
"$LOGROTATE" -f -s "$dir/logrotate.state" "$dir/logrotate.conf" || fail "logrotate failed"
sleep 0.5
msg FLROT00003
kill -TERM "$FL_PID" && wait "$FL_PID"
FL_PID=
for f in "$dir"/log/verdicts.jsonl*; do
	case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac
done >"$dir/all.jsonl"
got=$(grep -o 'FLROT0000[0-9]' "$dir/all.jsonl" | sort | tr '\n' ' ')
grep -q 'reload: configuration has errors' "$dir/faultline.log" ||
	fail "broken: the reload was not refused"
if [ "$got" = "FLROT00001 FLROT00002 FLROT00003 " ]; then
	pass "rotations while the configuration has errors (reload refused): no line lost"
else
	ls -l "$dir/log"
	fail "rotations while the configuration has errors lost lines: kept only $got"
fi

sed -e 's/^    sharedscripts$/    copytruncate/' -e '/postrotate/,/endscript/d' \
	"$SRC/packaging/faultline.logrotate" >"$T/copytruncate.logrotate"
read -r sent lost torn rotations files < <(run_case copytruncate "$T/copytruncate.logrotate")
echo "   copytruncate (for comparison): $sent messages, $rotations rotations, lost $lost, torn $torn"
[ "$FAILS" = 0 ]
