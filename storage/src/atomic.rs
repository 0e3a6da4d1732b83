//! Writing a new file so that readers see either nothing or the whole content.
//!
//! Secrets such as the server's key pair must never be observed half-written (after a crash) nor
//! silently replaced (when two processes start at once), so the bytes go to a temporary file in
//! the same folder, are flushed to disk, and are then renamed into place without overwriting.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// What happened to the file we tried to create.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Our bytes are now the file's content.
    Written,
    /// Another writer created the file first; its content was kept and ours discarded.
    AlreadyExists,
}

/// Creates `target` (which must be inside `dir`) with `bytes`, readable by the owner only.
pub(crate) fn write_new(dir: &Path, target: &Path, bytes: &[u8]) -> io::Result<Outcome> {
    let mut temp = tempfile::Builder::new()
        .prefix(".weft-tmp-")
        .tempfile_in(dir)?;
    owner_only(temp.as_file())?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    // Renames without replacing an existing file; on failure the temporary file is removed
    // when the returned `NamedTempFile` is dropped.
    match temp.persist_noclobber(target) {
        Ok(_) => {}
        Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => {
            return Ok(Outcome::AlreadyExists);
        }
        Err(err) => return Err(err.error),
    }
    sync_dir(dir)?;
    Ok(Outcome::Written)
}

#[cfg(unix)]
fn owner_only(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn owner_only(_file: &File) -> io::Result<()> {
    Ok(())
}

/// Makes the rename itself durable: on unix a directory entry is only on disk once the
/// directory is synced.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
