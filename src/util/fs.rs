//! Local files: reading what comes from users, layouts and trust stores, and writing atomically.
//!
//! A size check on a path's metadata is not enough: a device (`/dev/zero`) or a FIFO reports
//! a length of 0 and then reads forever, or blocks forever on open. Every read of such a file
//! goes through [`read_capped`] (or [`open_regular`] for streaming): it refuses anything that is
//! not a regular file before opening it, opens without blocking (so a FIFO swapped in after the
//! check cannot hang us), re-checks the opened handle, and reads at most `cap` bytes.
//!
//! Writes go through [`write_file_atomic`]: a temporary file beside the target, moved into
//! place, so a failure leaves nothing half-written.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Why a local file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be opened or read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path names something other than a regular file (a FIFO, device, socket or directory).
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a FIFO", "a character device", ...).
        kind: &'static str,
    },
    /// The file is larger than the cap for what it should hold.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What the file should hold ("a key file").
        what: &'static str,
        /// The cap in bytes.
        limit: u64,
    },
}

impl FileError {
    /// True when the file does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            FileError::NotRegular { path, kind } => write!(
                f,
                "{} is not a regular file ({kind}); give a regular file",
                path.display()
            ),
            FileError::TooLarge { path, what, limit } => write!(
                f,
                "{} is larger than the {limit}-byte limit for {what}; refusing it",
                path.display()
            ),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn kind_of(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        return None;
    }
    if ft.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_fifo() {
            return Some("a FIFO");
        }
        if ft.is_char_device() {
            return Some("a character device");
        }
        if ft.is_block_device() {
            return Some("a block device");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a file")
}

/// Open `path` for reading if it is a regular file (symlinks are followed), without blocking on
/// a FIFO. The returned handle is checked again, so what is read is the regular file checked.
pub fn open_regular(path: &Path) -> Result<std::fs::File, FileError> {
    let io = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_regular = |kind| FileError::NotRegular {
        path: path.to_path_buf(),
        kind,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(not_regular(kind));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // A FIFO put in place after the check above would block `open` until a writer
        // appears; O_NONBLOCK makes that open return at once (and is ignored for regular files).
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(not_regular(kind));
    }
    Ok(file)
}

/// Read the regular file at `path`, refusing more than `cap` bytes. `what` names what the file
/// should hold, for the error ("a key file").
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path)?;
    let too_large = || FileError::TooLarge {
        path: path.to_path_buf(),
        what,
        limit: cap,
    };
    let len = file
        .metadata()
        .map_err(|source| FileError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if len > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_capped`], then UTF-8.
pub(crate) fn read_capped_string(
    path: &Path,
    cap: u64,
    what: &'static str,
) -> Result<String, FileError> {
    let bytes = read_capped(path, cap, what)?;
    String::from_utf8(bytes).map_err(|_| FileError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"),
    })
}

/// Move the finished temporary file `tmp` to `target` (removing `tmp` either way). With
/// `force` an atomic rename that replaces `target`; without, a hard link, which fails with
/// [`crate::Error::Exists`] when `target` exists (a no-replace rename), so a concurrent writer that
/// got there first is never overwritten.
pub(crate) fn persist(
    tmp: &std::path::Path,
    target: &std::path::Path,
    force: bool,
) -> crate::Result<()> {
    let ctx = || format!("writing {}", target.display());
    if force {
        return std::fs::rename(tmp, target).map_err(|e| {
            let _ = std::fs::remove_file(tmp);
            crate::Error::io(ctx(), e)
        });
    }
    let linked = std::fs::hard_link(tmp, target);
    let _ = std::fs::remove_file(tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(crate::Error::Exists {
            path: target.to_path_buf(),
        }),
        Err(e) => Err(crate::Error::io(ctx(), e)),
    }
}

/// Write `bytes` to `target` with `mode` through a temporary file moved into place, so a
/// failure leaves nothing half-written; refuses to replace an existing file unless `force`
/// (also when another process creates it meanwhile).
pub fn write_file_atomic(
    target: &std::path::Path,
    bytes: &[u8],
    mode: u32,
    force: bool,
) -> crate::Result<()> {
    if !force && target.exists() {
        return Err(crate::Error::Exists {
            path: target.to_path_buf(),
        });
    }
    let tmp = write_temp(target, bytes, mode)?;
    persist(&tmp, target, force)
}

/// Write `bytes` to a fresh temporary file beside `target` with `mode`; returns its path.
pub(crate) fn write_temp(
    target: &std::path::Path,
    bytes: &[u8],
    mode: u32,
) -> crate::Result<std::path::PathBuf> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut suffix = [0u8; 6];
    let _ = getrandom::fill(&mut suffix);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.tmp-{}", hex::encode(suffix)));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(mode);
    #[cfg(not(unix))]
    let _ = mode;
    let ctx = || format!("writing {}", target.display());
    let mut f = opts.open(&tmp).map_err(|e| crate::Error::io(ctx(), e))?;
    if let Err(e) = f.write_all(bytes).and_then(|_| f.sync_all()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(crate::Error::io(ctx(), e));
    }
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_file_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_capped(&p, 5, "a test file").unwrap(), b"12345");
        let e = read_capped(&p, 4, "a test file").unwrap_err();
        assert!(matches!(e, FileError::TooLarge { limit: 4, .. }), "{e}");
        assert!(
            e.to_string().contains("4-byte limit for a test file"),
            "{e}"
        );
    }

    #[test]
    fn refuses_directories_and_devices() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_capped(dir.path(), 10, "a test file").unwrap_err();
        assert!(e.to_string().contains("(a directory)"), "{e}");
        #[cfg(unix)]
        {
            let e = read_capped(Path::new("/dev/zero"), 10, "a test file").unwrap_err();
            assert!(e.to_string().contains("(a character device)"), "{e}");
        }
        let e = read_capped(&dir.path().join("missing"), 10, "a test file").unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }
}
