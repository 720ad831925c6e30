//! PostgreSQL's binary `COPY` format, written row by row into a buffer (pure; no I/O).
//!
//! The format (PostgreSQL docs, "COPY", Binary Format): an 11-byte signature, a flags word
//! and a header-extension length; each row is a 16-bit field count and, per field, a 32-bit
//! length (−1 for NULL) followed by the value in the type's binary send format (big-endian
//! integers and floats, UTF-8 text, raw bytea, arrays with their header); a 16-bit −1 ends
//! the data. The few types the store's tables use are written here; a general crate
//! (`postgres-types`) would bring tokio-postgres's type system for about a hundred lines.

/// The file header: signature, flags (no OIDs), no header extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The type OID of `text`, the element type of `TEXT[]` columns.
const TEXT_OID: i32 = 25;

/// One COPY stream's bytes, built row by row.
#[derive(Debug)]
pub(super) struct CopyBuf {
    bytes: Vec<u8>,
}

impl CopyBuf {
    /// A buffer holding the header.
    pub(super) fn new(capacity: usize) -> CopyBuf {
        let mut bytes = Vec::with_capacity(capacity.max(HEADER.len() + 2));
        bytes.extend_from_slice(HEADER);
        CopyBuf { bytes }
    }

    /// Starts a row of `fields` fields; the caller writes exactly that many.
    pub(super) fn row(&mut self, fields: i16) {
        self.bytes.extend_from_slice(&fields.to_be_bytes());
    }

    fn field(&mut self, value: &[u8]) {
        // Values are bounded by the store's limits (a few MiB), far below 2^31.
        let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.bytes.extend_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(value);
    }

    /// A NULL.
    pub(super) fn null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// A `BIGINT`.
    pub(super) fn int8(&mut self, v: i64) {
        self.field(&v.to_be_bytes());
    }

    /// A `SMALLINT`.
    pub(super) fn int2(&mut self, v: i16) {
        self.field(&v.to_be_bytes());
    }

    /// A `DOUBLE PRECISION`.
    pub(super) fn float8(&mut self, v: f64) {
        self.field(&v.to_bits().to_be_bytes());
    }

    /// A `TEXT` (UTF-8, no NUL: the writer rejects those first).
    pub(super) fn text(&mut self, v: &str) {
        self.field(v.as_bytes());
    }

    /// A `BYTEA`.
    pub(super) fn bytea(&mut self, v: &[u8]) {
        self.field(v);
    }

    /// A nullable value written by `write`.
    pub(super) fn opt<T>(&mut self, v: Option<T>, write: impl FnOnce(&mut Self, T)) {
        match v {
            Some(v) => write(self, v),
            None => self.null(),
        }
    }

    /// A `BOOLEAN`.
    pub(super) fn bool(&mut self, v: bool) {
        self.field(&[u8::from(v)]);
    }

    /// A one-dimensional `TEXT[]` without NULL elements.
    pub(super) fn text_array<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a str>) {
        let len_at = self.bytes.len();
        self.bytes.extend_from_slice(&0i32.to_be_bytes());
        let n = i32::try_from(items.len()).unwrap_or(i32::MAX);
        for word in [1, 0, TEXT_OID, n, 1] {
            // dimensions, has-nulls flag, element type, length, lower bound
            self.bytes.extend_from_slice(&word.to_be_bytes());
        }
        for item in items {
            self.field(item.as_bytes());
        }
        let len = i32::try_from(self.bytes.len() - len_at - 4).unwrap_or(i32::MAX);
        self.bytes[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Bytes written so far.
    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Takes the bytes written so far, leaving the buffer empty with the same capacity
    /// (for sending in pieces).
    pub(super) fn take(&mut self) -> Vec<u8> {
        let capacity = self.bytes.capacity();
        std::mem::replace(&mut self.bytes, Vec::with_capacity(capacity))
    }

    /// Ends the stream: the trailer.
    pub(super) fn end(&mut self) {
        self.bytes.extend_from_slice(&(-1i16).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_of_every_type_is_the_documented_bytes() {
        let mut b = CopyBuf::new(0);
        b.row(8);
        b.int8(-2);
        b.int2(7);
        b.float8(0.5);
        b.text("é");
        b.bytea(&[0, 255]);
        b.bool(true);
        b.null();
        b.text_array(["ab", "c"].into_iter());
        b.end();
        let mut want = HEADER.to_vec();
        want.extend_from_slice(&[0, 8]);
        want.extend_from_slice(&[0, 0, 0, 8, 255, 255, 255, 255, 255, 255, 255, 254]);
        want.extend_from_slice(&[0, 0, 0, 2, 0, 7]);
        want.extend_from_slice(&[0, 0, 0, 8, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0, 0, 0, 2, 0xc3, 0xa9]);
        want.extend_from_slice(&[0, 0, 0, 2, 0, 255]);
        want.extend_from_slice(&[0, 0, 0, 1, 1]);
        want.extend_from_slice(&[255, 255, 255, 255]);
        // length 31: 5 header words, then "ab" and "c" with their lengths
        want.extend_from_slice(&[0, 0, 0, 31, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25]);
        want.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1]);
        want.extend_from_slice(&[0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1, b'c']);
        want.extend_from_slice(&[255, 255]);
        assert_eq!(b.take(), want);
    }

    #[test]
    fn the_header_is_the_signature_flags_and_extension() {
        assert_eq!(HEADER.len(), 19);
        assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(CopyBuf::new(0).len(), 19);
    }
}
