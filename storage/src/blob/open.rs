//! Turning the `BLOB_URL` setting into a blob store.
//!
//! `s3://bucket?endpoint=http://host:9000&region=eu-west-1` opens an [`S3BlobStore`];
//! `file:///abs/dir` or `file://relative/dir` (everything after `file://` is a path) opens a
//! [`LocalBlobStore`]; no URL at all opens the local store in `<data_dir>/blobs`. Anything else
//! is refused with [`BlobError::Url`] so a typo does not silently fall back to another store.
//! The caller keeps the concrete local store too, because the server must serve its signed
//! URLs.

use std::path::PathBuf;
use std::sync::Arc;

use super::local::LocalBlobStore;
use super::s3::{S3BlobStore, S3Settings};
use super::{BlobError, BlobStore};

/// What the local store needs besides its folder.
#[derive(Clone)]
pub struct BlobOpenOptions {
    /// The server's data folder; the local store defaults to `<data_dir>/blobs`.
    pub data_dir: PathBuf,
    /// The server's address as clients reach it; local presigned URLs start with it.
    pub public_base_url: String,
    /// The secret the local store's URLs are signed with.
    pub signing_key: Vec<u8>,
}

impl std::fmt::Debug for BlobOpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobOpenOptions")
            .field("data_dir", &self.data_dir)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

/// The store `BLOB_URL` names, as its concrete type.
#[derive(Debug, Clone)]
pub enum OpenedBlobStore {
    S3(Arc<S3BlobStore>),
    Local(Arc<LocalBlobStore>),
}

impl OpenedBlobStore {
    /// The store behind the common interface.
    pub fn store(&self) -> Arc<dyn BlobStore> {
        match self {
            OpenedBlobStore::S3(store) => store.clone(),
            OpenedBlobStore::Local(store) => store.clone(),
        }
    }

    /// The local store, whose signed URLs the server must serve; None for S3.
    pub fn local(&self) -> Option<Arc<LocalBlobStore>> {
        match self {
            OpenedBlobStore::S3(_) => None,
            OpenedBlobStore::Local(store) => Some(store.clone()),
        }
    }
}

/// Opens the store `url` names (see the module docs), or the local store in
/// `<data_dir>/blobs` when `url` is None.
pub fn open_blob_store(
    url: Option<&str>,
    opts: &BlobOpenOptions,
) -> Result<OpenedBlobStore, BlobError> {
    let Some(url) = url else {
        return open_local(opts.data_dir.join("blobs"), opts);
    };
    if let Some(path) = url.strip_prefix("file://") {
        if path.is_empty() {
            return Err(bad_url(url, "a file:// URL needs a folder after `file://`"));
        }
        return open_local(PathBuf::from(path), opts);
    }
    if url.starts_with("s3://") {
        let settings = parse_s3(url)?;
        return Ok(OpenedBlobStore::S3(Arc::new(S3BlobStore::from_env(
            settings,
        )?)));
    }
    Err(bad_url(
        url,
        "expected s3://bucket?endpoint=…&region=… or file://folder",
    ))
}

fn open_local(dir: PathBuf, opts: &BlobOpenOptions) -> Result<OpenedBlobStore, BlobError> {
    let store = LocalBlobStore::open(dir, &opts.public_base_url, &opts.signing_key)?;
    Ok(OpenedBlobStore::Local(Arc::new(store)))
}

/// Reads `s3://bucket?endpoint=…&region=…`; the region falls back to `AWS_REGION`, then to
/// [`super::s3::DEFAULT_REGION`].
fn parse_s3(raw: &str) -> Result<S3Settings, BlobError> {
    let url = url::Url::parse(raw).map_err(|err| bad_url(raw, &err.to_string()))?;
    let bucket = url.host_str().unwrap_or_default();
    if bucket.is_empty() {
        return Err(bad_url(raw, "the bucket name is missing (s3://bucket)"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Err(bad_url(
            raw,
            "credentials and ports do not belong in an s3:// URL; use AWS_ACCESS_KEY_ID and ?endpoint=",
        ));
    }
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err(bad_url(
            raw,
            "an s3:// URL has only a bucket and query parameters",
        ));
    }
    let (mut endpoint, mut region) = (None, None);
    for (name, value) in url.query_pairs() {
        let slot = match name.as_ref() {
            "endpoint" => &mut endpoint,
            "region" => &mut region,
            other => {
                return Err(bad_url(
                    raw,
                    &format!("unknown parameter `{other}` (expected endpoint, region)"),
                ));
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(bad_url(raw, &format!("parameter `{name}` appears twice")));
        }
    }
    if let Some(endpoint) = &endpoint {
        let parsed = url::Url::parse(endpoint)
            .map_err(|err| bad_url(raw, &format!("endpoint {endpoint:?}: {err}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad_url(
                raw,
                "the endpoint must be an http:// or https:// URL",
            ));
        }
    }
    let region = region.or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()));
    Ok(S3Settings {
        bucket: bucket.to_owned(),
        endpoint,
        region,
    })
}

fn bad_url(url: &str, reason: &str) -> BlobError {
    BlobError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}
