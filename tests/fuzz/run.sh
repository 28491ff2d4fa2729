#!/bin/sh
# run.sh: builds the libFuzzer targets (clang, ASan+UBSan) in _build-fuzz
# and runs each one for SECONDS seconds (default 60) on a copy of its seed
# corpus from tests/fuzz/corpus, two at a time.  A crash, leak, sanitizer
# report or broken invariant fails the run; the input is kept under
# _build-fuzz/crashes/TARGET/ -- turn it into a regression test.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
# Prints, per target, the executions done and the corpus size reached.
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
jobs=$(nproc 2>/dev/null || echo 2)
b=$top/_build-fuzz
if [ ! -f "$b/Makefile" ]; then
    [ -f configure ] || autoreconf -fi
    mkdir -p "$b"
    (cd "$b" && "$top/configure" --quiet CC=clang --enable-fuzzing)
fi
make -C "$b" -j"$jobs" fuzz-targets >/dev/null
targets=${*:-$(cd "$top/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')}
mkdir -p "$b/crashes" "$b/corpus" "$b/logs"
run_one() {
    t=$1
    mkdir -p "$b/corpus/$t" "$b/crashes/$t"
    cp -n "$top/tests/fuzz/corpus/$t/"* "$b/corpus/$t/" 2>/dev/null || true
    if "$b/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$b/crashes/$t/" -print_final_stats=1 \
        "$b/corpus/$t" >"$b/logs/$t.log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$b/logs/$t.log")
        echo "fuzz: $t ok: $execs executions in ${secs}s, corpus $(ls "$b/corpus/$t" | wc -l) inputs"
    else
        echo "fuzz: $t FAILED; last lines of $b/logs/$t.log:" >&2
        tail -30 "$b/logs/$t.log" >&2
        return 1
    fi
}
fail=0
set -- $targets
while [ $# -gt 0 ]; do
    pids=""
    for i in $(seq 1 "$jobs"); do
        [ $# -gt 0 ] || break
        run_one "$1" & pids="$pids $!"
        shift
    done
    for p in $pids; do wait "$p" || fail=1; done
done
exit $fail
