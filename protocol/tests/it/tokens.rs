//! Collab tokens: signing, verification and every refusal reason.

use weft_protocol::token::{AUDIENCE, unix_now};
use weft_protocol::{
    CollabClaims, Permission, TokenError, TokenIssuer, TokenVerifier, generate_key_pair,
};

fn pair() -> (TokenIssuer, TokenVerifier) {
    let keys = generate_key_pair().unwrap();
    (
        TokenIssuer::from_pem(keys.private_pem.as_bytes()).unwrap(),
        TokenVerifier::from_pem(keys.public_pem.as_bytes(), 0).unwrap(),
    )
}

#[test]
fn a_signed_token_verifies_for_its_document() {
    let (issuer, verifier) = pair();
    let token = issuer
        .sign(&CollabClaims::new("alice", "doc-1", Permission::Write, 60))
        .unwrap();
    let claims = verifier.verify(Some(&token), "doc-1").unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.perm, Permission::Write);
    assert_eq!(claims.aud, AUDIENCE);
}

#[test]
fn refusals_are_typed_and_map_to_close_codes() {
    let (issuer, verifier) = pair();
    let (other_issuer, _) = pair();
    assert_eq!(verifier.verify(None, "d").unwrap_err(), TokenError::Missing);
    assert_eq!(
        verifier.verify(Some(""), "d").unwrap_err(),
        TokenError::Missing
    );

    let mut expired = CollabClaims::new("a", "d", Permission::Read, 0);
    expired.exp = unix_now() - 3600;
    let err = verifier
        .verify(Some(&issuer.sign(&expired).unwrap()), "d")
        .unwrap_err();
    assert_eq!(err, TokenError::Expired);
    assert_eq!(err.close_code(), 4401);

    let foreign = other_issuer
        .sign(&CollabClaims::new("a", "d", Permission::Write, 60))
        .unwrap();
    assert_eq!(
        verifier.verify(Some(&foreign), "d").unwrap_err(),
        TokenError::BadSignature
    );

    let other_doc = issuer
        .sign(&CollabClaims::new("a", "other", Permission::Write, 60))
        .unwrap();
    let err = verifier.verify(Some(&other_doc), "d").unwrap_err();
    assert_eq!(err, TokenError::WrongDocument);
    assert_eq!(err.close_code(), 4403);

    assert!(matches!(
        verifier.verify(Some("not.a.jwt"), "d"),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn alg_none_is_refused() {
    let (_, verifier) = pair();
    // {"alg":"none","typ":"JWT"} . claims . empty signature
    let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let claims = format!(
        "{{\"sub\":\"a\",\"doc\":\"d\",\"perm\":\"write\",\"exp\":{},\"iat\":0,\"aud\":\"weft-collab\"}}",
        unix_now() + 60
    );
    let body = base64url(claims.as_bytes());
    let token = format!("{header}.{body}.");
    assert!(verifier.verify(Some(&token), "d").is_err());
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
