#!/usr/bin/python3
"""metrics_scrape: reads faultline's Prometheus endpoint (or an exposition
file) and parses it with an independent parser, python3-prometheus-client's
text_string_to_metric_families, for the protocol tests.

  metrics_scrape.py URL|FILE   prints one sample a line,
                               name{key=value,...} value (labels sorted,
                               unescaped); exit 1 when the text does not
                               parse or breaks a rule of the format.
  metrics_scrape.py --probe BASE
                               prints the HTTP status of GET BASE/nope,
                               POST BASE/metrics and HEAD BASE/metrics, and
                               the Content-Type of GET BASE/metrics.
"""
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type")
        if ctype != CONTENT_TYPE:
            raise ValueError("Content-Type %r, want %r" % (ctype, CONTENT_TYPE))
        return r.read().decode("utf-8")


def status(url, method):
    req = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def check_histograms(family):
    """Buckets never decrease, +Inf equals _count, every series has _sum."""
    series = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if s.name.endswith("_bucket"):
            entry["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            entry["count"] = s.value
        elif s.name.endswith("_sum"):
            entry["sum"] = s.value
    for key, e in series.items():
        b = sorted(e["buckets"])
        if not b or b[-1][0] != float("inf"):
            raise ValueError("%s%s: no +Inf bucket" % (family.name, key))
        for (_, lo), (_, hi) in zip(b, b[1:]):
            if hi < lo:
                raise ValueError("%s%s: buckets decrease" % (family.name, key))
        if e["count"] != b[-1][1] or e["sum"] is None:
            raise ValueError("%s%s: _count %r, +Inf %r, _sum %r"
                             % (family.name, key, e["count"], b[-1][1], e["sum"]))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        base = sys.argv[2]
        print("GET /nope %d" % status(base + "/nope", "GET"))
        print("POST /metrics %d" % status(base + "/metrics", "POST"))
        print("HEAD /metrics %d" % status(base + "/metrics", "HEAD"))
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            print("Content-Type %s" % r.headers.get("Content-Type"))
        return 0
    src = sys.argv[1]
    if src.startswith("http://"):
        text = fetch(src)
    else:
        with open(src, encoding="utf-8") as f:
            text = f.read()
    lines = []
    for family in text_string_to_metric_families(text):
        if family.type not in ("counter", "gauge", "histogram"):
            raise ValueError("%s: type %s" % (family.name, family.type))
        if not family.documentation:
            raise ValueError("%s: no HELP" % family.name)
        if family.type == "histogram":
            check_histograms(family)
        for s in family.samples:
            if not s.name.startswith("faultline_"):
                raise ValueError("sample %s outside the faultline_ namespace" % s.name)
            labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
            lines.append("%s{%s} %.17g" % (s.name, labels, s.value))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # any parse or rule failure fails the test
        print("metrics_scrape: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
