#!/bin/bash
# scripts/demo.sh -- see faultline work in one command (as root):
#
#     sudo ./scripts/demo.sh          run the demo, stop everything, exit
#     sudo ./scripts/demo.sh --keep   leave it running until Ctrl-C
#
# On a fresh Debian 12 it installs what is missing, builds faultline if it is
# not built yet, creates the 'faultline' system user, starts the milter with
# its built-in defaults (socket inet:8895@127.0.0.1, user faultline, log to
# stderr), starts a throw-away private Postfix instance under /tmp wired to
# it, sends one message "from" 192.0.2.7 via XCLIENT and shows the
# Authentication-Results header and faultline's verdict.  The system's own
# Postfix (/etc/postfix) is neither configured nor started nor stopped.

# shellcheck source-path=SCRIPTDIR
set -u

KEEP=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,12s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "usage: $0 [--keep]" >&2
		exit 2
		;;
	esac
done

heading() {
	if [ -t 1 ]; then
		printf '\n\033[1m== %s\033[0m\n' "$*"
	else
		printf '\n== %s\n' "$*"
	fi
}
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "run me as root: sudo $0"

ROOT=$(cd "$(dirname "$0")/.." && pwd) || die "cannot find the source tree"
cd "$ROOT" || die "cannot cd to $ROOT"

MILTER_PORT=8895
# FAULTLINE= may point at another build of the daemon.
FAULTLINE=${FAULTLINE:-$ROOT/milter/faultline}

# ---------------------------------------------------------------------------
heading "1. Packages"
sh "$ROOT/scripts/deps.sh" --build || die "installing the packages failed"

# shellcheck source=../tests/e2e/postfix_lib.sh
. "$ROOT/tests/e2e/postfix_lib.sh"

# ---------------------------------------------------------------------------
heading "2. Build"
if [ -x "$FAULTLINE" ]; then
	echo "milter/faultline is already built"
else
	if [ ! -f Makefile ]; then
		echo "+ autoreconf -fi && ./configure"
		autoreconf -fi || die "autoreconf failed"
		./configure || die "configure failed"
	fi
	echo "+ make -j2"
	make -j2 || die "make failed"
	[ -x "$FAULTLINE" ] || die "build finished but $FAULTLINE is missing"
fi

# ---------------------------------------------------------------------------
heading "3. System user"
if getent passwd faultline >/dev/null; then
	echo "user 'faultline' exists"
else
	if command -v adduser >/dev/null 2>&1; then
		adduser --system --group --no-create-home faultline || die "adduser failed"
	else
		useradd --system --user-group --no-create-home --shell /usr/sbin/nologin \
			faultline || die "useradd failed"
	fi
	echo "created system user 'faultline'"
fi
# Default pidfile is /run/faultline/faultline.pid.
install -d -o faultline -g faultline -m 755 /run/faultline

# ---------------------------------------------------------------------------
W=$(mktemp -d /tmp/faultline-demo.XXXXXX) || die "mktemp failed"
chmod 755 "$W"
FL_PID=

# shellcheck disable=SC2317 # reached via the EXIT trap
stop_all() {
	trap - EXIT INT TERM
	heading "Stopping"
	pf_stop
	if [ -n "$FL_PID" ] && _pf_pid_alive "$FL_PID"; then
		kill -TERM "$FL_PID" 2>/dev/null
		for _ in $(seq 1 100); do
			_pf_pid_alive "$FL_PID" || break
			sleep 0.1
		done
		_pf_pid_alive "$FL_PID" && kill -9 "$FL_PID" 2>/dev/null
		wait "$FL_PID" 2>/dev/null
	fi
	echo "stopped faultline, the private Postfix and smtp-sink"
	echo "logs and the delivered message are kept in $W"
}
# shellcheck disable=SC2317 # trap handlers
on_exit() {
	local rc=$?
	stop_all
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

heading "4. Starting faultline (built-in defaults: inet:$MILTER_PORT@127.0.0.1, user faultline)"
if [ -e /etc/faultline/faultline.conf ]; then
	echo "note: /etc/faultline/faultline.conf exists and will be used;"
	echo "      the demo expects the milter on 127.0.0.1:$MILTER_PORT"
fi
if pf_port_listening "$MILTER_PORT"; then
	die "something already listens on 127.0.0.1:$MILTER_PORT (another faultline?); stop it first"
fi
echo "+ milter/faultline -f   (stderr -> $W/faultline.log)"
"$FAULTLINE" -f </dev/null >"$W/faultline.stdout" 2>"$W/faultline.log" &
FL_PID=$!
if ! pf_wait_port "$MILTER_PORT" 20 "$FL_PID"; then
	cat "$W/faultline.log" >&2
	die "faultline did not start listening on 127.0.0.1:$MILTER_PORT"
fi
echo "faultline is running (pid $FL_PID)"

heading "5. Starting a private Postfix instance in $W/postfix"
pf_start "$W/postfix" "inet:127.0.0.1:$MILTER_PORT" 2>&1 || die "private Postfix did not start"
echo "smtpd on 127.0.0.1:$PF_PORT, milter inet:127.0.0.1:$MILTER_PORT, deliveries to smtp-sink on 127.0.0.1:$PF_SINK_PORT"

heading "6. Sending a message as if from 192.0.2.7 (HELO client.example)"
MSGID="demo.$(date +%s).$$@sender.example"
cat >"$W/message.eml" <<EOF
From: Alice <alice@sender.example>
To: Bob <bob@faultline.example>
Subject: faultline demo
Date: $(LC_ALL=C date -R)
Message-ID: <$MSGID>
Authentication-Results: other.example; spf=pass smtp.mailfrom=sender.example

Hello from the faultline demo.
EOF
if pf_send alice@sender.example bob@faultline.example "$W/message.eml" 192.0.2.7 client.example; then
	grep -E '^(\*\*\* |<- )?250 .*queued as' "$PF_LAST_TRANSCRIPT" | sed 's/^/  /'
	SENT=1
else
	echo "Postfix did not accept the message; the SMTP conversation ended with:"
	grep -E '^(<\*\* |\*\*\* )?[45][0-9][0-9][ -]' "$PF_LAST_TRANSCRIPT" | sed 's/^/  /'
	SENT=0
fi

DELIVERED=
if [ "$SENT" = 1 ]; then
	if pf_wait_delivered 1 60; then
		for f in $(pf_sink_files); do
			grep -qiF "<$MSGID>" "$f" && DELIVERED=$f
		done
	fi
fi

heading "7. Result"
if [ -n "$DELIVERED" ]; then
	echo "Authentication-Results of the delivered message ($DELIVERED):"
	# Print each Authentication-Results header with its continuation lines.
	awk '
		/^$/ { exit }
		/^[^ \t]/ { show = tolower($0) ~ /^authentication-results:/ }
		show { print "  " $0 }
	' "$DELIVERED"
else
	echo "no message was delivered; see $W/postfix/maillog"
fi
QID=$(pf_queue_id_for_msgid "$MSGID")
echo
echo "faultline's verdict (from its stderr, queue id ${QID:-unknown}):"
for _ in $(seq 1 50); do
	grep -q "verdict" "$W/faultline.log" 2>/dev/null && break
	sleep 0.1
done
if [ -n "$QID" ] && grep -qF "$QID: verdict" "$W/faultline.log"; then
	grep -F "$QID: verdict" "$W/faultline.log" | sed 's/^/  /'
elif grep -q "verdict" "$W/faultline.log"; then
	grep "verdict" "$W/faultline.log" | tail -n 3 | sed 's/^/  /'
else
	echo "  (no verdict line; last lines of faultline's log:)"
	tail -n 10 "$W/faultline.log" | sed 's/^/  /'
fi

if [ "$KEEP" = 1 ]; then
	trap 'exit 0' INT
	heading "Still running -- press Ctrl-C to stop"
	cat <<EOF
  send more mail:  swaks --server 127.0.0.1 --port $PF_PORT \\
                     --xclient-addr 192.0.2.7 --xclient-helo client.example --ehlo client.example \\
                     --from alice@sender.example --to bob@faultline.example
  delivered mail:  $PF_DIR/sink/
  Postfix log:     $PF_DIR/maillog
  faultline log:   $W/faultline.log
EOF
	while _pf_pid_alive "$FL_PID"; do
		sleep 1
	done
	echo "faultline exited:"
	tail -n 5 "$W/faultline.log"
	exit 1
fi

[ -n "$DELIVERED" ] || exit 1
exit 0
