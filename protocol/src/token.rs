//! The collab token: who may open which document, and whether they may write.
//!
//! api-server mints it (or `collab-server token` for local use) with an Ed25519 private key;
//! collab nodes hold only the public key and verify it on every WebSocket upgrade. The claims
//! live here so both sides agree on them without depending on each other.

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience every collab token carries, so no other JWT signed by the same key is accepted.
pub const AUDIENCE: &str = "weft-collab";

/// What a connection may do with its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Read,
    Write,
}

impl Permission {
    pub fn can_write(self) -> bool {
        self == Permission::Write
    }
}

/// File name of the key pair collab-server generates into its data folder on first run; the
/// REST tier in the same folder mints tokens with it.
pub const GENERATED_KEY_FILE: &str = "collab-ed25519.key.pem";

/// The claims of a collab token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollabClaims {
    /// The user (or service) the token was issued to.
    pub sub: String,
    /// The one document name the token opens.
    pub doc: String,
    /// Read or write.
    pub perm: Permission,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Always [`AUDIENCE`].
    pub aud: String,
}

impl CollabClaims {
    /// Claims for `doc` valid for `ttl_secs` from now.
    pub fn new(
        sub: impl Into<String>,
        doc: impl Into<String>,
        perm: Permission,
        ttl_secs: u64,
    ) -> Self {
        let now = unix_now();
        CollabClaims {
            sub: sub.into(),
            doc: doc.into(),
            perm,
            exp: now.saturating_add(ttl_secs),
            iat: now,
            aud: AUDIENCE.to_owned(),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("no token given")]
    Missing,
    #[error("token expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token signature is not valid for this server")]
    BadSignature,
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token is for another document")]
    WrongDocument,
    #[error("key is not a valid Ed25519 PEM key: {0}")]
    BadKey(String),
    #[error("could not sign token: {0}")]
    Signing(String),
}

impl TokenError {
    /// The WebSocket close code a refused connection gets: 4403 when the token is genuine but
    /// does not grant this document, 4401 when there is no valid token at all.
    pub fn close_code(&self) -> u16 {
        match self {
            TokenError::WrongDocument => 4403,
            _ => 4401,
        }
    }
}

/// Signs collab tokens with an Ed25519 private key.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(..)")
    }
}

impl TokenIssuer {
    /// From a PKCS#8 PEM private key.
    pub fn from_pem(private_pem: &[u8]) -> Result<Self, TokenError> {
        let key =
            EncodingKey::from_ed_pem(private_pem).map_err(|e| TokenError::BadKey(e.to_string()))?;
        Ok(TokenIssuer { key })
    }

    pub fn sign(&self, claims: &CollabClaims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.key)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }
}

/// Verifies collab tokens with an Ed25519 public key.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier(..)")
    }
}

impl TokenVerifier {
    /// From an SPKI PEM public key; `leeway_secs` tolerates clock skew between issuer and node.
    pub fn from_pem(public_pem: &[u8], leeway_secs: u64) -> Result<Self, TokenError> {
        let key =
            DecodingKey::from_ed_pem(public_pem).map_err(|e| TokenError::BadKey(e.to_string()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        Ok(TokenVerifier { key, validation })
    }

    /// Checks signature, expiry and audience, then that the token names `doc`.
    pub fn verify(&self, token: Option<&str>, doc: &str) -> Result<CollabClaims, TokenError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(TokenError::Missing)?;
        let data = jsonwebtoken::decode::<CollabClaims>(token, &self.key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    TokenError::BadSignature
                }
                _ => TokenError::Malformed(e.to_string()),
            })?;
        if data.claims.doc != doc {
            return Err(TokenError::WrongDocument);
        }
        Ok(data.claims)
    }
}

/// A freshly generated Ed25519 key pair as PEM strings (PKCS#8 private, SPKI public).
#[derive(Debug, Clone)]
pub struct KeyPairPem {
    pub private_pem: String,
    pub public_pem: String,
}

/// Generates a new Ed25519 key pair from the operating system's random source.
pub fn generate_key_pair() -> Result<KeyPairPem, TokenError> {
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let private_pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| TokenError::BadKey(e.to_string()))?
        .to_string();
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| TokenError::BadKey(e.to_string()))?;
    Ok(KeyPairPem {
        private_pem,
        public_pem,
    })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Derives the SPKI PEM public key that belongs to a PKCS#8 PEM Ed25519 private key.
pub fn public_pem_from_private(private_pem: &str) -> Result<String, TokenError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(private_pem)
        .map_err(|e| TokenError::BadKey(e.to_string()))?;
    signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| TokenError::BadKey(e.to_string()))
}

/// Milliseconds since the Unix epoch, the clock yrs awareness stamps its states with.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
