#!/usr/bin/python3
"""rfc7208_zones: turns the RFC 7208 SPF test suite (rfc7208-tests.yml, the
openspf.org suite, release 2014.04) into files the C test
tests/spf/check_spf_rfc7208.c reads: per scenario (YAML document) a zone
file and a fault file for tests/dns/fakedns.py, and one index of every test.

    /usr/bin/python3 rfc7208_zones.py SUITE.yml OUTDIR

OUTDIR/index, one record per line, fields separated by one space:
    S <n> <description>                  scenario n (0-based), hex-encoded
    T <n> <name> <host> <helo> <mailfrom> <results> <explanation>
        helo, mailfrom and explanation are hex-encoded ("x" + hex, so an
        empty string is "x"); no explanation is "-"; results is a
        comma-separated list (pass,fail,...).
OUTDIR/<n>/root.zone    the scenario's zonedata as one root zone ("."), so
                        every name the suite uses is in it and any other
                        name is NXDOMAIN
OUTDIR/<n>/faults       fakedns fault lines for the TIMEOUT entries

How the suite's zonedata maps to DNS (the conventions of its reference
driver, pyspf's testspf.py, which the YAML header describes):
  * SPF (type 99) records are never served: RFC 7208 dropped the type.  As
    the suite's header says, drivers duplicate SPF data into TXT so one
    scenario tests both kinds of implementation: a name's SPF strings are
    served as TXT when the name has no TXT data of its own.  "TXT: NONE"
    means "no TXT here, and do not duplicate".
  * TIMEOUT at a name: queries for that name of a type with no data there
    never get an answer (fault "NAME TYPE drop" per type).
  * strings of a list are the character-strings of one TXT record; an empty
    list (illegal "null text") becomes one empty string.  YAML "\\xNN"
    escapes are code points below 256 and become the byte NN.
Needs PyYAML and dnspython (Debian's python3-yaml, python3-dnspython).
"""

import os
import sys

import dns.name
import yaml

TTL = 300
QUERY_TYPES = ("A", "AAAA", "MX", "PTR", "TXT", "CNAME")


def hexs(s):
    if isinstance(s, str):
        s = to_bytes(s)
    return "x" + s.hex()


def to_bytes(s):
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def absname(name):
    """The name in master-file syntax (special characters escaped)."""
    name = str(name).rstrip(".")
    if name == "":
        return "."
    labels = [to_bytes(l) for l in name.split(".")]
    return dns.name.Name(labels + [b""]).to_text()


def txt_rdata(strings):
    if isinstance(strings, str):
        strings = [strings]
    if not strings:
        strings = [""]
    out = []
    for s in strings:
        b = to_bytes(str(s))
        esc = "".join(
            chr(c) if 0x20 < c < 0x7F and c not in (0x22, 0x5C, 0x3B) else "\\%03d" % c
            for c in b
        )
        out.append('"%s"' % esc)
    return " ".join(out)


def scenario_files(doc):
    lines = [
        "$ORIGIN .",
        "$TTL %d" % TTL,
        ". IN SOA ns.spf-suite.invalid. hostmaster.spf-suite.invalid. 1 3600 600 86400 60",
        ". IN NS ns.spf-suite.invalid.",
    ]
    faults = []
    for name, rrs in (doc.get("zonedata") or {}).items():
        owner = absname(name)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in rrs)
        present = set()
        timeout = False
        for r in rrs:
            if r == "TIMEOUT":
                timeout = True
                continue
            for rtype, val in r.items():
                if rtype == "TXT" and val == "NONE":
                    present.add("TXT-NONE")
                    continue
                if rtype == "SPF":
                    if has_txt:
                        continue
                    rtype = "TXT"
                present.add(rtype)
                if rtype == "TXT":
                    data = txt_rdata(val)
                elif rtype == "MX":
                    data = "%d %s" % (int(val[0]), absname(val[1]))
                elif rtype in ("PTR", "CNAME"):
                    data = absname(val)
                elif rtype in ("A", "AAAA"):
                    data = str(val)
                else:
                    raise ValueError("unknown record type %s at %s" % (rtype, name))
                lines.append("%s IN %s %s" % (owner, rtype, data))
        if timeout:
            for t in QUERY_TYPES:
                if t not in present and not (t != "CNAME" and "CNAME" in present):
                    faults.append("%s %s drop" % (owner, t))
    return "\n".join(lines) + "\n", "\n".join(faults) + ("\n" if faults else "")


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: rfc7208_zones.py SUITE.yml OUTDIR\n")
        return 2
    with open(sys.argv[1], "rb") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    index = []
    for n, doc in enumerate(docs):
        d = os.path.join(out, str(n))
        os.makedirs(d, exist_ok=True)
        zone, faults = scenario_files(doc)
        with open(os.path.join(d, "root.zone"), "w") as f:
            f.write(zone)
        with open(os.path.join(d, "faults"), "w") as f:
            f.write(faults)
        index.append("S %d %s" % (n, hexs(doc.get("description", "scenario %d" % n))))
        for name, t in doc["tests"].items():
            res = t["result"]
            if isinstance(res, str):
                res = [res]
            exp = t.get("explanation")
            index.append(
                "T %d %s %s %s %s %s %s"
                % (
                    n,
                    name,
                    t["host"],
                    hexs(str(t["helo"])),
                    hexs(str(t["mailfrom"])),
                    ",".join(res),
                    "-" if exp is None else hexs(str(exp)),
                )
            )
    with open(os.path.join(out, "index.tmp"), "w") as f:
        f.write("\n".join(index) + "\n")
    os.rename(os.path.join(out, "index.tmp"), os.path.join(out, "index"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
