//! The accepted lines of an import, kept between reading and writing: in memory while
//! small, in an unnamed temporary file (gone when the import ends) past [`IN_MEMORY`], so
//! an import's memory does not grow with its input.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};

/// Bytes kept in memory before the spool moves to a temporary file.
const IN_MEMORY: usize = 32 << 20;

/// Append-only bytes, read back by offset.
#[derive(Debug)]
pub(crate) struct Spool {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    /// Bytes written to `file`.
    file_len: u64,
}

fn io_err(source: std::io::Error) -> Error {
    Error::Io {
        path: "the import's temporary file".into(),
        source,
    }
}

impl Spool {
    pub(crate) fn new() -> Self {
        Spool {
            memory: Vec::new(),
            file: None,
            file_len: 0,
        }
    }

    /// Appends `bytes`; returns their offset.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<u64> {
        if self.file.is_none() && self.memory.len() + bytes.len() > IN_MEMORY {
            let mut file = BufWriter::with_capacity(1 << 16, tempfile::tempfile().map_err(io_err)?);
            file.write_all(&self.memory).map_err(io_err)?;
            self.file_len = self.memory.len() as u64;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            None => {
                let at = self.memory.len() as u64;
                self.memory.extend_from_slice(bytes);
                Ok(at)
            }
            Some(f) => {
                let at = self.file_len;
                f.write_all(bytes).map_err(io_err)?;
                self.file_len += bytes.len() as u64;
                Ok(at)
            }
        }
    }

    /// The `len` bytes at `offset`.
    pub(crate) fn get(&self, offset: u64, len: u32) -> Result<std::borrow::Cow<'_, [u8]>> {
        let len = len as usize;
        match &self.file {
            None => {
                let start = usize::try_from(offset).map_err(|_| out_of_range())?;
                self.memory
                    .get(start..start + len)
                    .map(std::borrow::Cow::Borrowed)
                    .ok_or_else(out_of_range)
            }
            Some(f) => {
                let mut buf = vec![0u8; len];
                read_at(f.get_ref(), &mut buf, offset)?;
                Ok(std::borrow::Cow::Owned(buf))
            }
        }
    }

    /// Makes everything pushed readable through [`Spool::get`] (flushes the file buffer).
    pub(crate) fn seal(&mut self) -> Result<()> {
        if let Some(f) = &mut self.file {
            f.flush().map_err(io_err)?;
        }
        Ok(())
    }
}

fn out_of_range() -> Error {
    io_err(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "read past the end of the spool",
    ))
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, offset).map_err(io_err)
}

#[cfg(not(unix))]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = f;
    f.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    f.read_exact(buf).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_then_file_round_trip() {
        let mut s = Spool::new();
        let line = vec![b'x'; 1 << 20];
        let mut offsets = Vec::new();
        for i in 0..40u8 {
            let mut l = line.clone();
            l[0] = i;
            offsets.push(s.push(&l).expect("push"));
        }
        assert!(s.file.is_some(), "40 MiB moved to a file");
        s.seal().expect("seal");
        for (i, off) in offsets.iter().enumerate() {
            let got = s.get(*off, 1 << 20).expect("get");
            assert_eq!(got[0], i as u8);
            assert_eq!(got.len(), 1 << 20);
        }
    }
}
