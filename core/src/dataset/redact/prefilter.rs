//! Exact prefilters: cheap facts about a text that every match of a detector needs, so that
//! a detector runs only where it could find something. Each fact is a necessary condition
//! derived from the detector's pattern (never a guess about typical text); the detectors'
//! own checks still decide. `scan_matches_unfiltered` in the tests holds them to that.
//!
//! The byte pass works on eight bytes at a time in a `u64` (SWAR): chat text is mostly
//! letters and spaces, and a per-byte loop with a branch at every word boundary spent more
//! time than all the detectors together.

/// Low bit of every byte.
const L: u64 = 0x0101_0101_0101_0101;
/// High bit of every byte: masks below carry one flag per byte there.
const H: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// Flags (high bit) of the ASCII bytes of `w` in `lo..=hi` (`hi` < 0x80). Each byte is
/// compared on its low seven bits, so no sum carries into the next byte; the bytes with
/// the high bit set (UTF-8) are then dropped.
#[inline(always)]
fn in_range(w: u64, lo: u8, hi: u8) -> u64 {
    let x = w & LOW7;
    let ge = x + L * u64::from(0x80 - lo);
    let gt = x + L * u64::from(0x7F - hi);
    ge & !gt & !w & H
}

/// Calls `f` with each word of `b` (little-endian: byte 0 is the earliest) and its offset,
/// the last one zero-padded (a zero byte is in no class).
#[inline(always)]
fn for_each_word(b: &[u8], mut f: impl FnMut(usize, u64)) {
    let mut chunks = b.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        f(i, u64::from_le_bytes(a));
        i += 8;
    }
    let rest = chunks.remainder().len();
    if rest > 0 {
        // The last eight bytes, shifted so that the ones already seen drop out; a shorter
        // text is gathered byte by byte.
        let w = match b.len().checked_sub(8) {
            Some(from) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[from..]);
                u64::from_le_bytes(a) >> (8 * (8 - rest))
            }
            None => b.iter().rev().fold(0, |w, &c| w << 8 | u64::from(c)),
        };
        f(i, w);
    }
}

/// The facts of one pass over a text's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// ASCII digits.
    pub digits: usize,
    /// Longest run of printable ASCII from `+` to `~` (0x2B–0x7E): a superset of both the
    /// API-key/SECRET token class `[A-Za-z0-9+/_=-]` and the Bearer token class
    /// `[A-Za-z0-9._~+/-]`, so a run of either of length `n` lies inside one of at least
    /// `n`. Exact when it is ≥ 7; below that it may be too small, which no threshold
    /// (13, 16, 24) can see.
    pub longest_run: usize,
    /// Some byte is `@`.
    pub at: bool,
    /// Some byte is `:`.
    pub colon: bool,
    /// Which number detectors the digit runs allow.
    pub numbers: NumberShape,
}

impl Shape {
    /// One pass over `b`.
    pub fn of(b: &[u8]) -> Self {
        let mut longest = 0usize;
        let mut run = 0usize;
        let mut walk = Walk::default();
        for_each_word(b, |i, w| {
            let d = in_range(w, b'0', b'9');
            if d != 0 {
                walk.digits(b, i, d);
            }
            let m = in_range(w, 0x2B, 0x7E);
            if m == H {
                run += 8;
            } else {
                // The low bytes continue the run from the previous word, the high bytes
                // start the next one. A run inside the word, touching neither end, is at
                // most 6 long: below every threshold.
                let gaps = !m & H;
                longest = longest.max(run + (gaps.trailing_zeros() / 8) as usize);
                run = (gaps.leading_zeros() / 8) as usize;
            }
        });
        walk.finish(b);
        Shape {
            digits: walk.count,
            longest_run: longest.max(run),
            // Rare bytes: the SIMD search costs less than two more tests in the loop.
            at: memchr::memchr(b'@', b).is_some(),
            colon: memchr::memchr(b':', b).is_some(),
            numbers: walk.shape,
        }
    }
}

/// Which number detectors could match, from the maximal runs of ASCII digits and the one
/// byte between neighbouring runs. Each flag is what the detector's pattern needs:
///
/// - `ipv4` (`\b\d{1,3}(?:\.\d{1,3}){3}\b`): four runs of 1–3 digits joined by single `.`
///   (a `\b` or a `.` bounds each run, so each run is whole);
/// - `ssn` (`\b\d{3}-\d{2}-\d{4}\b`): runs of exactly 3, 2 and 4 digits joined by single `-`;
/// - `phone`: `+` right before a run (international form), or a run of exactly 3 digits,
///   one of ` .-`, a run of exactly 4 (the North American tail `\d{3}[ .-]\d{4}\b`, whose
///   first group follows `)`, a space or a separator);
/// - `card` (`\d(?:[ -]?\d){12,18}`): a chain of runs joined by single spaces or dashes
///   holding ≥ 13 digits;
/// - `iban` (`\b[A-Z]{2}[0-9]{2}…`): a run of ≥ 2 digits right after two upper-case letters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NumberShape {
    pub ipv4: bool,
    pub ssn: bool,
    pub phone: bool,
    pub card: bool,
    pub iban: bool,
}

/// A maximal run of digits `start..end` and what came before it.
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    /// The byte between the previous run and this one, when exactly one lies between.
    joint: Option<u8>,
}

impl Run {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// The digit runs seen so far.
#[derive(Default)]
struct Walk {
    count: usize,
    shape: NumberShape,
    /// The run being read.
    cur: Option<(usize, usize)>,
    /// The previous two runs (latest first) with their joints.
    prev: Option<Run>,
    prev2: Option<Run>,
    /// Digits of the current chain of runs joined by single spaces or dashes.
    card_chain: usize,
    /// Consecutive runs of 1–3 digits joined by single dots, ending with the latest run.
    dotted: usize,
}

impl Walk {
    /// The digits of the word at `i`, flagged in `d`. Kept out of line: the byte loop
    /// stays small, and most words have no digit.
    #[inline(never)]
    fn digits(&mut self, b: &[u8], i: usize, mut d: u64) {
        // One flag per byte: the byte sums of the product cannot carry (no POPCNT in the
        // baseline x86-64 target).
        self.count += ((d >> 7).wrapping_mul(L) >> 56) as usize;
        while d != 0 {
            let at = i + (d.trailing_zeros() / 8) as usize;
            d &= d - 1;
            self.cur = match self.cur {
                Some((s, e)) if e == at => Some((s, at + 1)),
                Some((s, e)) => {
                    self.push(b, s, e);
                    Some((at, at + 1))
                }
                None => Some((at, at + 1)),
            };
        }
    }

    fn finish(&mut self, b: &[u8]) {
        if let Some((s, e)) = self.cur.take() {
            self.push(b, s, e);
        }
    }

    fn push(&mut self, b: &[u8], start: usize, end: usize) {
        let joint = match self.prev {
            Some(p) if p.end + 1 == start => Some(b[p.end]),
            _ => None,
        };
        let run = Run { start, end, joint };
        let len = run.len();
        let s = &mut self.shape;
        s.phone |= start > 0 && b[start - 1] == b'+';
        s.iban |= len >= 2 && start >= 2 && b[start - 2..start].iter().all(u8::is_ascii_uppercase);
        self.card_chain = match joint {
            Some(b' ' | b'-') => self.card_chain + len,
            _ => len,
        };
        s.card |= self.card_chain >= 13;
        let short = (1..=3).contains(&len);
        self.dotted = match (joint, short) {
            (Some(b'.'), true) if self.dotted > 0 => self.dotted + 1,
            (_, true) => 1,
            _ => 0,
        };
        s.ipv4 |= self.dotted >= 4;
        if let Some(p) = self.prev {
            s.phone |= len == 4 && p.len() == 3 && matches!(joint, Some(b' ' | b'.' | b'-'));
            if let Some(p2) = self.prev2 {
                s.ssn |= len == 4
                    && joint == Some(b'-')
                    && p.len() == 2
                    && p.joint == Some(b'-')
                    && p2.len() == 3;
            }
        }
        self.prev2 = self.prev;
        self.prev = Some(run);
    }
}

/// Whether `b` holds `bearer` in any ASCII case (what `(?i:bearer)` needs).
pub fn has_bearer(b: &[u8]) -> bool {
    memchr::memchr2_iter(b'b', b'B', b).any(|i| {
        b.get(i..i + 6)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"bearer"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time definition of [`Shape`].
    fn shape_slow(b: &[u8]) -> Shape {
        let mut longest = 0;
        let mut run = 0;
        for &c in b {
            run = if (0x2B..=0x7E).contains(&c) {
                run + 1
            } else {
                0
            };
            longest = longest.max(run);
        }
        Shape {
            digits: b.iter().filter(|c| c.is_ascii_digit()).count(),
            longest_run: longest,
            at: b.contains(&b'@'),
            colon: b.contains(&b':'),
            numbers: NumberShape::default(),
        }
    }

    /// The digit runs found byte by byte, walked as `Shape::of` walks them.
    fn numbers_slow(b: &[u8]) -> NumberShape {
        let mut walk = Walk::default();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let s = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                walk.push(b, s, i);
            } else {
                i += 1;
            }
        }
        walk.shape
    }

    fn same(b: &[u8]) {
        let (fast, slow) = (Shape::of(b), shape_slow(b));
        assert_eq!(fast.numbers, numbers_slow(b), "{b:?}");
        assert_eq!(fast.digits, slow.digits, "{b:?}");
        assert_eq!((fast.at, fast.colon), (slow.at, slow.colon), "{b:?}");
        if slow.longest_run >= 7 {
            assert_eq!(fast.longest_run, slow.longest_run, "{b:?}");
        } else {
            assert!(fast.longest_run < 7, "{b:?}");
        }
    }

    #[test]
    fn shape_matches_the_bytewise_definition() {
        let mut next = crate::testing::xorshift(7);
        // Bytes that sit on the class edges, with UTF-8 and the NUL that pads the tail.
        let alphabet: &[u8] = b"\0 !*+,-./0129:;<=>?@AZ[_`az{~\x7f\x80\xc3\xa9\xff";
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let b: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            same(&b);
        }
        for len in (0..40).chain([2039, 2040, 2041, 5000]) {
            same(&vec![b'a'; len]);
            same(&vec![b'7'; len]);
            same(&vec![0x80; len]);
        }
        // Digit lanes are folded per 2,040-byte block: long texts cross several.
        let long: Vec<u8> = (0..9_000)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        same(&long);
    }

    #[test]
    fn in_range_is_exact_for_every_byte() {
        for lo in [0x2Bu8, 0x30, 0x41] {
            for hi in [0x39u8, 0x5A, 0x7E] {
                for c in 0..=255u8 {
                    let w = u64::from_le_bytes([c, b'x', c, 0, 0x80, c, 0xFF, c]);
                    let got = in_range(w, lo, hi);
                    let want = (lo..=hi).contains(&c);
                    for k in [0, 2, 5, 7] {
                        assert_eq!(
                            got >> (8 * k + 7) & 1 == 1,
                            want,
                            "{c:#x} in {lo:#x}..={hi:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn number_shapes() {
        let s = |t: &str| Shape::of(t.as_bytes()).numbers;
        assert!(s("1.2.3.4").ipv4);
        assert!(s("at 192.168.1.20.").ipv4);
        assert!(!s("version 2.4.1 and 1234.1.1.1").ipv4);
        assert!(s("id 123-45-6789").ssn);
        assert!(!s("on 2024-03-15 and 12-345-6789").ssn);
        assert!(s("+44 20").phone);
        assert!(s("(555) 123-4567").phone);
        assert!(s("555.234.5678").phone);
        assert!(!s("from 9:00 to 17:30, 123/4567").phone);
        assert!(s("4111 1111 1111 1111").card);
        assert!(s("x378282246310005").card);
        assert!(!s("4111  1111 1111 1111 and 123456789012").card);
        assert!(s("DE89 3704").iban);
        assert!(s("GB82WEST1234").iban);
        assert!(!s("D89 or De89 or DE8").iban);
        // Digits at the very start and end, and runs split by UTF-8 letters.
        assert!(s("123-45-6789").ssn);
        assert!(s("1.2.3.4").ipv4);
        assert!(!s("1é2é3é4").ipv4);
        // `[A-Z]` is ASCII: UTF-8 letters before the digits do not count, but do bound them.
        assert!(!s("ÄÖ89 ÉZ12").iban);
        assert!(s("éDE89").iban);
        assert_eq!(s(""), NumberShape::default());
    }

    #[test]
    fn bearer_in_any_case() {
        assert!(has_bearer(b"Authorization: Bearer x"));
        assert!(has_bearer(b"bEaReR"));
        assert!(has_bearer(b"xBEARER"));
        assert!(!has_bearer(b"bear her, bearing"));
        assert!(!has_bearer(b"beare"));
    }
}
