#!/usr/bin/python3
"""check_reports.py [--dmarc-cat] BEGIN END DIR LOG... -- reads every *.xml.gz report in DIR
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
With --dmarc-cat, each report is also read by Debian's dmarc-cat (an
independent Go implementation, run with -N: no reverse DNS) and its
reporter, e-mail, period, policy domain, p, adkim, aspf and per-IP message
counts, header_from and SPF results must equal the records'.
(Its RFrom/RDKIM columns show one DKIM result of its choosing: not compared.)  dmarc-cat
knows the RFC 7489 format: it ignores the RFC 9990 elements version, np,
discovery_method, testing, generator, error, reason and the DKIM selectors,
which the xml.etree reading and the schema validation cover.
Prints one line per report and exits 1 on the first mismatch."""
import collections, glob, gzip, json, os, re, sys
import xml.etree.ElementTree as ET

NS = "{urn:ietf:params:xml:ns:dmarc-2.0}"
args = sys.argv[1:]
use_dmarc_cat = args[:1] == ["--dmarc-cat"]
if use_dmarc_cat:
    args = args[1:]
begin, end, outdir, logs = int(args[0]), int(args[1]), args[2], args[3:]

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+"
                    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def valid_ip(s):
    import ipaddress
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def epoch(t):
    import calendar, time
    return calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))

want = collections.defaultdict(collections.Counter)  # domain -> (ip, from) -> n
want_spf = collections.defaultdict(set)              # domain -> {(ip, from, spf result)}
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
            # A record naming something that is not a domain or an address
            # is not reportable (a corrupted or hostile line).
            if not (DOMAIN.match(str(pp.get("domain")).lower()) and
                    DOMAIN.match(d["header_from"].lower()) and valid_ip(ip)):
                continue
            if not begin <= epoch(r["time"]) <= end:
                continue
            dom = pp["domain"].lower()
            want[dom][(ip, d["header_from"])] += 1
            for s in d.get("dkim") or []:
                want_auth[dom].add((ip, "dkim", s["domain"], s["result"]))
            if d.get("spf"):
                want_auth[dom].add((ip, "spf", d["spf"]["domain"], d["spf"]["result"]))
                want_spf[dom].add((ip, d["header_from"], d["spf"]["result"]))

def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)

def dmarc_cat(name, path, dom, root):
    """dmarc-cat's reading of the report against the records."""
    import subprocess
    p = subprocess.run(["dmarc-cat", "-N", "-j", "1", path], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        fail(f"{name}: dmarc-cat exited {p.returncode}: {p.stderr}")
    lines = p.stdout.splitlines()
    md = root.find(NS + "report_metadata")
    pp = root.find(NS + "policy_published")
    head = f"Reporting by: {md.findtext(NS + 'org_name')} \u2014 {md.findtext(NS + 'email')}"
    period = ("From 2026-12-01 00:00:00 +0000 UTC to 2026-12-01 23:59:59 +0000 UTC"
              if (begin, end) == (1796083200, 1796169599) else None)
    policy = (f"Policy: p={pp.findtext(NS + 'p')}; dkim={pp.findtext(NS + 'adkim')}; "
              f"spf={pp.findtext(NS + 'aspf')}")
    for want_line in (head, period, f"Domain: {dom}", policy):
        if want_line is not None and want_line not in lines:
            fail(f"{name}: dmarc-cat printed no line {want_line!r}:\n{p.stdout}")
    try:
        h = next(i for i, l in enumerate(lines) if l.startswith("IP "))
    except StopIteration:
        fail(f"{name}: no table in dmarc-cat's output:\n{p.stdout}")
    cols = [lines[h].index(c) for c in ("IP", "Count", "From", "RFrom", "RDKIM", "RSPF")]
    counts, spf = collections.Counter(), set()
    for l in lines[h + 1:]:
        if not l.strip():
            break
        f = [l[a:b].strip() for a, b in zip(cols, cols[1:] + [len(l) + 1])]
        counts[(f[0], f[2])] += int(f[1])
        spf.add((f[0], f[2], f[5]))  # RFrom/RDKIM: its pick among the DKIM results
    if counts != want[dom]:
        fail(f"{name}: dmarc-cat counts {dict(counts)} != records {dict(want[dom])}")
    if spf != want_spf[dom]:
        fail(f"{name}: dmarc-cat SPF {sorted(spf ^ want_spf[dom])} differ")


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
    if use_dmarc_cat:
        dmarc_cat(name, path, dom, root)
    seen.add(dom)
    print(f"ok: {name}: {sum(got.values())} messages in {len(root.findall(NS + 'record'))} records")
if seen != set(want):
    fail(f"reports for {sorted(seen)}, records name {sorted(want)}")
print(f"all {len(seen)} reports match the records")
