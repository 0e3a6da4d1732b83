//! Target `tokens`: the token strings clients present: a collab token (`?token=` on `/ws`) and
//! an access token (`Authorization: Bearer`, `?token=` on `/chat`). Without the keys nothing
//! verifies; what is fuzzed is everything before the signature check (splitting, base64, JSON
//! header and claims), which must refuse garbage without panicking.

use std::sync::OnceLock;
use weft_protocol::access_token::AccessTokenKeys;
use weft_protocol::{TokenVerifier, generate_key_pair};

fn keys() -> &'static (TokenVerifier, AccessTokenKeys) {
    static KEYS: OnceLock<(TokenVerifier, AccessTokenKeys)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = generate_key_pair().expect("an Ed25519 key pair");
        let collab = TokenVerifier::from_pem(pair.public_pem.as_bytes(), 5).expect("public key");
        let access = AccessTokenKeys::new(&[7; 32], 5).expect("access secret");
        (collab, access)
    })
}

pub fn tokens(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (collab, access) = keys();
    assert!(
        collab.verify(Some(token), "doc").is_err(),
        "a token verified without the key"
    );
    assert!(
        access.verify(token).is_err(),
        "an access token verified without the key"
    );
}
