#!/bin/bash
# test_ctl.sh: golden tests of `faultlinectl why` and `faultlinectl report`
# over the verdict-log fixtures mx1.jsonl and mx2.jsonl (two MX hosts; mx1.jsonl
# holds a truncated record, a line that is not JSON and a record of a
# future format version, which must be reported with file:line and
# skipped).  Each case's stdout, stderr and exit status are compared with
# tests/ctl/golden/CASE.out.
#   test_ctl.sh            run (make check)
#   test_ctl.sh --update   rewrite the golden files (make update-golden)
# A new case's golden file is listed in CTL_GOLDEN (Makefile.am) for make dist.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${top_builddir:-$src/_build}
ctl=$build/milter/faultlinectl
golden=$src/tests/ctl/golden
update=no
[ "${1:-}" = --update ] && update=yes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$src/tests/ctl/mx1.jsonl" "$src/tests/ctl/mx2.jsonl" "$tmp/"
# The default files: verdict_log and its rotations, .gz too -- mx1 is the
# older, compressed rotation, mx2 the current log.
gzip -c "$src/tests/ctl/mx1.jsonl" > "$tmp/verdicts.log.1.gz"
cp "$src/tests/ctl/mx2.jsonl" "$tmp/verdicts.log"
touch -d '2026-12-01 10:00' "$tmp/verdicts.log.1.gz"
touch -d '2026-12-01 12:00' "$tmp/verdicts.log"
printf 'verdict_log = %s/verdicts.log\n' "$tmp" > "$tmp/faultline.conf"
printf '{"v":1,"time":"2026-12-01T12:00:00.000Z","queue_id":"4QCUT","checks":[{"method":"spf"' \
    > "$tmp/cut.log" # ends inside its only line
head -c 700 "$tmp/verdicts.log.1.gz" > "$tmp/cut.gz" # a compressed file cut short
yes 'not a record' | head -n 150 > "$tmp/garbage.txt" # 100 problems shown, 50 counted
cd "$tmp" || exit 1

failed=0
run_case() { # NAME ARGS...
    local name=$1
    shift
    "$ctl" -c faultline.conf "$@" > out 2> err
    local rc=$?
    { echo "== faultlinectl $*"; echo "== exit $rc"; echo "== stdout"; cat out
      echo "== stderr"; cat err; } | sed "s|$tmp/||g" > "$name.out"
    if [ $update = yes ]; then
        cp "$name.out" "$golden/$name.out"
    elif ! diff -u "$golden/$name.out" "$name.out"; then
        echo "FAIL: $name (got above, want $golden/$name.out)"
        failed=$((failed + 1))
    else
        echo "ok: $name"
    fi
}
mkdir -p "$golden"
run_case why-queue-id why 4QBL1 mx1.jsonl
run_case why-message-id why '<d1@bank-lookalike.example>' mx1.jsonl
run_case why-address-window why --since 2026-12-01T10:00 news@pool.example mx1.jsonl mx2.jsonl
run_case why-greylisted why 4QGREY1 mx1.jsonl
run_case why-receiver-fault why 4QTEMP1 mx1.jsonl
run_case why-observed why --json 4QOBS1 mx1.jsonl
run_case why-rotated-gz why 4QSPF1
run_case why-not-found why 4QNONE mx1.jsonl
run_case why-hostile-text why 5QHOSTILE mx2.jsonl
run_case why-repeated-property why 5QARRAY mx2.jsonl
run_case why-unreadable why 4QBL1 missing.log mx1.jsonl
run_case why-truncated-file why 4QCUT cut.log
run_case report-truncated-gz report cut.gz mx2.jsonl
run_case report-many-bad-lines report garbage.txt
run_case report-text report mx1.jsonl mx2.jsonl
run_case report-json report --json mx1.jsonl mx2.jsonl
run_case report-window report --since 2026-12-01T09:00 --until 2026-12-01T09:59 mx1.jsonl
run_case report-default-files report
run_case report-bad-time report --since yesterday
[ $update = yes ] && { echo "golden files written to $golden"; exit 0; }
[ $failed = 0 ] || { echo "$failed cases failed"; exit 1; }
echo "all cases passed"
