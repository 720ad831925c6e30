"""Python `re` peer of tuneloop's Redactor (core/src/dataset/redact*): the same built-in
patterns, the same checks (Luhn, IBAN mod-97, SSN ranges, IPv4 octets, the SECRET rule, IPv6
via ipaddress) and the same detection rules: a rejected IPv4/SSN match resumes the search one
character further; phones and IBANs that run on are shortened at separators, longest first;
card numbers are every Luhn-valid run of whole digit groups, with unlikely readings weak;
overlaps are resolved leftmost, longest, then by kind priority, weak readings giving way to
strong ones they overlap, partial overlaps merged; existing placeholders are never matched
again, and a text is scanned again until nothing new is found. Times redaction only (median
of RUNS), one message (line) at a time.
With OUT the redacted text is also written there (outside the timed passes), so the driver
can compare it with tuneloop's line by line.
Usage: redact_python_re.py CORPUS [RUNS] [OUT]   Prints JSON {"bytes", "median_s", "counts"}."""
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
SSN = re.compile(r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b", re.A)
PHONE_PATTERN = (r"\+[0-9]{1,3}(?:[ .-]?\([0-9]{1,4}\))?(?:[ .-]?[0-9]{2,5}){2,5}\b"
                 r"|(?:\b1[ .-])?(?:\([0-9]{3}\) ?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b")
PHONE = re.compile(PHONE_PATTERN, re.A)
PHONE_WHOLE = re.compile(f"(?:{PHONE_PATTERN})", re.A)
IPV4 = re.compile(r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b", re.A)
TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{24,}", re.A)
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*\]", re.A)
DIGITS = re.compile(r"[0-9]+", re.A)
KINDS = ["API_KEY", "EMAIL", "IBAN", "CREDIT_CARD", "SSN", "PHONE", "IP_ADDRESS", "SECRET"]
API_KEY, EMAIL_K, IBAN_K, CARD_K, SSN_K, PHONE_K, IP_K, SECRET_K = range(8)
PROTECTED = 1 << 15
PLACEHOLDERS = {"[" + k + "]" for k in KINDS}
HEX = set("0123456789abcdefABCDEF")
IPV6_CHARS = HEX | {":", "."}


def is_digit(c):
    return "0" <= c <= "9"


def digit_count(s):
    return sum(1 for c in s if is_digit(c))


def luhn(s):
    d = [int(c) for c in s if is_digit(c)][::-1]
    t = sum(x if i % 2 == 0 else (x * 2 - 9 if x * 2 > 9 else x * 2) for i, x in enumerate(d))
    return 13 <= len(d) <= 19 and t % 10 == 0


def iban(s):
    c = s.replace(" ", "")
    if not 15 <= len(c) <= 34 or not (c[:2].isascii() and c[:2].isupper() and c[2:4].isdigit()):
        return False
    r = c[4:] + c[:4]
    return int("".join(str(int(ch, 36)) for ch in r)) % 97 == 1


def ssn(s):
    return s[:3] not in ("000", "666") and s[0] != "9" and s[4:6] != "00" and s[7:] != "0000"


def isolated(t, s, e):
    before = s >= 2 and t[s - 1] in ".-" and is_digit(t[s - 2])
    after = e + 1 < len(t) and t[e] in ".-" and is_digit(t[e + 1])
    return not before and not after


def ipv4(s):
    p = s.split(".")
    return len(p) == 4 and all(x and len(x) <= 3 and (len(x) == 1 or x[0] != "0") and int(x) <= 255 for x in p)


def secret(tok):
    cls = ["d" if is_digit(c) else "u" if "A" <= c <= "Z" else "l" if "a" <= c <= "z" else "" for c in tok]
    if cls.count("d") < 2 or not ("u" in cls or "l" in cls):
        return False
    if all(c in HEX or c == "-" for c in tok):
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


def checked(rx, t, kind, ok, out):
    """Matches of `rx` that pass `ok`; after a rejected one the search resumes one
    character further, so a valid item right behind a look-alike is still found."""
    at = 0
    while (m := rx.search(t, at)) is not None:
        if ok(t, m.start(), m.end()):
            out.append((m.start(), m.end(), kind, False))
            at = m.end()
        else:
            at = m.start() + 1


def run_len(t, i):
    n = 0
    while i + n < len(t) and is_digit(t[i + n]):
        n += 1
    return n


def splits_date_or_time(t, e):
    """A match ending at `e` stops inside a time, a date with slashes or an amount."""
    if e >= len(t):
        return False
    sep = t[e]
    s = e
    while s > 0 and is_digit(t[s - 1]):
        s -= 1
    first, second = e - s, run_len(t, e + 1)
    if sep == ":":
        return 1 <= first <= 2 and second == 2
    if sep == "/":
        k = e + 1 + second
        third = run_len(t, e + second + 2) if k < len(t) and t[k] == "/" else 0
        day_first = 1 <= first <= 2 and 2 <= third <= 4
        year_first = first == 4 and 1 <= third <= 2
        return 1 <= second <= 2 and (day_first or year_first)
    if sep == ",":
        return 1 <= first <= 3 and second == 3
    return False


def phones(t, out):
    """A phone match that runs on is shortened at each separator, longest first."""
    at = 0
    while (m := PHONE.search(t, at)) is not None:
        s, end = m.start(), m.end()
        found = None
        for e in [end] + [e for e in range(end - 1, s, -1) if t[e] in " .-" and is_digit(t[e - 1])]:
            if (7 <= digit_count(t[s:e]) <= 15 and isolated(t, s, e)
                    and not splits_date_or_time(t, e)
                    and (e == end or PHONE_WHOLE.fullmatch(t, s, e))):
                found = e
                break
        if found is None:
            at = s + 1
        else:
            out.append((s, found, PHONE_K, False))
            at = found


def ibans(t, out):
    """An IBAN match that fails its checksum is shortened at each space, longest first."""
    at = 0
    while (m := IBAN.search(t, at)) is not None:
        s, end = m.start(), m.end()
        spaces = [s + i for i in range(end - s - 1, -1, -1) if t[s + i] == " "]
        found = next((e for e in [end] + spaces if iban(t[s:e])), None)
        if found is None:
            at = s + 1
        else:
            out.append((s, found, IBAN_K, False))
            at = found


def glue(c):
    return c in ".,:/-"


def card_readings(t, chain, out):
    if sum(e - s for s, e in chain) < 13:
        return
    for i, (start, first_end) in enumerate(chain):
        digits = 0
        for j in range(i, len(chain)):
            end = chain[j][1]
            digits += end - chain[j][0]
            if digits > 19:
                break
            if digits < 13:
                continue
            groups = chain[i:j + 1]
            seps = [t[s - 1] for s, _ in groups[1:]]
            one_joint = len(set(seps)) <= 1 or all(e - s >= 3 for s, e in groups)
            if not one_joint or not luhn(t[start:end]):
                continue
            card_grouping = len(groups) == 1 or (
                first_end - start == 4 and all(3 <= e - s <= 6 for s, e in groups[1:]))
            glued_before = (start >= 2 and glue(t[start - 1]) and t[start - 1] not in seps
                            and is_digit(t[start - 2]))
            glued_after = (end + 1 < len(t) and glue(t[end]) and t[end] not in seps
                           and is_digit(t[end + 1]))
            issuer = "2" <= t[start] <= "6"
            out.append((start, end, CARD_K,
                        glued_before or glued_after or not card_grouping or not issuer))


def cards(t, out):
    """Digit groups joined by single spaces or dashes chain up; every Luhn-valid run of
    13-19 digits of whole groups is a reading."""
    chain = []
    for m in DIGITS.finditer(t):
        s, e = m.span()
        if not (chain and chain[-1][1] + 1 == s and t[chain[-1][1]] in " -"):
            card_readings(t, chain, out)
            chain = []
        chain.append((s, e))
    card_readings(t, chain, out)


def ipv6_ok(t, s, e):
    def word(c):
        return c.isascii() and (c.isalnum() or c == "_")
    if (s > 0 and word(t[s - 1])) or (e < len(t) and word(t[e])):
        return False
    c = t[s:e]
    if c.count(":") < 2 or sum(1 for g in c.split(":") if g) < 2 or not any(is_digit(x) for x in c):
        return False
    if not any(len(g) >= 3 and all(x in HEX for x in g) for g in re.split(r"[:.]", c)):
        return False
    try:
        ipaddress.IPv6Address(c)
        return True
    except ValueError:
        return False


def ipv6s(t, out):
    """Around each ':', the run of hex digits, ':' and '.', trimmed of punctuation."""
    done = 0
    n = len(t)
    for colon in (i for i, ch in enumerate(t) if ch == ":"):
        if colon < done:
            continue
        s = colon
        while s > 0 and t[s - 1] in IPV6_CHARS:
            s -= 1
        e = colon + 1
        while e < n and t[e] in IPV6_CHARS:
            e += 1
        done = e
        while e > s and (t[e - 1] == "." or (t[e - 1] == ":" and (e < s + 2 or t[e - 2] != ":"))):
            e -= 1
        while s < e and (t[s] == "." or (t[s] == ":" and (s + 1 >= e or t[s + 1] != ":"))):
            s += 1
        lead = 2 if t.startswith("::", s, e) else 0
        trail = 2 if e - s >= 2 and t[e - 2:e] == "::" else 0
        tries = [(s, e), (s + lead, e), (s, e - trail), (s + lead, e - trail)]
        for a, b in tries[:1 if lead + trail == 0 else 4]:
            if a < b and ipv6_ok(t, a, b):
                out.append((a, b, IP_K, False))
                break


def candidates(t):
    out = []
    if "@" in t:
        out += [(m.start(), m.end(), EMAIL_K, False) for m in EMAIL.finditer(t)]
    out += [(m.start(), m.end(), API_KEY, False) for m in API.finditer(t)]
    out += [(m.start(1), m.end(1), API_KEY, False) for m in BEARER.finditer(t)]
    out += [(m.start(), m.end(), SECRET_K, False) for m in TOKEN.finditer(t) if secret(m.group())]
    if ":" in t:
        ipv6s(t, out)
    digits = digit_count(t)
    if digits >= 4:
        checked(IPV4, t, IP_K, lambda t, s, e: ipv4(t[s:e]) and isolated(t, s, e), out)
    if digits >= 7:
        phones(t, out)
    if digits >= 8:
        ibans(t, out)
    if digits >= 9:
        checked(SSN, t, SSN_K, lambda t, s, e: ssn(t[s:e]) and isolated(t, s, e), out)
    if digits >= 13:
        cards(t, out)
    return out


def resolve(c):
    """Leftmost, then longest, then kind priority; a placeholder beats anything overlapping
    it; a weak reading gives way to a strong one it overlaps; partial overlaps merge."""
    c = [x for x in c if x[1] > x[0]]
    prot = [(s, e) for s, e, k, _ in c if k == PROTECTED]
    if prot:
        c = [x for x in c if x[2] == PROTECTED or not any(x[0] < e and s < x[1] for s, e in prot)]
    if any(x[3] for x in c):
        strong = [(s, e) for s, e, _, w in c if not w]
        c = [x for x in c if not x[3] or not any(s < x[1] and x[0] < e for s, e in strong)]
    c.sort(key=lambda x: (x[0], -x[1], x[2]))
    chosen = []
    for s, e, k, w in c:
        if chosen and s < chosen[-1][1]:
            chosen[-1][1] = max(chosen[-1][1], e)
        else:
            chosen.append([s, e, k])
    return chosen


def redact_once(t, counts):
    c = candidates(t)
    if not c:
        return None
    if "[" in t:
        c += [(m.start(), m.end(), PROTECTED, False) for m in PLACEHOLDER.finditer(t)
              if m.group() in PLACEHOLDERS]
    chosen = resolve(c)
    if all(k == PROTECTED for _, _, k in chosen):
        return None
    res, at = [], 0
    for s, e, k in chosen:
        if k == PROTECTED:
            continue
        res.append(t[at:s])
        res.append("[" + KINDS[k] + "]")
        counts[KINDS[k]] += 1
        at = e
    res.append(t[at:])
    return "".join(res)


def redact(t, counts):
    out = redact_once(t, counts)
    if out is None:
        return t
    while (nxt := redact_once(out, counts)) is not None:
        out = nxt
    return out


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
if len(sys.argv) > 3:
    scratch = collections.Counter()
    with open(sys.argv[3], "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(redact(l, scratch) for l in lines))
print(json.dumps({"bytes": size, "median_s": times[len(times) // 2], "counts": dict(sorted(counts.items()))}))
