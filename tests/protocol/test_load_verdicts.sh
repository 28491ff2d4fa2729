#!/bin/bash
# Overload never changes a verdict (issue 12, target 3): every message of a
# small signed corpus gets the same verdict (action, and method/result/fault
# of every check) when 300 sessions are open at once -- with a cold cache,
# where every DNS question of the burst is in flight together, and warm --
# as when the messages come one at a time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/load_lib.sh
. "$here/../bench/load_lib.sh"
LL_WORK=$(mktemp -d /tmp/faultline-verdicts.XXXXXX)
CORPUS=$LL_WORK/corpus
trap 'll_cleanup; rm -rf "$LL_WORK"' EXIT
CORPUS_DOMAINS=6 ll_corpus 60
high=${LOAD_VERDICTS_C:-300}
fails=0

ll_start_dns
ll_start_daemon "${LOAD_VERDICTS_CONF:-}"
ll_mtest 1 60 >"$LL_WORK/ref.out" || ll_die "reference run: $(cat "$LL_WORK/ref.out")"
cp "$LL_WORK/verdicts.jsonl" "$LL_WORK/ref.jsonl"
ll_stop_daemon

# a new daemon: its cache is cold
ll_start_daemon "${LOAD_VERDICTS_CONF:-}"
ll_mtest "$high" "$high" >"$LL_WORK/cold.out" || ll_die "cold run: $(cat "$LL_WORK/cold.out")"
cp "$LL_WORK/verdicts.jsonl" "$LL_WORK/cold.jsonl"
: >"$LL_WORK/verdicts.jsonl"
ll_mtest "$high" "$high" >"$LL_WORK/warm.out" || ll_die "warm run: $(cat "$LL_WORK/warm.out")"
cp "$LL_WORK/verdicts.jsonl" "$LL_WORK/warm.jsonl"
ll_stop_daemon

for run in cold warm; do
	n=$(wc -l <"$LL_WORK/$run.jsonl")
	if [ "$n" -ne "$high" ]; then
		echo "FAIL: $run run: $n verdict records, want $high"
		fails=$((fails + 1))
	fi
	if out=$("$PYTHON3" "$here/verdicts_compare.py" "$LL_WORK/ref.jsonl" "$LL_WORK/$run.jsonl"); then
		echo "PASS: $run cache, $high sessions at once: verdicts equal to one at a time ($out)"
	else
		echo "FAIL: $run cache, $high sessions at once: $out"
		fails=$((fails + 1))
	fi
done
# the reference itself must hold every kind of result the corpus makes
for want in '"result":"fail"' '"result":"permerror"' '"action":"reject"'; do
	if ! grep -q "$want" "$LL_WORK/ref.jsonl"; then
		echo "FAIL: the reference run has no $want"
		fails=$((fails + 1))
	fi
done
exit $((fails > 0))
