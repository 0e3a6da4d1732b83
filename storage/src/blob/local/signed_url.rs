//! The local store's presigned URLs: what is signed, how, and how a request is checked.
//!
//! S3 lets a client upload or download without credentials through a SigV4-presigned URL; the
//! local store offers the same through URLs served by Weft itself. A URL carries the method,
//! the expiry, and for a PUT the content type and length, all covered by an HMAC-SHA256 over
//!
//! ```text
//! method \n key \n expires \n ct \n len
//! ```
//!
//! (`ct` and `len` empty for a GET). None of the fields can contain a newline (the key's
//! alphabet, decimal numbers, and a content type that must be a valid header value), so the
//! string is unambiguous. Verification checks the signature first, in constant time, then the
//! method and the expiry, and returns what the signature grants so the HTTP handler can hold the
//! request to it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::blob::BlobKey;

type HmacSha256 = Hmac<Sha256>;

/// What a valid signed URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedGrant {
    /// Read the blob.
    Get,
    /// Upload exactly `content_length` bytes with exactly this `Content-Type`.
    Put {
        content_type: String,
        content_length: u64,
    },
}

/// Why a signed URL was refused; the messages are fit for a problem+json `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedUrlError {
    #[error("the URL has no `{0}` parameter; it is not a complete signed blob URL")]
    Missing(&'static str),
    #[error("the URL's `{0}` parameter appears more than once")]
    Duplicate(&'static str),
    #[error("the URL's signature does not match: it was altered or signed for another blob")]
    BadSignature,
    #[error("the URL expired at {expires} (unix time); ask for a new one")]
    Expired { expires: u64 },
    #[error("the URL was signed for {signed}, not {used}")]
    MethodMismatch { signed: String, used: String },
}

/// Signs and verifies URLs with one secret key.
#[derive(Clone)]
pub(super) struct UrlSigner {
    mac: HmacSha256,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner { key: <redacted> }")
    }
}

impl UrlSigner {
    /// None when HMAC refuses the key (it accepts any length, so never in practice).
    pub(super) fn new(key: &[u8]) -> Option<UrlSigner> {
        let mac = HmacSha256::new_from_slice(key).ok()?;
        Some(UrlSigner { mac })
    }

    /// The query string (without `?`) of a PUT URL.
    pub(super) fn put_query(
        &self,
        key: &BlobKey,
        content_type: &str,
        len: u64,
        expires: u64,
    ) -> String {
        let (expires, len) = (expires.to_string(), len.to_string());
        let sig = self.sign("PUT", key, &expires, content_type, &len);
        format!(
            "method=PUT&expires={expires}&ct={}&len={len}&sig={sig}",
            percent_encode(content_type)
        )
    }

    /// The query string (without `?`) of a GET URL.
    pub(super) fn get_query(&self, key: &BlobKey, expires: u64) -> String {
        let expires = expires.to_string();
        let sig = self.sign("GET", key, &expires, "", "");
        format!("method=GET&expires={expires}&sig={sig}")
    }

    /// Checks a request made with `method` to `key` carrying the raw `query` at `now_unix`.
    pub(super) fn verify(
        &self,
        method: &str,
        key: &BlobKey,
        query: &str,
        now_unix: u64,
    ) -> Result<SignedGrant, SignedUrlError> {
        let params = Params::parse(query)?;
        let signed_method = params.method.ok_or(SignedUrlError::Missing("method"))?;
        let expires = params.expires.ok_or(SignedUrlError::Missing("expires"))?;
        let sig = params.sig.ok_or(SignedUrlError::Missing("sig"))?;
        if signed_method == "PUT" {
            params.ct.as_ref().ok_or(SignedUrlError::Missing("ct"))?;
            params.len.as_ref().ok_or(SignedUrlError::Missing("len"))?;
        }
        let ct = params.ct.unwrap_or_default();
        let len = params.len.unwrap_or_default();

        let tag = hex::decode(&sig).map_err(|_| SignedUrlError::BadSignature)?;
        self.mac_of(&signed_method, key, &expires, &ct, &len)
            .verify_slice(&tag)
            .map_err(|_| SignedUrlError::BadSignature)?;

        // Everything below was produced by `put_query`/`get_query`, so parses.
        if signed_method != method {
            return Err(SignedUrlError::MethodMismatch {
                signed: signed_method,
                used: method.to_owned(),
            });
        }
        let expires: u64 = expires.parse().map_err(|_| SignedUrlError::BadSignature)?;
        if now_unix >= expires {
            return Err(SignedUrlError::Expired { expires });
        }
        match signed_method.as_str() {
            "GET" => Ok(SignedGrant::Get),
            "PUT" => Ok(SignedGrant::Put {
                content_type: ct,
                content_length: len.parse().map_err(|_| SignedUrlError::BadSignature)?,
            }),
            _ => Err(SignedUrlError::BadSignature),
        }
    }

    fn mac_of(
        &self,
        method: &str,
        key: &BlobKey,
        expires: &str,
        ct: &str,
        len: &str,
    ) -> HmacSha256 {
        let mut mac = self.mac.clone();
        let canonical = [method, key.as_str(), expires, ct, len].join("\n");
        mac.update(canonical.as_bytes());
        mac
    }

    fn sign(&self, method: &str, key: &BlobKey, expires: &str, ct: &str, len: &str) -> String {
        let tag = self
            .mac_of(method, key, expires, ct, len)
            .finalize()
            .into_bytes();
        hex::encode(tag)
    }
}

/// The signed parameters of a query; others are ignored.
#[derive(Default)]
struct Params {
    method: Option<String>,
    expires: Option<String>,
    ct: Option<String>,
    len: Option<String>,
    sig: Option<String>,
}

impl Params {
    fn parse(query: &str) -> Result<Params, SignedUrlError> {
        let mut params = Params::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let (slot, name) = match name.as_ref() {
                "method" => (&mut params.method, "method"),
                "expires" => (&mut params.expires, "expires"),
                "ct" => (&mut params.ct, "ct"),
                "len" => (&mut params.len, "len"),
                "sig" => (&mut params.sig, "sig"),
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(SignedUrlError::Duplicate(name));
            }
        }
        Ok(params)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the value reads back the
/// same whether the reader decodes `+` as a space or not.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_round_trips_through_form_decoding() {
        let ct = "text/plain; charset=utf-8+x é&=%";
        let query = format!("ct={}", percent_encode(ct));
        let decoded: Vec<_> = url::form_urlencoded::parse(query.as_bytes()).collect();
        assert_eq!(decoded[0].1, ct);
    }
}
