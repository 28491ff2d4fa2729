#!/bin/bash
# tests/packaging/test_unit.sh -- packaging/faultline.service, checked
# offline on every `make check` (tests/packaging/test_package.sh checks the
# installed copy in a booted root, in CI):
#   - `systemd-analyze verify` is clean (a copy whose ExecStart*/ExecReload
#     name the daemon just built, as the package installs it at /usr/sbin);
#   - `systemd-analyze security --offline=true`: exposure below 3.0, printed;
#   - the hardening the issue asks for is there, and the ExecStart flags are
#     the daemon's (-f -c FILE), ExecStartPre checks the file (-n).
# Automake test protocol: exit 0 pass, 1 fail.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${top_srcdir:-$HERE/../..}
FAULTLINE=${FAULTLINE:-${top_builddir:-$HERE/../..}/milter/faultline}
UNIT=$SRC/packaging/faultline.service
FAILS=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
echo "== the systemd unit: verify, security exposure, hardening"
command -v systemd-analyze >/dev/null || { fail "systemd-analyze missing"; exit 1; }
T=$(mktemp -d /tmp/faultline-unit.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cp "$UNIT" "$T/faultline.service"
sed -i "s|/usr/sbin/faultline|$FAULTLINE|g" "$T/faultline.service"
if (cd "$T" && systemd-analyze verify --man=no "$T/faultline.service") >"$T/verify.out" 2>&1 &&
	[ ! -s "$T/verify.out" ]; then
	pass "systemd-analyze verify: clean"
else
	cat "$T/verify.out"
	fail "systemd-analyze verify complains"
fi
(cd "$T" && systemd-analyze security --offline=true "$T/faultline.service") >"$T/security.out" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for faultline.service: \([0-9.]*\).*/\1/p' "$T/security.out")
echo "   systemd-analyze security --offline=true: exposure ${exposure:-?}"
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e < 3.0) }'; then
	pass "exposure $exposure < 3.0"
else
	cat "$T/security.out"
	fail "exposure '$exposure' not below 3.0"
fi
want='Type=notify
ExecStartPre=/usr/sbin/faultline -n -c /etc/faultline/faultline.conf
ExecStart=/usr/sbin/faultline -f -c /etc/faultline/faultline.conf
ExecReload=/bin/kill -HUP $MAINPID
User=faultline
RuntimeDirectory=faultline
StateDirectory=faultline
LogsDirectory=faultline
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallFilter=@system-service'
missing=""
while IFS= read -r line; do
	grep -qxF -- "$line" "$UNIT" || missing="$missing
   $line"
done <<<"$want"
[ -z "$missing" ] && pass "Type=notify, the daemon's flags, the directories and the hardening are set" ||
	fail "the unit lacks:$missing"
# The flags the unit uses are the daemon's: -n accepts a valid file.
printf 'socket = inet:8895@127.0.0.1\nuser =\n' >"$T/ok.conf"
"$FAULTLINE" -n -c "$T/ok.conf" >/dev/null && pass "faultline -n -c FILE (ExecStartPre) accepts a valid file" ||
	fail "faultline -n -c rejects a valid file"
[ "$FAILS" = 0 ]
