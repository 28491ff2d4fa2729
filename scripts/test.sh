#!/bin/sh
# test.sh: README command 2 -- sets up a fresh Debian 12 machine and runs the
# whole test suite: unit, protocol (the real daemon over its socket) and
# end-to-end (a private Postfix), then the same unit and protocol tests under
# ASan+UBSan, a clang -Werror build, `make distcheck`, and the Debian package
# (built, installed into a clean root, run, purged).  .ci/run calls exactly
# this.  Run it as root (scripts/test.sh), or as a user with sudo: it re-runs
# itself with sudo.  It builds only in _build (gcc), _build-san (clang) and
# _build-fuzz, never in the source tree, so it runs before or after
# scripts/demo.sh (which builds in _build-demo), twice in a row, and after an
# interrupted run: the build dirs are made afresh each time.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=common.sh
. "$top/scripts/common.sh"
fl_as_root test.sh "$top/scripts/test.sh" "$@"
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n=== %s ===\n' "$*"; }

# Fails when automake's summary shows a skipped or failed test: a skip is
# not a pass.
no_skips() {
    log=$1/test-suite.log
    grep -q '^# SKIP: *0$' "$log" && grep -q '^# FAIL: *0$' "$log" || {
        echo "test.sh: skipped or failed tests in $log:" >&2
        grep -E '^(SKIP|FAIL|ERROR)' "$log" >&2 || true
        exit 1
    }
}

step "dependencies"
sh scripts/deps.sh

# no_warnings LOG COMMAND...: runs COMMAND, shows its output, and fails when
# it fails or prints a warning (bootstrap and build must be quiet).
no_warnings() {
    log=$1
    shift
    "$@" >"$log" 2>&1 || { cat "$log"; echo "test.sh: $* failed" >&2; exit 1; }
    cat "$log"
    if grep -iE 'warning|modifier ignored' "$log" >/dev/null; then
        echo "test.sh: $* printed warnings:" >&2
        grep -iE 'warning|modifier ignored' "$log" >&2
        exit 1
    fi
}

step "bootstrap"
fl_unconfigure_source test.sh "$top"
buildlog=${TMPDIR:-/tmp}/faultline-test.$$.log
no_warnings "$buildlog" autoreconf -fi

step "gcc build"
rm -rf _build
no_warnings "$buildlog" fl_build test.sh "$top" "$top/_build"
rm -f "$buildlog"

# Every test runs in a network namespace that has only a loopback
# interface and no route: a test that tried to reach the internet or the
# host's resolver would fail, which proves the suite is hermetic.
ns="fl-offline-$$"
# an interrupted earlier run (killed before its trap ran) left its namespace
for old in $(ip netns list 2>/dev/null | sed -n 's/^\(fl-offline-[0-9]*\).*/\1/p'); do
    kill -0 "${old#fl-offline-}" 2>/dev/null || ip netns del "$old" 2>/dev/null || true
done
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns exec "$ns" ip link set lo up
if [ -n "$(ip -n "$ns" route show)" ] || [ -n "$(ip -n "$ns" -6 route show | grep -v '^::1 ')" ]; then
    echo "test.sh: the test namespace has a route besides loopback" >&2
    exit 1
fi
offline() { ip netns exec "$ns" "$@"; }

step "full test suite, offline (unit, protocol, DNS, Postfix end-to-end)"
cd _build
offline make -j"$jobs" check || { cat tests/*/*.log 2>/dev/null | tail -200; exit 1; }
no_skips .
cd "$top"

step "ASan+UBSan build: unit and protocol tests"
rm -rf _build-san
fl_build test.sh "$top" "$top/_build-san" --enable-sanitizers CC=clang
cd _build-san
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    offline make -j"$jobs" check TESTS='$(UNIT_TESTS) $(PROTOCOL_TESTS)' ||
    { cat tests/*/*.log | tail -200; exit 1; }
no_skips .
cd "$top"

step "valgrind: protocol tests with the daemon under memcheck"
cd _build
# "possibly lost" blocks are the thread stacks of libmilter's threads,
# still running at exit; definite leaks fail the run.
offline make -j"$jobs" check TESTS='$(PROTOCOL_TESTS)' \
    FL_DAEMON_WRAPPER='valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99' ||
    { cat tests/protocol/*.log | tail -200; exit 1; }
no_skips .
cd "$top"

step "fuzzing: every parser target for 60 s (clang, ASan+UBSan)"
# tests/fuzz/run.sh builds the libFuzzer targets in _build-fuzz and fails on
# a crash, leak, sanitizer report or broken invariant.
rm -rf _build-fuzz
offline sh tests/fuzz/run.sh "${FL_FUZZ_SECONDS:-60}"

step "make distcheck"
cd _build
offline make distcheck DISTCHECK_CONFIGURE_FLAGS=--quiet
cd "$top"

# ---- issue 16: the Debian package (separate block; keep it near the end) ----
# Builds faultline_*.deb from a clean copy (lintian: no errors), installs it
# into a fresh debootstrap'd root, runs the daemon as the unit does, removes
# and purges it.  Needs the Debian mirror of this machine's apt sources (the
# other tests run offline); about 2-4 minutes.  Never skipped.
step "Debian package: build, lintian, install into a clean root, run, purge"
FL_MTEST="$top/_build/tests/fl-mtest" bash tests/packaging/test_package.sh "$top/_build-pkgtest"

# ---- issue 16: Sendmail end to end (separate block) ----
# A real Sendmail 8.17 (Debian's sendmail-bin, fetched with apt-get download
# and unpacked privately: it conflicts with postfix) with faultline as its
# INPUT_MAIL_FILTER.  The download needs the mirror; the test itself then
# runs in network and UTS namespaces of its own.  Never skipped.
step "Sendmail end-to-end (private sendmail 8.17, unix milter socket)"
FAULTLINE="$top/_build/milter/faultline" top_srcdir="$top" bash tests/e2e/test_sendmail.sh

step "all tests passed"
