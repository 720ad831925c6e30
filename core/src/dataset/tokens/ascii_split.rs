//! tiktoken's split patterns for `o200k_base` and `cl100k_base`, hand-written for ASCII text.
//!
//! Most texts are ASCII, and on ASCII the patterns' Unicode classes shrink to byte classes:
//! a letter is `A-Z`/`a-z` (`\p{Lu}` the upper ones, `\p{Ll}` the lower ones, `\p{Lt}`,
//! `\p{Lm}`, `\p{Lo}` and `\p{M}` are empty), `\p{N}` is `0-9`, `\s` is tab, LF, VT, FF,
//! CR and space. A byte walk then gives the pieces the backtracking regex gives, an order of
//! magnitude faster. Each function below names the alternative it stands for; alternatives are
//! tried in the pattern's order, as the regex's leftmost-first rule does. Texts with any
//! non-ASCII byte go through the regex (see `super::encoder`). The tests compare the pieces
//! with the regex's on generated text.

/// Which of tiktoken's split patterns to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pattern {
    /// `o200k_base`: case-aware words with trailing contractions, `/` after punctuation.
    O200k,
    /// `cl100k_base`: contractions on their own, letter runs.
    Cl100k,
}

/// Byte classes of the patterns on ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    /// `\r` or `\n`.
    Newline,
    /// Any other `\s`: tab, VT, FF, space.
    Space,
    /// Neither letter, digit nor whitespace (punctuation, symbols, other controls).
    Other,
}

const fn class_of(b: u8) -> Class {
    match b {
        b'A'..=b'Z' => Class::Upper,
        b'a'..=b'z' => Class::Lower,
        b'0'..=b'9' => Class::Digit,
        b'\r' | b'\n' => Class::Newline,
        b'\t' | 0x0b | 0x0c | b' ' => Class::Space,
        _ => Class::Other,
    }
}

const CLASSES: [Class; 128] = {
    let mut t = [Class::Other; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = class_of(b as u8);
        b += 1;
    }
    t
};

/// The pieces of an ASCII `text` (the caller checks `text.is_ascii()`).
pub(super) fn split(text: &str, pattern: Pattern) -> Splits<'_> {
    debug_assert!(text.is_ascii());
    Splits {
        text,
        pos: 0,
        pattern,
    }
}

/// Iterator over the pieces of an ASCII text.
#[derive(Debug)]
pub(super) struct Splits<'a> {
    text: &'a str,
    pos: usize,
    pattern: Pattern,
}

impl<'a> Iterator for Splits<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let t = self.text.as_bytes();
        let start = self.pos;
        if start >= t.len() {
            return None;
        }
        let end = match self.pattern {
            Pattern::O200k => o200k_end(t, start),
            Pattern::Cl100k => cl100k_end(t, start),
        };
        self.pos = end;
        // Every end lies on a byte boundary of ASCII text, so also on a char boundary.
        self.text.get(start..end)
    }
}

fn class(t: &[u8], i: usize) -> Option<Class> {
    t.get(i).map(|&b| CLASSES[usize::from(b & 0x7f)])
}

/// First index at or after `i` whose byte is not in `keep`.
fn run_end(t: &[u8], mut i: usize, keep: impl Fn(Class) -> bool) -> usize {
    while class(t, i).is_some_and(&keep) {
        i += 1;
    }
    i
}

fn is_letter(c: Class) -> bool {
    matches!(c, Class::Upper | Class::Lower)
}

fn is_space(c: Class) -> bool {
    matches!(c, Class::Space | Class::Newline)
}

/// Where the letters of a word start, if a word starts at `i`: at `i` itself, or after one
/// optional leading char `[^\r\n\p{L}\p{N}]` (space, tab, punctuation).
fn word_start(t: &[u8], i: usize) -> Option<usize> {
    match class(t, i)? {
        Class::Upper | Class::Lower => Some(i),
        Class::Space | Class::Other if class(t, i + 1).is_some_and(is_letter) => Some(i + 1),
        _ => None,
    }
}

/// End of `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`, or `i` when none matches.
fn contraction_end(t: &[u8], i: usize) -> usize {
    if t.get(i) != Some(&b'\'') {
        return i;
    }
    let lower = |k: usize| t.get(k).map(u8::to_ascii_lowercase);
    match lower(i + 1) {
        Some(b's' | b't' | b'm' | b'd') => i + 2,
        Some(b'r' | b'v') if lower(i + 2) == Some(b'e') => i + 3,
        Some(b'l') if lower(i + 2) == Some(b'l') => i + 3,
        _ => i,
    }
}

/// `\p{N}{1,3}` at a digit.
fn digits_end(t: &[u8], i: usize) -> usize {
    run_end(t, i, |c| c == Class::Digit).min(i + 3)
}

/// ` ?[^\s\p{L}\p{N}]+` followed by `[\r\n]*` (cl100k) or `[\r\n/]*` (o200k), if it matches.
fn punctuation_end(t: &[u8], i: usize, slash: bool) -> Option<usize> {
    let p = if t[i] == b' ' { i + 1 } else { i };
    if class(t, p) != Some(Class::Other) {
        return None;
    }
    let mut e = run_end(t, p, |c| c == Class::Other);
    while matches!(t.get(e), Some(b'\r' | b'\n')) || (slash && t.get(e) == Some(&b'/')) {
        e += 1;
    }
    Some(e)
}

/// `\s*[\r\n]+|\s+(?!\S)|\s+` at a whitespace byte.
fn whitespace_end(t: &[u8], i: usize) -> usize {
    let j = run_end(t, i, is_space);
    // `\s*[\r\n]+`: backtracking from the whole run stops at its last newline.
    if let Some(k) = t[i..j].iter().rposition(|&b| b == b'\r' || b == b'\n') {
        return i + k + 1;
    }
    // `\s+(?!\S)`: the whole run at the end of the text, else all of it but the last char,
    // which is left to lead the next word or punctuation.
    if j == t.len() {
        return j;
    }
    if j - i >= 2 {
        return j - 1;
    }
    // `\s+`: a single whitespace char before a non-space.
    i + 1
}

fn o200k_end(t: &[u8], i: usize) -> usize {
    // `[^\r\n\p{L}\p{N}]?[\p{Lu}..]*[\p{Ll}..]+(contraction)?` then the same with
    // `[\p{Lu}..]+[\p{Ll}..]*`: together, an upper run then a lower run, one of them non-empty.
    if let Some(w) = word_start(t, i) {
        let upper = run_end(t, w, |c| c == Class::Upper);
        let lower = run_end(t, upper, |c| c == Class::Lower);
        return contraction_end(t, lower);
    }
    if class(t, i) == Some(Class::Digit) {
        return digits_end(t, i);
    }
    if let Some(e) = punctuation_end(t, i, true) {
        return e;
    }
    whitespace_end(t, i)
}

fn cl100k_end(t: &[u8], i: usize) -> usize {
    let c = contraction_end(t, i);
    if c > i {
        return c;
    }
    // `[^\r\n\p{L}\p{N}]?\p{L}+`
    if let Some(w) = word_start(t, i) {
        return run_end(t, w, is_letter);
    }
    if class(t, i) == Some(Class::Digit) {
        return digits_end(t, i);
    }
    if let Some(e) = punctuation_end(t, i, false) {
        return e;
    }
    whitespace_end(t, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, p: Pattern) -> Vec<&str> {
        split(text, p).collect()
    }

    #[test]
    fn o200k_words_keep_case_runs_and_contractions() {
        assert_eq!(
            pieces("Hello worldWide DON'T they're", Pattern::O200k),
            ["Hello", " world", "Wide", " DON'T", " they're"]
        );
    }

    #[test]
    fn cl100k_contractions_stand_alone() {
        assert_eq!(
            pieces("they're 'sup", Pattern::Cl100k),
            ["they", "'re", " '", "sup"]
        );
    }

    #[test]
    fn whitespace_leaves_one_space_to_the_next_word() {
        assert_eq!(
            pieces("a   b \n\n  c  ", Pattern::O200k),
            ["a", "  ", " b", " \n\n", " ", " c", "  "]
        );
    }

    #[test]
    fn digits_group_by_three_and_slashes_follow_punctuation() {
        assert_eq!(
            pieces("12345 ../x\t!", Pattern::O200k),
            ["123", "45", " ../", "x", "\t", "!"]
        );
        assert_eq!(pieces("../x", Pattern::Cl100k), ["../", "x"]);
    }
}
