#!/bin/bash
# tests/packaging/test_sd_notify.sh -- the daemon speaks sd_notify(3) the way
# the Type=notify unit (packaging/faultline.service) expects, checked with a
# real listener: a unix datagram socket named by NOTIFY_SOCKET, as systemd
# creates it.
#   - READY=1 (with MAINPID) only once the milter socket accepts connections;
#   - SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1;
#   - SIGHUP with a broken configuration: RELOADING=1, then READY=1 saying the
#     running configuration was kept;
#   - SIGTERM: STOPPING=1, then a clean exit.
# Automake test protocol: exit 0 pass, 1 fail.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FAULTLINE=${FAULTLINE:-${top_builddir:-$HERE/../..}/milter/faultline}
PY=${PYTHON3:-/usr/bin/python3}
echo "== sd_notify: READY, RELOADING, STOPPING through a real NOTIFY_SOCKET listener"
[ -x "$FAULTLINE" ] || { echo "FAIL: faultline daemon not found: $FAULTLINE"; exit 1; }
T=$(mktemp -d /tmp/faultline-notify.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
exec "$PY" - "$FAULTLINE" "$T" <<'PYEOF'
import os, signal, socket, subprocess, sys, time

faultline, tmp = sys.argv[1], sys.argv[2]
fails = 0

def check(ok, what):
    global fails
    print(("PASS: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        fails += 1

s = socket.socket(socket.AF_INET)
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
conf = os.path.join(tmp, "faultline.conf")
base = ("socket = inet:%d@127.0.0.1\nuser =\npidfile =\nlog = stderr\n"
        "dns_forwarders = 127.0.0.1@9\n" % port)
open(conf, "w").write(base)

notify_path = os.path.join(tmp, "notify")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(notify_path)
env = dict(os.environ, NOTIFY_SOCKET=notify_path)
log = open(os.path.join(tmp, "faultline.log"), "w+")
daemon = subprocess.Popen([faultline, "-f", "-c", conf], env=env, stdin=subprocess.DEVNULL,
                          stdout=log, stderr=log)

def receive(timeout=10.0):
    """The next notification as a dict (KEY -> value), or None on timeout."""
    listener.settimeout(timeout)
    try:
        data = listener.recv(4096).decode()
    except socket.timeout:
        return None
    print("   notify:", data.replace("\n", " | "), flush=True)
    return dict(line.split("=", 1) for line in data.split("\n") if "=" in line)

def accepts():
    c = socket.socket(socket.AF_INET)
    try:
        c.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        c.close()

try:
    m = receive()
    check(m is not None and m.get("READY") == "1", "READY=1 sent at start")
    check(m is not None and m.get("MAINPID") == str(daemon.pid), "READY carries MAINPID=%d" % daemon.pid)
    check(accepts(), "the milter socket accepts connections when READY=1 arrives")

    daemon.send_signal(signal.SIGHUP)
    m = receive()
    check(m is not None and m.get("RELOADING") == "1" and m.get("MONOTONIC_USEC", "").isdigit(),
          "SIGHUP: RELOADING=1 with MONOTONIC_USEC")
    m = receive()
    check(m is not None and m.get("READY") == "1" and "reloaded" in m.get("STATUS", ""),
          "after the reload: READY=1, STATUS says reloaded")

    open(conf, "w").write(base + "no_such_key = 1\n")
    daemon.send_signal(signal.SIGHUP)
    m = receive()
    check(m is not None and m.get("RELOADING") == "1", "broken reload: RELOADING=1")
    m = receive()
    check(m is not None and m.get("READY") == "1" and "kept" in m.get("STATUS", ""),
          "broken reload: READY=1, STATUS says the running configuration was kept")
    check(accepts(), "still serving after the failed reload")

    daemon.send_signal(signal.SIGTERM)
    m = receive()
    check(m is not None and m.get("STOPPING") == "1", "SIGTERM: STOPPING=1")
    try:
        rc = daemon.wait(20)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "the daemon exits 0 after the drain (rc=%s)" % rc)
    check(receive(0.5) is None, "nothing is sent after STOPPING=1")
finally:
    if daemon.poll() is None:
        daemon.kill()
        daemon.wait()
if fails:
    log.seek(0)
    print(log.read())
sys.exit(1 if fails else 0)
PYEOF
