#!/bin/sh
# deps.sh: installs, with apt-get, the Debian 12 packages faultline needs:
#   deps.sh          everything to build and run the whole test suite
#   deps.sh --build  what building and the demo (scripts/demo.sh) need
# Installs only what is missing; needs root for that.
set -eu
BUILD="build-essential autoconf automake libtool pkg-config
 libmilter-dev libopendkim-dev libspf2-dev libssl-dev libunbound-dev libevent-dev libldns-dev
 liblmdb-dev libhiredis-dev libjansson-dev zlib1g-dev libsystemd-dev check libsubunit-dev libmicrohttpd-dev
 postfix swaks python3 python3-authres python3-dkim python3-dnspython"
TEST="clang valgrind python3-yaml redis-server miltertest
 iproute2 procps python3-prometheus-client libxml2-utils dmarc-cat
 debhelper lintian logrotate debootstrap systemd-container strace"
if [ "${1:-}" = "--build" ]; then PKGS=$BUILD; else PKGS="$BUILD $TEST"; fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: these packages are missing and installing them needs root:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure the system instance: it must not touch it.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
