//! Rendering examples as JSONL lines of each format, and writing a dataset directory atomically.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::config::DatasetFormat;
use super::examples::{assistant, Example};
use crate::model::Message;
use crate::{Error, Result};

// Field order of these structs is the key order of the output.
#[derive(Serialize)]
struct Messages<'a> {
    messages: &'a [Message],
}

#[derive(Serialize)]
struct OpenaiDpo<'a> {
    input: Messages<'a>,
    preferred_output: [Message; 1],
    non_preferred_output: [Message; 1],
}

#[derive(Serialize)]
struct TrlDpo<'a> {
    prompt: &'a [Message],
    chosen: [Message; 1],
    rejected: [Message; 1],
}

#[derive(Serialize)]
struct TrlKto<'a> {
    prompt: &'a [Message],
    completion: [Message; 1],
    label: bool,
}

/// One JSONL line (with its newline) of `example` in `format`. An example of the wrong kind
/// for the format is an `InvalidInput`.
pub fn render_line(format: DatasetFormat, example: &Example) -> Result<Vec<u8>> {
    let wrong = || {
        Error::invalid(
            "format",
            format!(
                "a {} example cannot be written as {}",
                example.source.as_str(),
                format.as_str()
            ),
        )
    };
    let mut line = match format {
        DatasetFormat::OpenaiChat | DatasetFormat::TrlSft => {
            let m = example.sft_messages();
            serde_json::to_vec(&Messages { messages: &m })
        }
        DatasetFormat::OpenaiDpo => serde_json::to_vec(&OpenaiDpo {
            input: Messages {
                messages: &example.prompt,
            },
            preferred_output: [assistant(&example.chosen)],
            non_preferred_output: [assistant(example.rejected.as_deref().ok_or_else(wrong)?)],
        }),
        DatasetFormat::TrlDpo => serde_json::to_vec(&TrlDpo {
            prompt: &example.prompt,
            chosen: [assistant(&example.chosen)],
            rejected: [assistant(example.rejected.as_deref().ok_or_else(wrong)?)],
        }),
        DatasetFormat::TrlKto => serde_json::to_vec(&TrlKto {
            prompt: &example.prompt,
            completion: [assistant(&example.chosen)],
            label: example.label.ok_or_else(wrong)?,
        }),
    }
    .map_err(|e| Error::invalid("example", e.to_string()))?;
    line.push(b'\n');
    Ok(line)
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `files` (name, bytes) into `dir`, all or nothing.
///
/// Everything is written to a temporary directory next to `dir` (same file system), synced,
/// then renamed into place, so a failure leaves neither a partial dataset nor the temporary
/// directory. A missing `dir` is created; an empty one is replaced; a non-empty one is
/// refused (`InvalidInput` on `out`) unless `force`, when it is replaced as a whole.
pub fn write_dir(dir: &Path, files: &[(&str, &[u8])], force: bool) -> Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| Error::invalid("out", format!("{} names no directory", dir.display())))?
        .to_string_lossy()
        .into_owned();
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(Error::invalid(
                "out",
                format!("{} exists and is not a directory", dir.display()),
            ))
        }
        Ok(_) => {
            let non_empty = fs::read_dir(dir)
                .map_err(|e| io_err(dir, e))?
                .next()
                .is_some();
            if non_empty && !force {
                return Err(Error::invalid(
                    "out",
                    format!(
                        "{} is not empty; choose another directory or replace it",
                        dir.display()
                    ),
                ));
            }
        }
        Err(_) => {}
    }
    fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(|e| io_err(&parent, e))?;
    for (file, bytes) in files {
        let path = tmp.path().join(file);
        let mut f = fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        f.write_all(bytes).map_err(|e| io_err(&path, e))?;
        f.sync_all().map_err(|e| io_err(&path, e))?;
    }
    if dir.exists() {
        // Move the old directory aside first, so the new one appears in one rename and the
        // old one is restored if that rename fails.
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(&parent)
            .map_err(|e| io_err(&parent, e))?;
        let aside = old.path().join("d");
        fs::rename(dir, &aside).map_err(|e| io_err(dir, e))?;
        if let Err(e) = fs::rename(tmp.path(), dir) {
            let _ = fs::rename(&aside, dir);
            return Err(io_err(dir, e));
        }
        drop(old);
    } else {
        fs::rename(tmp.path(), dir).map_err(|e| io_err(dir, e))?;
    }
    // The temporary directory now is `dir`: keep it.
    let _ = tmp.keep();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_non_empty_dir_and_leaves_no_temp() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("ds");
        write_dir(&dir, &[("a.txt", b"1")], false).unwrap();
        assert_eq!(fs::read(dir.join("a.txt")).unwrap(), b"1");
        let e = write_dir(&dir, &[("b.txt", b"2")], false).unwrap_err();
        assert!(e.to_string().contains("or replace it"), "{e}");
        write_dir(&dir, &[("b.txt", b"2")], true).unwrap();
        assert!(!dir.join("a.txt").exists());
        assert_eq!(fs::read(dir.join("b.txt")).unwrap(), b"2");
        let names: Vec<_> = fs::read_dir(base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("ds")]);
    }

    #[test]
    fn an_unwritable_target_fails_cleanly() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        assert!(write_dir(&file.join("ds"), &[("a", b"1")], false).is_err());
        assert!(write_dir(&file, &[("a", b"1")], true).is_err());
        assert_eq!(fs::read_dir(base.path()).unwrap().count(), 1);
    }
}
