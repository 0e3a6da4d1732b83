//! Access tokens (HS256 JWTs naming a user, at most 15 minutes) and refresh tokens (32 random
//! bytes, stored only as their SHA-256).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// Why an access token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
    #[error("the access-token secret is shorter than 32 bytes")]
    WeakSecret,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
    /// Always "access", so no other token signed with the same secret passes as one.
    typ: String,
}

/// Signs and checks access tokens.
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl: Duration,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AccessTokens {
    pub fn new(secret: &[u8], ttl: Duration) -> Result<AccessTokens, TokenError> {
        if secret.len() < 32 {
            return Err(TokenError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(AccessTokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: ttl.min(crate::config::MAX_ACCESS_TTL),
        })
    }

    /// A token for `user`, valid for the configured lifetime.
    pub fn issue(&self, user: Uuid, now_secs: u64) -> Result<String, TokenError> {
        let claims = Claims {
            sub: user.to_string(),
            iat: now_secs,
            exp: now_secs + self.ttl.as_secs(),
            typ: "access".into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)
    }

    /// The user a valid token names.
    pub fn verify(&self, token: &str) -> Result<Uuid, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        if data.claims.typ != "access" {
            return Err(TokenError::Invalid);
        }
        Uuid::parse_str(&data.claims.sub).map_err(|_| TokenError::Invalid)
    }
}

/// A new refresh token: what the client gets, and the hash the database keeps.
pub fn new_refresh_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = refresh_hash(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn refresh_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering_and_other_secrets() {
        let tokens = AccessTokens::new(&[7; 32], Duration::from_secs(60)).unwrap();
        let user = Uuid::now_v7();
        let now = jsonwebtoken::get_current_timestamp();
        let token = tokens.issue(user, now).unwrap();
        assert_eq!(tokens.verify(&token).unwrap(), user);
        let other = AccessTokens::new(&[8; 32], Duration::from_secs(60)).unwrap();
        assert!(matches!(other.verify(&token), Err(TokenError::Invalid)));
        let expired = tokens.issue(user, now - 3600).unwrap();
        assert!(matches!(tokens.verify(&expired), Err(TokenError::Expired)));
        assert!(AccessTokens::new(&[1; 16], Duration::from_secs(60)).is_err());
    }

    #[test]
    fn access_tokens_never_outlive_fifteen_minutes() {
        let tokens = AccessTokens::new(&[7; 32], Duration::from_secs(86_400)).unwrap();
        assert_eq!(tokens.ttl, crate::config::MAX_ACCESS_TTL);
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(refresh_hash(&a), ha);
        assert_eq!(ha.len(), 64);
    }
}
