//! Forged and misused tokens against the REST tier: access tokens with `alg: none`, signed with
//! the wrong key or with the collab public key (algorithm confusion), EdDSA where HS256 is
//! expected, tampered payloads, expired, not yet valid, missing claims; a collab token as an
//! access token; the access tokens of a signed-out session, of every session after sign-out
//! everywhere, of a family revoked for reuse and of a deleted user; refresh tokens that are
//! garbage, expired or reused. Every one is a 401 problem that says nothing about any account.

use super::{Account, Rest, text};
use crate::server::backends;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn part(token: &str, i: usize) -> &str {
    token.split('.').nth(i).unwrap()
}

/// The claims inside a token.
fn claims(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part(token, 1)).unwrap()).unwrap()
}

/// `claims` signed HS256 with `secret`.
fn hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// What the REST tier says to `token` on a read and on a write; both must be 401 problems with
/// `WWW-Authenticate: Bearer` and no account data.
async fn refused(rest: &Rest, token: &str, case: &str) {
    for (method, path, body) in [
        (Method::GET, "/api/me", None),
        (Method::POST, "/api/orgs", Some(json!({"name": "Stolen"}))),
    ] {
        let mut request = rest.http.request(method.clone(), rest.server.url(path));
        request = request.header("authorization", format!("Bearer {token}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer"),
            "{case}: {method} {path}"
        );
        let (status, body) = super::read(&method, path, response).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{case}: {method} {path}: {body}"
        );
        let shown = body.to_string();
        assert!(!shown.contains("@example.com"), "{case} leaked: {shown}");
    }
}

async fn accepted(rest: &Rest, token: &str, who: &Account, case: &str) {
    let (status, me) = rest.call(Method::GET, "/api/me", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{case}: {me}");
    assert_eq!(me["id"], who.id.as_str(), "{case}");
}

#[tokio::test]
async fn forged_and_confused_access_tokens_are_refused() {
    for backend in backends() {
        let rest = Rest::start(backend).await;
        let ada = rest.register("ada").await;
        let bob = rest.register("bob").await;
        let secret = std::fs::read(rest.server.data_dir().join("api-jwt-secret")).unwrap();
        let collab_private =
            std::fs::read(rest.server.data_dir().join("collab-ed25519.key.pem")).unwrap();
        let collab_public =
            weft_protocol::public_pem_from_private(std::str::from_utf8(&collab_private).unwrap())
                .unwrap();
        let good = claims(&ada.token);
        // The forging helper is right: the real secret and Ada's own claims are accepted.
        accepted(&rest, &hs256(&secret, &good), &ada, "control").await;

        let with = |patch: Value| {
            let mut c = good.clone();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            c
        };
        let payload = part(&ada.token, 1);
        let signature = part(&ada.token, 2);
        let none_header = |alg: &str| b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        let tampered_sub = b64(with(json!({"sub": bob.id})).to_string().as_bytes());
        let tampered_exp = b64(with(json!({"exp": now() + 86_400 * 365}))
            .to_string()
            .as_bytes());
        let eddsa = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &good,
            &EncodingKey::from_ed_pem(&collab_private).unwrap(),
        )
        .unwrap();
        let raw_public = {
            let der = collab_public
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>();
            let der = base64::engine::general_purpose::STANDARD
                .decode(der)
                .unwrap();
            der[der.len() - 32..].to_vec()
        };
        let cases: Vec<(String, &str)> = vec![
            (
                format!("{}.{payload}.", none_header("none")),
                "alg none, empty signature",
            ),
            (
                format!("{}.{payload}.{signature}", none_header("none")),
                "alg none, the real signature",
            ),
            (format!("{}.{payload}.", none_header("None")), "alg None"),
            (format!("{}.{payload}.", none_header("NONE")), "alg NONE"),
            (format!("{}.{payload}", none_header("none")), "two parts"),
            (hs256(&[0x42; 32], &good), "another secret"),
            (
                hs256(collab_public.as_bytes(), &good),
                "HS256 keyed with the public PEM",
            ),
            (
                hs256(&raw_public, &good),
                "HS256 keyed with the raw public key",
            ),
            (eddsa, "EdDSA with the collab key"),
            (
                format!("{}.{tampered_sub}.{signature}", part(&ada.token, 0)),
                "sub swapped",
            ),
            (
                format!("{}.{tampered_exp}.{signature}", part(&ada.token, 0)),
                "exp extended",
            ),
            (
                hs256(
                    &secret,
                    &with(json!({"exp": now() - 60, "iat": now() - 960})),
                ),
                "expired beyond the leeway",
            ),
            (
                hs256(&secret, &with(json!({"nbf": now() + 3600}))),
                "not valid yet",
            ),
            (hs256(&secret, &with(json!({"sub": null}))), "no sub"),
            (hs256(&secret, &with(json!({"exp": null}))), "no exp"),
            (hs256(&secret, &with(json!({"typ": null}))), "no typ"),
            (hs256(&secret, &with(json!({"sid": null}))), "no sid"),
            (
                hs256(&secret, &with(json!({"typ": "refresh"}))),
                "another typ",
            ),
            (
                hs256(&secret, &with(json!({"sub": "ada"}))),
                "sub not an id",
            ),
            (
                hs256(&secret, &with(json!({"sid": "x' OR '1'='1"}))),
                "sid not an id",
            ),
            // Genuine signature, but Bob's id with Ada's session: sessions belong to one user.
            (
                hs256(&secret, &with(json!({"sub": bob.id}))),
                "another user's session",
            ),
            (
                hs256(
                    &secret,
                    &with(json!({"sid": uuid::Uuid::now_v7().to_string()})),
                ),
                "a session that never existed",
            ),
            ("".into(), "empty"),
            ("garbage".into(), "garbage"),
            ("a.b.c".into(), "three garbage parts"),
        ];
        for (token, case) in &cases {
            refused(&rest, token, case).await;
        }

        // A collab token minted by this very server is not an access token.
        let (_, project) = rest.org_project(&ada).await;
        let doc = rest
            .ok(
                Method::POST,
                &format!("/api/projects/{project}/documents"),
                &ada.token,
                Some(json!({"name": "D"})),
            )
            .await;
        let collab = rest
            .ok(
                Method::POST,
                &format!(
                    "/api/projects/{project}/documents/{}/token",
                    text(&doc["id"])
                ),
                &ada.token,
                None,
            )
            .await;
        refused(&rest, &text(&collab["token"]), "a collab token").await;

        // Malformed Authorization headers.
        for header in ["bearer x", "Basic YWRhOnB3", "Bearer", "Token abc"] {
            let response = rest
                .http
                .get(rest.server.url("/api/me"))
                .header("authorization", header)
                .send()
                .await
                .unwrap();
            let (status, _) = super::read(&Method::GET, "/api/me", response).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}");
        }
        // Ada's real token still works after all that.
        accepted(&rest, &ada.token, &ada, "real token").await;
        rest.stop().await;
    }
}

async fn login(rest: &Rest, who: &Account) -> Value {
    let (status, session) = rest
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": who.email, "password": "a long password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    session
}

#[tokio::test]
async fn access_tokens_end_with_their_session_and_their_user() {
    for backend in backends() {
        let rest = Rest::start(backend).await;
        let ada = rest.register("ada").await;

        // Sign-out ends that session's access tokens, not the others'.
        let laptop = login(&rest, &ada).await;
        let phone = login(&rest, &ada).await;
        let (status, _) = rest
            .call(
                Method::POST,
                "/api/auth/logout",
                None,
                Some(json!({"refresh_token": laptop["refresh_token"]})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        refused(&rest, &text(&laptop["access_token"]), "signed out").await;
        accepted(&rest, &text(&phone["access_token"]), &ada, "other session").await;

        // A refreshed token belongs to the same session and works; reusing the old refresh
        // token revokes the session, so both access tokens stop working.
        let (status, rotated) = rest
            .call(
                Method::POST,
                "/api/auth/refresh",
                None,
                Some(json!({"refresh_token": phone["refresh_token"]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        accepted(&rest, &text(&rotated["access_token"]), &ada, "rotated").await;
        assert_eq!(
            claims(&text(&rotated["access_token"]))["sid"],
            claims(&text(&phone["access_token"]))["sid"]
        );
        let (status, _) = rest
            .call(
                Method::POST,
                "/api/auth/refresh",
                None,
                Some(json!({"refresh_token": phone["refresh_token"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        refused(
            &rest,
            &text(&phone["access_token"]),
            "family revoked for reuse",
        )
        .await;
        refused(
            &rest,
            &text(&rotated["access_token"]),
            "family revoked for reuse",
        )
        .await;

        // Sign-out everywhere ends every access token, the caller's included.
        let one = login(&rest, &ada).await;
        let two = login(&rest, &ada).await;
        let (status, _) = rest
            .call(
                Method::POST,
                "/api/auth/logout-all",
                Some(&text(&one["access_token"])),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for session in [&one, &two] {
            refused(&rest, &text(&session["access_token"]), "after logout-all").await;
        }
        refused(
            &rest,
            &ada.token,
            "the registration's session after logout-all",
        )
        .await;
        // Signing in again works.
        let again = login(&rest, &ada).await;
        accepted(&rest, &text(&again["access_token"]), &ada, "new sign-in").await;

        // A user deleted behind the API (by an operator): their tokens end at once, a write
        // with them is a 401, not a failure.
        let eve = rest.register("eve").await;
        accepted(&rest, &eve.token, &eve, "before deletion").await;
        let db = rest.db().await;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(&eve.id)
            .execute(db.pool())
            .await
            .unwrap();
        db.close().await;
        refused(&rest, &eve.token, "deleted user").await;
        let (status, _) = rest
            .call(
                Method::POST,
                "/api/auth/refresh",
                None,
                Some(json!({"refresh_token": eve.refresh})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        rest.stop().await;
    }
}

#[tokio::test]
async fn refresh_tokens_that_are_garbage_expired_or_reused_are_refused() {
    for backend in backends() {
        let rest = Rest::start_with(backend, |c| c.refresh_ttl = Duration::from_secs(1)).await;
        let ada = rest.register("ada").await;
        let long = "A".repeat(100_000);
        for (token, case) in [
            (json!(""), "empty"),
            (json!("garbage"), "garbage"),
            (json!(long), "100 kB"),
            (json!("' OR '1'='1"), "injection"),
            (json!(ada.token), "an access token"),
            (json!(format!("{}x", ada.refresh)), "one character more"),
            (
                json!(&ada.refresh[..ada.refresh.len() - 1]),
                "one character less",
            ),
        ] {
            for path in ["/api/auth/refresh", "/api/auth/logout"] {
                let (status, body) = rest
                    .call(
                        Method::POST,
                        path,
                        None,
                        Some(json!({"refresh_token": token})),
                    )
                    .await;
                if path == "/api/auth/refresh" {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
                } else {
                    // Signing out with an unknown token reveals nothing either way.
                    assert_eq!(status, StatusCode::NO_CONTENT, "{case}: {body}");
                }
            }
        }
        for body in [
            json!({"refresh_token": 7}),
            json!({}),
            json!({"refresh_token": null}),
        ] {
            let (status, _) = rest
                .call(Method::POST, "/api/auth/refresh", None, Some(body.clone()))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        }
        // Nothing above touched Ada's session.
        accepted(&rest, &ada.token, &ada, "after garbage").await;
        // Expired (the TTL is one second here).
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let (status, _) = rest
            .call(
                Method::POST,
                "/api/auth/refresh",
                None,
                Some(json!({"refresh_token": ada.refresh})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        rest.stop().await;
    }
}
