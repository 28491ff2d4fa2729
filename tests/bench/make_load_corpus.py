#!/usr/bin/python3
"""make_load_corpus: the signed corpus of tests/bench/load.sh and
tests/protocol/test_load_verdicts.sh.

Writes, under OUT:

  zones/load.example.zone            SPF, DMARC and DKIM keys of every sender
                                     domain (dNN.load.example), forward names
                                     of the clients, the probe name
  zones/100.51.198.in-addr.arpa.zone PTRs of the clients 198.51.100.1..50
  zones/bl.load.example.zone         the DNS list (one client listed)
  zones/example.zone                 the parent (empty)
  msgs/NNNNN.eml                     the messages (CRLF), signed with dkimpy
  msgs/NNNNN.env                     "CLIENT_IP HELO MAIL_FROM" for fl-mtest

Sizes follow a log-normal distribution with a median of 17 KB (like the
issue's measurements).  Most messages pass SPF, DKIM, DMARC and iprev; a
fixed share (chosen by index, so every run is the same) varies one thing so
every result shows up: an unauthorised client (SPF fail), a body changed
after signing (DKIM fail), no signature, a client without PTR (iprev fail),
an SPF record that includes a missing name (permerror), the listed client.

Usage: make_load_corpus.py [-n MESSAGES] [-d DOMAINS] OUT
(run with /usr/bin/python3: it needs dkimpy and dnspython's python)
"""
import argparse
import base64
import os
import random
import subprocess

import dkim

HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
           b"content-type"]
ZONE = "load.example"
NET = "198.51.100"
LISTED = 50  # 198.51.100.50 is on the DNS list


def run(*argv, data=None):
    return subprocess.run(argv, input=data, check=True, capture_output=True).stdout


def rsa_key(bits):
    private = run("openssl", "genrsa", "-traditional", str(bits))
    der = run("openssl", "rsa", "-pubout", "-outform", "DER", data=private)
    return private, base64.b64encode(der).decode()


def txt(value):
    parts = [value[i:i + 200] for i in range(0, len(value), 200)] or [""]
    return " ".join('"%s"' % p for p in parts)


def write_zone(path, origin, records):
    with open(path, "w") as f:
        f.write("$ORIGIN %s.\n$TTL 3600\n" % origin)
        f.write("@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n" % (origin, origin))
        f.write("@ NS ns.%s.\n" % origin)
        for name, rtype, data in records:
            f.write("%s %s %s\n" % (name, rtype, data))


def body_of(rng, size):
    words = ("the quarterly figures attached below show a steady rise in "
             "orders across every region and we expect the same next month").split()
    lines, n = [], 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(6, 12)))
        lines.append(line)
        n += len(line) + 2
    return ("\r\n".join(lines) + "\r\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000, help="messages")
    ap.add_argument("-d", type=int, default=20, help="sender domains")
    ap.add_argument("out")
    args = ap.parse_args()
    rng = random.Random(12)
    os.makedirs(os.path.join(args.out, "zones"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "msgs"), exist_ok=True)

    recs = [("ns", "A", "192.0.2.53"), ("probe", "A", "192.0.2.53"),
            ("_spf", "TXT", txt("v=spf1 ip4:%s.0/25 ~all" % NET))]
    ptrs = []
    for i in range(1, 51):
        recs.append(("mx%d" % i, "A", "%s.%d" % (NET, i)))
        if i % 25 != 0:  # .25 and .50: no PTR (iprev fails)
            ptrs.append((str(i), "PTR", "mx%d.%s." % (i, ZONE)))
    keys = []
    for d in range(args.d):
        dom = "d%02d" % d
        private, public = rsa_key(2048 if d % 4 else 1024)
        keys.append(private)
        spf = "v=spf1 ip4:%s.0/27 include:_spf.%s -all" % (NET, ZONE)
        if d == args.d - 1:
            spf = "v=spf1 include:missing.%s -all" % ZONE  # permerror
        recs += [(dom, "TXT", txt(spf)),
                 ("_dmarc." + dom, "TXT", txt("v=DMARC1; p=reject; rua=mailto:r@%s.%s" %
                                              (dom, ZONE))),
                 ("sel._domainkey." + dom, "TXT", txt("v=DKIM1; k=rsa; p=" + public))]
    write_zone(os.path.join(args.out, "zones", ZONE + ".zone"), ZONE, recs)
    write_zone(os.path.join(args.out, "zones", "100.51.198.in-addr.arpa.zone"),
               "100.51.198.in-addr.arpa", ptrs)
    # the parent, so the DMARC tree walk (RFC 9091) ends in NXDOMAIN there
    write_zone(os.path.join(args.out, "zones", "example.zone"), "example", [])
    write_zone(os.path.join(args.out, "zones", "bl.%s.zone" % ZONE), "bl." + ZONE,
               [("%d.100.51.198" % LISTED, "A", "127.0.0.2"),
                ("%d.100.51.198" % LISTED, "TXT", txt("listed for the benchmark"))])

    for i in range(args.n):
        d = i % args.d
        dom = "d%02d.%s" % (d, ZONE)
        client = 1 + (i * 7) % 49  # .1-.49: authorised by _spf (/25)
        kind = i % 20
        if kind == 3:
            client = 200  # not authorised: SPF fail (DKIM still passes)
        elif kind == 7:
            client = 25  # no PTR: iprev fail
        elif kind == 11 and i % 100 == 11:
            client = LISTED
        size = int(min(max(rng.lognormvariate(9.74, 0.8), 600), 400000))  # median ~17 KB
        headers = ("From: Sender %d <user%d@%s>\r\n"
                   "To: Rcpt <rcpt@example.net>\r\n"
                   "Subject: load message %d\r\n"
                   "Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
                   "Message-ID: <load%05d@%s>\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n" % (i, i, dom, i, i, dom))
        msg = headers.encode() + b"\r\n" + body_of(rng, size)
        if kind != 5:  # unsigned
            msg = dkim.sign(msg, b"sel", dom.encode(), keys[d], include_headers=HEADERS,
                            canonicalize=(b"relaxed", b"relaxed")) + msg
        if kind == 9:
            msg += b"a line added after signing\r\n"  # DKIM body hash fails
        base = os.path.join(args.out, "msgs", "%05d" % i)
        with open(base + ".eml", "wb") as f:
            f.write(msg)
        with open(base + ".env", "w") as f:
            f.write("%s.%d mx%d.%s user%d@%s\n" % (NET, client, client, ZONE, i, dom))


if __name__ == "__main__":
    main()
