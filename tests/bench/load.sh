#!/bin/bash
# tests/bench/load.sh -- the daemon under load, over the milter protocol.
#
# Starts the test DNS server (tests/dns/fakedns.py) with the zones of a
# signed corpus (tests/bench/make_load_corpus.py), starts milter/faultline
# with every check on (SPF MAIL FROM + HELO, DKIM, DMARC, iprev, one DNS
# list), warms the cache with one pass over the corpus, then drives N
# messages at concurrency C (fl-mtest load: one connection per message) and
# prints one line:
#
#   c=8 n=6000 msgs_s=... p50_ms=... p99_ms=... cpu_ms_msg=... ctxsw_msg=...
#   live_ctxsw_msg=... syscalls_msg=... peak_rss_mb=... rss_after_mb=... errors=...
#
# CPU per message: utime+stime of /proc/PID/stat (the whole process,
# threads that exited included) before and after the run.  Context switches
# per message: perf stat -e context-switches on the daemon during the run
# (it follows threads created during the run: libmilter's session threads
# exit with their connection, and /proc/PID/task/*/status forgets them); the
# sum of voluntary+nonvoluntary over the threads alive at both ends of the
# run (/proc/PID/task/*/status) is printed too (live_ctxsw_msg).
# Peak RSS: VmHWM; RSS after: VmRSS AFTER_WAIT seconds after the run.
#
# Knobs (environment):
#   C=8 N=6000          concurrency and messages
#   CORPUS=DIR          corpus (made with make_load_corpus.py when DIR/msgs
#                       is absent; default /tmp/faultline-load-corpus)
#   CORPUS_N=2000       messages in a corpus made here
#   WARM=1              one warm-up pass over the corpus first (0: cold)
#   AFTER_WAIT=60       seconds before RSS is read again after the run
#   SOCKET=unix|inet    milter socket (default unix)
#   FAULTS=TEXT         fakedns fault lines (e.g. "* ANY drop")
#   EXTRA_CONF=TEXT     lines appended to faultline.conf
#   VERDICTS=FILE       copy the verdict log here
#   SYSCALLS=1          count the daemon's system calls too (syscalls_msg;
#                       the tracepoint costs CPU: cpu_ms_msg is higher then)
#   PERF_RECORD=FILE    perf record -g the daemon during the run
#   PERF_CALLGRAPH=dwarf  perf record --call-graph=dwarf instead (callers
#                       of libc and library functions built without frame
#                       pointers; heavier: use a smaller N)
#   DNS_LOG=FILE        the DNS server's query log
#   STATS_FILE=FILE     the daemon's stats_file (written every second)
#   KEEP=1              keep the work directory
#   FAULTLINE, FL_MTEST paths (default: the build tree's _build/)
#
# Run it in a network namespace of your own on a shared machine:
#   ip netns exec fl-load env C=1000 tests/bench/load.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/load_lib.sh
. "$here/load_lib.sh"
C=${C:-8}
N=${N:-6000}
CORPUS=${CORPUS:-/tmp/faultline-load-corpus}
WARM=${WARM:-1}
AFTER_WAIT=${AFTER_WAIT:-60}
LL_SOCKET=${SOCKET:-unix}

[ -x "$FAULTLINE" ] || ll_die "no daemon at $FAULTLINE (build first)"
[ -x "$FL_MTEST" ] || ll_die "no fl-mtest at $FL_MTEST (build first)"
ll_corpus "${CORPUS_N:-2000}"
ncorpus=$(find "$CORPUS/msgs" -name '*.eml' | wc -l)

LL_WORK=$(mktemp -d /tmp/faultline-load.XXXXXX)
work=$LL_WORK
perf_pid= rec_pid=
cleanup() {
	for p in $rec_pid $perf_pid; do
		kill "$p" 2>/dev/null
	done
	ll_cleanup
	wait 2>/dev/null
	[ "${KEEP:-0}" = 1 ] && echo "load.sh: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ll_start_dns "${FAULTS:-}"
ll_start_daemon "${EXTRA_CONF:-}"
fl_pid=$LL_FL_PID
mtest() { ll_mtest "$@"; }
if [ "$WARM" = 1 ]; then
	mtest 8 "$ncorpus" >"$work/warm.out" || ll_die "warm-up failed: $(cat "$work/warm.out")"
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$fl_pid/stat"; }
live_ctxsw() { # "tid count" per live thread
	for s in /proc/"$fl_pid"/task/*/status; do
		awk -v t="${s%/status}" '/ctxt_switches/ {n += $2} END {sub(".*/", "", t); print t, n}' "$s" 2>/dev/null
	done
}
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$fl_pid/status"; }
hz=$(getconf CLK_TCK)

live_ctxsw | sort >"$work/ctx.before"
t0=$(cpu_ticks)
if command -v perf >/dev/null 2>&1; then
	events=context-switches,task-clock
	[ "${SYSCALLS:-0}" = 1 ] && events=$events,raw_syscalls:sys_enter
	perf stat -e "$events" -x, -o "$work/perf.stat" -p "$fl_pid" 2>/dev/null &
	perf_pid=$!
fi
if [ -n "${PERF_RECORD:-}" ]; then
	perf record --call-graph="${PERF_CALLGRAPH:-fp}" -o "$PERF_RECORD" -p "$fl_pid" 2>/dev/null >/dev/null &
	rec_pid=$!
fi
sleep 0.3
mtest "$C" "$N" >"$work/run.out"
rc=$?
t1=$(cpu_ticks)
live_ctxsw | sort >"$work/ctx.after"
for p in $perf_pid $rec_pid; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
perf_pid= rec_pid=
[ "$rc" = 0 ] || echo "load.sh: fl-mtest: $(cat "$work/run.out")" >&2
peak=$(status_kb VmHWM)

val() { tr ' ' '\n' <"$work/run.out" | awk -F= -v k="$1" '$1 == k {print $2}'; }
ctx_perf=$(awk -F, '$3 == "context-switches" {print $1}' "$work/perf.stat" 2>/dev/null)
sys_perf=$(awk -F, '$3 == "raw_syscalls:sys_enter" {print $1}' "$work/perf.stat" 2>/dev/null)
live=$(join "$work/ctx.before" "$work/ctx.after" | awk '{n += $3 - $2} END {print n + 0}')
if [ "${AFTER_WAIT}" -gt 0 ]; then sleep "$AFTER_WAIT"; fi
after=$(status_kb VmRSS)
[ -n "${VERDICTS:-}" ] && cp "$work/verdicts.jsonl" "$VERDICTS"
awk -v c="$C" -v n="$N" -v s="$(val msgs_per_s)" -v p50="$(val p50_ms)" \
	-v p99="$(val p99_ms)" -v cpu="$((t1 - t0))" -v hz="$hz" -v ctx="${ctx_perf:-NaN}" \
	-v live="$live" -v peak="$peak" -v after="$after" -v err="$(val errors)" \
	-v sys="${sys_perf:-NaN}" 'BEGIN {
	printf "c=%s n=%s msgs_s=%.0f p50_ms=%.1f p99_ms=%.1f cpu_ms_msg=%.3f ctxsw_msg=%.1f live_ctxsw_msg=%.1f syscalls_msg=%.1f peak_rss_mb=%.1f rss_after_mb=%.1f errors=%s\n",
		c, n, s, p50, p99, cpu * 1000 / hz / n, ctx / n, live / n, sys / n, peak / 1024, after / 1024, err
}'
exit "$rc"
