//! Refusing output paths that would destroy an input: `import F --reject-file F` truncated
//! its own input before reading it, and `export --out tuneloop.db` replaced the database with
//! JSONL. Every front that writes a file checks its path here first.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A file the command reads or keeps open, which no output may overwrite.
#[derive(Debug, Clone, Copy)]
pub struct Protected<'a> {
    /// The file.
    pub path: &'a Path,
    /// What it is, for the message (`the input`, `the database`).
    pub what: &'a str,
}

/// Refuses `output` (named `field` in the error) when it is one of `protected`, or a file
/// SQLite keeps beside a database (`-wal`, `-shm`, `-journal`). Paths are compared as files,
/// not as strings: `./a.jsonl`, `a.jsonl` and a hard link or symlink to it are the same.
///
/// ```
/// use std::path::Path;
/// use tuneloop::io::{check_output_path, Protected};
/// let input = Protected { path: Path::new("data.jsonl"), what: "the input" };
/// let err = check_output_path("reject_file", Path::new("./data.jsonl"), &[input]).unwrap_err();
/// assert!(err.to_string().contains("is the input"));
/// assert!(check_output_path("reject_file", Path::new("rejects.jsonl"), &[input]).is_ok());
/// ```
pub fn check_output_path(field: &str, output: &Path, protected: &[Protected<'_>]) -> Result<()> {
    for p in protected {
        let mut candidates = vec![p.path.to_path_buf()];
        if p.what == DATABASE {
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut name = p.path.as_os_str().to_owned();
                name.push(suffix);
                candidates.push(PathBuf::from(name));
            }
        }
        if candidates.iter().any(|c| same_file(output, c)) {
            return Err(Error::invalid(
                field,
                format!(
                    "{} is {} ({}); writing it would destroy it: choose another path",
                    output.display(),
                    p.what,
                    p.path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The `what` of an embedded database file in [`Protected`].
pub const DATABASE: &str = "the database";

/// Whether two paths name the same file. Existing files are compared by device and inode
/// (so links and `..` detours match); otherwise by their absolute, normalised form.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (absolute(a), absolute(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The absolute path with its parent resolved (links and `..`) when the parent exists.
fn absolute(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let abs = std::path::absolute(p).ok()?;
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => Some(
            parent
                .canonicalize()
                .unwrap_or_else(|_| parent.to_path_buf())
                .join(name),
        ),
        _ => Some(abs),
    }
}

/// The file of an embedded SQLite database URL (`sqlite://PATH`, `sqlite:PATH`), `None`
/// for other stores and for in-memory SQLite.
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let url = database_url.trim();
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") || rest.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_by_inode_and_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a.jsonl");
        std::fs::write(&a, "x").expect("write");
        let dotted = dir.path().join(".").join("a.jsonl");
        assert!(same_file(&a, &dotted));
        let link = dir.path().join("link.jsonl");
        std::fs::hard_link(&a, &link).expect("link");
        assert!(same_file(&a, &link));
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let missing = dir.path().join("sub").join("..").join("new.jsonl");
        assert!(same_file(&missing, &dir.path().join("new.jsonl")));
        assert!(!same_file(&a, &dir.path().join("b.jsonl")));
    }

    #[test]
    fn database_side_files_are_protected() {
        let db = Path::new("/tmp/x/tuneloop.db");
        let protected = [Protected {
            path: db,
            what: DATABASE,
        }];
        for out in [
            "/tmp/x/tuneloop.db",
            "/tmp/x/tuneloop.db-wal",
            "/tmp/x/./tuneloop.db-shm",
        ] {
            let err = check_output_path("out", Path::new(out), &protected).expect_err(out);
            assert!(err.to_string().contains("is the database"), "{err}");
        }
        assert!(check_output_path("out", Path::new("/tmp/x/out.jsonl"), &protected).is_ok());
    }

    #[test]
    fn sqlite_files_of_urls() {
        assert_eq!(
            sqlite_file("sqlite://a/b.db"),
            Some(PathBuf::from("a/b.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:b.db?mode=rwc"),
            Some(PathBuf::from("b.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
        assert_eq!(sqlite_file("memory://"), None);
    }
}
