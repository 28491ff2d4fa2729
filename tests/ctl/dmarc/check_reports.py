#!/usr/bin/python3
"""check_reports.py BEGIN END DIR LOG... -- reads every *.xml.gz report in DIR
with an XML parser of its own (xml.etree; nothing shared with faultlinectl)
and checks it against the verdict logs, counted here independently:

  * one report per policy domain with rua= and messages in [BEGIN, END];
    none for a domain without rua=;
  * the file name is receiver!policy-domain!BEGIN!END.xml.gz, the gzip
    member decompresses, the root is {urn:ietf:params:xml:ns:dmarc-2.0}feedback;
  * date_range is BEGIN..END, report_id is unique per report;
  * the messages per (source IP, header_from) and in total equal the
    records' counts; every DKIM domain/selector/result and SPF result of
    a record appears in a row of its source IP.
Prints one line per report and exits 1 on the first mismatch."""
import collections, glob, gzip, json, os, sys
import xml.etree.ElementTree as ET

NS = "{urn:ietf:params:xml:ns:dmarc-2.0}"
begin, end, outdir, logs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]

def epoch(t):
    import calendar, time
    return calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))

want = collections.defaultdict(collections.Counter)  # domain -> (ip, from) -> n
want_auth = collections.defaultdict(set)             # domain -> {(ip, kind, d, result)}
for path in logs:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", errors="replace") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            d = r.get("dmarc") if isinstance(r, dict) else None
            if not isinstance(d, dict) or not isinstance(d.get("policy_published"), dict):
                continue
            pp = d["policy_published"]
            ip = (r.get("client") or {}).get("ip")
            if not pp.get("rua") or not ip or not d.get("header_from"):
                continue
            if not begin <= epoch(r["time"]) <= end:
                continue
            dom = pp["domain"].lower()
            want[dom][(ip, d["header_from"])] += 1
            for s in d.get("dkim") or []:
                want_auth[dom].add((ip, "dkim", s["domain"], s["result"]))
            if d.get("spf"):
                want_auth[dom].add((ip, "spf", d["spf"]["domain"], d["spf"]["result"]))

def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)

seen, ids = set(), set()
for path in sorted(glob.glob(os.path.join(outdir, "*.xml.gz"))):
    name = os.path.basename(path)
    parts = name[: -len(".xml.gz")].split("!")
    if len(parts) != 4 or parts[2] != str(begin) or parts[3] != str(end):
        fail(f"{name}: not receiver!policy-domain!{begin}!{end}.xml.gz")
    root = ET.fromstring(gzip.open(path).read())
    if root.tag != NS + "feedback":
        fail(f"{name}: root is {root.tag}")
    md = root.find(NS + "report_metadata")
    rid = md.findtext(NS + "report_id")
    if rid in ids:
        fail(f"{name}: report_id {rid} used twice")
    ids.add(rid)
    dr = md.find(NS + "date_range")
    if (int(dr.findtext(NS + "begin")), int(dr.findtext(NS + "end"))) != (begin, end):
        fail(f"{name}: date_range")
    dom = root.find(NS + "policy_published").findtext(NS + "domain")
    if dom != parts[1]:
        fail(f"{name}: policy_published domain {dom}")
    got, auth = collections.Counter(), set()
    for rec in root.findall(NS + "record"):
        row = rec.find(NS + "row")
        ip, n = row.findtext(NS + "source_ip"), int(row.findtext(NS + "count"))
        got[(ip, rec.find(NS + "identifiers").findtext(NS + "header_from"))] += n
        ar = rec.find(NS + "auth_results")
        for kind in ("dkim", "spf"):
            for e in ar.findall(NS + kind):
                auth.add((ip, kind, e.findtext(NS + "domain"), e.findtext(NS + "result")))
    if got != want[dom]:
        fail(f"{name}: counts {dict(got)} != records {dict(want[dom])}")
    if auth != want_auth[dom]:
        fail(f"{name}: auth results {sorted(auth ^ want_auth[dom])} differ")
    seen.add(dom)
    print(f"ok: {name}: {sum(got.values())} messages in {len(root.findall(NS + 'record'))} records")
if seen != set(want):
    fail(f"reports for {sorted(seen)}, records name {sorted(want)}")
print(f"all {len(seen)} reports match the records")
