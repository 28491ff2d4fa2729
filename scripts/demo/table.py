"""scripts/demo/table.py ROWS VERDICTS -- the demo's summary (scripts/demo.sh).

ROWS has one line per message sent, tab-separated: label, client address,
MAIL FROM, swaks transcript.  VERDICTS is faultline's verdict log (one JSON
record per message, verdict_log).  Prints a table -- message, the SMTP reply
the sending client saw, whose side has to act, what to fix -- and then one
refused message's verdict in plain words.  Everything printed comes from
the transcripts and faultline's records; nothing is made up here.
"""
import json
import re
import shutil
import sys
import textwrap


def smtp_reply(transcript):
    """The reply that ended the transaction: the first 4xx/5xx, else the
    "queued as" 250."""
    lines = open(transcript, errors="replace").read().splitlines()
    for line in lines:
        if re.match(r"^[45]\d\d[ -]", line):
            return line
    for line in lines:
        if re.match(r"^250[ -].*queued as", line):
            return line
    return "(no reply: see %s)" % transcript


def deciding_check(rec):
    """The check the verdict names (its reason), else the first check that
    blames a side, else None."""
    for c in rec["checks"]:
        if rec.get("reason") and c.get("reason") == rec["reason"]:
            return c
    for c in rec["checks"]:
        if c.get("fault") not in (None, "none"):
            return c
    return None


def fault_of(rec):
    c = deciding_check(rec)
    if rec["fault"] != "none":
        return rec["fault"] + (", transient" if rec.get("transient") else "")
    if c is not None and c["fault"] != "none":
        return "%s (%s)" % (c["fault"], c["method"])
    if rec["action"] == "tempfail":
        return "none (policy)"
    return "none"


def what_to_fix(rec):
    c = deciding_check(rec)
    if c is not None and c.get("detail"):
        return c["detail"]
    grey = [x for x in rec["checks"] if x["method"] == "greylist" and x["result"] == "pass"]
    if grey and grey[0].get("detail"):
        return "nothing: " + grey[0]["detail"]
    passed = [x["method"].upper() for x in rec["checks"]
              if x["result"] == "pass" and x["method"] in ("spf", "dkim", "dmarc")
              and "smtp.helo" not in x.get("props", {})]
    if passed:
        return "nothing: %s pass" % ", ".join(passed)
    return "nothing"


def short_reply(reply):
    """A refusal's code and first clause; the whole text is in the plain-
    words part."""
    if reply[:1] in "45" and ": " in reply:
        return reply.split(": ")[0]
    return reply


def check_name(c):
    return c["method"] + ("(helo)" if "smtp.helo" in c.get("props", {}) else "")


def print_table(header, rows):
    width = max(shutil.get_terminal_size((120, 24)).columns, 100)
    widths = [24, 34, 16]
    widths.append(width - sum(widths) - 2 * len(widths) - 1)
    for row in [header, ["-" * w for w in widths]] + rows:
        cells = [textwrap.wrap(text, w) or [""] for text, w in zip(row, widths)]
        for i in range(max(len(c) for c in cells)):
            print("  ".join((c[i] if i < len(c) else "").ljust(w)
                            for c, w in zip(cells, widths)).rstrip())


def explain(label, rec, reply):
    c = deciding_check(rec)
    who = {"sender": "the sender's", "receiver": "ours (the receiver's)"}
    print('\nThe verdict on "%s", in plain words:' % label)
    text = ("A server at %s offered a message from %s.  faultline %s it while "
            "the SMTP conversation was still open, with the reply \"%s\".  The "
            "sending server returns the message to %s with that reply, so the "
            "sender learns what to fix without asking us.  Whose side has to act: "
            "%s (fault=%s)." % (
                rec["client"]["ip"], rec["mail_from"],
                {"reject": "refused", "tempfail": "deferred"}.get(rec["action"], "accepted"),
                reply, rec["mail_from"], who.get(rec["fault"], "nobody's"), rec["fault"]))
    others = ["%s=%s" % (check_name(x), x["result"]) for x in rec["checks"]
              if x is not c and x["result"] != "skipped"]
    if others and not any(x["fault"] == "receiver" for x in rec["checks"]):
        text += "  Nothing failed on our side; the other checks: %s." % ", ".join(others)
    for para in textwrap.wrap(text, 78):
        print("  " + para)


def main():
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
    recs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
    table, refused = [], None
    for label, ip, mail_from, transcript in rows:
        # one record per attempt, in order: take the first unused one
        rec = next((r for r in recs if r["client"]["ip"] == ip
                    and r.get("mail_from") == mail_from), None)
        reply = smtp_reply(transcript)
        if rec is None:
            table.append([label, short_reply(reply), "?", "no verdict record"])
            continue
        recs.remove(rec)
        table.append([label, short_reply(reply), fault_of(rec), what_to_fix(rec)])
        if refused is None and rec["action"] == "reject":
            refused = (label, rec, reply)
    print_table(["message", "SMTP reply the client saw", "fault", "what to fix"], table)
    if refused:
        explain(*refused)
    return 0 if all(t[2] != "?" for t in table) else 1


if __name__ == "__main__":
    sys.exit(main())
