#!/usr/bin/python3
"""make_corpus: the signed DKIM test corpus of tests/dkim/check_dkim.c.

Signs messages at test time with an independent signer, dkimpy (Debian's
python3-dkim), using keys generated now (openssl for RSA, PyNaCl for
Ed25519) -- no private key is committed except the published example key of
RFC 8463 appendix A.  Writes, under OUT:

  zones/signer.example.zone       every key of the corpus (and broken ones)
  zones/second.example.zone       a second signing domain
  zones/football.example.com.zone the RFC 8463 appendix A keys
  msgs/NAME.eml                   the messages, CRLF unless NAME says lf

  msgs/bench_SIZE_ALG.eml        with --bench: 2k, 100k and 1m bodies signed
                                  with rsa (2048 bits) and ed (Ed25519), for
                                  tests/bench/bench_dkim

Usage: make_corpus.py [--bench] OUT   (with /usr/bin/python3: it needs dkimpy)
"""
import base64
import os
import subprocess
import sys
import time

import dkim
import nacl.encoding
import nacl.signing

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = int(time.time())
HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
           b"content-type"]

BASE_HEADERS = (
    b"From: Alice Example <alice@signer.example>\r\n"
    b"To: Bob <bob@rcpt.example>\r\n"
    b"Subject: Quarterly report\r\n"
    b"Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
    b"Message-ID: <m1@signer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
)
BASE_BODY = (
    b"Hello Bob,\r\n"
    b"\r\n"
    b"Here is the report.  With  double  spaces   and trailing space \r\n"
    b"and a tab\there.\r\n"
    b"\r\n"
    b"-- \r\n"
    b"Alice\r\n"
    b"\r\n"
    b"\r\n"
)
BASE = BASE_HEADERS + b"\r\n" + BASE_BODY


class Signer(dkim.DKIM):
    """dkimpy's signer, with t= and x= of our choosing (dkimpy writes t=
    from the clock and has no x=), and optionally its tag list edited
    (edit: a function from the list of (name, value) to a new one): the
    fields are set before dkimpy builds and signs the header, so the
    signature covers them."""

    def __init__(self, message, t=None, x=None, edit=None, **kw):
        super().__init__(message, **kw)
        self.fix_t, self.fix_x, self.edit = t, x, edit

    def gen_header(self, fields, include_headers, canon_policy, header_name, pk,
                   standardize=False):
        out = []
        for name, value in fields:
            if name == b"t" and self.fix_t is not None:
                value = str(self.fix_t).encode()
            out.append((name, value))
            if name == b"t" and self.fix_x is not None:
                out.append((b"x", str(self.fix_x).encode()))
        if self.edit is not None:
            out = self.edit(out)
        return super().gen_header(out, include_headers, canon_policy, header_name, pk,
                                  standardize)


def run(*argv, data=None):
    return subprocess.run(argv, input=data, check=True, capture_output=True).stdout


class RsaKey:
    def __init__(self, bits):
        self.private = run("openssl", "genrsa", "-traditional", str(bits))
        der = run("openssl", "rsa", "-pubout", "-outform", "DER", data=self.private)
        self.public = base64.b64encode(der).decode()
        self.alg = b"rsa-sha256"


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(n):
    b = n.to_bytes(n.bit_length() // 8 + 1, "big")  # a leading 0: never negative
    return der(0x02, b)


class BigRsaKey:
    """An RSA key with an 8192-bit modulus made of four 2048-bit primes
    (openssl prime), so that it takes a second rather than the half
    minute of openssl genrsa 8192.  A verifier sees an ordinary 8192-bit
    public key.  The private key is written as a two-"prime" PKCS#1 key
    (p = p1 p2, q = p3 p4, the CRT exponents reduced modulo lcm), which
    dkimpy's CRT signing uses as it is."""

    def __init__(self, bits=8192):
        primes = []
        while len(primes) < 4:
            out = run("openssl", "prime", "-generate", "-bits", str(bits // 4), "-hex")
            p = int(out.strip(), 16)
            if p not in primes:
                primes.append(p)
        p, q = primes[0] * primes[1], primes[2] * primes[3]
        n, e = p * q, 65537

        def lcm(a, b):
            import math
            return a * b // math.gcd(a, b)
        lam_p = lcm(primes[0] - 1, primes[1] - 1)
        lam_q = lcm(primes[2] - 1, primes[3] - 1)
        d = pow(e, -1, lcm(lam_p, lam_q))
        fields = [0, n, e, d, p, q, d % lam_p, d % lam_q, pow(q, -1, p)]
        pkcs1 = der(0x30, b"".join(der_int(x) for x in fields))
        self.private = (b"-----BEGIN RSA PRIVATE KEY-----\n" +
                        base64.encodebytes(pkcs1) + b"-----END RSA PRIVATE KEY-----\n")
        rsa_pub = der(0x30, der_int(n) + der_int(e))
        alg = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
        spki = der(0x30, alg + der(0x03, b"\x00" + rsa_pub))
        self.public = base64.b64encode(spki).decode()
        self.alg = b"rsa-sha256"


class EdKey:
    def __init__(self, seed_b64=None):
        if seed_b64 is None:
            sk = nacl.signing.SigningKey.generate()
        else:
            sk = nacl.signing.SigningKey(seed_b64, encoder=nacl.encoding.Base64Encoder)
        self.private = sk.encode(encoder=nacl.encoding.Base64Encoder)
        self.public = sk.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode()
        self.alg = b"ed25519-sha256"


def sign(msg, sel, dom, key, canon=(b"relaxed", b"relaxed"), headers=None, alg=None,
         length=False, identity=None, t=None, x=None, edit=None):
    """Returns msg with a new DKIM-Signature on top."""
    s = Signer(msg, t=t, x=x, edit=edit)
    sig = s.sign(sel.encode(), dom.encode(), key.private, signature_algorithm=alg or key.alg,
                 canonicalize=canon, include_headers=headers or HEADERS, length=length,
                 identity=identity.encode() if identity else None)
    return sig + msg


def txt(value):
    """A TXT RDATA of strings of at most 255 bytes."""
    parts = [value[i:i + 200] for i in range(0, len(value), 200)] or [""]
    return " ".join('"%s"' % p for p in parts)


def padded(record, size):
    """record with an n= (notes) tag that makes it size bytes long."""
    pad = size - len(record) - len("; n=")
    assert pad > 0
    return record + "; n=" + ("notes " * size)[:pad - 1] + "."


def zone(path, origin, records):
    with open(path, "w") as f:
        f.write("$ORIGIN %s.\n$TTL 300\n" % origin)
        f.write("@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 60\n" % (origin, origin))
        f.write("@ NS ns.%s.\nns A 192.0.2.53\n" % origin)
        for name, rtype, data in records:
            f.write("%s %s %s\n" % (name, rtype, data))


def main(out, bench=False):
    os.makedirs(os.path.join(out, "zones"), exist_ok=True)
    os.makedirs(os.path.join(out, "msgs"), exist_ok=True)
    msgs = {}

    k2048, k1024, k768, k512 = RsaKey(2048), RsaKey(1024), RsaKey(768), RsaKey(512)
    ed, other, big = EdKey(), RsaKey(2048), BigRsaKey(8192)
    key = "v=DKIM1; k=rsa; p=%s"
    pub = k2048.public
    # Strict key-record syntax (RFC 6376 3.2, 3.6.1) and its neighbours.
    strict_keys = {
        "star": key % (pub[:100] + "*" + pub[100:]),  # not base64: libopendkim skips it
        "dupk": "v=DKIM1; k=rsa; k=rsa; p=%s" % pub,
        "dupp": "v=DKIM1; k=rsa; p=%s; p=%s" % (pub, pub),
        "badpad": key % pub[:-1],
        "nop": "v=DKIM1; k=rsa",
        "emptyspec": "v=DKIM1;; k=rsa; p=%s" % pub,
        "badname": "v=DKIM1; k=rsa; 9x=1; p=%s" % pub,
        "vnotfirst": "k=rsa; v=DKIM1; p=%s" % pub,
        "vother": "v=DKIM2; k=rsa; p=%s" % pub,
        "hunknown": "v=DKIM1; k=rsa; h=sha512; p=%s" % pub,
        "edforrsa": "v=DKIM1; k=ed25519; p=%s" % ed.public,
        # neighbours that must pass
        "fwsp": key % " ".join(pub[i:i + 64] for i in range(0, len(pub), 64)),
        "unknowntags": "v=DKIM1; k=rsa; n=notes here; foo=bar; x_1=2; p=%s" % pub,
        "nok": "v=DKIM1; p=%s" % pub,
        "bare": "p=%s" % pub,
        "hextra": "v=DKIM1; k=rsa; h=sha512:sha256; p=%s" % pub,
        "sextra": "v=DKIM1; k=rsa; s=tlsrpt:email; p=%s" % pub,
        "tunknown": "v=DKIM1; k=rsa; t=q; p=%s" % pub,
        "trailing": "v=DKIM1; k=rsa; p=%s; " % pub,
    }
    zone(os.path.join(out, "zones", "signer.example.zone"), "signer.example", [
        ("s2048._domainkey", "TXT", txt(key % k2048.public)),
        ("s1024._domainkey", "TXT", txt(key % k1024.public)),
        ("s768._domainkey", "TXT", txt(key % k768.public)),
        ("s512._domainkey", "TXT", txt(key % k512.public)),
        ("ed._domainkey", "TXT", txt("v=DKIM1; k=ed25519; p=%s" % ed.public)),
        ("revoked._domainkey", "TXT", txt("v=DKIM1; k=rsa; p=")),
        ("testing._domainkey", "TXT", txt("v=DKIM1; k=rsa; t=y; p=%s" % k2048.public)),
        ("tlsonly._domainkey", "TXT", txt("v=DKIM1; k=rsa; s=tlsrpt; p=%s" % k2048.public)),
        ("strict._domainkey", "TXT", txt("v=DKIM1; k=rsa; t=s; p=%s" % k2048.public)),
        ("sha1only._domainkey", "TXT", txt("v=DKIM1; k=rsa; h=sha1; p=%s" % k2048.public)),
        ("badkey._domainkey", "TXT", txt("v=DKIM1; k=rsa; p=MIIBIjAN!!!not*base64")),
        ("unknownk._domainkey", "TXT", txt("v=DKIM1; k=foo; p=%s" % k2048.public)),
        ("nodata._domainkey", "A", "192.0.2.1"),
        ("twokeys._domainkey", "TXT", txt("a stray record")),
        ("twokeys._domainkey", "TXT", txt(key % k2048.public)),
        ("flaky._domainkey", "TXT", txt(key % k2048.public)),
        ("slow._domainkey", "TXT", txt(key % k2048.public)),
        ("delayed._domainkey", "TXT", txt(key % k2048.public)),
        ("s8192._domainkey", "TXT", txt(key % big.public)),
        ("s8192delayed._domainkey", "TXT", txt(key % big.public)),
        # 4,096-byte key records: notes (n=) fill them up
        ("long2048._domainkey", "TXT", txt(padded(key % k2048.public, 4096))),
        ("long8192._domainkey", "TXT", txt(padded(key % big.public, 4096))),
    ] + [(sel + "._domainkey", "TXT", txt(rec)) for sel, rec in strict_keys.items()])
    zone(os.path.join(out, "zones", "second.example.zone"), "second.example", [
        ("sel._domainkey", "TXT", txt(key % other.public)),
    ])
    # RFC 8463 appendix A: its published keys, and a signature dkimpy makes
    # with the published Ed25519 private key.
    with open(os.path.join(HERE, "rfc8463-brisbane.key"), "rb") as f:
        rfc_ed = EdKey(f.read().strip())
    assert rfc_ed.public == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    zone(os.path.join(out, "zones", "football.example.com.zone"), "football.example.com", [
        ("brisbane._domainkey", "TXT", txt("v=DKIM1; k=ed25519; p=%s" % rfc_ed.public)),
        ("test._domainkey", "TXT", txt(
            "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
            "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
            "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
            "Ip3G+2kryOTIKT+l/K4w3QIDAQAB")),
    ])
    with open(os.path.join(HERE, "rfc8463.eml"), "rb") as f:
        rfc = f.read()
    rfc_body = rfc[rfc.index(b"From: Joe"):]
    msgs["rfc8463_dkimpy"] = sign(rfc_body, "brisbane", "football.example.com", rfc_ed,
                                  headers=[b"from", b"to", b"subject", b"date", b"message-id"])

    # Canonicalizations and algorithms.
    for h in (b"simple", b"relaxed"):
        for b in (b"simple", b"relaxed"):
            msgs["rsa_%s_%s" % (h.decode(), b.decode())] = sign(BASE, "s2048", "signer.example",
                                                               k2048, canon=(h, b))
    msgs["ed25519"] = sign(BASE, "ed", "signer.example", ed)
    msgs["rsa1024"] = sign(BASE, "s1024", "signer.example", k1024)
    msgs["rsa768"] = sign(BASE, "s768", "signer.example", k768)
    msgs["rsa512"] = sign(BASE, "s512", "signer.example", k512)
    msgs["rsa_sha1"] = sign(BASE, "s2048", "signer.example", k2048, alg=b"rsa-sha1")
    msgs["unsigned"] = BASE
    good = msgs["rsa_relaxed_relaxed"]

    # Line endings, 8-bit bodies, long folded headers, empty bodies.
    msgs["lf_relaxed"] = good.replace(b"\r\n", b"\n")
    msgs["lf_simple"] = msgs["rsa_simple_simple"].replace(b"\r\n", b"\n")
    eight = BASE_HEADERS + b"\r\n" + ("Grüße aus Köln, ½ € — ça va ?\r\n".encode("utf-8")
                                      + b"latin-1: caf\xe9 na\xefve \xff\x80\r\n")
    for c in (b"simple", b"relaxed"):
        msgs["8bit_%s" % c.decode()] = sign(eight, "s2048", "signer.example", k2048,
                                            canon=(c, c))
    folded = (b"From: Alice Example <alice@signer.example>\r\n"
              b"To: " + b",\r\n\t".join(b"Reader %d <r%d@rcpt.example>" % (i, i)
                                      for i in range(25)) + b"\r\n"
              b"Subject: " + b"\r\n ".join(b"a long subject line part %d of it" % i
                                          for i in range(12)) + b"\r\n"
              b"Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
              b"Message-ID: <m2@signer.example>\r\n\r\nbody\r\n")
    for c in (b"simple", b"relaxed"):
        msgs["folded_%s" % c.decode()] = sign(folded, "s2048", "signer.example", k2048,
                                              canon=(c, c),
                                              headers=[b"from", b"to", b"subject", b"date"])
    empty = BASE_HEADERS + b"\r\n"
    for c in (b"simple", b"relaxed"):
        msgs["empty_body_%s" % c.decode()] = sign(empty, "s2048", "signer.example", k2048,
                                                  canon=(c, c))

    # Tampered copies.
    msgs["tampered_body"] = good.replace(b"the report.", b"the report!")
    msgs["tampered_header"] = good.replace(b"Subject: Quarterly report",
                                           b"Subject: Quarterly rep0rt")
    mallory = b"From: Mallory <mallory@evil.example>\r\n"
    msgs["from_added"] = mallory + good
    msgs["subject_added"] = b"Subject: Urgent: wire money\r\n" + good
    msgs["unsigned_added"] = b"X-Mailer: anything\r\nReceived: by relay.example\r\n" + good
    over = HEADERS + [b"from", b"subject"]
    msgs["oversigned"] = sign(BASE, "s2048", "signer.example", k2048, headers=over)
    msgs["oversigned_from_added"] = mallory + msgs["oversigned"]

    # Several signatures.
    msgs["two_domains"] = sign(good, "sel", "second.example", other)
    broken = sign(BASE, "ed", "signer.example", ed)
    at = broken.index(b" b=") + 3
    broken = broken[:at] + (b"A" if broken[at:at + 1] != b"A" else b"B") + broken[at + 1:]
    msgs["one_good_one_broken"] = sign(broken, "s2048", "signer.example", k2048)
    msgs["three_signatures"] = sign(msgs["two_domains"], "ed", "signer.example", ed)

    # Timestamps.
    msgs["expired"] = sign(BASE, "s2048", "signer.example", k2048, t=NOW - 10 * 86400,
                           x=NOW - 86400)
    msgs["expired_within_skew"] = sign(BASE, "s2048", "signer.example", k2048,
                                       t=NOW - 86400, x=NOW - 60)
    msgs["future"] = sign(BASE, "s2048", "signer.example", k2048, t=NOW + 86400)
    msgs["future_within_skew"] = sign(BASE, "s2048", "signer.example", k2048, t=NOW + 60)

    # Body length limits.
    msgs["length"] = sign(BASE, "s2048", "signer.example", k2048, length=True)
    msgs["length_appended"] = msgs["length"] + b"Unsigned text appended by someone.\r\n"
    msgs["length_simple"] = sign(BASE, "s2048", "signer.example", k2048, length=True,
                                 canon=(b"simple", b"simple"))
    msgs["length_simple_appended"] = msgs["length_simple"] + b"\r\nP.S. appended\r\n"
    msgs["length_simple_blank_lines"] = msgs["length_simple"] + b"\r\n\r\n"
    msgs["length_truncated"] = msgs["length"].replace(b"Alice\r\n\r\n\r\n", b"Al\r\n")

    # Keys.
    for sel in ("revoked", "testing", "tlsonly", "sha1only", "badkey", "unknownk", "nodata",
                "missing", "twokeys", "flaky", "slow", "delayed"):
        msgs["key_" + sel] = sign(BASE, sel, "signer.example", k2048)
    msgs["key_strict_subdomain"] = sign(BASE, "strict", "signer.example", k2048,
                                        identity="alice@news.signer.example")
    msgs["key_strict_same"] = sign(BASE, "strict", "signer.example", k2048,
                                   identity="alice@signer.example")
    # Two signatures with one key whose h=sha1 accepts the top one only:
    # libopendkim reuses the key for the second without a new lookup.
    msgs["key_sha1only_two_signatures"] = sign(
        sign(BASE, "sha1only", "signer.example", k2048), "sha1only", "signer.example",
        k2048, alg=b"rsa-sha1")
    for sel in strict_keys:
        msgs["key_" + sel] = sign(BASE, sel, "signer.example", k2048)
    msgs["rsa8192"] = sign(BASE, "s8192", "signer.example", big)
    msgs["rsa8192_tampered"] = msgs["rsa8192"].replace(b"the report.", b"the report!")
    # RSA-8192 is verified by our own canonicalisation (lib/dkim/dkim_canon.c):
    # each canonicalisation, l=, bare LF, folded headers, tampering.
    for h in (b"simple", b"relaxed"):
        for b in (b"simple", b"relaxed"):
            msgs["rsa8192_%s_%s" % (h.decode(), b.decode())] = sign(
                BASE, "s8192", "signer.example", big, canon=(h, b))
    msgs["rsa8192_tampered_header"] = msgs["rsa8192"].replace(
        b"Subject: Quarterly report", b"Subject: Quarterly rep0rt")
    msgs["rsa8192_lf"] = msgs["rsa8192_simple_simple"].replace(b"\r\n", b"\n")
    msgs["rsa8192_folded"] = sign(folded, "s8192", "signer.example", big,
                                  canon=(b"simple", b"simple"),
                                  headers=[b"from", b"to", b"subject", b"date"])
    msgs["rsa8192_oversigned"] = sign(BASE, "s8192", "signer.example", big,
                                      headers=HEADERS + [b"from", b"subject"])
    msgs["rsa8192_from_added"] = mallory + msgs["rsa8192_oversigned"]
    msgs["rsa8192_length"] = sign(BASE, "s8192", "signer.example", big, length=True,
                                  canon=(b"simple", b"simple"))
    msgs["rsa8192_length_appended"] = msgs["rsa8192_length"] + b"\r\nP.S. appended\r\n"
    msgs["rsa8192_empty_body"] = sign(empty, "s8192", "signer.example", big,
                                      canon=(b"simple", b"simple"))
    msgs["key_long2048"] = sign(BASE, "long2048", "signer.example", k2048)
    msgs["key_long8192"] = sign(BASE, "long8192", "signer.example", big)
    msgs["rsa8192_delayed"] = sign(BASE, "s8192delayed", "signer.example", big)
    msgs["rsa8192_sha1"] = sign(BASE, "s8192", "signer.example", big, alg=b"rsa-sha1")

    # Strict DKIM-Signature syntax (RFC 6376 3.2, 3.5), signed by dkimpy
    # with its tag list edited, and neighbours that must pass.
    def before_b(extra):
        return lambda f: f[:-1] + extra + f[-1:]

    def replace(name, value):
        return lambda f: [(n, value if n == name else v) for n, v in f]
    sig_edits = {
        "sig_unknown_tags": before_b([(b"foo", b"bar"), (b"z_9", b"x y")]),
        "sig_q_two_methods": replace(b"q", b"foo/bar : dns/txt"),
        "sig_alg_capitals": replace(b"a", b"RSA-SHA256"),
        "sig_duplicate_tag": before_b([(b"d", b"signer.example")]),
        "sig_bad_tag_name": before_b([(b"_x", b"1")]),
        "sig_q_unknown": replace(b"q", b"foo/bar"),
        "sig_version_2": replace(b"v", b"2"),
        "sig_no_version": lambda f: [(n, v) for n, v in f if n != b"v"],
        "sig_bad_domain": replace(b"d", b"signer..example"),
        "sig_bad_length": lambda f: f[:-1] + [(b"l", b"12a")] + f[-1:],
    }
    for name, edit in sig_edits.items():
        msgs[name] = sign(BASE, "s2048", "signer.example", k2048, edit=edit)
    msgs["sig_x_not_after_t"] = sign(BASE, "s2048", "signer.example", k2048, t=NOW,
                                     x=NOW)
    b_at = good.index(b" b=") + 13
    msgs["sig_b_not_base64"] = good[:b_at] + b"*" + good[b_at:]

    # Broken signatures.
    no_from = sign(BASE, "s2048", "signer.example", k2048)
    msgs["from_not_signed"] = no_from.replace(b"h=from : to", b"h=to", 1)
    assert msgs["from_not_signed"] != no_from
    msgs["unknown_algorithm"] = good.replace(b"a=rsa-sha256", b"a=rsa-sha512", 1)
    msgs["identity_outside"] = good.replace(b"i=@signer.example", b"i=@evil.example", 1)
    msgs["garbage_tag_list"] = (b"DKIM-Signature: v=1; a=rsa-sha256; d=signer.example;"
                                b" s=s2048; h=from; bh=\x01; b=abc\r\n") + BASE

    # A large message: several MiB, fed in 64 KiB chunks.
    line = b"0123456789 The quick brown fox jumps over the lazy dog. 0123456789\r\n"
    big = BASE_HEADERS + b"\r\n" + line * (6 * 1024 * 1024 // len(line))
    msgs["large"] = sign(big, "s2048", "signer.example", k2048,
                         canon=(b"relaxed", b"simple"))

    if bench:
        for label, size in (("2k", 2 * 1024), ("100k", 100 * 1024), ("1m", 1024 * 1024)):
            body = line * (size // len(line)) + line[:size % len(line) - 2] + b"\r\n"
            for alg, k, sel in (("rsa", k2048, "s2048"), ("ed", ed, "ed")):
                msgs["bench_%s_%s" % (label, alg)] = sign(BASE_HEADERS + b"\r\n" + body, sel,
                                                          "signer.example", k)

    for name, data in msgs.items():
        with open(os.path.join(out, "msgs", name + ".eml"), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "msgs", "rfc8463.eml"), "wb") as f:
        f.write(rfc)


if __name__ == "__main__":
    args = sys.argv[1:]
    bench = "--bench" in args
    args = [a for a in args if a != "--bench"]
    if len(args) != 1:
        sys.exit("usage: make_corpus.py [--bench] OUT")
    main(args[0], bench)
