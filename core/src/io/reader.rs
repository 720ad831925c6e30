//! Reading lines with a size cap, so one huge line cannot exhaust memory.

use std::io::{self, BufRead};

/// What [`read_line_capped`] found.
pub(crate) enum LineRead {
    /// End of input.
    Eof,
    /// A line (without its `\n`/`\r\n`) in the buffer; `bytes` consumed including the newline.
    Line { bytes: usize },
    /// A line longer than the cap; it was skipped up to its newline.
    TooLong { bytes: usize },
}

/// Reads one line into `buf` (cleared first), keeping at most `max` bytes.
pub(crate) fn read_line_capped<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut consumed = 0usize;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            if consumed == 0 {
                return Ok(LineRead::Eof);
            }
            break;
        }
        let (chunk, done) = match memchr(available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() + n > max.saturating_add(2) {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        reader.consume(n);
        consumed += n;
        if done {
            break;
        }
    }
    if too_long {
        return Ok(LineRead::TooLong { bytes: consumed });
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.len() > max {
        buf.clear();
        return Ok(LineRead::TooLong { bytes: consumed });
    }
    Ok(LineRead::Line { bytes: consumed })
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_caps() {
        let data = b"short\r\nthis line is too long\nok";
        let mut r = io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 10),
            Ok(LineRead::Line { bytes: 7 })
        ));
        assert_eq!(buf, b"short");
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 10),
            Ok(LineRead::TooLong { bytes: 22 })
        ));
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 10),
            Ok(LineRead::Line { bytes: 2 })
        ));
        assert_eq!(buf, b"ok");
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 10),
            Ok(LineRead::Eof)
        ));
    }
}
