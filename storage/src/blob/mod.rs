//! The blob store: large byte objects (document snapshots, uploaded files) kept outside the
//! database.
//!
//! One trait, two implementations chosen by `BLOB_URL`: [`s3::S3BlobStore`] for
//! `s3://bucket?endpoint=…&region=…` (credentials from the standard AWS variables) and
//! [`local::LocalBlobStore`] for `file://dir`, the embedded default, whose presigned URLs are
//! HMAC-signed and served by the server itself. Both take the same validated [`BlobKey`], so
//! no key can escape its bucket or folder.

mod key;
pub mod local;
mod open;
pub mod s3;

pub use key::{BlobKey, InvalidBlobKey};
pub use open::{BlobOpenOptions, OpenedBlobStore, open_blob_store};

use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key: {0}")]
    Key(#[from] InvalidBlobKey),
    #[error("invalid BLOB_URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("blob store I/O on {key}")]
    Io {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("S3 {op} of {key} failed: {message}")]
    S3 {
        op: &'static str,
        key: String,
        message: String,
    },
    #[error("cannot presign {key}: {message}")]
    Presign { key: String, message: String },
    #[error("blob store configuration: {0}")]
    Config(String),
}

/// What is known about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub content_type: Option<String>,
}

/// A stored object with its content.
#[derive(Debug, Clone)]
pub struct Blob {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

/// A request a client can make without credentials until it expires: the method, the URL and
/// the headers that were signed and must be sent exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// A place to keep blobs.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `body` under `key`, replacing what was there.
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError>;
    /// The object under `key`, or None when there is none.
    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>, BlobError>;
    /// Size and type of the object under `key`, or None when there is none.
    async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError>;
    /// Removes the object under `key`; removing a missing object is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
    /// A PUT that uploads exactly `content_length` bytes of `content_type` to `key`; both are
    /// signed, so an upload of another size or type is refused.
    async fn presign_put(
        &self,
        key: &BlobKey,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError>;
    /// A GET of `key`.
    async fn presign_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError>;
}
