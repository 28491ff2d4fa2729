#!/bin/bash
# bench_dmarc_report.sh: how long `faultlinectl dmarc-report` takes over a
# day of a busy MX (a benchmark that prints figures, not a test).
#   tests/bench/bench_dmarc_report.sh [RECORDS] [DOMAINS] [FAULTLINECTL]
# Writes RECORDS (default 1000000) synthetic verdict records over DOMAINS
# (default 10000) policy domains (tests/bench/bench_dmarc_report.py), then
# writes every report (XML, gzip, one file each) and prints the wall-clock
# and CPU time, the largest resident size and the rate.  The goal (issue
# 18): 1 million records, 10,000 policy domains in at most 30 s, bounded
# memory (it grows with distinct report rows, not with records).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-1000000}
ndom=${2:-10000}
ctl=${3:-${top_builddir:-$here/../../_build}/milter/faultlinectl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/bench_dmarc_report.py" "$n" "$ndom" "$tmp/verdicts.log"
size=$(stat -c %s "$tmp/verdicts.log")
echo "records: $n over $ndom policy domains, $((size / 1048576)) MiB"
cat "$tmp/verdicts.log" > /dev/null # warm the page cache: measure the tool, not the disk
mkdir "$tmp/out"
start=$(date +%s.%N)
/usr/bin/time -f "%U %S %M" -o "$tmp/time" "$ctl" dmarc-report --email r@receiver.example \
    --since 2026-12-01 --until 2026-12-01 --out "$tmp/out" "$tmp/verdicts.log" > "$tmp/stdout"
end=$(date +%s.%N)
read -r user sys maxrss < "$tmp/time"
awk -v s="$start" -v e="$end" -v u="$user" -v y="$sys" -v m="$maxrss" -v n="$n" \
    'BEGIN { w = e - s; printf "dmarc-report: %.2f s wall, %.2f s user, %.2f s sys, %d MiB max RSS, %.0f records/s\n", w, u, y, m / 1024, n / w }'
tail -1 "$tmp/stdout"
echo "report files: $(ls "$tmp/out" | wc -l), $(du -sm "$tmp/out" | cut -f1) MiB"
