#!/bin/bash
# tests/cli/test_cli.sh -- command-line manners of faultline and faultlinectl:
# -h and --help print the whole help on stdout and exit 0; the synopsis
# names every option the help lists; every faultlinectl command is
# described; every message starts with the program's name alone, however it
# was started; an unknown configuration key gets a "did you mean" only when
# a key is close.  Runs as any user.
# Automake test protocol: exit 0 pass, 1 fail.
set -u
B=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
FL=${FAULTLINE:-$B/milter/faultline}
CTL=$(dirname "$FL")/faultlinectl
T=$(mktemp -d /tmp/faultline-test-cli.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
echo "user =" >"$T/empty.conf"
# the suite's assertion helpers: pass, fail (counted in FAILS)
# shellcheck source=../e2e/postfix_lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/postfix_lib.sh"
# run PROG ARGS...: exit status in RC, stdout in $T/out, stderr in $T/err
run() {
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# ---- --help and -h ----------------------------------------------------------
for prog in "$FL" "$CTL"; do
	name=$(basename "$prog")
	run "$prog" -h
	cp "$T/out" "$T/h"
	if [ "$RC" = 0 ] && [ -s "$T/out" ] && [ ! -s "$T/err" ]; then
		pass "$name -h: help on stdout, exit 0"
	else
		fail "$name -h: rc $RC, stderr: $(cat "$T/err")"
	fi
	run "$prog" --help
	if [ "$RC" = 0 ] && cmp -s "$T/out" "$T/h" && [ ! -s "$T/err" ]; then
		pass "$name --help: the same help, exit 0"
	else
		fail "$name --help: rc $RC, stderr: $(cat "$T/err")"
	fi
	# The synopsis (the lines before the first empty or option line) names
	# every option the help describes ("  -x ..." lines).
	synopsis=$(awk '/^$/ || /^  -/ { exit } { print }' "$T/h")
	missing=
	for opt in $(sed -n 's/^  \(-[A-Za-z]\)[ ,].*/\1/p' "$T/h"); do
		case $synopsis in
		*"$opt"*) ;;
		*) missing="$missing $opt" ;;
		esac
	done
	[ -z "$missing" ] && pass "$name: the synopsis names every option" ||
		fail "$name: the synopsis lacks$missing"
done
run "$FL" -h
awk '/^$/ || /^  -/ { exit } { print }' "$T/out" | grep -q -- "-m" && pass "faultline's synopsis names -m" ||
	fail "faultline's synopsis lacks -m"

# faultlinectl: every command of the synopsis ("faultlinectl [-c FILE]
# COMMAND ...") and every greylist command of the short usage ("greylist
# a|b|c") is described: its line is followed by a deeper-indented one.
run "$CTL" -h
cp "$T/out" "$T/ctlhelp"
top=$(sed -n 's/^.*faultlinectl \[-c FILE\] \([a-z-]*\).*/\1/p' "$T/ctlhelp" | sort -u | tr '\n' ' ')
run "$CTL" -x
grey=$(sed -n 's/^usage: .*greylist \([a-z|]*\).*/\1/p' "$T/err" | tr '|' ' ')
[ -n "$grey" ] || fail "no greylist commands in the short usage: $(cat "$T/err")"
for c in stats why report dmarc-report greylist; do
	case " $top " in
	*" $c "*) ;;
	*) fail "the synopsis of faultlinectl -h lacks $c: $top" ;;
	esac
done
undescribed=
for c in $top $grey; do
	awk -v c="$c" '$1 == c && /^  [a-z]/ { getline; while (/^         /) getline; if (/^      /) f = 1 } END { exit !f }' \
		"$T/ctlhelp" || undescribed="$undescribed $c"
done
[ -z "$undescribed" ] && pass "faultlinectl -h describes every command: $top/ $grey" ||
	fail "faultlinectl -h does not describe:$undescribed"

# ---- one message prefix per program: its name -------------------------------
check_prefix() {
	local want=$1 label=$2
	shift 2
	run "$@"
	first=$(head -n 1 "$T/err")
	case $first in
	"$want"*) pass "$label: \"$first\"" ;;
	*) fail "$label: want \"$want...\", got \"$first\"" ;;
	esac
}
check_prefix "faultline: unknown option -x" "faultline -x (started by its path)" "$FL" -x
[ "$RC" = 2 ] && pass "faultline -x exits 2" || fail "faultline -x exits $RC"
check_prefix "faultline: unknown option --nope" "faultline --nope" "$FL" --nope
check_prefix "faultline: option -c needs a value" "faultline -c" "$FL" -c
check_prefix "faultlinectl: unknown option -x" "faultlinectl -x (started by its path)" "$CTL" -x
[ "$RC" = 64 ] && pass "faultlinectl -x exits 64" || fail "faultlinectl -x exits $RC"
check_prefix "faultlinectl: unknown option --nope" "faultlinectl --nope" "$CTL" --nope
check_prefix "faultlinectl: greylist list: unknown option --nope" \
	"faultlinectl greylist list --nope" "$CTL" -c "$T/empty.conf" greylist list --nope
check_prefix "faultlinectl: greylist allow: option --client needs a value" \
	"faultlinectl greylist allow --client" "$CTL" -c "$T/empty.conf" greylist allow --client
check_prefix "faultlinectl: why: unknown option --nope" "faultlinectl why --nope" \
	"$CTL" -c "$T/empty.conf" why --nope
check_prefix "faultlinectl: report: option --since needs a value" "faultlinectl report --since" \
	"$CTL" -c "$T/empty.conf" report --since

# ---- did you mean: only when close ------------------------------------------
conf_error() {
	printf 'user =\n%s = 1\n' "$1" >"$T/f.conf"
	run "$FL" -n -c "$T/f.conf"
	grep "unknown key" "$T/err"
}
got=$(conf_error foo)
case $got in
*"unknown key \"foo\""*"did you mean"*) fail "foo: $got" ;;
*"unknown key \"foo\""*) pass "foo gets no far-fetched hint: $got" ;;
*) fail "foo: no unknown-key error: $(cat "$T/err")" ;;
esac
got=$(conf_error dns_timout)
case $got in
*'(did you mean "dns_timeout"?)'*) pass "dns_timout: $got" ;;
*) fail "dns_timout: $got" ;;
esac

if [ "$FAILS" -gt 0 ]; then
	echo "== FAILED: $FAILS assertion(s)"
	exit 1
fi
echo "== OK: all assertions held"
exit 0
