//! The data folder: the one place on disk where a Weft server keeps state.
//!
//! collab-server keeps its Ed25519 key pair here; later the SQLite file and the local blob
//! folder will live here too. Callers name files, never paths, so nothing can be written outside
//! the folder.

use crate::StorageError;
use crate::atomic::{self, Outcome};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An existing, writable folder that holds a server's files.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens the data folder at `path`, creating it and its parents if missing, and checks that
    /// a file can be written into it.
    pub fn open(path: impl AsRef<Path>) -> Result<DataDir, StorageError> {
        let path = path.as_ref();
        let create_err = |source| StorageError::CreateDir {
            path: path.to_owned(),
            source,
        };
        fs::create_dir_all(path).map_err(create_err)?;
        let root = fs::canonicalize(path).map_err(create_err)?;
        check_writable(&root).map_err(|source| StorageError::NotWritable {
            path: root.clone(),
            source,
        })?;
        Ok(DataDir { root })
    }

    /// The folder's absolute path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of the file `name` inside the folder; `name` must be a plain file name.
    pub fn path(&self, name: &str) -> Result<PathBuf, StorageError> {
        validate_name(name)?;
        Ok(self.root.join(name))
    }

    /// Returns the content of the file `name`, creating it from `create()` first if it is
    /// missing. The flag is `true` when this call created the file.
    ///
    /// A new file is written atomically and readable by the owner only (mode 0600 on unix).
    /// If another process creates the file at the same time, its content wins and is returned.
    pub fn read_or_create<E>(
        &self,
        name: &str,
        create: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<(Vec<u8>, bool), StorageError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = self.path(name)?;
        if let Some(bytes) = read_if_exists(&path)? {
            return Ok((bytes, false));
        }
        let bytes = create().map_err(|err| StorageError::Create {
            name: name.to_owned(),
            source: err.into(),
        })?;
        let outcome =
            atomic::write_new(&self.root, &path, &bytes).map_err(|source| StorageError::Write {
                path: path.clone(),
                source,
            })?;
        match outcome {
            Outcome::Written => Ok((bytes, true)),
            Outcome::AlreadyExists => {
                let existing = fs::read(&path).map_err(|source| StorageError::Read {
                    path: path.clone(),
                    source,
                })?;
                Ok((existing, false))
            }
        }
    }
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StorageError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes and removes a probe file, so a read-only folder fails at startup rather than on the
/// first write.
fn check_writable(root: &Path) -> io::Result<()> {
    let mut probe = tempfile::Builder::new()
        .prefix(".weft-probe-")
        .tempfile_in(root)?;
    probe.write_all(b"weft")?;
    probe.as_file().sync_all()?;
    probe.close()
}

fn validate_name(name: &str) -> Result<(), StorageError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.contains(['/', '\\']) || name.chars().any(std::path::is_separator) {
        Some("it contains a path separator")
    } else if name.contains("..") {
        Some("it contains `..`")
    } else if name == "." {
        Some("it names the folder itself")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StorageError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}
