//! The built-in detectors. Each one appends candidate spans; overlaps are resolved by the
//! caller. Exact prefilters (`prefilter`: a byte present, a long enough token run, digit
//! runs shaped as the pattern needs) skip the detectors that cannot match, which on
//! ordinary chat text is nearly all of them, and checks that regexes cannot express (Luhn,
//! mod-97, octet ranges) run only on what matched.

use std::net::Ipv6Addr;
use std::str::FromStr;

use regex::{Regex, RegexBuilder};

use super::checks::{digit_count, iban_ok, ipv4_ok, luhn_ok, shannon_entropy, ssn_ok};
use super::prefilter::{has_bearer, NumberShape, Shape};

/// Built-in kinds, in resolution priority order (on equal start and length the lower index
/// wins). Extra patterns rank after all of them.
pub const BUILTIN_KINDS: [&str; 8] = [
    "API_KEY",
    "EMAIL",
    "IBAN",
    "CREDIT_CARD",
    "SSN",
    "PHONE",
    "IP_ADDRESS",
    "SECRET",
];

pub const API_KEY: u16 = 0;
pub const EMAIL: u16 = 1;
pub const IBAN: u16 = 2;
pub const CREDIT_CARD: u16 = 3;
pub const SSN: u16 = 4;
pub const PHONE: u16 = 5;
pub const IP_ADDRESS: u16 = 6;
pub const SECRET: u16 = 7;

/// Minimum length of a SECRET token.
pub const SECRET_MIN_LEN: usize = 24;
/// Minimum Shannon entropy of a SECRET token, in bits per character.
pub const SECRET_MIN_ENTROPY: f64 = 3.5;
/// Minimum share of adjacent alphanumeric pairs that change class (lower/upper/digit):
/// random tokens change class about 60% of the time, words and identifiers rarely.
pub const SECRET_MIN_CLASS_CHANGES: f64 = 0.3;

/// A detected span of `text` (byte offsets) and its kind (index into the kind table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    pub start: usize,
    pub end: usize,
    pub kind: u16,
    /// A reading that another, overlapping one beats: a card that starts or ends inside a
    /// neighbouring number, is grouped unlike a card or has no card-issuer prefix.
    pub weak: bool,
}

impl Candidate {
    pub fn new(start: usize, end: usize, kind: u16) -> Self {
        Self {
            start,
            end,
            kind,
            weak: false,
        }
    }
}

/// The compiled built-in patterns.
#[derive(Debug, Clone)]
pub struct Builtins {
    email: Regex,
    api_key: Regex,
    bearer: Regex,
    iban: Regex,
    ssn: Regex,
    phone: Regex,
    /// `phone` anchored at both ends: whether a shortened match is still a phone.
    phone_whole: Regex,
    ipv4: Regex,
}

const PHONE_PATTERN: &str = concat!(
    r"\+[0-9]{1,3}(?:[ .-]?\([0-9]{1,4}\))?(?:[ .-]?[0-9]{2,5}){2,5}\b",
    r"|(?:\b1[ .-])?(?:\([0-9]{3}\) ?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b",
);

fn compile(pattern: &str) -> Regex {
    // The patterns are constants covered by tests, so a failure here is a programming error.
    #[allow(clippy::expect_used)]
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .expect("built-in redaction pattern compiles")
}

impl Builtins {
    pub fn new() -> Self {
        Self {
            email: compile(
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}",
            ),
            api_key: compile(concat!(
                r"\b(?:",
                r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
                r"|gh[pousr]_[A-Za-z0-9]{30,}",
                r"|github_pat_[A-Za-z0-9_]{22,}",
                r"|xox[abpr]-[A-Za-z0-9-]{10,}",
                r"|AKIA[0-9A-Z]{16}",
                r"|AIza[0-9A-Za-z_-]{35}",
                r"|glpat-[0-9A-Za-z_-]{20,}",
                r"|hf_[A-Za-z0-9]{30,}",
                r"|[sr]k_(?:live|test)_[0-9A-Za-z]{16,}",
                r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
                r")",
            )),
            bearer: compile(r"\b(?i:bearer)\s+([A-Za-z0-9._~+/-]{16,}=*)"),
            iban: compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b"),
            ssn: compile(r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b"),
            phone: compile(PHONE_PATTERN),
            phone_whole: compile(&format!("^(?:{PHONE_PATTERN})$")),
            ipv4: compile(r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b"),
        }
    }

    /// Appends every built-in candidate in `text`. A detector runs only where the
    /// prefilters (see `prefilter`) show that its pattern could match.
    pub fn scan(&self, text: &str, out: &mut Vec<Candidate>) {
        let bytes = text.as_bytes();
        let shape = Shape::of(bytes);
        if shape.at {
            push_all(&self.email, text, EMAIL, out);
        }
        // Every key form has a run of ≥ 13 token characters (`eyJ` + 10 before a dot).
        if shape.longest_run >= 13 {
            push_all(&self.api_key, text, API_KEY, out);
        }
        // The token after `Bearer` is a run of ≥ 16.
        if shape.longest_run >= 16 && has_bearer(bytes) {
            self.push_bearer(text, out);
        }
        if shape.longest_run >= SECRET_MIN_LEN {
            scan_secrets(bytes, out);
        }
        if shape.colon {
            scan_ipv6(text, out);
        }
        if shape.digits >= 4 {
            self.scan_numbers(text, shape.digits, shape.numbers, out);
        }
    }

    /// The number detectors, each where the digit runs allow it; the digit counts are what
    /// the checks need at least (an IPv4 address 4, a phone 7, an IBAN's check digits and
    /// BBAN 8 …, an SSN 9, a card 13).
    fn scan_numbers(&self, text: &str, digits: usize, n: NumberShape, out: &mut Vec<Candidate>) {
        if n.ipv4 {
            push_checked(&self.ipv4, text, IP_ADDRESS, out, |t, s, e| {
                ipv4_ok(&t[s..e]) && isolated(t.as_bytes(), s, e)
            });
        }
        if digits >= 7 && n.phone {
            self.scan_phones(text, out);
        }
        if digits >= 8 && n.iban {
            self.scan_iban(text, out);
        }
        if digits >= 9 && n.ssn {
            push_checked(&self.ssn, text, SSN, out, |t, s, e| {
                ssn_ok(&t[s..e]) && isolated(t.as_bytes(), s, e)
            });
        }
        if digits >= 13 && n.card {
            scan_cards(text, out);
        }
    }

    /// Only the token after `Bearer` is a candidate: the scheme word stays readable.
    fn push_bearer(&self, text: &str, out: &mut Vec<Candidate>) {
        for c in self.bearer.captures_iter(text) {
            if let Some(m) = c.get(1) {
                out.push(Candidate::new(m.start(), m.end(), API_KEY));
            }
        }
    }

    /// Phone numbers. The pattern takes in any following groups of 2–5 digits, so a match
    /// may run into a number after the phone (`+44 20 7946 0958 17:30` up to `17`) or past
    /// 15 digits: then the match is shortened at each separator, longest first, to the
    /// longest phone that neither stops inside a number nor breaks a date, time or amount.
    fn scan_phones(&self, text: &str, out: &mut Vec<Candidate>) {
        let b = text.as_bytes();
        let mut at = 0;
        while let Some(m) = self.phone.find_at(text, at) {
            let s = m.start();
            let found =
                std::iter::once(m.end())
                    .chain((s + 1..m.end()).rev().filter(|&e| {
                        matches!(b[e], b' ' | b'.' | b'-') && b[e - 1].is_ascii_digit()
                    }))
                    .find(|&e| {
                        (7..=15).contains(&digit_count(&text[s..e]))
                        && isolated(b, s, e)
                        && !splits_date_or_time(b, e)
                        // The whole match is a match; a shortened one must still be a phone.
                        && (e == m.end() || self.phone_whole.is_match(&text[s..e]))
                    });
            match found {
                Some(e) => {
                    out.push(Candidate::new(s, e, PHONE));
                    at = e;
                }
                None => at = next_char(text, s),
            }
        }
    }

    /// IBANs: the pattern may run on into following upper-case words, so on a failed
    /// checksum the candidate is shortened at each space, longest first.
    fn scan_iban(&self, text: &str, out: &mut Vec<Candidate>) {
        let mut at = 0;
        while let Some(m) = self.iban.find_at(text, at) {
            let s = m.start();
            let found = std::iter::once(m.end())
                .chain(text[s..m.end()].rmatch_indices(' ').map(|(i, _)| s + i))
                .find(|&e| iban_ok(&text[s..e]));
            match found {
                Some(e) => {
                    out.push(Candidate::new(s, e, IBAN));
                    at = e;
                }
                None => at = next_char(text, s),
            }
        }
    }
}

impl Default for Builtins {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends every match of `re`.
pub fn push_all(re: &Regex, text: &str, kind: u16, out: &mut Vec<Candidate>) {
    out.extend(
        re.find_iter(text)
            .map(|m| Candidate::new(m.start(), m.end(), kind)),
    );
}

/// Appends the matches of `re` that pass `ok`; after a rejected match the search resumes one
/// character further, so that a valid item right behind a look-alike is still found.
fn push_checked(
    re: &Regex,
    text: &str,
    kind: u16,
    out: &mut Vec<Candidate>,
    ok: impl Fn(&str, usize, usize) -> bool,
) {
    let mut at = 0;
    while let Some(m) = re.find_at(text, at) {
        if ok(text, m.start(), m.end()) {
            out.push(Candidate::new(m.start(), m.end(), kind));
            at = m.end();
        } else {
            at = next_char(text, m.start());
        }
    }
}

fn next_char(text: &str, i: usize) -> usize {
    text[i..]
        .chars()
        .next()
        .map_or(text.len(), |c| i + c.len_utf8())
}

/// False when the span continues a longer dotted or dashed number (`1.2.3.4.5`,
/// `123-45-6789-1`): then it is a version string or a reference, not an address or an id.
fn isolated(b: &[u8], start: usize, end: usize) -> bool {
    let sep = |c: u8| c == b'.' || c == b'-';
    let before = start >= 2 && sep(b[start - 1]) && b[start - 2].is_ascii_digit();
    let after = end + 1 < b.len() && sep(b[end]) && b[end + 1].is_ascii_digit();
    !before && !after
}

/// Punctuation that joins two digits into one number: `17:30`, `2024-03-15`, `15/03/2024`,
/// `1,234.56`.
fn glue(c: u8) -> bool {
    matches!(c, b'.' | b',' | b':' | b'/' | b'-')
}

/// The length of the maximal digit run starting at `i`.
fn run_len(b: &[u8], i: usize) -> usize {
    b[i.min(b.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// Whether a match ending at `e`, after a digit, stops inside a time (`17:30`), a date with
/// slashes (`15/03/2024`, `2024/03/15`) or an amount (`1,234`) that its last digits begin.
/// (Dates with `-` or `.` are refused by [`isolated`], like any number continuing that way.)
fn splits_date_or_time(b: &[u8], e: usize) -> bool {
    let Some(&sep) = b.get(e) else { return false };
    let mut s = e;
    while s > 0 && b[s - 1].is_ascii_digit() {
        s -= 1;
    }
    let (first, second) = (e - s, run_len(b, e + 1));
    match sep {
        b':' => (1..=2).contains(&first) && second == 2,
        b'/' => {
            let third = b
                .get(e + 1 + second)
                .filter(|&&c| c == b'/')
                .map_or(0, |_| run_len(b, e + second + 2));
            let day_first = (1..=2).contains(&first) && (2..=4).contains(&third);
            let year_first = first == 4 && (1..=2).contains(&third);
            (1..=2).contains(&second) && (day_first || year_first)
        }
        b',' => (1..=3).contains(&first) && second == 3,
        _ => false,
    }
}

/// Card numbers: 13–19 digits, plain or in groups joined by single spaces or dashes, that
/// pass the Luhn check and are not part of a longer digit run. Groups of one number and
/// groups of its neighbours chain up the same way (`17:30 4111 1111 1111 1111` holds the
/// chain `30 4111 1111 1111 1111`), so every run of whole groups in a chain is a reading;
/// readings that are unlikely cards are weak, and the resolution lets an overlapping
/// strong reading win over them. No word boundaries: `card_4111…` is still a card.
fn scan_cards(text: &str, out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    let mut chain: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        i += run_len(b, i);
        let joined = chain
            .last()
            .is_some_and(|&(_, e)| e + 1 == start && matches!(b[e], b' ' | b'-'));
        if !joined {
            card_readings(text, &chain, out);
            chain.clear();
        }
        chain.push((start, i));
    }
    card_readings(text, &chain, out);
}

/// The Luhn-valid runs of 13–19 digits made of whole groups of `chain`.
fn card_readings(text: &str, chain: &[(usize, usize)], out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    if chain.iter().map(|&(s, e)| e - s).sum::<usize>() < 13 {
        return;
    }
    for (i, &(start, first_end)) in chain.iter().enumerate() {
        let mut digits = 0;
        for (j, &(_, end)) in chain.iter().enumerate().skip(i) {
            digits += end - chain[j].0;
            if digits > 19 {
                break;
            }
            if digits < 13 {
                continue;
            }
            let groups = &chain[i..=j];
            let seps = || groups[1..].iter().map(|&(s, _)| b[s - 1]);
            // Groups joined by both spaces and dashes have ≥ 3 digits each: a date and an
            // SSN (`2024-03-15 123-45-5604`) are not a card.
            let one_joint =
                seps().all(|c| Some(c) == seps().next()) || groups.iter().all(|&(s, e)| e - s >= 3);
            // Digit runs start and end on ASCII digits: slicing there cannot split a char.
            if !one_joint || !luhn_ok(&text[start..end]) {
                continue;
            }
            // 4-4-4-4, 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4-4-3 …
            let card_grouping = groups.len() == 1
                || (first_end - start == 4
                    && groups[1..].iter().all(|&(s, e)| (3..=6).contains(&(e - s))));
            // A neighbour joined by punctuation the card does not use for its own groups
            // (`17:` before it, `/2024` after it) makes its edge group part of that number.
            let own = |c: u8| seps().any(|s| s == c);
            let glued_before = start >= 2
                && glue(b[start - 1])
                && !own(b[start - 1])
                && b[start - 2].is_ascii_digit();
            let glued_after =
                end + 1 < b.len() && glue(b[end]) && !own(b[end]) && b[end + 1].is_ascii_digit();
            // Payment cards start with 2–6 (Mastercard, Visa, Amex, Diners, Discover, JCB …).
            let issuer = matches!(b[start], b'2'..=b'6');
            out.push(Candidate {
                start,
                end,
                kind: CREDIT_CARD,
                weak: glued_before || glued_after || !card_grouping || !issuer,
            });
        }
    }
}

const TOKEN: u8 = 1;
const DIGIT: u8 = 2;
const UPPER: u8 = 4;
const LOWER: u8 = 8;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if c.is_ascii_digit() {
            TOKEN | DIGIT
        } else if c.is_ascii_uppercase() {
            TOKEN | UPPER
        } else if c.is_ascii_lowercase() {
            TOKEN | LOWER
        } else if matches!(c, b'+' | b'/' | b'_' | b'=' | b'-') {
            TOKEN
        } else {
            0
        };
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = class_table();

/// Appends the runs of token characters that pass the SECRET rule.
fn scan_secrets(b: &[u8], out: &mut Vec<Candidate>) {
    let mut run_start = 0usize;
    let mut in_run = false;
    for (i, &c) in b.iter().enumerate() {
        if CLASS[usize::from(c)] & TOKEN != 0 {
            if !in_run {
                in_run = true;
                run_start = i;
            }
        } else if in_run {
            in_run = false;
            if i - run_start >= SECRET_MIN_LEN {
                check_secret(b, run_start, i, out);
            }
        }
    }
    if in_run && b.len() - run_start >= SECRET_MIN_LEN {
        check_secret(b, run_start, b.len(), out);
    }
}

fn check_secret(b: &[u8], start: usize, end: usize, out: &mut Vec<Candidate>) {
    // A token glued to a longer word (`é`, `.`) is still checked: only its own bytes count.
    if is_secret(&b[start..end]) {
        out.push(Candidate::new(start, end, SECRET));
    }
}

/// Longest mean run of lower-case letters in a mixed-case SECRET token: camelCase words
/// run 4–6 letters, random tokens about 1.7.
pub const SECRET_MAX_LOWER_RUN: f64 = 3.0;

/// The SECRET rule: ≥ 24 characters of `[A-Za-z0-9+/_=-]` holding a letter and ≥ 2 digits,
/// not all hexadecimal (hashes, UUIDs), changing character class often, not camelCase
/// words, with high entropy.
pub fn is_secret(tok: &[u8]) -> bool {
    if tok.len() < SECRET_MIN_LEN {
        return false;
    }
    let mut seen = 0u8;
    let mut digits = 0usize;
    let mut changes = 0usize;
    let mut prev = 0u8;
    let mut all_hex = true;
    let (mut lower, mut lower_runs) = (0usize, 0usize);
    for &c in tok {
        let cls = CLASS[usize::from(c)] & (DIGIT | UPPER | LOWER);
        seen |= cls;
        digits += usize::from(cls == DIGIT);
        if cls == LOWER {
            lower += 1;
            lower_runs += usize::from(prev != LOWER);
        }
        if cls != 0 && prev != 0 && cls != prev {
            changes += 1;
        }
        prev = cls;
        all_hex &= c.is_ascii_hexdigit() || c == b'-';
    }
    let camel = seen & UPPER != 0
        && lower_runs > 0
        && lower as f64 > SECRET_MAX_LOWER_RUN * lower_runs as f64;
    digits >= 2
        && seen & (UPPER | LOWER) != 0
        && !all_hex
        && !camel
        && changes as f64 >= SECRET_MIN_CLASS_CHANGES * (tok.len() - 1) as f64
        && shannon_entropy(tok) >= SECRET_MIN_ENTROPY
}

fn is_ipv6_byte(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

/// IPv6 addresses (full, `::`-compressed, IPv4-suffixed), found around each ':' and checked
/// with the standard library's parser. Times (`10:30:00`) and paths (`std::io`) do not parse
/// or are glued to a word; an address also needs a digit, a group of ≥ 3 hex digits and two
/// groups, so short tokens such as `ab::cd` and a number after `::` (`::4111`) stay.
fn scan_ipv6(text: &str, out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    let mut done = 0usize;
    for colon in memchr::memchr_iter(b':', b) {
        if colon < done {
            continue;
        }
        let mut s = colon;
        while s > 0 && is_ipv6_byte(b[s - 1]) {
            s -= 1;
        }
        let mut e = colon + 1;
        while e < b.len() && is_ipv6_byte(b[e]) {
            e += 1;
        }
        done = e;
        // Punctuation around an address (`ip:2001:db8::1.`) is not part of it, unless it is
        // the `::` of a compressed form; a `::` that does not parse is tried as punctuation.
        while e > s && (b[e - 1] == b'.' || (b[e - 1] == b':' && (e < s + 2 || b[e - 2] != b':'))) {
            e -= 1;
        }
        while s < e && (b[s] == b'.' || (b[s] == b':' && (s + 1 >= e || b[s + 1] != b':'))) {
            s += 1;
        }
        let lead = if b[s..e].starts_with(b"::") { 2 } else { 0 };
        let trail = if b[s..e].ends_with(b"::") { 2 } else { 0 };
        let found = [(s, e), (s + lead, e), (s, e - trail), (s + lead, e - trail)]
            .into_iter()
            .take(if lead + trail == 0 { 1 } else { 4 })
            .find(|&(s, e)| s < e && ipv6_ok(text, s, e));
        if let Some((s, e)) = found {
            out.push(Candidate::new(s, e, IP_ADDRESS));
        }
    }
}

fn ipv6_ok(text: &str, s: usize, e: usize) -> bool {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if (s > 0 && word(b[s - 1])) || (e < b.len() && word(b[e])) {
        return false;
    }
    let cand = &text[s..e];
    cand.bytes().filter(|&c| c == b':').count() >= 2
        && cand.split(':').filter(|g| !g.is_empty()).count() >= 2
        && cand.bytes().any(|c| c.is_ascii_digit())
        && cand
            .split([':', '.'])
            .any(|g| g.len() >= 3 && g.bytes().all(|c| c.is_ascii_hexdigit()))
        && Ipv6Addr::from_str(cand).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `scan` finds with no prefilter but the digit counts (part of the rules, not a
    /// shortcut): every detector on the whole text.
    fn scan_unfiltered(bi: &Builtins, text: &str) -> Vec<Candidate> {
        let mut out = Vec::new();
        push_all(&bi.email, text, EMAIL, &mut out);
        push_all(&bi.api_key, text, API_KEY, &mut out);
        bi.push_bearer(text, &mut out);
        scan_secrets(text.as_bytes(), &mut out);
        scan_ipv6(text, &mut out);
        let all = NumberShape {
            ipv4: true,
            ssn: true,
            phone: true,
            card: true,
            iban: true,
        };
        bi.scan_numbers(text, digit_count(text), all, &mut out);
        out.sort_unstable();
        out
    }

    fn scan_sorted(bi: &Builtins, text: &str) -> Vec<Candidate> {
        let mut out = Vec::new();
        bi.scan(text, &mut out);
        out.sort_unstable();
        out
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,5}",
            "[0-9]{1,4}[ .()+/:-]{1,2}[0-9]{1,5}",
            "[ .()+/:#@-]",
            "[A-Z]{1,3}[0-9]{2}",
            "[A-Z]{1,4}",
            "[a-z]{1,6}",
            " ",
            "\\PC{0,3}",
            "[bB][eE][aA][rR][eE][rR][ \t]{1,2}",
            "[A-Za-z0-9+/_=~.-]{8,30}",
            "(sk-|ghp_|AKIA|AIza|hf_|eyJ|xoxb-|glpat-)[A-Za-z0-9_.-]{0,40}",
            "[a-z0-9.]{1,8}@[a-z]{1,8}\\.(com|io)",
            "[0-9a-f]{1,4}:[0-9a-f]{0,4}:[0-9a-f:.]{0,12}",
            // Numbers and punctuation that items meet: times, dates, amounts, order numbers.
            "[ ,;(#/:.-]{0,2}[0-9]{1,2}:[0-9]{2}[ ,;)#/:.-]{0,2}",
            "[ ,;(#/:.-]{0,2}[0-9]{4}-[0-9]{2}-[0-9]{2}[ ,;)#/:.-]{0,2}",
            "[ ,;(#/:.-]{0,2}[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{2,4}[ ,;)#/:.-]{0,2}",
            "[ ,;(#/:.-]{0,2}\\$?[0-9]{1,3},[0-9]{3}(\\.[0-9]{2})?[ ,;)#/:.-]{0,2}",
            "[ #]{0,2}[0-9]{4,8}[ -]{0,1}",
            "[ -]{1,2}[0-9]{1,5}",
            prop::sample::select(vec![
                "4111 1111 1111 1111",
                "5500-0000-0000-0004",
                "378282246310005",
                "DE89 3704 0044 0532 0130 00",
                "GB82WEST12345698765432",
                "192.168.1.20",
                "2001:db8::8a2e:370:7334",
                "123-45-6789",
                "123-45-5604",
                "4111111111111111",
                "3782 822463 10005",
                "+4915112345678",
                "+44 20 7946 0958",
                "+1 (555) 123-4567",
                "(555) 987-6543",
                "555.234.5678",
                "wJalrXUtnFEMI/K7MDENG/bPxRfi3CY8EXAMPLEKEY",
                "Bearer abc123def456ghi789jkl",
            ])
            .prop_map(str::to_string),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn prefilters_never_hide_a_match(parts in prop::collection::vec(piece(), 0..14)) {
            static BUILTINS: std::sync::LazyLock<Builtins> = std::sync::LazyLock::new(Builtins::new);
            let text = parts.concat();
            prop_assert_eq!(scan_sorted(&BUILTINS, &text), scan_unfiltered(&BUILTINS, &text), "{:?}", text);
        }
    }

    #[test]
    fn secret_rule_accepts_random_tokens_and_rejects_identifiers() {
        assert!(is_secret(b"wJalrXUtnFEMI/K7MDENG/bPxRfi3CY8EXAMPLEKEY"));
        assert!(is_secret(b"aZ3kQ9pL2xW7mN4vB8cR1tY6"));
        for s in [
            "MyVeryLongClassName2Factory",
            "/usr/local/lib/python3/site-packages",
            "org/apache/commons/lang3/StringUtils",
            "my-project-2024-Q3-Final-Report",
            "550e8400-e29b-41d4-a716-446655440000",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "internationalization_and_localization",
            "getUserById2AndThenDoSomething",
            "Base64Encoder2ForUTF8Strings",
        ] {
            assert!(!is_secret(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn ipv6_forms() {
        let found = |t: &str| {
            let mut v = Vec::new();
            scan_ipv6(t, &mut v);
            v.iter()
                .map(|c| t[c.start..c.end].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            found("from 2001:db8::8a2e:370:7334 today"),
            ["2001:db8::8a2e:370:7334"]
        );
        assert_eq!(
            found("host 2001:0db8:85a3:0000:0000:8a2e:0370:7334."),
            ["2001:0db8:85a3:0000:0000:8a2e:0370:7334"]
        );
        assert_eq!(
            found("link fe80::1ff:fe23:4567:890a"),
            ["fe80::1ff:fe23:4567:890a"]
        );
        assert_eq!(found("mapped ::ffff:192.0.2.128"), ["::ffff:192.0.2.128"]);
        assert!(found("at 10:30:00 use std::io and ab::cd, ratio 3:2").is_empty());
        // Punctuation around an address, a `::` included, is not part of it.
        assert_eq!(
            found("ip:2001:db8::8a2e:370:7334: or ::2001:db8::1::."),
            ["2001:db8::8a2e:370:7334", "2001:db8::1"]
        );
        // One group after `::` is a number next to punctuation, not an address.
        assert!(found("::4111 1111::").is_empty());
    }

    fn spans(t: &str, found: &[Candidate]) -> Vec<(String, bool)> {
        found
            .iter()
            .map(|c| (t[c.start..c.end].to_string(), c.weak))
            .collect()
    }

    #[test]
    fn phones_stop_before_a_time_date_or_amount_and_at_15_digits() {
        let bi = Builtins::new();
        let found = |t: &str| {
            let mut v = Vec::new();
            bi.scan_phones(t, &mut v);
            spans(t, &v)
        };
        let phone = vec![("+44 20 7946 0958".to_string(), false)];
        for after in [
            "17:30",
            "9:00:00",
            "15/03/2024",
            "2024/03/15",
            "2024-03-15",
            "12,345",
            "12345",
        ] {
            assert_eq!(
                found(&format!("+44 20 7946 0958 {after}")),
                phone,
                "{after}"
            );
        }
        // Neither a date, a time nor an amount: the last group is the phone's.
        assert_eq!(found("+44 20 7946 0958/0959"), phone);
        assert_eq!(
            found("+44 20 7946 0958 12/34"),
            [("+44 20 7946 0958 12".to_string(), false)]
        );
    }

    #[test]
    fn card_readings_that_reach_into_a_neighbour_are_weak() {
        let found = |t: &str| {
            let mut v = Vec::new();
            scan_cards(t, &mut v);
            spans(t, &v)
        };
        let card = |s: &str, weak| (s.to_string(), weak);
        assert_eq!(
            found("17:30 4111 1111 1111 1111"),
            [
                card("30 4111 1111 1111", true),
                card("4111 1111 1111 1111", false)
            ]
        );
        // Card grouping and issuer prefix: an order number before, a year after.
        assert_eq!(
            found("48213377 4111 1111 1111 1111 2024"),
            [
                card("48213377 4111 1111", true),
                card("4111 1111 1111 1111", false),
                card("1111 1111 1111 2024", true)
            ]
        );
        assert_eq!(
            found("17:30,4111 1111 1111 1111"),
            [card("4111 1111 1111 1111", true)]
        );
        // Mixed spaces and dashes: a date and an SSN are no card, a card is.
        assert!(found("2024-03-15 123-45-5604").is_empty());
        assert_eq!(
            found("4111 1111-1111 1111"),
            [card("4111 1111-1111 1111", false)]
        );
        assert!(found("4111 1111 1111 1111 1")
            .iter()
            .all(|(s, w)| *w || s == "4111 1111 1111 1111"));
    }
}
