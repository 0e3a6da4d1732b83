//! Access tokens (HS256 JWTs naming a user, at most 15 minutes) and refresh tokens (32 random
//! bytes, stored only as their SHA-256). The JWT claims and HS256 core are
//! `weft_protocol::access_token`, which collab-server's chat socket verifies with too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;
use weft_protocol::access_token::AccessTokenKeys;

/// Why an access token was refused (shared with collab-server's chat socket).
pub use weft_protocol::access_token::AccessTokenError as TokenError;

/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 5;

/// Signs and checks access tokens: the protocol's HS256 core plus this server's lifetime.
#[derive(Debug)]
pub struct AccessTokens {
    keys: AccessTokenKeys,
    pub ttl: Duration,
}

impl AccessTokens {
    pub fn new(secret: &[u8], ttl: Duration) -> Result<AccessTokens, TokenError> {
        Ok(AccessTokens {
            keys: AccessTokenKeys::new(secret, LEEWAY_SECS)?,
            ttl: ttl.min(crate::config::MAX_ACCESS_TTL),
        })
    }

    /// A token for `user` in `session` (its refresh-token family), valid for the configured
    /// lifetime.
    pub fn issue(&self, user: Uuid, session: Uuid, now_secs: u64) -> Result<String, TokenError> {
        self.keys.sign(
            &user.to_string(),
            &session.to_string(),
            now_secs,
            self.ttl.as_secs(),
        )
    }

    /// The user and session a valid token names.
    pub fn verify(&self, token: &str) -> Result<(Uuid, Uuid), TokenError> {
        let claims = self.keys.verify(token)?;
        let user = Uuid::parse_str(&claims.sub).map_err(|_| TokenError::Invalid)?;
        let session = Uuid::parse_str(&claims.sid).map_err(|_| TokenError::Invalid)?;
        Ok((user, session))
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
        let session = Uuid::now_v7();
        let token = tokens.issue(user, session, now).unwrap();
        assert_eq!(tokens.verify(&token).unwrap(), (user, session));
        let other = AccessTokens::new(&[8; 32], Duration::from_secs(60)).unwrap();
        assert!(matches!(other.verify(&token), Err(TokenError::Invalid)));
        let expired = tokens.issue(user, session, now - 3600).unwrap();
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
