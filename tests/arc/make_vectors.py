#!/usr/bin/python3
"""make_vectors: the ARC (RFC 8617) test vectors of tests/arc/check_arc.c
and tests/protocol/check_arc_daemon.c.

Every chain is sealed at test time by an independent implementation,
dkimpy's ARC signer (Debian's python3-dkim), with RSA keys generated now
(openssl); nothing private is committed.  Writes, under OUT:

  zones/arc.example.zone   the sealers' keys (hop1..hop3, lists, untrusted,
                           revoked, many) and the author's DKIM key, DMARC
                           (p=reject) and SPF records
  msgs/NAME.eml            the messages (CRLF)
  dkimpy.txt               "NAME RESULT" per message: dkimpy's arc_verify
                           over the same zone (pass, fail, none; dkimpy's
                           "chain terminated" for a cv=fail seal is "fail")

Each sealer is a subdomain of arc.example so one zone serves them all.

Usage: make_vectors.py OUT   (with /usr/bin/python3: it needs dkimpy)
"""
import os
import re
import sys

import dkim

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dkim"))
import nacl.signing  # noqa: E402
from make_corpus import EdKey, RsaKey, txt, zone  # noqa: E402

AUTHOR = "author.arc.example"
HEADERS = (
    "From: Alice <alice@%s>\r\n"
    "To: list@lists.arc.example\r\n"
    "Subject: Meeting notes\r\n"
    "Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n"
    "Message-ID: <arc1@%s>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n" % (AUTHOR, AUTHOR)
).encode()
BODY = b"Hello list,\r\n\r\nthe notes of today's  meeting.\r\n\r\nAlice\r\n"
FOOTER = b"-- \r\nlist mailing list -- unsubscribe: list-leave@lists.arc.example\r\n"
SIGN = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
        b"content-type"]


class Sealer:
    def __init__(self, name, key):
        self.domain = "%s.arc.example" % name
        self.key = key

    def seal(self, msg, arc_result, ar_extra=b"", res=None):
        """Adds this hop's Authentication-Results (what it verified -- res,
        by default SPF, DKIM and DMARC pass for the author -- and arc= of
        the chain it received unless arc_result is None) and its ARC set on
        top, as a forwarder does."""
        if res is None:
            res = (b"spf=pass smtp.mailfrom=" + AUTHOR.encode() +
                   b"; dkim=pass header.d=" + AUTHOR.encode() +
                   b"; dmarc=pass header.from=" + AUTHOR.encode())
        if arc_result is not None:
            res += b"; arc=" + arc_result
        ar = (b"Authentication-Results: " + self.domain.encode() + b"; " + res + ar_extra +
              b"\r\n")
        msg = ar + msg
        if self.key.alg == b"ed25519-sha256":
            sets = ed_arc_sign(msg, self.domain.encode(), self.key.private)
        else:
            sets = dkim.arc_sign(msg, b"sel", self.domain.encode(), self.key.private,
                                 self.domain.encode(), include_headers=SIGN,
                                 timestamp=1748858400)
        assert sets, "dkimpy made no ARC set"
        return b"".join(sets) + msg


def ed_arc_sign(msg, domain, seed):
    """dkimpy's ARC signer with an Ed25519 key (RFC 8463): dkim.arc_sign
    is RSA only and ARC.sign reads the key as PEM, so the PEM reader is
    swapped for the Ed25519 seed reader while it signs."""
    pem = dkim.parse_pem_private_key
    dkim.parse_pem_private_key = lambda k: nacl.signing.SigningKey(
        k, encoder=nacl.encoding.Base64Encoder)
    try:
        a = dkim.ARC(msg, signature_algorithm=b"ed25519-sha256")
        return a.sign(b"sel", domain, seed, domain, include_headers=SIGN,
                      timestamp=1748858400)
    finally:
        dkim.parse_pem_private_key = pem


def dkim_sign(msg, key):
    sig = dkim.sign(msg, b"sel", AUTHOR.encode(), key.private, include_headers=SIGN,
                    canonicalize=(b"relaxed", b"relaxed"))
    return sig + msg


def list_hop(msg):
    """What a mailing list does: Subject tag and footer (author's DKIM
    signature breaks)."""
    head, body = msg.split(b"\r\n\r\n", 1)
    head = head.replace(b"Subject: ", b"Subject: [list] ", 1)
    return head + b"\r\n\r\n" + body + FOOTER


def edit_field(msg, name, inst, fn):
    """Applies fn to the (unfolded-on-read) field 'name' with i=inst."""
    lines = msg.split(b"\r\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        j = i + 1
        while j < len(lines) and lines[j][:1] in (b" ", b"\t"):
            j += 1
        field = b"\r\n".join(lines[i:j])
        if field.lower().startswith(name.lower() + b":") and \
                re.search(rb"\bi\s*=\s*%d\s*;" % inst, field):
            field = fn(field)
        if field is not None:
            out.append(field)
        i = j
    return b"\r\n".join(out)


def edit_ar(msg):
    """msg without its Authentication-Results fields."""
    return b"\r\n".join(f for f in re.split(rb"\r\n(?![ \t])", msg)
                        if not f.lower().startswith(b"authentication-results:"))


def main(out):
    os.makedirs(os.path.join(out, "zones"), exist_ok=True)
    os.makedirs(os.path.join(out, "msgs"), exist_ok=True)
    k = {n: RsaKey(2048) for n in ("hop1", "hop2", "hop3", "lists", "untrusted", "author")}
    k["revoked"] = RsaKey(2048)
    k["nokey"] = RsaKey(2048)
    k["edhop"] = EdKey()
    hop = {n: Sealer(n, k[n]) for n in k}
    records = []
    keytxt = {}
    for n in ("hop1", "hop2", "hop3", "lists", "untrusted"):
        keytxt["sel._domainkey.%s" % n] = "v=DKIM1; k=rsa; p=%s" % k[n].public
    keytxt["sel._domainkey.revoked"] = "v=DKIM1; k=rsa; p="
    keytxt["sel._domainkey.edhop"] = "v=DKIM1; k=ed25519; p=%s" % k["edhop"].public
    keytxt["sel._domainkey.author"] = "v=DKIM1; k=rsa; p=%s" % k["author"].public
    keytxt["_dmarc.author"] = "v=DMARC1; p=reject; rua=mailto:agg@author.arc.example"
    keytxt["author"] = "v=spf1 ip4:192.0.2.1 -all"
    for n in ("lists", "untrusted", "hop1"):
        keytxt[n] = "v=spf1 ip4:192.0.2.0/24 -all"
    for name, value in keytxt.items():
        records.append((name, "TXT", txt(value)))
    zone(os.path.join(out, "zones", "arc.example.zone"), "arc.example", records)

    original = dkim_sign(HEADERS + b"\r\n" + BODY, k["author"])
    msgs = {"none": original}
    one = hop["hop1"].seal(original, None)
    msgs["one_hop"] = one
    two = hop["hop2"].seal(one, b"pass")
    msgs["three_hop"] = hop["hop3"].seal(two, b"pass")
    # an Ed25519 sealer (RFC 8463) after an RSA one
    msgs["ed25519"] = hop["edhop"].seal(one, b"pass")
    msgs["ed25519_tampered"] = edit_field(msgs["ed25519"], b"ARC-Authentication-Results", 2,
                                          lambda f: f.replace(b"dkim=pass", b"dkim=fail"))
    # a hop changes the body and seals: the older AMS fails, the chain
    # still passes; oldest-pass names the hop that changed it
    msgs["body_changed_then_sealed"] = hop["hop2"].seal(list_hop(one), b"pass")
    # the body changed after the last seal
    msgs["body_changed_after_seal"] = list_hop(two)
    # a seal broken: the AAR of i=1 edited after sealing (both seals cover it)
    msgs["as_broken"] = edit_field(two, b"ARC-Authentication-Results", 1,
                                   lambda f: f.replace(b"spf=pass", b"spf=fail"))
    # structure
    three = msgs["three_hop"]
    msgs["gap"] = three
    for name in (b"ARC-Seal", b"ARC-Message-Signature", b"ARC-Authentication-Results"):
        msgs["gap"] = edit_field(msgs["gap"], name, 2, lambda f: None)
    msgs["missing_ams"] = edit_field(two, b"ARC-Message-Signature", 1, lambda f: None)
    dup = edit_field(two, b"ARC-Authentication-Results", 1, lambda f: f + b"\r\n" + f)
    msgs["duplicate"] = dup
    # the newest seal says the chain it got had failed
    msgs["cv_fail"] = hop["hop2"].seal(one, b"fail")
    msgs["revoked_key"] = hop["revoked"].seal(original, None)
    msgs["no_key"] = hop["nokey"].seal(original, None)
    # a mailing list after a p=reject author, sealed by a trusted or an
    # untrusted list
    msgs["list_trusted"] = hop["lists"].seal(list_hop(original), None)
    msgs["list_untrusted"] = hop["untrusted"].seal(list_hop(original), None)
    # what the trusted list saw, one claim at a time: an aligned SPF pass,
    # an aligned DKIM pass (a comment in the way), a DMARC pass for another
    # From domain, and failures only
    a = AUTHOR.encode()
    claims = {
        "list_claims_spf": b"spf=pass smtp.mailfrom=alice@" + a + b"; dkim=none",
        "list_claims_dkim": b"spf=fail smtp.mailfrom=" + a +
                            b"; dkim=pass (good signature) header.d=" + a,
        "list_claims_other_from": b"dmarc=pass header.from=other.example",
        "list_claims_fail": b"spf=fail smtp.mailfrom=" + a + b"; dkim=fail header.d=" + a +
                            b"; dmarc=fail header.from=" + a,
    }
    for name, res in claims.items():
        msgs[name] = hop["lists"].seal(list_hop(original), None, res=res)
    # the trusted list seals, then an untrusted hop changes the body and
    # seals: the chain passes with oldest-pass=2, the list's word no longer
    # covers the body
    changed = msgs["list_trusted"].replace(FOOTER, FOOTER + b"Buy now!\r\n")
    msgs["list_then_changed"] = hop["untrusted"].seal(changed, b"pass")
    # 50 sets pass, 51 fail
    m = one
    for i in range(2, 51):  # one sealer: its earlier AR fields go (dkimpy reads them all)
        m = hop["hop1"].seal(edit_ar(m), b"pass")
    msgs["fifty"] = m
    top = [f for f in re.split(rb"\r\n(?![ \t])", m) if re.search(rb"\bi\s*=\s*50\s*;", f)
           and f.split(b":", 1)[0].lower().startswith(b"arc-")]
    msgs["fifty_one"] = b"\r\n".join(
        re.sub(rb"\bi\s*=\s*50\s*;", b"i=51;", f) for f in top) + b"\r\n" + m

    zonemap = {"%s.arc.example." % n: v.encode() for n, v in keytxt.items()}

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        return zonemap.get(n if n.endswith(".") else n + ".")

    # dkimpy's ARC verifier knows rsa-sha256 only (ARC_HASH_ALGORITHMS);
    # its DKIM verifier knows Ed25519: let ARC use it for the cross-check
    dkim.ARC_HASH_ALGORITHMS = dict(dkim.ARC_HASH_ALGORITHMS)
    dkim.ARC_HASH_ALGORITHMS[b"ed25519-sha256"] = dkim.HASH_ALGORITHMS[b"ed25519-sha256"]
    with open(os.path.join(out, "dkimpy.txt"), "w") as f:
        for name, msg in msgs.items():
            with open(os.path.join(out, "msgs", name + ".eml"), "wb") as g:
                g.write(msg)
            cv, _, why = dkim.arc_verify(msg, dnsfunc=dnsfunc)
            cv = (cv or b"fail").decode()
            f.write("%s %s\n" % (name, cv))


if __name__ == "__main__":
    main(sys.argv[1])
