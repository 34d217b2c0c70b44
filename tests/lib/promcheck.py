#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""promcheck: a strict parser of the Prometheus text exposition format
(version 0.0.4, what node_exporter's textfile collector reads), for the
tests: Debian's promtool comes with the whole Prometheus server.

    promcheck.py FILE            exit 0 when FILE is valid; prints every
                                 sample as  name{k="v",...} value
                                 (labels sorted), one per line
    promcheck.py FILE --quiet    only check

Checked: line syntax (names, label names, quoted values with only \\\\,
\\" and \\n escapes, float values), one HELP and one TYPE per family and
before its samples, a family's samples together, no series twice,
counters not negative, histograms: _bucket with an le label, cumulative
counts that never fall, a +Inf bucket equal to _count, _sum present.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LNAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Bad(Exception):
    pass


def parse_value(s, where):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)", s):
        raise Bad("%s: bad value %r" % (where, s))
    return float(s)


def parse_labels(s, i, where):
    """s[i] is '{': returns (labels, index after '}')"""
    labels = {}
    i += 1
    while True:
        if s[i] == "}":
            return labels, i + 1
        m = LNAME.match(s, i)
        if not m:
            raise Bad("%s: bad label name at %r" % (where, s[i:]))
        ln = m.group(0)
        i = m.end()
        if s[i : i + 2] != '="':
            raise Bad("%s: label %s: expected =\"" % (where, ln))
        i += 2
        v = []
        while True:
            if i >= len(s):
                raise Bad("%s: unterminated label value" % where)
            c = s[i]
            if c == "\\":
                e = s[i + 1 : i + 2]
                if e not in ("\\", '"', "n"):
                    raise Bad("%s: bad escape \\%s" % (where, e))
                v.append("\n" if e == "n" else e)
                i += 2
                continue
            if c == '"':
                i += 1
                break
            if c == "\n":
                raise Bad("%s: newline in a label value" % where)
            v.append(c)
            i += 1
        if ln in labels:
            raise Bad("%s: label %s twice" % (where, ln))
        labels[ln] = "".join(v)
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            raise Bad("%s: expected , or } after a label" % where)


def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in (
            "histogram",
            "summary",
        ):
            return name[: -len(suf)]
    return name


def check(text):
    if text and not text.endswith("\n"):
        raise Bad("the last line has no newline")
    helps, types, done = {}, {}, set()
    samples, seen = [], set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.fullmatch(fam):
                    raise Bad("%s: bad metric name %r" % (where, fam))
                if fam in done:
                    raise Bad("%s: %s for %s after its samples" % (where, parts[1], fam))
                table = helps if parts[1] == "HELP" else types
                if fam in table:
                    raise Bad("%s: second %s for %s" % (where, parts[1], fam))
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise Bad("%s: bad TYPE line" % where)
                    if any(family_of(s[0], types) == fam for s in samples):
                        raise Bad("%s: TYPE for %s after its samples" % (where, fam))
                table[fam] = parts[3] if len(parts) == 4 else ""
            continue
        m = NAME.match(line)
        if not m:
            raise Bad("%s: bad metric name in %r" % (where, line))
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i, where)
        if i >= len(line) or line[i] != " ":
            raise Bad("%s: expected a space before the value" % where)
        rest = line[i + 1 :].split(" ")
        if len(rest) not in (1, 2):
            raise Bad("%s: expected value [timestamp]" % where)
        value = parse_value(rest[0], where)
        if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
            raise Bad("%s: bad timestamp" % where)
        fam = family_of(name, types)
        if fam != current:
            if fam in done:
                raise Bad("%s: samples of %s are not together" % (where, fam))
            if current is not None:
                done.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise Bad("%s: series %s%s twice" % (where, name, labels))
        seen.add(key)
        t = types.get(fam, "untyped")
        if t == "counter" and not value >= 0:
            raise Bad("%s: counter %s is %s" % (where, name, rest[0]))
        if t == "histogram":
            if name == fam + "_bucket":
                if "le" not in labels:
                    raise Bad("%s: bucket without le" % where)
                parse_value(labels["le"], where)
            elif name not in (fam + "_sum", fam + "_count"):
                raise Bad("%s: %s in histogram %s" % (where, name, fam))
        samples.append((name, labels, value))
    # histograms: per series, cumulative buckets, +Inf == _count
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for name, labels, value in samples:
            if family_of(name, types) != fam:
                continue
            base = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            s = series.setdefault(base, {"b": [], "sum": None, "count": None})
            if name.endswith("_bucket"):
                s["b"].append((parse_value(labels["le"], fam), value))
            elif name.endswith("_sum"):
                s["sum"] = value
            else:
                s["count"] = value
        for base, s in series.items():
            b = sorted(s["b"])
            if not b or b[-1][0] != math.inf:
                raise Bad("%s%s: no +Inf bucket" % (fam, dict(base)))
            for (_, a), (_, c) in zip(b, b[1:]):
                if c < a:
                    raise Bad("%s%s: buckets not cumulative" % (fam, dict(base)))
            if s["count"] is None or s["sum"] is None:
                raise Bad("%s%s: _sum or _count missing" % (fam, dict(base)))
            if b[-1][1] != s["count"]:
                raise Bad("%s%s: +Inf bucket %s != _count %s"
                          % (fam, dict(base), b[-1][1], s["count"]))
    return samples


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: promcheck.py FILE [--quiet]")
    text = open(sys.argv[1], encoding="utf-8").read()
    try:
        samples = check(text)
    except Bad as e:
        sys.exit("promcheck: %s: %s" % (sys.argv[1], e))
    if "--quiet" not in sys.argv:
        for name, labels, value in samples:
            lab = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
            v = int(value) if math.isfinite(value) and value == int(value) else value
            print("%s{%s} %s" % (name, lab, v))


if __name__ == "__main__":
    main()
