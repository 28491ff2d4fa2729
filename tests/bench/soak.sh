#!/bin/bash
# tests/bench/soak.sh -- the daemon over time: C concurrent sessions (200)
# for DURATION seconds (600) over the signed load corpus, with a SIGHUP
# every HUP_EVERY seconds (30).  Samples the daemon's RSS, threads and open
# descriptors every second and prints the first and the last minute of the
# series, then checks:
#   - zero protocol errors (fl-mtest load reports errors=0 for every batch),
#   - the verdict log holds exactly one valid JSON record per message sent,
#   - RSS, threads and descriptors of the last minute stay within SLACK
#     (RSS +25 %, threads and fds +10 %) of the first minute's maxima.
# Exit 0 when all hold.  Not part of the test command (10 minutes); its
# figures go into the notes.  Knobs: C, DURATION, HUP_EVERY, BATCH (messages
# per fl-mtest run, default 2000), CORPUS (as tests/bench/load.sh), KEEP=1.
#   ip netns exec fl-soak tests/bench/soak.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/load_lib.sh
. "$here/load_lib.sh"
C=${C:-200}
DURATION=${DURATION:-600}
HUP_EVERY=${HUP_EVERY:-30}
BATCH=${BATCH:-2000}
CORPUS=${CORPUS:-/tmp/faultline-load-corpus}

[ -x "$FAULTLINE" ] || ll_die "no daemon at $FAULTLINE (build first)"
[ -x "$FL_MTEST" ] || ll_die "no fl-mtest at $FL_MTEST (build first)"
ll_corpus "${CORPUS_N:-2000}"

LL_WORK=$(mktemp -d /tmp/faultline-soak.XXXXXX)
work=$LL_WORK
sampler= hupper=
cleanup() {
	for p in $sampler $hupper; do kill "$p" 2>/dev/null; done
	ll_cleanup
	wait 2>/dev/null
	[ "${KEEP:-0}" = 1 ] && echo "soak.sh: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ll_start_dns ""
ll_start_daemon ""
pid=$LL_FL_PID

# one sample per second: seconds rss_kb threads fds
(
	t=0
	while kill -0 "$pid" 2>/dev/null; do
		rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status" 2>/dev/null)
		thr=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
		fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
		echo "$t ${rss:-0} $thr $fds"
		t=$((t + 1))
		sleep 1
	done
) >"$work/samples" &
sampler=$!
(
	while sleep "$HUP_EVERY"; do kill -HUP "$pid" 2>/dev/null || exit 0; done
) &
hupper=$!

end=$((SECONDS + DURATION))
sent=0 errors=0 batches=0
while [ "$SECONDS" -lt "$end" ]; do
	out=$(ll_mtest "$C" "$BATCH")
	rc=$?
	e=$(tr ' ' '\n' <<<"$out" | awk -F= '$1 == "errors" {print $2}')
	sent=$((sent + BATCH))
	errors=$((errors + ${e:-1}))
	batches=$((batches + 1))
	[ "$rc" = 0 ] || echo "soak.sh: batch $batches: $out" >&2
done
kill "$hupper" 2>/dev/null
hupper=
sleep 2
kill "$sampler" 2>/dev/null
sampler=

records=$(wc -l <"$work/verdicts.jsonl")
valid=$("$PYTHON3" - "$work/verdicts.jsonl" <<'EOF'
import json, sys
ok = 0
for line in open(sys.argv[1], encoding="utf-8", errors="strict"):
    try:
        if isinstance(json.loads(line), dict):
            ok += 1
    except ValueError:
        pass
print(ok)
EOF
)
hups=$(grep -c "configuration reloaded" "$work/faultline.log")
echo "soak: c=$C duration=${DURATION}s batches=$batches messages=$sent errors=$errors records=$records valid_json=$valid reloads=$hups"
n=$(wc -l <"$work/samples")
echo "soak: first minute (second rss_kb threads fds):"
head -60 "$work/samples" | awk '{printf "  %s", $0; if (NR % 6 == 0) print ""} END {print ""}'
echo "soak: last minute:"
tail -60 "$work/samples" | awk '{printf "  %s", $0; if (NR % 6 == 0) print ""} END {print ""}'
verdict=$(awk -v n="$n" '
	NR <= 60 { if ($2 > r1) r1 = $2; if ($3 > t1) t1 = $3; if ($4 > f1) f1 = $4 }
	NR > n - 60 { if ($2 > r2) r2 = $2; if ($3 > t2) t2 = $3; if ($4 > f2) f2 = $4 }
	END {
		flat = r2 <= r1 * 1.25 && t2 <= t1 * 1.10 + 1 && f2 <= f1 * 1.10 + 1
		printf "%s first-minute max rss=%dkB threads=%d fds=%d, last-minute max rss=%dkB threads=%d fds=%d\n",
			flat ? "flat:" : "GREW:", r1, t1, f1, r2, t2, f2
	}' "$work/samples")
echo "soak: $verdict"
[ "$errors" = 0 ] && [ "$records" = "$sent" ] && [ "$valid" = "$sent" ] &&
	[ "${verdict%%:*}" = flat ]
