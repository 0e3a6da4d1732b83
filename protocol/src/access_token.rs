//! The access token: an HS256 JWT naming a user and the session (refresh-token family) it was
//! issued in, minted by api-server at login and refresh and checked by api-server on every REST
//! call and by collab-server on the chat socket. Both also check that the session is still
//! active (not signed out, revoked, or its user deleted), so signing out ends its access tokens
//! at once instead of when they expire.
//!
//! The claims and the sign/verify core live here so both servers agree on them without
//! depending on each other; each server reads the shared secret (the data folder's
//! [`SECRET_FILE`], or `API_JWT_SECRET_FILE`) itself.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The data-folder file holding the access-token secret when none is configured.
pub const SECRET_FILE: &str = "api-jwt-secret";

/// The shortest secret accepted.
pub const MIN_SECRET_BYTES: usize = 32;

/// The `typ` claim of every access token, so no other token signed with the same secret
/// passes as one.
pub const ACCESS_TYP: &str = "access";

/// Why an access token (or its secret) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
    #[error("the access-token secret is shorter than 32 bytes")]
    WeakSecret,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user's id.
    pub sub: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Always [`ACCESS_TYP`].
    pub typ: String,
    /// The session: the id of the refresh-token family the token was issued with.
    pub sid: String,
}

/// A fresh random secret, for the data folder's [`SECRET_FILE`].
pub fn generate_secret() -> Vec<u8> {
    rand::random::<[u8; 32]>().to_vec()
}

/// Signs and verifies access tokens with one HMAC secret.
#[derive(Clone)]
pub struct AccessTokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for AccessTokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokenKeys(..)")
    }
}

impl AccessTokenKeys {
    /// Keys from `secret` (at least [`MIN_SECRET_BYTES`]); `leeway_secs` of clock skew is
    /// tolerated on `exp`.
    pub fn new(secret: &[u8], leeway_secs: u64) -> Result<AccessTokenKeys, AccessTokenError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AccessTokenError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(AccessTokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// A token for user `sub` in session `sid`, issued at `iat` and valid for `ttl_secs`
    /// (seconds since the epoch; the caller owns the clock).
    pub fn sign(
        &self,
        sub: &str,
        sid: &str,
        iat: u64,
        ttl_secs: u64,
    ) -> Result<String, AccessTokenError> {
        let claims = AccessClaims {
            sub: sub.to_owned(),
            iat,
            exp: iat.saturating_add(ttl_secs),
            typ: ACCESS_TYP.to_owned(),
            sid: sid.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| AccessTokenError::Invalid)
    }

    /// The claims of a genuine, unexpired access token (whose session the caller must still
    /// check).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AccessTokenError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AccessTokenError::Expired,
                _ => AccessTokenError::Invalid,
            })?;
        if data.claims.typ != ACCESS_TYP {
            return Err(AccessTokenError::Invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering_other_secrets_and_expiry() {
        let keys = AccessTokenKeys::new(&[7; 32], 5).unwrap();
        let token = keys.sign("user-1", "s-1", now(), 60).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.typ, ACCESS_TYP);
        assert_eq!(claims.exp, claims.iat + 60);
        assert_eq!(claims.sid, "s-1");

        let other = AccessTokenKeys::new(&[8; 32], 5).unwrap();
        assert_eq!(other.verify(&token), Err(AccessTokenError::Invalid));
        let mut tampered = token.clone();
        tampered.push('x');
        assert_eq!(keys.verify(&tampered), Err(AccessTokenError::Invalid));
        assert_eq!(keys.verify("nope"), Err(AccessTokenError::Invalid));

        let expired = keys.sign("user-1", "s-1", now() - 3600, 60).unwrap();
        assert_eq!(keys.verify(&expired), Err(AccessTokenError::Expired));
        assert_eq!(
            AccessTokenKeys::new(&[1; 16], 5).err(),
            Some(AccessTokenError::WeakSecret)
        );
    }

    #[test]
    fn a_token_of_another_type_signed_with_the_same_secret_is_refused() {
        let secret = [9u8; 32];
        let keys = AccessTokenKeys::new(&secret, 5).unwrap();
        let claims = AccessClaims {
            sub: "u".into(),
            iat: now(),
            exp: now() + 60,
            typ: "refresh".into(),
            sid: "s".into(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_eq!(keys.verify(&token), Err(AccessTokenError::Invalid));
    }

    #[test]
    fn generated_secrets_are_long_enough_and_random() {
        let a = generate_secret();
        assert!(a.len() >= MIN_SECRET_BYTES);
        assert_ne!(a, generate_secret());
    }
}
