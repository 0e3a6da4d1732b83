//! The name of a blob, validated once so every store can use it as a path or an object key.
//!
//! A key becomes a file path in the local store and an object key (and URL path) in S3, so it is
//! restricted to a portable, URL-safe alphabet: `/`-separated segments of `[A-Za-z0-9._-]`, none
//! of them empty, `.` or `..`. Such a key joined to a folder can only name something inside that
//! folder, and needs no escaping in a URL.

use std::fmt;

/// The longest key accepted, in bytes.
pub const MAX_BLOB_KEY_LEN: usize = 512;

/// A valid blob key such as `docs/3f2a/snapshot-17.bin`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

/// Why a string is not a [`BlobKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlobKey {
    #[error("the key is empty")]
    Empty,
    #[error("the key is {len} bytes long, more than {MAX_BLOB_KEY_LEN}")]
    TooLong { len: usize },
    #[error("the key starts with `/`")]
    LeadingSlash,
    #[error("the key ends with `/`")]
    TrailingSlash,
    #[error("the key contains {0:?}; only A-Z, a-z, 0-9, `.`, `_`, `-` and `/` are allowed")]
    Character(char),
    #[error("the key has an empty segment (`//`)")]
    EmptySegment,
    #[error("the key has a `.` or `..` segment")]
    DotSegment,
}

impl BlobKey {
    /// Checks `key` and wraps it.
    pub fn new(key: impl Into<String>) -> Result<BlobKey, InvalidBlobKey> {
        let key = key.into();
        validate(&key)?;
        Ok(BlobKey(key))
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's `/`-separated segments; each is a plain file name.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

fn validate(key: &str) -> Result<(), InvalidBlobKey> {
    if key.is_empty() {
        return Err(InvalidBlobKey::Empty);
    }
    if key.len() > MAX_BLOB_KEY_LEN {
        return Err(InvalidBlobKey::TooLong { len: key.len() });
    }
    if key.starts_with('/') {
        return Err(InvalidBlobKey::LeadingSlash);
    }
    if key.ends_with('/') {
        return Err(InvalidBlobKey::TrailingSlash);
    }
    if let Some(bad) = key
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return Err(InvalidBlobKey::Character(bad));
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(InvalidBlobKey::EmptySegment),
            "." | ".." => return Err(InvalidBlobKey::DotSegment),
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BlobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for BlobKey {
    type Err = InvalidBlobKey;

    fn from_str(s: &str) -> Result<BlobKey, InvalidBlobKey> {
        BlobKey::new(s)
    }
}

impl TryFrom<String> for BlobKey {
    type Error = InvalidBlobKey;

    fn try_from(s: String) -> Result<BlobKey, InvalidBlobKey> {
        BlobKey::new(s)
    }
}
