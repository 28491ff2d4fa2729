# shellcheck shell=bash
# tests/e2e/postfix_lib.sh -- run a private, throw-away Postfix instance
# (plus an smtp-sink "delivery" target) for end-to-end milter tests.
#
# Source this file from bash.  Everything lives under one directory; the
# system's default Postfix instance (/etc/postfix, /var/spool/postfix) is
# never started, stopped or edited.  Needs root (Postfix's master runs as
# root and drops to mail_owner = postfix).
#
# Functions:
#   pf_install_if_absent          install postfix + swaks if missing (apt)
#   pf_free_port                  print a free 127.0.0.1 TCP port
#   pf_wait_port PORT [TIMEOUT [PID]]  wait until 127.0.0.1:PORT listens
#   pf_start DIR MILTER_SPEC      start smtp-sink + private Postfix under DIR;
#                                 exports PF_DIR PF_PORT PF_SINK_PORT PF_CONF
#                                 PF_MASTER_PID
#                                 (MILTER_SPEC may be empty: no milter)
#   pf_send FROM RCPT MSGFILE [XCLIENT_ADDR] [XCLIENT_HELO] [XCLIENT_NAME]
#                                 submit via swaks; returns swaks' status; the
#                                 transcript is in $PF_LAST_TRANSCRIPT
#   pf_wait_delivered N [TIMEOUT] wait until N messages reached the sink
#   pf_sink_files                 list delivered message files (oldest first)
#   pf_queue_id_for_msgid MSGID   Postfix queue id of the message whose
#                                 Message-ID is <MSGID> (from the maillog)
#   pf_flush                      postqueue -f for the private instance
#   pf_maillog_tail [N]           print the last N maillog lines
#   pf_stop                       stop Postfix and smtp-sink, no leftovers
#   pf_leftover_pids              Postfix processes of this instance still alive
#   pf_cleanup_trap               pf_stop + run PF_EXTRA_CLEANUP (for traps)

PF_PYTHON=${PF_PYTHON:-/usr/bin/python3}
PF_SBIN=${PF_SBIN:-/usr/sbin}

pf_log() { printf '%s\n' "pf: $*" >&2; }

# Assertions of the e2e test scripts: pass/fail print one line each and
# count failures in FAILS; abort fails and exits.
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

pf_install_if_absent() {
	if [ -x "$PF_SBIN/postfix" ] && [ -x "$PF_SBIN/smtp-sink" ]; then
		if command -v swaks >/dev/null 2>&1; then
			return 0
		fi
	fi
	if [ "$(id -u)" != 0 ]; then
		pf_log "postfix/swaks missing and not root; cannot install"
		return 1
	fi
	pf_log "installing postfix and swaks (no configuration, not started)"
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections || return 1
	local rc=0
	# "No configuration": the package creates no main.cf and starts nothing.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		postfix swaks || rc=$?
	return $rc
}

pf_free_port() {
	"$PF_PYTHON" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# pf_port_listening PORT: true if a TCP socket listens on 127.0.0.1:PORT or
# 0.0.0.0:PORT (read from /proc/net/tcp, so the service never sees a probe
# connection).  Falls back to a connect() probe without /proc.
pf_port_listening() {
	local hex
	if [ -r /proc/net/tcp ]; then
		hex=$(printf '%04X' "$1")
		awk -v a="0100007F:$hex" -v b="00000000:$hex" \
			'NR > 1 && ($2 == a || $2 == b) && $4 == "0A" { f = 1 } END { exit !f }' \
			/proc/net/tcp
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# pf_wait_port PORT [TIMEOUT [PID]]: wait until 127.0.0.1:PORT listens; give
# up early if PID (the process expected to listen) has exited.
pf_wait_port() {
	local port=$1 timeout=${2:-20} pid=${3:-} i=0
	while ! pf_port_listening "$port"; do
		if [ -n "$pid" ] && ! _pf_pid_alive "$pid"; then
			pf_log "process $pid exited before listening on 127.0.0.1:$port"
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -gt $((timeout * 10)) ]; then
			pf_log "port 127.0.0.1:$port not listening after ${timeout}s"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

_pf_write_main_cf() {
	local dir=$1 milter=$2
	cat >"$dir/etc/main.cf" <<EOF
# Private Postfix instance for faultline end-to-end tests (generated).
compatibility_level = 3.6
config_directory = $dir/etc
queue_directory = $dir/queue
data_directory = $dir/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-faultline-e2e
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
multi_instance_enable = no

myhostname = mx.faultline.example
mydomain = faultline.example
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:local delivery disabled
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mynetworks_style = host

# No DNS anywhere: the client name is never looked up, the next hop is a
# literal address.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native

# Accept mail for faultline.example from anyone (so XCLIENT-presented
# external clients can send), everything else only from loopback.
relay_domains = faultline.example
relay_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, permit_auth_destination, reject
smtpd_recipient_restrictions =
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP faultline-e2e

# Every delivery goes to smtp-sink.
relayhost = [127.0.0.1]:${PF_NEXT_HOP_PORT:-$PF_SINK_PORT}
default_transport = smtp:[127.0.0.1]:${PF_NEXT_HOP_PORT:-$PF_SINK_PORT}
relay_transport = smtp:[127.0.0.1]:${PF_NEXT_HOP_PORT:-$PF_SINK_PORT}
smtp_tls_security_level = none
smtpd_tls_security_level = none

# The milter under test.
smtpd_milters = $milter
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6

# Quick retries for requeue tests; no bounces for deferred mail.
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
delay_warning_time = 0
smtp_connect_timeout = 5s
EOF
}

_pf_write_master_cf() {
	local dir=$1
	cat >"$dir/etc/master.cf" <<EOF
# Private Postfix instance for faultline end-to-end tests (generated).
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# pf_start DIR MILTER_SPEC: a private instance delivering to its own
# smtp-sink -- or, with PF_NEXT_HOP_PORT set, relaying everything to another
# SMTP server on 127.0.0.1 at that port (e.g. a second private instance).
pf_start() {
	local dir=${1:-} milter=${2:-}
	if [ -z "$dir" ]; then
		pf_log "usage: pf_start DIR MILTER_SPEC"
		return 1
	fi
	case $dir in
	/*) ;;
	*) dir=$(pwd)/$dir ;;
	esac
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd -P)
	export PF_DIR=$dir
	export PF_CONF=$dir/etc
	# The postfix user must be able to reach the queue directory.
	chmod 755 "$dir"
	mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/sink" "$dir/transcripts"
	chown root:root "$dir/etc" "$dir/queue"
	chmod 755 "$dir/etc" "$dir/queue"
	chown postfix: "$dir/data" "$dir/sink"
	chmod 700 "$dir/data"
	: >"$dir/maillog"

	export PF_SINK_PORT PF_PORT
	PF_SINK_PORT=$(pf_free_port) || return 1
	PF_PORT=$(pf_free_port) || return 1
	while [ "$PF_PORT" = "$PF_SINK_PORT" ]; do
		PF_PORT=$(pf_free_port) || return 1
	done

	_pf_write_main_cf "$dir" "$milter"
	_pf_write_master_cf "$dir"

	# The delivery target: one file per delivered message.
	"$PF_SBIN/smtp-sink" -u postfix -h sink.faultline.example \
		-d "$dir/sink/%Y%m%d%H%M%S." "127.0.0.1:$PF_SINK_PORT" 64 \
		>"$dir/smtp-sink.log" 2>&1 &
	PF_SINK_PID=$!
	echo "$PF_SINK_PID" >"$dir/smtp-sink.pid"
	export PF_SINK_PID
	if ! pf_wait_port "$PF_SINK_PORT" 10 "$PF_SINK_PID"; then
		pf_log "smtp-sink did not start:"
		cat "$dir/smtp-sink.log" >&2
		return 1
	fi

	# 'postfix check' creates the missing queue subdirectories with the
	# right owners and warns about anything odd.
	if ! "$PF_SBIN/postfix" -c "$PF_CONF" check >"$dir/postfix-check.log" 2>&1; then
		pf_log "postfix check failed:"
		cat "$dir/postfix-check.log" >&2
		return 1
	fi
	if ! "$PF_SBIN/postfix" -c "$PF_CONF" start >"$dir/postfix-start.log" 2>&1; then
		pf_log "postfix start failed:"
		cat "$dir/postfix-start.log" >&2
		pf_maillog_tail 30
		return 1
	fi
	if ! pf_wait_port "$PF_PORT" 20; then
		pf_log "private Postfix smtpd is not listening on $PF_PORT"
		pf_maillog_tail 30
		return 1
	fi
	PF_MASTER_PID=$(tr -dc '0-9' <"$dir/queue/pid/master.pid" 2>/dev/null)
	export PF_MASTER_PID
	pf_log "private Postfix up: dir=$dir smtpd=127.0.0.1:$PF_PORT sink=127.0.0.1:$PF_SINK_PORT milter='${milter}'"
	return 0
}

pf_maillog_tail() {
	local n=${1:-40}
	if [ -n "$PF_DIR" ] && [ -f "$PF_DIR/maillog" ]; then
		printf '%s\n' "---- last $n maillog lines ($PF_DIR/maillog) ----" >&2
		tail -n "$n" "$PF_DIR/maillog" >&2
		printf '%s\n' "---- end of maillog ----" >&2
	fi
}

PF_SEND_SEQ=0
pf_send() {
	local from=$1 rcpt=$2 msg=$3 xaddr=${4:-} xhelo=${5:-} xname=${6:-}
	local -a args
	PF_SEND_SEQ=$((PF_SEND_SEQ + 1))
	PF_LAST_TRANSCRIPT=$PF_DIR/transcripts/swaks.$PF_SEND_SEQ.txt
	export PF_LAST_TRANSCRIPT
	args=(--server 127.0.0.1 --port "$PF_PORT" --from "$from" --to "$rcpt"
		--data "@$msg" --timeout 60 --no-hints --suppress-data)
	if [ -n "$xaddr" ]; then
		args+=(--xclient-addr "$xaddr")
		# Without NAME Postfix would not look it up (peername lookup is
		# off) anyway; say so explicitly.
		args+=(--xclient-name "${xname:-[UNAVAILABLE]}")
	elif [ -n "$xname" ]; then
		args+=(--xclient-name "$xname")
	fi
	if [ -n "$xhelo" ]; then
		# The EHLO sent after XCLIENT overrides XCLIENT's HELO, so send the
		# same name in both.
		args+=(--xclient-helo "$xhelo" --ehlo "$xhelo")
	fi
	local rc=0
	swaks "${args[@]}" >"$PF_LAST_TRANSCRIPT" 2>&1 || rc=$?
	return $rc
}

pf_sink_files() {
	# File names start with a timestamp; sort by modification time so that
	# two messages delivered within the same second keep their order.
	# shellcheck disable=SC2012
	ls -1tr "$PF_DIR/sink" 2>/dev/null | sed "s|^|$PF_DIR/sink/|"
}

pf_sent_count() {
	local n
	n=$(grep -c ' status=sent ' "$PF_DIR/maillog" 2>/dev/null) || n=0
	echo "${n:-0}"
}

pf_wait_delivered() {
	local want=$1 timeout=${2:-30} i=0 files sent
	while :; do
		files=$(pf_sink_files | wc -l)
		sent=$(pf_sent_count)
		# "status=sent" is logged after smtp-sink acknowledged the DATA,
		# i.e. after the capture file was complete.
		if [ "$files" -ge "$want" ] && [ "$sent" -ge "$want" ]; then
			return 0
		fi
		i=$((i + 1))
		if [ "$i" -gt $((timeout * 10)) ]; then
			pf_log "timeout: $files/$want messages in sink ($sent status=sent) after ${timeout}s"
			pf_maillog_tail 40
			return 1
		fi
		sleep 0.1
	done
}

# pf_wait_log FILE PATTERN [SECONDS]: waits until FILE has a line matching
# the fixed string PATTERN.  A record written when the SMTP transaction ends
# (a refused recipient's verdict) can come a moment after the client's view.
pf_wait_log() {
	_n=$(( ${3:-10} * 10 ))
	while [ "$_n" -gt 0 ]; do
		grep -qF "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

pf_queue_id_for_msgid() {
	local msgid=$1
	# cleanup[123]: 4F2A31C0D2: message-id=<...>
	grep -F "message-id=<$msgid>" "$PF_DIR/maillog" 2>/dev/null |
		sed -n 's/.*: \([0-9A-Za-z]\{6,\}\): message-id=<.*/\1/p' | tail -n 1
}

pf_flush() {
	"$PF_SBIN/postqueue" -c "$PF_CONF" -f
}

# _pf_pid_alive PID: true if PID exists and is not a zombie (in containers
# whose PID 1 does not reap, dead daemons linger as zombies).
_pf_pid_alive() {
	local st
	[ -n "${1:-}" ] || return 1
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in
	Z* | "") return 1 ;;
	esac
	return 0
}

# _pf_group_pids PGID: live (non-zombie) processes in process group PGID.
_pf_group_pids() {
	ps -e -o pid=,pgid=,stat= 2>/dev/null |
		awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

pf_stop() {
	local master_pid=${PF_MASTER_PID:-} i pids
	[ -n "${PF_DIR:-}" ] || return 0
	if [ -z "$master_pid" ] && [ -f "$PF_DIR/queue/pid/master.pid" ]; then
		master_pid=$(tr -dc '0-9' <"$PF_DIR/queue/pid/master.pid")
	fi
	if [ -n "$master_pid" ] && _pf_pid_alive "$master_pid"; then
		"$PF_SBIN/postfix" -c "$PF_CONF" stop >/dev/null 2>&1
		for i in $(seq 1 100); do
			_pf_pid_alive "$master_pid" || break
			sleep 0.1
		done
		if _pf_pid_alive "$master_pid"; then
			"$PF_SBIN/postfix" -c "$PF_CONF" abort >/dev/null 2>&1
			sleep 0.5
		fi
		# master leads a process group shared by all its daemons; give them
		# a moment to exit after master is gone, then kill stragglers.
		for i in $(seq 1 50); do
			pids=$(_pf_group_pids "$master_pid")
			[ -z "$pids" ] && break
			sleep 0.1
		done
		pids=$(_pf_group_pids "$master_pid")
		if [ -n "$pids" ]; then
			pf_log "killing leftover Postfix processes: ${pids//$'\n'/ }"
			# shellcheck disable=SC2086
			kill -9 $pids 2>/dev/null
		fi
	fi
	if [ -z "${PF_SINK_PID:-}" ] && [ -f "$PF_DIR/smtp-sink.pid" ]; then
		PF_SINK_PID=$(cat "$PF_DIR/smtp-sink.pid")
	fi
	if _pf_pid_alive "${PF_SINK_PID:-}"; then
		kill "$PF_SINK_PID" 2>/dev/null
		for i in $(seq 1 30); do
			_pf_pid_alive "$PF_SINK_PID" || break
			sleep 0.1
		done
		_pf_pid_alive "$PF_SINK_PID" && kill -9 "$PF_SINK_PID" 2>/dev/null
		wait "$PF_SINK_PID" 2>/dev/null
	fi
	rm -f "$PF_DIR/smtp-sink.pid"
	PF_SINK_PID=
	return 0
}

# pf_dns_start DIR [ZONES...]: starts the hermetic test DNS server
# (tests/dns/fakedns.py) on a free loopback port with the fixture zones (or
# the zone files or directories in $PF_DNS_BASE_ZONES instead, e.g. the
# demo's) and any extra zone files or directories given; exports PF_DNS_ADDR
# ("127.0.0.1@PORT", the form of faultline's dns_forwarders) and PF_DNS_PID.
pf_dns_start() {
	local dir=$1 i port
	local src=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	local base=${PF_DNS_BASE_ZONES:-$src/tests/dns/zones}
	mkdir -p "$dir"
	rm -f "$dir/ready"
	/usr/bin/python3 "$src/tests/dns/fakedns.py" --port 0 --zones "$base" "${@:2}" \
		--ready-file "$dir/ready" --log "$dir/queries.log" >"$dir/fakedns.out" 2>&1 &
	PF_DNS_PID=$!
	for i in $(seq 1 100); do
		[ -s "$dir/ready" ] && break
		sleep 0.1
	done
	port=$(tr -dc '0-9' <"$dir/ready" 2>/dev/null)
	[ -n "$port" ] || { cat "$dir/fakedns.out" >&2; return 1; }
	PF_DNS_ADDR="127.0.0.1@$port"
	export PF_DNS_ADDR PF_DNS_PID
}

pf_dns_stop() {
	if _pf_pid_alive "${PF_DNS_PID:-}"; then
		kill "$PF_DNS_PID" 2>/dev/null
		wait "$PF_DNS_PID" 2>/dev/null
	fi
	PF_DNS_PID=
}

# pf_faultline_start DIR [CONF-LINES]: writes DIR/faultline.conf -- a free
# loopback port, no user switch, log to stderr (DIR/faultline.log), verdict
# records in DIR/verdicts.jsonl, DNS through the test DNS server when
# pf_dns_start ran -- plus CONF-LINES, and starts $FAULTLINE -f with it;
# exports FL_PORT and FL_PID.  pf_faultline_stop stops it.
pf_faultline_start() {
	local dir=$1 extra=${2:-}
	FL_PORT=$(pf_free_port) || return 1
	{
		echo "socket = inet:$FL_PORT@127.0.0.1"
		echo "user ="
		echo "pidfile = $dir/faultline.pid"
		echo "stats_file ="
		echo "log = stderr"
		echo "authserv_id = mx.faultline.example"
		echo "verdict_log = $dir/verdicts.jsonl"
		if [ -n "${PF_DNS_ADDR:-}" ]; then echo "dns_forwarders = $PF_DNS_ADDR"; fi
		printf '%s\n' "$extra"
	} >"$dir/faultline.conf"
	"$FAULTLINE" -f -c "$dir/faultline.conf" </dev/null >"$dir/faultline.out" 2>"$dir/faultline.log" &
	FL_PID=$!
	export FL_PORT FL_PID
	if ! pf_wait_port "$FL_PORT" 20 "$FL_PID"; then
		pf_log "faultline did not start:"
		cat "$dir/faultline.log" >&2
		return 1
	fi
}

pf_faultline_stop() {
	if _pf_pid_alive "${FL_PID:-}"; then
		kill -TERM "$FL_PID" 2>/dev/null
		wait "$FL_PID" 2>/dev/null
	fi
	FL_PID=
}

pf_leftover_pids() {
	[ -n "${PF_MASTER_PID:-}" ] || return 0
	_pf_group_pids "$PF_MASTER_PID"
	if [ -n "${PF_SINK_PID:-}" ] && _pf_pid_alive "$PF_SINK_PID"; then
		echo "$PF_SINK_PID"
	fi
}

pf_cleanup_trap() {
	local rc=$?
	if [ -n "${PF_EXTRA_CLEANUP:-}" ]; then
		eval "$PF_EXTRA_CLEANUP"
	fi
	pf_stop
	return $rc
}

# pf_e2e_begin NAME: the common start of a one-instance end-to-end script
# (the caller set HERE and sourced this file): the daemon binary in
# $FAULTLINE, Postfix installed, a work directory $T readable by Postfix,
# $FL_PID for the daemon, and an EXIT trap that stops Postfix, the daemon
# and the DNS server and keeps $T when the script failed.
pf_e2e_begin() {
	FAULTLINE=${FAULTLINE:-${top_builddir:-$HERE/../..}/milter/faultline}
	[ -x "$FAULTLINE" ] || abort "faultline daemon not found: $FAULTLINE"
	pf_install_if_absent || abort "postfix/swaks not available"
	T=$(mktemp -d "/tmp/faultline-e2e-$1.XXXXXX") || exit 1
	chmod 755 "$T"
	FL_PID=
	trap _pf_e2e_cleanup EXIT
	trap 'exit 1' INT TERM
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
_pf_e2e_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	pf_stop
	if [ -n "$FL_PID" ] && _pf_pid_alive "$FL_PID"; then
		kill -TERM "$FL_PID" 2>/dev/null
		wait "$FL_PID" 2>/dev/null
	fi
	pf_dns_stop
	if [ "$rc" = 0 ]; then rm -rf "$T"; else echo "work directory kept: $T"; fi
	exit "$rc"
}
