//! Validation run after a pattern matched: checksums and plausibility rules that regexes
//! cannot express, so that look-alike numbers in ordinary text survive.

/// Luhn checksum over the ASCII digits of `s` (other bytes are skipped); 13–19 digits.
pub fn luhn_ok(s: &str) -> bool {
    let mut sum = 0u32;
    let mut n = 0usize;
    for b in s.bytes().rev().filter(u8::is_ascii_digit) {
        let mut d = u32::from(b - b'0');
        if n % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        n += 1;
    }
    (13..=19).contains(&n) && sum % 10 == 0
}

/// IBAN check: two-letter country code, two check digits, alphanumeric BBAN, 15–34
/// characters in all (spaces ignored), and the ISO 13616 mod-97 remainder equal to 1.
pub fn iban_ok(s: &str) -> bool {
    let compact: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len())
        || !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
        || !compact[4..]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    let mut rem = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        rem = if b.is_ascii_digit() {
            (rem * 10 + u32::from(b - b'0')) % 97
        } else {
            (rem * 100 + u32::from(b - b'A' + 10)) % 97
        };
    }
    rem == 1
}

/// US SSN rules for `ddd-dd-dddd`: area not 000, 666 or 900–999; group not 00; serial not 0000.
pub fn ssn_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 11 {
        return false;
    }
    let area = &b[0..3];
    let group = &b[4..6];
    let serial = &b[7..11];
    area != b"000" && area != b"666" && area[0] != b'9' && group != b"00" && serial != b"0000"
}

/// Dotted quad with every octet ≤ 255 and no leading zero (`01.2.3.4` is not an address).
pub fn ipv4_ok(s: &str) -> bool {
    let mut parts = 0;
    for part in s.split('.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.starts_with('0')) {
            return false;
        }
        match part.parse::<u16>() {
            Ok(v) if v <= 255 => {}
            _ => return false,
        }
    }
    parts == 4
}

/// Number of ASCII digits in `s`.
pub fn digit_count(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// Shannon entropy of the bytes of `s`, in bits per byte.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut freq = [0u32; 256];
    for &b in s {
        freq[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    freq.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_near_misses() {
        assert!(luhn_ok("4111 1111 1111 1111"));
        assert!(luhn_ok("5500-0000-0000-0004"));
        assert!(luhn_ok("378282246310005"));
        assert!(!luhn_ok("4111 1111 1111 1112"));
        assert!(!luhn_ok("1234567812345678"));
        // Valid checksum but too short to be a card.
        assert!(!luhn_ok("18"));
    }

    #[test]
    fn iban_mod97() {
        assert!(iban_ok("DE89 3704 0044 0532 0130 00"));
        assert!(iban_ok("GB82WEST12345698765432"));
        assert!(iban_ok("FR1420041010050500013M02606"));
        assert!(!iban_ok("DE89 3704 0044 0532 0130 01"));
        assert!(!iban_ok("de89370400440532013000"));
        assert!(!iban_ok("DE8937"));
    }

    #[test]
    fn ssn_excludes_invalid_ranges() {
        assert!(ssn_ok("123-45-6789"));
        assert!(!ssn_ok("000-45-6789"));
        assert!(!ssn_ok("666-45-6789"));
        assert!(!ssn_ok("912-45-6789"));
        assert!(!ssn_ok("123-00-6789"));
        assert!(!ssn_ok("123-45-0000"));
    }

    #[test]
    fn ipv4_octets() {
        assert!(ipv4_ok("192.168.1.20"));
        assert!(ipv4_ok("8.8.8.8"));
        assert!(!ipv4_ok("256.1.1.1"));
        assert!(!ipv4_ok("01.2.3.4"));
        assert!(!ipv4_ok("1.2.3"));
    }

    #[test]
    fn entropy_orders_random_above_repetitive() {
        let random = shannon_entropy(b"aZ3kQ9pL2xW7mN4vB8cR1tY6");
        let repetitive = shannon_entropy(b"aaaaaaaaaaaabbbbbbbbbbbb");
        assert!(random > 4.0, "{random}");
        assert!((repetitive - 1.0).abs() < 1e-9);
    }
}
