#!/bin/bash
# Our resolver down (issue 12, target 5).  The forwarder first drops every
# query (silent), then, in a second round, refuses every query.  Once the
# probe knows it is down, a message costs at most 1 s more than with a
# working resolver, every DNS-dependent result is temperror with
# fault=receiver, and nothing is refused for it.  When the forwarder answers
# again, results are normal within dns_probe_cache -- even after a burst of
# timeouts (libunbound must not keep the forwarder marked unusable).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/load_lib.sh
. "$here/../bench/load_lib.sh"
LL_WORK=$(mktemp -d /tmp/faultline-resolver-down.XXXXXX)
CORPUS=$LL_WORK/corpus
trap 'll_cleanup; rm -rf "$LL_WORK"' EXIT
CORPUS_DOMAINS=2 ll_corpus 2
msg=$CORPUS/msgs/00000.eml # passes every check when DNS works
probe_cache=8
fails=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
mono_ms() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }
# one message; prints its latency in ms (fl-mtest's max_ms)
one() {
	local out
	out=$(ll_mtest 1 1 "$msg") || ll_die "fl-mtest: $out"
	tr ' ' '\n' <<<"$out" | awk -F= '$1 == "max_ms" {printf "%d\n", $2}'
}
last_record() { tail -1 "$LL_WORK/verdicts.jsonl"; }
# "ok" when every check of a record passed (iprev, SPF, DKIM, DMARC; the
# DNS list answered "not listed")
all_normal() {
	"$PYTHON3" -c '
import json, sys
r = json.loads(sys.argv[1])
res = {c["method"] + ":" + c["result"] for c in r["checks"]}
want = {"iprev:pass", "spf:pass", "dkim:pass", "dmarc:pass", "dnsbl:none"}
print("ok" if want <= res else " ".join(sorted(res)))' "$1"
}
# "ok" when every DNS-dependent check is temperror/receiver and nothing refused
all_receiver_temperror() {
	"$PYTHON3" -c '
import json, sys
r = json.loads(sys.argv[1])
bad = [c["method"] + ":" + c["result"] + "/" + c["fault"] for c in r["checks"]
       if c["method"] in ("iprev", "spf", "dkim", "dmarc")
       and (c["result"] != "temperror" or c["fault"] != "receiver")]
if r["action"] in ("reject", "tempfail"):
    bad.append("action=" + r["action"])
seen = {c["method"] for c in r["checks"]}
bad += ["no " + m for m in ("iprev", "spf", "dkim", "dmarc") if m not in seen]
print("ok" if not bad else " ".join(bad))' "$1"
}

ll_start_dns
ll_start_daemon "dns_timeout = 2s
dns_probe_cache = ${probe_cache}s
message_deadline = 8s"
normal_ms=$(one)
[ "$(all_normal "$(last_record)")" = ok ] || ll_die "the message is not normal: $(last_record)"

for fault in drop refused; do
	ll_set_faults "* ANY $fault"
	sleep 0.5 # fakedns re-reads the fault file within 200 ms
	# new names, so no cache can answer: the daemon restarts cold
	ll_stop_daemon
	ll_start_daemon "dns_timeout = 2s
dns_probe_cache = ${probe_cache}s
message_deadline = 8s"
	first_ms=$(one) # the outage is found here (timeouts, then the probe)
	worst=0 verdicts_ok=1
	for _ in 1 2 3 4 5; do
		ms=$(one)
		[ "$ms" -gt "$worst" ] && worst=$ms
		v=$(all_receiver_temperror "$(last_record)")
		if [ "$v" != ok ]; then
			verdicts_ok=0
			fail "$fault: a message during the outage: $v"
		fi
	done
	if [ "$worst" -le $((normal_ms + 1000)) ]; then
		pass "$fault: once the outage is known a message takes ${worst} ms (normal ${normal_ms} ms, the first ${first_ms} ms)"
	else
		fail "$fault: a message during the known outage took ${worst} ms, want <= $((normal_ms + 1000))"
	fi
	[ "$verdicts_ok" = 1 ] && pass "$fault: every DNS result is temperror, fault=receiver, nothing refused"

	ll_set_faults ""
	back=$(mono_ms)
	recovered=
	while [ $(($(mono_ms) - back)) -le $((probe_cache * 1000 + ${RECOVER_EXTRA_MS:-3000})) ]; do
		one >/dev/null
		if [ "$(all_normal "$(last_record)")" = ok ]; then
			recovered=$(($(mono_ms) - back))
			break
		fi
		sleep 0.2
	done
	if [ -n "$recovered" ] && [ "$recovered" -le $((probe_cache * 1000 + 1500)) ]; then
		pass "$fault: normal results again ${recovered} ms after the resolver came back (dns_probe_cache ${probe_cache}s)"
	else
		fail "$fault: results not normal within dns_probe_cache after the resolver came back (${recovered:-never}; last: $(last_record | cut -c1-400))"
	fi
done
exit $((fails > 0))
