#!/usr/bin/python3
"""verdicts_compare: REF.jsonl OTHER.jsonl... -- every verdict record of the
OTHER files must equal the record of the same message (by Message-ID) in
REF: the action and, per check, method/result/fault.  Prints one line per
difference and a summary; exit 1 on any difference or a message missing
from REF."""
import json
import sys


def key(rec):
    checks = sorted((c["method"], c["result"], c["fault"]) for c in rec["checks"])
    return (rec["action"], tuple(checks))


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(ref_path, others):
    ref = {}
    for rec in load(ref_path):
        ref[rec["message_id"]] = key(rec)
    bad = compared = 0
    for path in others:
        for rec in load(path):
            compared += 1
            want = ref.get(rec["message_id"])
            got = key(rec)
            if want != got:
                bad += 1
                if bad <= 10:
                    print("DIFF %s %s: got %s, want %s" % (path, rec["message_id"], got, want))
    print("compared=%d messages=%d differences=%d" % (compared, len(ref), bad))
    return 1 if bad or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
