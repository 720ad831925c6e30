#!/usr/bin/env python3
"""Python `re` peer of tuneloop's Redactor: the same built-in patterns and checks (Luhn,
IBAN mod-97, SSN ranges, IPv4 octets, the SECRET rule; IPv6 via ipaddress), each kind
matched separately, overlaps resolved leftmost-longest then by kind priority, one message
(line) at a time. Times redaction only (median of RUNS).
Usage: redact_python_re.py CORPUS [RUNS]   Prints JSON {"bytes", "median_s", "counts"}."""
import collections
import ipaddress
import json
import math
import re
import sys
import time

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}", re.A)
API = re.compile(r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"
                 r"|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[0-9A-Za-z_-]{20,}"
                 r"|hf_[A-Za-z0-9]{30,}|[sr]k_(?:live|test)_[0-9A-Za-z]{16,}"
                 r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})", re.A)
BEARER = re.compile(r"\b(?i:bearer)\s+([A-Za-z0-9._~+/-]{16,}=*)", re.A)
IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b", re.A)
CARD = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])", re.A)
SSN = re.compile(r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b", re.A)
PHONE = re.compile(r"\+[0-9]{1,3}(?:[ .-]?\([0-9]{1,4}\))?(?:[ .-]?[0-9]{2,5}){2,5}\b"
                   r"|(?:\b1[ .-])?(?:\([0-9]{3}\) ?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b", re.A)
IPV4 = re.compile(r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b", re.A)
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?![\w])", re.A)
TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{24,}", re.A)
KINDS = ["API_KEY", "EMAIL", "IBAN", "CREDIT_CARD", "SSN", "PHONE", "IP_ADDRESS", "SECRET"]


def luhn(s):
    d = [int(c) for c in s if c.isdigit()][::-1]
    t = sum(x if i % 2 == 0 else (x * 2 - 9 if x * 2 > 9 else x * 2) for i, x in enumerate(d))
    return 13 <= len(d) <= 19 and t % 10 == 0


def iban(s):
    c = s.replace(" ", "")
    if not 15 <= len(c) <= 34:
        return False
    r = c[4:] + c[:4]
    return int("".join(str(int(ch, 36)) for ch in r)) % 97 == 1


def ssn(s):
    return s[:3] not in ("000", "666") and s[0] != "9" and s[4:6] != "00" and s[7:] != "0000"


def isolated(t, s, e):
    before = s >= 2 and t[s - 1] in ".-" and t[s - 2].isdigit()
    after = e + 1 < len(t) and t[e] in ".-" and t[e + 1].isdigit()
    return not before and not after


def ipv4(s):
    p = s.split(".")
    return len(p) == 4 and all(x and (len(x) == 1 or x[0] != "0") and int(x) <= 255 for x in p)


def secret(tok):
    cls = ["d" if c.isdigit() else "u" if c.isupper() else "l" if c.islower() else "" for c in tok]
    if cls.count("d") < 2 or not ("u" in cls or "l" in cls):
        return False
    if all(c in "0123456789abcdefABCDEF-" for c in tok):
        return False
    lows = re.findall(r"[a-z]+", tok)
    if "u" in cls and lows and sum(map(len, lows)) > 3.0 * len(lows):
        return False
    changes = sum(1 for a, b in zip(cls, cls[1:]) if a and b and a != b)
    if changes < 0.3 * (len(tok) - 1):
        return False
    n = len(tok)
    h = -sum(v / n * math.log2(v / n) for v in collections.Counter(tok).values())
    return h >= 3.5


def candidates(t):
    out = []
    if "@" in t:
        out += [(m.start(), m.end(), 1) for m in EMAIL.finditer(t)]
    out += [(m.start(), m.end(), 0) for m in API.finditer(t)]
    out += [(m.start(1), m.end(1), 0) for m in BEARER.finditer(t)]
    if ":" in t:
        for m in IPV6.finditer(t):
            c = m.group().rstrip(".")
            if c.count(":") >= 2 and any(ch.isdigit() for ch in c) and \
                    any(len(g) >= 3 and all(x in "0123456789abcdefABCDEF" for x in g) for g in re.split(r"[:.]", c)):
                try:
                    ipaddress.IPv6Address(c)
                    out.append((m.start(), m.start() + len(c), 6))
                except ValueError:
                    pass
    digits = sum(ch.isdigit() for ch in t)
    if digits >= 4 and "." in t:
        out += [(m.start(), m.end(), 6) for m in IPV4.finditer(t) if ipv4(m.group()) and isolated(t, m.start(), m.end())]
    if digits >= 7:
        out += [(m.start(), m.end(), 5) for m in PHONE.finditer(t)
                if 7 <= sum(ch.isdigit() for ch in m.group()) <= 15 and isolated(t, m.start(), m.end())]
    if digits >= 8:
        out += [(m.start(), m.end(), 2) for m in IBAN.finditer(t) if iban(m.group())]
    if digits >= 9:
        out += [(m.start(), m.end(), 4) for m in SSN.finditer(t) if ssn(m.group()) and isolated(t, m.start(), m.end())]
    if digits >= 13:
        out += [(m.start(), m.end(), 3) for m in CARD.finditer(t) if luhn(m.group())]
    out += [(m.start(), m.end(), 7) for m in TOKEN.finditer(t) if secret(m.group())]
    return out


def redact(t, counts):
    c = candidates(t)
    if not c:
        return t
    c.sort(key=lambda x: (x[0], -x[1], x[2]))
    res, at, cur = [], 0, 0
    for s, e, k in c:
        if s >= cur:
            res.append(t[at:s])
            res.append("[" + KINDS[k] + "]")
            counts[KINDS[k]] += 1
            at = cur = e
    res.append(t[at:])
    return "".join(res)


path = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
with open(path, encoding="utf-8") as f:
    lines = f.read().split("\n")
size = sum(len(l.encode()) + 1 for l in lines) - 1
times = []
for _ in range(runs):
    counts = collections.Counter()
    t0 = time.perf_counter()
    for l in lines:
        redact(l, counts)
    times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({"bytes": size, "median_s": times[len(times) // 2], "counts": dict(sorted(counts.items()))}))
