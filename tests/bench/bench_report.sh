#!/bin/bash
# bench_report.sh: how long `faultlinectl report` takes over a day of a
# busy MX (a benchmark that prints figures, not a test).
#   tests/bench/bench_report.sh [RECORDS] [FAULTLINECTL]
# Writes RECORDS (default 1000000) synthetic verdict records
# (tests/bench/bench_report.py) to a temporary file, runs the report over
# it (text, then --json), and prints the wall-clock and CPU time and the
# rate.  The goal: 1 million records in at most 10 s on a 2-core machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-1000000}
ctl=${2:-${top_builddir:-$here/../../_build}/milter/faultlinectl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/bench_report.py" "$n" "$tmp/verdicts.log"
size=$(stat -c %s "$tmp/verdicts.log")
echo "records: $n, $((size / 1048576)) MiB"
cat "$tmp/verdicts.log" > /dev/null # warm the page cache: measure the tool, not the disk
for mode in text json; do
    args=()
    [ "$mode" = json ] && args=(--json)
    start=$(date +%s.%N)
    /usr/bin/time -f "%U %S %M" -o "$tmp/time" "$ctl" report "${args[@]}" "$tmp/verdicts.log" \
        > "$tmp/out.$mode"
    end=$(date +%s.%N)
    read -r user sys maxrss < "$tmp/time"
    awk -v s="$start" -v e="$end" -v u="$user" -v y="$sys" -v m="$maxrss" -v n="$n" -v mode="$mode" \
        'BEGIN { w = e - s; printf "report (%s): %.2f s wall, %.2f s user, %.2f s sys, %d MiB max RSS, %.0f records/s\n", mode, w, u, y, m / 1024, n / w }'
done
head -5 "$tmp/out.text"
