#!/usr/bin/env python3
"""bench_dmarc_report.py N DOMAINS FILE: writes N synthetic verdict records
with DMARC report data (the shape lib/core/verdict.c and lib/dmarc/dmarc_json.c
write) for tests/bench/bench_dmarc_report.sh: DOMAINS policy domains with
rua=, a Zipf-like spread of mail over them (a few big senders, a long
tail), several source IPs per domain, passes and failures, DKIM and SPF
results, some overrides.  All records fall on 2026-12-01 (UTC)."""
import json
import random
import sys

n, ndom, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(11)
out = open(path, "w")

def record(i, dom, ip, sub, passed, override):
    hf = dom if not sub else "news." + dom
    mf = "bounce@" + (hf if passed else "mailer.example")
    disp = "none" if passed else rnd.choice(["none", "quarantine", "reject"])
    d = {"result": "pass" if passed else "fail", "header_from": hf, "from_headers": 1,
         "from_addresses": 1, "envelope_from": mf.split("@")[1], "org_domain": dom,
         "policy_published": {"domain": dom, "found_at": "author", "walk_step": 1,
                              "p": "quarantine", "sp": None, "np": None, "adkim": "r",
                              "aspf": "r", "testing": "n", "psd": "u", "pct": None, "fo": "0",
                              "rua": "mailto:dmarc@" + dom, "ruf": None, "problems": None},
         "policy_applied": "quarantine", "policy_tag": "p", "author_exists": True,
         "policy_evaluated": {"disposition": disp, "dkim": "pass" if passed else "fail",
                              "spf": "pass" if passed else "fail",
                              "reason": {"type": "local_policy", "comment": "dmarc_reject_action = quarantine"} if override else None},
         "dkim": [{"domain": dom, "selector": "s1", "result": "pass" if passed else "fail", "aligned": True}],
         "spf": {"domain": mf.split("@")[1], "scope": "mfrom", "result": "pass" if passed else "softfail", "aligned": passed},
         "dns_queries": 2}
    r = {"v": 1, "time": "2026-12-01T%02d:%02d:%02d.000Z" % (i % 24, i % 60, (i // 60) % 60),
         "queue_id": "Q%08X" % i, "client": {"ip": ip, "port": 40000, "ptr": None, "helo": "mail." + dom},
         "mail_from": mf, "rcpts": ["user%d@example.net" % (i % 1000)], "message_id": "<%d@%s>" % (i, dom),
         "skipped": None,
         "checks": [{"method": m, "result": "pass" if passed else "fail", "reason": None, "fault": "none",
                     "transient": False, "action": "accept", "comment": None, "detail": None,
                     "props": {"header.from": hf}} for m in ("spf", "dkim", "dmarc")],
         "action": "accept", "reply": {"code": 250, "dsn": "2.0.0", "text": ""}, "fault": "none",
         "transient": False, "reason": None, "elapsed_ms": {"connect": 0, "eom": 30}, "work_ms": 1,
         "dmarc": d}
    return json.dumps(r, separators=(",", ":"))

# Zipf-like weights: domain k gets mail in proportion to 1/(k+1).
weights = [1.0 / (k + 1) for k in range(ndom)]
doms = rnd.choices(range(ndom), weights=weights, k=n)
for i, k in enumerate(doms):
    dom = "d%05d.example" % k
    ip = "10.%d.%d.%d" % (k % 200, (k // 200) % 250, rnd.randrange(1, 9))
    passed = rnd.random() < 0.8
    out.write(record(i, dom, ip, rnd.random() < 0.1, passed, not passed and rnd.random() < 0.1) + "\n")
out.close()
