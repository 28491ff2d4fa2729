#!/usr/bin/env python3
"""bench_report.py: writes N synthetic verdict records (the shape
lib/core/verdict.c writes: every check, the DNS lists array) for
tests/bench/bench_report.sh.  Records are filled from a few templates so
that generating a million takes seconds; the mix is a busy MX's: mostly
clean mail, greylist deferrals and retries, DNS listings, SPF and DMARC
failures, a list error code now and then."""
import json
import random
import sys

n = int(sys.argv[1])
out = open(sys.argv[2], "w")
rnd = random.Random(7)


def check(method, result, reason=None, fault="none", action="accept", comment=None,
          detail=None, props=None, **extra):
    d = {"method": method, "result": result, "reason": reason, "fault": fault,
         "transient": False, "action": action, "comment": comment, "detail": detail,
         "props": props or {}}
    d.update(extra)
    return d


def lists(status_zen="not_listed", status_bl2="not_listed", code=None):
    def one(zone, status, w):
        d = {"list": zone, "kind": "ip", "identities": ["client"], "name": "@IP@",
             "status": status, "dns": "ok" if status != "not_listed" else "nxdomain",
             "answers": ["127.0.0.2"] if status == "listed" else [], "weight": w if status == "listed" else 0,
             "ms": 12}
        if status == "error_code":
            d["answers"] = [code]
            d["error_code"] = code
            d["error"] = "the list refuses queries through a public or open resolver"
        return d
    return [one("zen.example", status_zen, 3), one("bl2.example", status_bl2, 1),
            {"list": "dbl.example", "kind": "domain", "identities": ["mailfrom"],
             "name": "@DOM@", "status": "not_listed", "dns": "nxdomain", "answers": [],
             "weight": 0, "ms": 9}]


def dnsbl(ls, result="none", score=0, **kw):
    return check("dnsbl", result, props={"policy.ip": "@IP@", "policy.score": str(score)},
                 score=score, threshold=2, allow_threshold=-1, lists=ls, **kw)


spf_pass = check("spf", "pass", comment="sender is authorised", props={"smtp.mailfrom": "b@@DOM@"})
dkim_pass = check("dkim", "pass", props={"header.d": "@DOM@", "header.s": "sel1", "header.a": "rsa-sha256"})
dmarc_pass = check("dmarc", "pass", comment="DKIM passed for @DOM@, aligned with @DOM@",
                   props={"header.from": "@DOM@", "policy.dmarc": "none",
                          "policy.published-domain-policy": "reject",
                          "policy.applied-disposition": "none",
                          "policy.evaluated-disposition": "none", "policy.policy-from": "p",
                          "policy.policy-domain": "@DOM@"})
iprev = check("iprev", "pass", props={"policy.iprev": "@IP@"})
grey_props = {"policy.client-net": "@NET@", "smtp.mailfrom": "b@@DOM@", "smtp.rcptto": "@RCPT@"}
templates = [
    (70, dict(checks=[iprev, dnsbl(lists()), spf_pass, dkim_pass, dmarc_pass], action="accept",
              reply={"code": 250, "dsn": "2.0.0", "text": None}, fault="none", reason=None)),
    (10, dict(checks=[check("greylist", "policy", "greylist.first_seen", "none", "tempfail",
                            "greylisted, please retry in 300 seconds",
                            "please retry in 300 seconds (first attempt, deferred on purpose)",
                            dict(grey_props, **{"policy.delay": "300", "policy.attempts": "1"}))],
              action="tempfail", reply={"code": 451, "dsn": "4.7.1",
                                        "text": "greylisted, please retry in 300 seconds"},
              fault="none", reason="greylist.first_seen")),
    (8, dict(checks=[iprev, dnsbl(lists()), spf_pass,
                     check("greylist", "pass", comment="retry accepted",
                           props=dict(grey_props, **{"policy.waited": "@WAIT@"})),
                     dkim_pass, dmarc_pass], action="accept",
             reply={"code": 250, "dsn": "2.0.0", "text": None}, fault="none", reason=None)),
    (5, dict(checks=[dnsbl(lists("listed", "listed"), "fail", 4, reason="dnsbl.listed",
                           fault="sender", action="reject",
                           detail="@IP@ is listed on zen.example and bl2.example: the sender's provider must get it delisted")],
             action="reject", reply={"code": 554, "dsn": "5.7.1",
                                     "text": "client address is blocklisted: @IP@ is listed on zen.example and bl2.example (fault=sender)"},
             fault="sender", reason="dnsbl.listed")),
    (4, dict(checks=[iprev, dnsbl(lists()),
                     check("spf", "permerror", "spf.too_many_lookups", "sender", "accept",
                           "SPF record needs too many DNS lookups",
                           "the SPF record of @DOM@ needs 13 DNS lookups, the limit is 10",
                           {"smtp.mailfrom": "b@@DOM@"}), dkim_pass, dmarc_pass],
             action="accept", reply={"code": 250, "dsn": "2.0.0", "text": None},
             fault="none", reason=None)),
    (2, dict(checks=[iprev, dnsbl(lists()), check("spf", "none", props={"smtp.mailfrom": "b@@DOM@"}),
                     check("dkim", "none"),
                     check("dmarc", "fail", "dmarc.quarantine", "sender", "accept",
                           "no SPF result; no DKIM signature of @DOM@",
                           "@DOM@ (p=reject): no SPF result; no DKIM signature of @DOM@",
                           {"header.from": "@DOM@", "policy.dmarc": "quarantine"})],
             action="accept", reply={"code": 250, "dsn": "2.0.0", "text": None},
             fault="none", reason=None)),
    (1, dict(checks=[iprev, dnsbl(lists("error_code", code="127.255.255.254"), reason="dnsbl.error_code",
                                  fault="receiver", detail="list zen.example answered 127.255.255.254; the list was ignored"),
                     spf_pass, dkim_pass, dmarc_pass],
             action="accept", reply={"code": 250, "dsn": "2.0.0", "text": None},
             fault="receiver", reason="dnsbl.error_code")),
]
pool = []
for weight, t in templates:
    body = json.dumps(t, separators=(",", ":"))[1:]  # without the opening brace
    pool += [body] * weight
head = ('{"v":1,"time":"2026-12-01T%02d:%02d:%02d.%03dZ","queue_id":"4Q%08X","client":{"ip":"%s",'
        '"port":40000,"ptr":"mail.%s","helo":"mail.%s"},"mail_from":"b@%s","rcpts":["%s"],'
        '"message_id":"<%d@%s>","skipped":null,')
tail = ',"elapsed_ms":{"connect":0,"eom":40},"work_ms":2}\n'
buf = []
for i in range(n):
    a, b = rnd.randrange(256), rnd.randrange(1, 255)
    ip = "198.51.%d.%d" % (a, b)
    dom = "sender%d.example" % rnd.randrange(5000)
    rcpt = "user%d@example.net" % rnd.randrange(2000)
    body = (pool[rnd.randrange(len(pool))].replace("@IP@", ip).replace("@DOM@", dom)
            .replace("@NET@", "198.51.%d.0/24" % a).replace("@RCPT@", rcpt)
            .replace("@WAIT@", str(300 + rnd.randrange(1800))))
    s = i * 86400 // max(n, 1)
    buf.append(head % (s // 3600, s // 60 % 60, s % 60, i % 1000, i, ip, dom, dom, dom, rcpt,
                       i, dom) + body[:-1] + tail)
    if len(buf) == 10000:
        out.write("".join(buf))
        buf = []
out.write("".join(buf))
