//! The embedded blob store: a folder on the server's disk, used when no `BLOB_URL` is set.
//!
//! Objects live at `<dir>/objects/<key>` and their content type in a sidecar at
//! `<dir>/meta/<key>`, two separate trees so no key can name another key's metadata. Every file
//! is written to a temporary file in the target's own folder, synced and renamed into place, so
//! a reader sees the old or the new content, never a torn one; the temporary name starts with
//! `~`, which no key segment can contain. Metadata is written before the object, so a new object
//! never appears without its type. Presigned URLs point at the server itself (`/blobs/<key>`)
//! and are HMAC-signed (see [`signed_url`]); the HTTP handler checks them with
//! [`LocalBlobStore::verify`].
//!
//! A key cannot be both an object and a folder of other objects (`a` and `a/b`): storing the
//! second fails with [`BlobError::Io`].

mod signed_url;

pub use signed_url::{SignedGrant, SignedUrlError};

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{Blob, BlobError, BlobKey, BlobMeta, BlobStore, PresignedRequest};
use signed_url::UrlSigner;

/// The shortest signing key accepted, in bytes.
pub const MIN_SIGNING_KEY_LEN: usize = 16;

/// A blob store in a local folder whose presigned URLs are served by Weft.
#[derive(Debug)]
pub struct LocalBlobStore {
    root: PathBuf,
    objects: PathBuf,
    meta: PathBuf,
    public_base_url: String,
    signer: UrlSigner,
}

impl LocalBlobStore {
    /// Opens (creating if needed) the store in `dir`. Presigned URLs start with
    /// `public_base_url` (the server's address as clients reach it, e.g.
    /// `https://weft.example.com`) and are signed with `signing_key`.
    pub fn open(
        dir: impl AsRef<Path>,
        public_base_url: &str,
        signing_key: &[u8],
    ) -> Result<LocalBlobStore, BlobError> {
        let public_base_url = check_base_url(public_base_url)?;
        if signing_key.len() < MIN_SIGNING_KEY_LEN {
            return Err(BlobError::Config(format!(
                "the blob signing key is {} bytes, fewer than {MIN_SIGNING_KEY_LEN}",
                signing_key.len()
            )));
        }
        let signer = UrlSigner::new(signing_key)
            .ok_or_else(|| BlobError::Config("HMAC refused the blob signing key".to_owned()))?;
        let dir = dir.as_ref();
        let io_err = |source| BlobError::Io {
            key: dir.display().to_string(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_err)?;
        let root = fs::canonicalize(dir).map_err(io_err)?;
        let (objects, meta) = (root.join("objects"), root.join("meta"));
        fs::create_dir_all(&objects).map_err(io_err)?;
        fs::create_dir_all(&meta).map_err(io_err)?;
        Ok(LocalBlobStore {
            root,
            objects,
            meta,
            public_base_url,
            signer,
        })
    }

    /// The store's folder (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object named `key` is (or would be) stored; always inside `<root>/objects`.
    pub fn object_path(&self, key: &BlobKey) -> PathBuf {
        join_key(&self.objects, key)
    }

    /// Checks a request for `key` made with HTTP `method` whose raw query string (without `?`)
    /// is `query`, at `now_unix` (seconds since the epoch, see [`now_unix`]). On success,
    /// returns what the URL grants; a PUT must then carry exactly the granted `Content-Type`
    /// and number of bytes.
    pub fn verify(
        &self,
        method: &str,
        key: &BlobKey,
        query: &str,
        now_unix: u64,
    ) -> Result<SignedGrant, SignedUrlError> {
        self.signer.verify(method, key, query, now_unix)
    }

    fn meta_path(&self, key: &BlobKey) -> PathBuf {
        join_key(&self.meta, key)
    }

    fn url(&self, key: &BlobKey, query: &str) -> String {
        format!("{}/blobs/{key}?{query}", self.public_base_url)
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        let (object, meta) = (self.object_path(key), self.meta_path(key));
        let content_type = content_type.to_owned();
        blocking(key, move || {
            write_atomic(&meta, content_type.as_bytes())?;
            write_atomic(&object, &body)
        })
        .await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>, BlobError> {
        let (object, meta) = (self.object_path(key), self.meta_path(key));
        blocking(key, move || {
            let Some(bytes) = missing_as_none(fs::read(&object))? else {
                return Ok(None);
            };
            Ok(Some(Blob {
                bytes: Bytes::from(bytes),
                content_type: read_meta(&meta)?,
            }))
        })
        .await
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        let (object, meta) = (self.object_path(key), self.meta_path(key));
        blocking(key, move || {
            let Some(stat) = missing_as_none(fs::metadata(&object))? else {
                return Ok(None);
            };
            if !stat.is_file() {
                return Ok(None);
            }
            Ok(Some(BlobMeta {
                size: stat.len(),
                content_type: read_meta(&meta)?,
            }))
        })
        .await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let (object, meta) = (self.object_path(key), self.meta_path(key));
        blocking(key, move || {
            missing_as_none(fs::remove_file(&object))?;
            missing_as_none(fs::remove_file(&meta))?;
            Ok(())
        })
        .await
    }

    async fn presign_put(
        &self,
        key: &BlobKey,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        check_content_type(key, content_type)?;
        let query = self
            .signer
            .put_query(key, content_type, content_length, expiry(expires_in));
        Ok(PresignedRequest {
            method: "PUT".to_owned(),
            url: self.url(key, &query),
            headers: [
                ("content-type".to_owned(), content_type.to_owned()),
                ("content-length".to_owned(), content_length.to_string()),
            ]
            .into(),
        })
    }

    async fn presign_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let query = self.signer.get_query(key, expiry(expires_in));
        Ok(PresignedRequest {
            method: "GET".to_owned(),
            url: self.url(key, &query),
            headers: Default::default(),
        })
    }
}

/// Seconds since the Unix epoch now, the clock [`LocalBlobStore::verify`] expects.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The expiry of a URL signed now, valid for at least `expires_in` (rounded up to a second).
fn expiry(expires_in: Duration) -> u64 {
    let secs = expires_in
        .as_secs()
        .saturating_add(u64::from(expires_in.subsec_nanos() > 0));
    now_unix().saturating_add(secs.max(1))
}

fn join_key(base: &Path, key: &BlobKey) -> PathBuf {
    let mut path = base.to_path_buf();
    path.extend(key.segments());
    path
}

fn check_base_url(base: &str) -> Result<String, BlobError> {
    let bad = |reason: &str| BlobError::Config(format!("public base URL {base:?}: {reason}"));
    let url = url::Url::parse(base).map_err(|err| bad(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok(base.trim_end_matches('/').to_owned())
}

/// A content type must be a header value without control characters, which also keeps it
/// free of the newline that separates the signed fields.
fn check_content_type(key: &BlobKey, content_type: &str) -> Result<(), BlobError> {
    if content_type.is_empty() || content_type.chars().any(|c| c.is_control()) {
        return Err(BlobError::Presign {
            key: key.to_string(),
            message: format!("{content_type:?} is not a valid Content-Type"),
        });
    }
    Ok(())
}

/// Runs file system work off the async threads.
async fn blocking<T: Send + 'static>(
    key: &BlobKey,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    let result = match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(io::Error::other(join)),
    };
    result.map_err(|source| BlobError::Io {
        key: key.to_string(),
        source,
    })
}

/// "Not there" in any form (including a path through a file, or a folder where an object would
/// be) is `None`.
fn missing_as_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::NotADirectory
                    | io::ErrorKind::IsADirectory
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

fn read_meta(path: &Path) -> io::Result<Option<String>> {
    missing_as_none(fs::read_to_string(path))
}

/// Replaces `target` with `bytes` through a synced temporary file in the same folder.
fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("a blob path has no parent folder"))?;
    fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new().prefix("~weft-").tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(target).map_err(|err| err.error)?;
    crate::atomic::sync_dir(dir)
}
