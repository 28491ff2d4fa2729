#!/bin/bash
# tests/packaging/test_package.sh [WORKDIR] -- the Debian package, end to end,
# in a clean root (a debootstrap'd minbase chroot; no container needed):
#   1. packaging/build-deb.sh builds faultline_*.deb from a clean copy of the
#      tree and runs lintian (no errors);
#   2. a fresh minbase root gets the package's dependencies (plus systemd,
#      procps and logrotate, so the unit and the logrotate file can be
#      checked there) from the Debian mirror of this machine's apt sources,
#      read at run time;
#   3. dpkg -i: files, conffiles, the system user, directory owners;
#      `systemd-analyze verify` clean and `systemd-analyze security` exposure
#      below 3.0 on the installed unit;
#   4. the daemon starts the way the unit's ExecStartPre/ExecStart do (as
#      User=, in a network namespace of its own), says READY=1 on
#      NOTIFY_SOCKET, judges a message sent with fl-mtest and writes its
#      verdict record; logrotate (the installed file) rotates the verdict
#      log and the daemon reopens it; SIGTERM stops it;
#  4b. systemd-nspawn boots the root: the enabled unit runs under systemd with
#      its whole sandbox (checked in /proc), takes a message, reloads
#      (greylisting on: LMDB in StateDirectory), stops; the journal has it;
#  4c. README.Debian's Postfix recipe, followed: socket inside the chrooted
#      smtpd's /var/spool/postfix, `adduser postfix faultline`, the
#      ReadWritePaths= drop-in; a message through Postfix gets its verdict;
#   5. dpkg -r keeps the conffiles and the state, dpkg -P removes them: the
#      root is then as before the install, except the faultline system user
#      (kept, Debian policy 9.2.2).
# Runs from scripts/test.sh (as root); never skips.  Everything lives under
# WORKDIR (default _build-pkgtest in the checkout), removed on success.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
W=${1:-$TOP/_build-pkgtest}
case $W in /*) ;; *) W=$(pwd)/$W ;; esac
FL_MTEST=${FL_MTEST:-$TOP/_build/tests/fl-mtest}
PY=/usr/bin/python3
FAILS=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
abort() {
	fail "$*"
	exit 1
}
step() { printf '\n-- %s (%ss)\n' "$*" "$SECONDS"; }
echo "== Debian package: build, install into a clean root, run, remove, purge"
[ "$(id -u)" = 0 ] || abort "needs root (debootstrap, chroot, dpkg)"
[ -x "$FL_MTEST" ] || abort "fl-mtest not found: $FL_MTEST (build the tree first)"
for tool in debootstrap dpkg-buildpackage lintian systemd-analyze systemd-nspawn nsenter ip; do
	command -v "$tool" >/dev/null || abort "$tool missing (scripts/deps.sh installs it)"
done

R=$W/root
NS=fl-pkgtest-$$
FL_PID=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$FL_PID" ] && kill -TERM "$FL_PID" 2>/dev/null && wait "$FL_PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[ -n "${NSPAWN_PID:-}" ] && kill "$NSPAWN_PID" 2>/dev/null && wait "$NSPAWN_PID" 2>/dev/null
	umount "$R/proc" 2>/dev/null
	if [ "$rc" = 0 ] && [ "$FAILS" = 0 ]; then rm -rf "$W"; else echo "work directory kept: $W"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
rm -rf "$W"
mkdir -p "$W"
in_root() { DEBIAN_FRONTEND=noninteractive chroot "$R" "$@"; }

# ---- 1. build ------------------------------------------------------------------
step "build"
sh "$TOP/packaging/build-deb.sh" "$W/deb" >"$W/build-deb.out" 2>&1 || {
	cat "$W/build-deb.out"
	abort "packaging/build-deb.sh failed"
}
grep -E '^build-deb.sh|^[EW]:' "$W/build-deb.out"
DEB=$(ls "$W"/deb/faultline_*.deb)
pass "built $(basename "$DEB"); lintian: $(sed -n 's/^build-deb.sh: lintian: //p' "$W/build-deb.out")"

# ---- 2. a clean root -------------------------------------------------------------
step "clean root"
. /etc/os-release
# The apt sources of this machine for its release, as a deb822 file for the
# root (the mirror is read here, never written into the repository).
"$PY" - "$VERSION_CODENAME" >"$W/root.sources" <<'PYEOF' || abort "no apt source for this release"
import glob, sys
codename = sys.argv[1]
stanzas = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for block in open(path).read().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if ":" in line and not line.startswith((" ", "#")):
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
        if fields.get("enabled", "yes") == "no" or "deb" not in fields.get("types", "").split():
            continue
        suites = [s for s in fields.get("suites", "").split() if s.split("-")[0] == codename]
        if fields.get("uris") and suites:
            stanzas.append((fields["uris"], suites, fields.get("components", "main")))
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 4 and words[0] == "deb" and words[2].split("-")[0].split("/")[0] == codename:
            stanzas.append((words[1], [words[2]], " ".join(words[3:])))
if not stanzas:
    sys.exit(1)
for uris, suites, comps in stanzas:
    print("Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n" % (uris, " ".join(suites), comps))
PYEOF
MIRROR=$(sed -n 's/^URIs: //p' "$W/root.sources" | grep -v -- '-security' | head -n 1)
[ -n "$MIRROR" ] || abort "no Debian mirror in this machine's apt sources"
debootstrap --variant=minbase "$VERSION_CODENAME" "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 || {
	tail -20 "$W/debootstrap.log"
	abort "debootstrap failed"
}
rm -f "$R/etc/apt/sources.list"
cp "$W/root.sources" "$R/etc/apt/sources.list.d/debian.sources"
mount -t proc proc "$R/proc" || abort "cannot mount /proc in the root"
cp "$DEB" "$R/tmp/"
RDEB=/tmp/$(basename "$DEB")
in_root apt-get update -q >"$W/apt.log" 2>&1 &&
	in_root apt-get satisfy -y -q --no-install-recommends "$(dpkg-deb -f "$DEB" Depends)" \
		>>"$W/apt.log" 2>&1 &&
	in_root debconf-set-selections <<<"postfix postfix/main_mailer_type select Local only" &&
	in_root apt-get install -y -q --no-install-recommends systemd procps logrotate postfix man-db \
		>>"$W/apt.log" 2>&1 || {
	tail -30 "$W/apt.log"
	abort "installing the dependencies into the root failed"
}
pass "minbase $VERSION_CODENAME root with the package's dependencies (+ systemd, procps, logrotate, postfix, man-db)"

# The root's files with type, owner and mode, minus what dpkg, apt and the
# kernel change on their own.
snapshot() {
	(cd "$R" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp \
		-o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache \
		-o -path ./var/log/apt -o -path ./var/log/dpkg.log -o -path ./var/log/alternatives.log \
		-o -path ./var/lib/systemd -o -path ./var/log/journal -o -path ./etc/machine-id \
		-o -path ./var/log/wtmp -o -path ./var/log/btmp \
		-o -path ./var/log/lastlog -o -path ./var/spool/postfix -o -path ./var/lib/postfix \
		-o -path ./var/mail -o -path ./etc/postfix/main.cf \) \
		-prune -o -printf '%y %u:%g %m %p\n' | LC_ALL=C sort)
}
snapshot >"$W/before.txt"

# ---- 3. install --------------------------------------------------------------------
step "install"
in_root dpkg -i "$RDEB" >"$W/install.log" 2>&1 || {
	cat "$W/install.log"
	abort "dpkg -i failed"
}
pass "dpkg -i $(basename "$DEB")"
missing=""
for f in /usr/sbin/faultline /usr/sbin/faultlinectl /usr/share/man/man8/faultline.8.gz \
	/usr/share/man/man5/faultline.conf.5.gz /usr/share/man/man8/faultlinectl.8.gz /etc/faultline/faultline.conf \
	/lib/systemd/system/faultline.service /etc/logrotate.d/faultline \
	/usr/lib/tmpfiles.d/faultline.conf /usr/share/doc/faultline/README.Debian \
	/usr/share/doc/faultline/copyright; do
	[ -f "$R$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && pass "binaries, man pages, unit, logrotate, tmpfiles, docs installed" ||
	fail "missing:$missing"
conffiles=$(in_root dpkg-query -W -f='${Conffiles}' faultline)
if grep -q '/etc/faultline/faultline.conf' <<<"$conffiles" &&
	grep -q '/etc/logrotate.d/faultline' <<<"$conffiles"; then
	pass "conffiles: /etc/faultline/faultline.conf, /etc/logrotate.d/faultline"
else
	fail "conffiles wrong: $conffiles"
fi
# The conffile is the settings tables' sample (`faultline -d`) with one
# Debian default.
diff <(in_root /usr/sbin/faultline -d | grep -v '^#') <(grep -v '^#' "$R/etc/faultline/faultline.conf") \
	>"$W/conf.diff"
if [ "$(grep -c '^[<>]' "$W/conf.diff")" = 2 ] &&
	grep -q '^> verdict_log = /var/log/faultline/verdicts.jsonl$' "$W/conf.diff"; then
	pass "faultline.conf = faultline -d, except verdict_log = /var/log/faultline/verdicts.jsonl"
else
	cat "$W/conf.diff"
	fail "faultline.conf differs from faultline -d beyond verdict_log"
fi
in_root /usr/sbin/faultline -n -c /etc/faultline/faultline.conf >/dev/null ||
	fail "the installed configuration does not check (faultline -n)"
pw=$(in_root getent passwd faultline)
IFS=: read -r _ _ FL_UID FL_GID _ home shell <<<"$pw"
if [ -n "$pw" ] && [ "$FL_UID" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] &&
	in_root getent group faultline >/dev/null; then
	pass "system user faultline (uid $FL_UID, home $home, $shell) and group"
else
	fail "no system user faultline: '$pw'"
fi
for d in /var/lib/faultline /var/log/faultline /run/faultline; do
	st=$(stat -c '%u:%g %a' "$R$d" 2>/dev/null)
	[ "$st" = "$FL_UID:$FL_GID 750" ] && pass "$d owned by faultline, mode 750" ||
		fail "$d: '$st' (want $FL_UID:$FL_GID 750)"
done
[ -L "$R/etc/systemd/system/multi-user.target.wants/faultline.service" ] &&
	pass "the unit is enabled (multi-user.target.wants)" || fail "the unit is not enabled"
# --man=no: with --root, systemd-analyze would ask the host's man for the
# Documentation= pages; the booted root is verified with them below.
if (cd /tmp && systemd-analyze verify --man=no --root="$R" faultline.service) >"$W/verify.out" 2>&1 &&
	[ ! -s "$W/verify.out" ]; then
	pass "systemd-analyze verify: clean"
else
	cat "$W/verify.out"
	fail "systemd-analyze verify complains"
fi
(cd /tmp && systemd-analyze security --offline=true --root="$R" faultline.service) >"$W/security.out" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for faultline.service: \([0-9.]*\).*/\1/p' "$W/security.out")
echo "   systemd-analyze security: exposure ${exposure:-?}"
grep '✗' "$W/security.out" | sed 's/^/   /'
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e < 3.0) }'; then
	pass "systemd-analyze security: exposure $exposure < 3.0"
else
	cat "$W/security.out"
	fail "systemd-analyze security: exposure '${exposure}' not below 3.0"
fi

# ---- 4. run it the way the unit does ----------------------------------------------
step "run"
UNIT=$R/lib/systemd/system/faultline.service
unit_key() { sed -n "s/^$1=//p" "$UNIT"; }
user=$(unit_key User)
[ "$user" = faultline ] || fail "unit User= is '$user'"
read -r -a pre <<<"$(unit_key ExecStartPre)"
read -r -a start <<<"$(unit_key ExecStart)"
# RuntimeDirectory=faultline (tmpfiles made it already; systemd would too)
install -d -o "$FL_UID" -g "$FL_GID" -m 0750 "$R/run/faultline"
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up || abort "cannot create a network namespace"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns chroot --userspec="$FL_UID:$FL_GID" --groups="$FL_GID" "$R" "${pre[@]}" >"$W/pre.out" 2>&1 &&
	pass "ExecStartPre (${pre[*]}) as $user: $(cat "$W/pre.out")" ||
	fail "ExecStartPre failed: $(cat "$W/pre.out")"
# NOTIFY_SOCKET: a datagram socket inside the root, writable by the daemon.
mkdir -p "$R/run/fl-notify"
"$PY" - "$R/run/fl-notify/notify" >"$W/notify.out" 2>&1 <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.settimeout(60)
while True:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        break
    print(msg.replace("\n", " | "), flush=True)
    if "STOPPING=1" in msg:
        break
PYEOF
NOTIFY_PID=$!
for _ in $(seq 50); do [ -S "$R/run/fl-notify/notify" ] && break; sleep 0.1; done
# (ip netns exec, chroot and env exec: $! is the daemon itself)
ip netns exec "$NS" chroot --userspec="$FL_UID:$FL_GID" --groups="$FL_GID" "$R" \
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET=/run/fl-notify/notify "${start[@]}" \
	</dev/null >"$W/faultline.out" 2>"$W/faultline.err" &
FL_PID=$!
for _ in $(seq 100); do grep -q READY=1 "$W/notify.out" && break; sleep 0.1; done
if grep -q READY=1 "$W/notify.out"; then
	pass "ExecStart (${start[*]}) as $user: READY=1 ($(head -n 1 "$W/notify.out"))"
else
	cat "$W/faultline.err"
	abort "the daemon did not become ready"
fi
[ "$(ps -o uid= -p "$FL_PID" | tr -d ' ')" = "$FL_UID" ] && pass "the daemon runs as faultline (uid $FL_UID)" ||
	fail "the daemon does not run as faultline: $(ps -o uid=,args= -p "$FL_PID")"
socket=$(sed -n 's/^socket = //p' "$R/etc/faultline/faultline.conf")
send() {
	in_ns "$FL_MTEST" -s "$socket" -q "$1" -i 192.0.2.1 -f sender@example.com \
		"$TOP/tests/msgs/simple.eml" >"$W/mtest.$1.out" 2>&1
}
send FLPKG00001 || { cat "$W/mtest.FLPKG00001.out"; fail "fl-mtest session failed"; }
grep -q '^eom insheader 0 Authentication-Results:' "$W/mtest.FLPKG00001.out" &&
	pass "a message through the installed daemon gets an Authentication-Results header" ||
	{ cat "$W/mtest.FLPKG00001.out"; fail "no Authentication-Results header"; }
VLOG=$R/var/log/faultline/verdicts.jsonl
grep -q '"queue_id": *"FLPKG00001"' "$VLOG" 2>/dev/null && [ "$(stat -c %u "$VLOG")" = "$FL_UID" ] &&
	pass "verdict record for FLPKG00001 in /var/log/faultline/verdicts.jsonl (owner uid $(stat -c %u "$VLOG"))" ||
	fail "no verdict record for FLPKG00001 in $VLOG"
# logrotate with the installed file: rename, SIGHUP, the daemon reopens.
in_root logrotate -f -s /tmp/logrotate.state /etc/logrotate.d/faultline >"$W/logrotate.out" 2>&1 ||
	fail "logrotate -f /etc/logrotate.d/faultline: $(cat "$W/logrotate.out")"
sleep 0.5
send FLPKG00002 || fail "fl-mtest session after the rotation failed"
if grep -q FLPKG00001 "$VLOG.1" 2>/dev/null && grep -q FLPKG00002 "$VLOG" 2>/dev/null &&
	! grep -q FLPKG00002 "$VLOG.1"; then
	pass "logrotate: the old record in verdicts.jsonl.1, the next one in a reopened verdicts.jsonl"
else
	ls -l "$R/var/log/faultline"
	fail "logrotate: the daemon did not reopen its verdict log"
fi
kill -TERM "$FL_PID"
wait "$FL_PID"
rc=$?
FL_PID=
wait "$NOTIFY_PID" 2>/dev/null
[ "$rc" = 0 ] && grep -q STOPPING=1 "$W/notify.out" && pass "SIGTERM: STOPPING=1, exit 0" ||
	fail "SIGTERM: rc=$rc, notifications: $(tr '\n' ' ' <"$W/notify.out")"
rm -rf "$R/run/fl-notify"
ip netns del "$NS"

# ---- 4b. under systemd: the unit with its whole sandbox -------------------------------
# systemd-nspawn boots the root (its own network namespace, systemd as PID 1):
# the enabled unit starts at boot with seccomp, PrivateUsers, ProtectSystem,
# no capabilities; systemctl, journalctl and fl-mtest reach it with nsenter.
step "under systemd (systemd-nspawn --boot)"
umount "$R/proc" # nspawn mounts its own
systemd-nspawn -q -D "$R" --boot --private-network --register=no --keep-unit \
	--console=passive >"$W/nspawn.log" 2>&1 &
NSPAWN_PID=$!
LEADER=
for _ in $(seq 100); do
	LEADER=$(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null | tr -d ' ' | head -n 1)
	[ -n "$LEADER" ] && nsenter -t "$LEADER" -a systemctl is-system-running --wait >/dev/null 2>&1 && break
	[ -n "$LEADER" ] && [ "$(nsenter -t "$LEADER" -a systemctl is-system-running 2>/dev/null)" = degraded ] && break
	sleep 0.3
done
in_box() { nsenter -t "$LEADER" -a "$@"; }
in_box_net() { nsenter -t "$LEADER" -n "$@"; } # host binaries, the box's network
prop() { in_box systemctl show -p "$1" --value faultline.service; }
if [ -n "$LEADER" ] && [ "$(in_box systemctl is-active faultline.service)" = active ]; then
	pass "booted: faultline.service is active (Type=$(prop Type), $(prop StatusText))"
else
	tail -30 "$W/nspawn.log"
	in_box systemctl status faultline.service 2>&1 | tail -20
	fail "faultline.service is not active after boot"
fi
# Inside the booted root, verify also finds the man pages of Documentation=.
if in_box systemd-analyze verify faultline.service >"$W/verify-box.out" 2>&1 && [ ! -s "$W/verify-box.out" ]; then
	pass "systemd-analyze verify in the booted root (man pages included): clean"
else
	cat "$W/verify-box.out"
	fail "systemd-analyze verify in the booted root complains"
fi
MAIN=$(prop MainPID)
sandbox=$(in_box grep -E '^(Uid|NoNewPrivs|Seccomp|CapEff|CapBnd):' "/proc/$MAIN/status" | tr -s '\t ' ' ' | tr '\n' ' ')
echo "   main pid $MAIN: $sandbox"
if grep -q "Uid: $FL_UID " <<<"$sandbox" && grep -q 'NoNewPrivs: 1' <<<"$sandbox" &&
	grep -q 'Seccomp: 2' <<<"$sandbox" && grep -q 'CapBnd: 0000000000000000' <<<"$sandbox"; then
	pass "the daemon runs sandboxed: uid faultline, no_new_privs, seccomp filter, no capabilities"
else
	fail "the daemon is not sandboxed as the unit says"
fi
in_box_net "$FL_MTEST" -s "$socket" -q FLPKG00003 -i 192.0.2.1 "$TOP/tests/msgs/simple.eml" >"$W/mtest.3.out" 2>&1 &&
	grep -q '^eom insheader 0 Authentication-Results:' "$W/mtest.3.out" && grep -q FLPKG00003 "$VLOG" &&
	pass "a message through the unit's daemon: AR header, verdict record" ||
	{ cat "$W/mtest.3.out"; fail "no message through the unit's daemon"; }
# Greylisting switched on by a reload: the LMDB store in StateDirectory.
sed -i 's/^greylist_enable = no$/greylist_enable = yes/' "$R/etc/faultline/faultline.conf"
in_box systemctl reload faultline.service || fail "systemctl reload failed"
[ "$(prop StatusText)" = "configuration reloaded" ] && [ "$(prop ActiveState)" = active ] &&
	pass "systemctl reload: RELOADING/READY, $(prop StatusText)" ||
	fail "after systemctl reload: $(prop ActiveState), '$(prop StatusText)'"
in_box_net "$FL_MTEST" -s "$socket" -q FLPKG00004 -i 192.0.2.77 "$TOP/tests/msgs/simple.eml" >"$W/mtest.4.out" 2>&1
if grep -q '^rcpt [a-z]* 451 4\.7\.1 ' "$W/mtest.4.out" && ls "$R/var/lib/faultline/greylist/"*.mdb >/dev/null 2>&1; then
	pass "greylisting under ProtectSystem=strict: first attempt deferred, LMDB store in /var/lib/faultline/greylist"
else
	cat "$W/mtest.4.out"
	ls -lR "$R/var/lib/faultline"
	fail "greylisting does not work under the unit"
fi
in_box systemctl stop faultline.service
[ "$(prop ActiveState)" = inactive ] && [ "$(prop ExecMainStatus)" = 0 ] &&
	pass "systemctl stop: inactive, exit status 0" ||
	fail "systemctl stop: $(prop ActiveState), status $(prop ExecMainStatus)"
in_box journalctl -u faultline.service --no-pager -o cat >"$W/journal.txt" 2>&1
for line in "listening on" "configuration reloaded" "FLPKG00003: verdict action=accept" "stopped"; do
	grep -q "$line" "$W/journal.txt" && pass "journal: '$line'" || fail "journal lacks '$line'"
done
# ---- 4c. Postfix with its smtpd chroot, wired as README.Debian says ---------------------
step "Postfix (chrooted smtpd) and a unix socket, following README.Debian"
[ "$(in_box postconf -h -F smtp/inet/chroot)" = y ] || fail "Debian's smtpd is not chrooted here"
in_box install -d -o faultline -g postfix -m 0750 /var/spool/postfix/faultline
in_box adduser --quiet postfix faultline
sed -i -e 's|^socket = .*|socket = unix:/var/spool/postfix/faultline/faultline.sock|' \
	-e 's/^greylist_enable = yes$/greylist_enable = no/' "$R/etc/faultline/faultline.conf"
mkdir -p "$R/etc/systemd/system/faultline.service.d"
printf '[Service]\nReadWritePaths=/var/spool/postfix/faultline\n' \
	>"$R/etc/systemd/system/faultline.service.d/postfix.conf"
in_box postconf -e 'smtpd_milters = unix:/faultline/faultline.sock' \
	'non_smtpd_milters = $smtpd_milters' 'milter_default_action = tempfail' 'milter_protocol = 6'
in_box systemctl daemon-reload
in_box systemctl start faultline.service
in_box systemctl restart postfix.service
for _ in $(seq 50); do
	[ -S "$R/var/spool/postfix/faultline/faultline.sock" ] && break
	sleep 0.2
done
sock=$(stat -c 'uid %u gid %g, %a' "$R/var/spool/postfix/faultline/faultline.sock" 2>/dev/null)
[ "$(prop ActiveState)" = active ] && [ -n "$sock" ] &&
	pass "faultline.service with the drop-in: socket /var/spool/postfix/faultline/faultline.sock (mode $sock)" ||
	{ in_box journalctl -u faultline.service --no-pager | tail; fail "no socket in the Postfix chroot"; }
in_box_net ip addr add 192.0.2.9/32 dev lo
for _ in $(seq 50); do in_box_net bash -c '(exec 3<>/dev/tcp/127.0.0.1/25)' 2>/dev/null && break; sleep 0.2; done
printf 'From: sender@example.com\nTo: root@localhost\nSubject: through the chroot\nMessage-ID: <fl-pkg-chroot@e2e>\n\nbody\n' \
	>"$W/chroot.eml"
in_box_net swaks --server 127.0.0.1 --port 25 --local-interface 192.0.2.9 --ehlo client.example \
	--from sender@example.com --to root@localhost --data "@$W/chroot.eml" --no-hints \
	>"$W/swaks.chroot" 2>&1 || { cat "$W/swaks.chroot"; fail "Postfix did not accept the message"; }
PQID=$(sed -n -E 's/^(<[~-]* *)?250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+).*/\2/p' "$W/swaks.chroot")
for _ in $(seq 100); do grep -q 'fl-pkg-chroot@e2e' "$R/var/mail/root" 2>/dev/null && break; sleep 0.2; done
if [ -n "$PQID" ] && grep -q "\"queue_id\": *\"$PQID\"" "$VLOG" &&
	sed -n '1,/^$/p' "$R/var/mail/root" 2>/dev/null | grep -q '^Authentication-Results: '; then
	pass "through Postfix's chrooted smtpd: delivered with Authentication-Results, verdict keyed by Postfix queue id $PQID"
else
	cat "$W/swaks.chroot"
	in_box journalctl -u postfix@- --no-pager 2>/dev/null | tail
	fail "no milter verdict for the message through Postfix's chroot (queue id '$PQID')"
fi
# The administrator's steps undone (the purge check below expects that).
in_box systemctl stop postfix.service faultline.service
in_box postconf -X smtpd_milters non_smtpd_milters milter_default_action milter_protocol
in_box deluser --quiet postfix faultline
rm -rf "$R/var/spool/postfix/faultline" "$R/etc/systemd/system/faultline.service.d"

kill -RTMIN+4 "$LEADER" # systemd: power off
for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$NSPAWN_PID" 2>/dev/null && { kill "$NSPAWN_PID"; fail "the container did not power off"; }
wait "$NSPAWN_PID" 2>/dev/null
NSPAWN_PID=
mount -t proc proc "$R/proc" || abort "cannot mount /proc in the root"

# ---- 5. remove, purge ----------------------------------------------------------------
step "remove and purge"
in_root dpkg -r faultline >"$W/remove.log" 2>&1 || { cat "$W/remove.log"; fail "dpkg -r failed"; }
if [ ! -e "$R/usr/sbin/faultline" ] && [ -f "$R/etc/faultline/faultline.conf" ] &&
	[ -d "$R/var/lib/faultline" ]; then
	pass "dpkg -r: binaries gone, conffile and state kept"
else
	fail "dpkg -r left the wrong things"
fi
in_root dpkg -P faultline >"$W/purge.log" 2>&1 || { cat "$W/purge.log"; fail "dpkg -P failed"; }
snapshot >"$W/after.txt"
# adduser keeps backups of the user database; the user itself stays.
diff "$W/before.txt" "$W/after.txt" |
	grep -E '^[<>]' | grep -v -E ' \./etc/(passwd|group|shadow|gshadow)-?$' >"$W/leftover.txt"
if [ ! -s "$W/leftover.txt" ]; then
	pass "dpkg -P: the root is as before the install, but for the faultline user ($(in_root getent passwd faultline | cut -d: -f1,3))"
else
	cat "$W/leftover.txt"
	fail "dpkg -P left files behind (or removed others)"
fi
in_root dpkg-query -W faultline >/dev/null 2>&1 && fail "dpkg still knows faultline"
step "done"
[ "$FAILS" = 0 ]
