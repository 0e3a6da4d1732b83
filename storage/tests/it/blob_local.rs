//! The local blob store: round trips through the trait, signed URLs checked with an explicit
//! clock, key validation, and how `BLOB_URL` is read.

use std::path::Component;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use weft_storage::blob::local::{LocalBlobStore, SignedGrant, SignedUrlError, now_unix};
use weft_storage::blob::{
    BlobError, BlobKey, BlobOpenOptions, BlobStore, InvalidBlobKey, open_blob_store,
};

const BASE: &str = "http://weft.test:8080";
const SIGNING_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn store() -> (tempfile::TempDir, LocalBlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path().join("blobs"), BASE, SIGNING_KEY).unwrap();
    (dir, store)
}

fn key(s: &str) -> BlobKey {
    BlobKey::new(s).unwrap()
}

/// The path and query of a presigned URL, checked to start with the store's base.
fn split(url: &str) -> (String, String) {
    let rest = url.strip_prefix(BASE).unwrap();
    let (path, query) = rest.split_once('?').unwrap();
    (path.to_owned(), query.to_owned())
}

fn expires_of(query: &str) -> u64 {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "expires")
        .unwrap()
        .1
        .parse()
        .unwrap()
}

/// Replaces the value of `name` in `query`.
fn with_param(query: &str, name: &str, value: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k == name => format!("{k}={value}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn put_get_head_delete_round_trip() {
    let (_dir, store) = store();
    let k = key("docs/abc/snapshot-1.bin");
    assert!(store.get(&k).await.unwrap().is_none());
    assert!(store.head(&k).await.unwrap().is_none());

    store
        .put(&k, Bytes::from_static(b"hello"), "application/octet-stream")
        .await
        .unwrap();
    let blob = store.get(&k).await.unwrap().unwrap();
    assert_eq!(&blob.bytes[..], b"hello");
    assert_eq!(
        blob.content_type.as_deref(),
        Some("application/octet-stream")
    );
    let meta = store.head(&k).await.unwrap().unwrap();
    assert_eq!(meta.size, 5);
    assert_eq!(
        meta.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert!(
        store
            .object_path(&k)
            .starts_with(store.root().join("objects"))
    );

    // Replacing changes both content and type.
    store
        .put(&k, Bytes::from_static(b"{\"a\":1}"), "application/json")
        .await
        .unwrap();
    let blob = store.get(&k).await.unwrap().unwrap();
    assert_eq!(&blob.bytes[..], b"{\"a\":1}");
    assert_eq!(blob.content_type.as_deref(), Some("application/json"));

    store.delete(&k).await.unwrap();
    assert!(store.get(&k).await.unwrap().is_none());
    assert!(store.head(&k).await.unwrap().is_none());
    // Deleting a missing object is fine.
    store.delete(&k).await.unwrap();
    store.delete(&key("never/was")).await.unwrap();
}

#[tokio::test]
async fn empty_blob_and_folder_keys_are_not_objects() {
    let (_dir, store) = store();
    store
        .put(&key("a/b"), Bytes::new(), "text/plain")
        .await
        .unwrap();
    assert_eq!(store.head(&key("a/b")).await.unwrap().unwrap().size, 0);
    // `a` is a folder on disk, not an object, and `a/b/c` goes through a file.
    assert!(store.get(&key("a")).await.unwrap().is_none());
    assert!(store.head(&key("a")).await.unwrap().is_none());
    assert!(store.get(&key("a/b/c")).await.unwrap().is_none());
    store.delete(&key("a")).await.unwrap();
    assert!(matches!(
        store.put(&key("a/b/c"), Bytes::new(), "text/plain").await,
        Err(BlobError::Io { .. })
    ));
    assert!(store.get(&key("a/b")).await.unwrap().is_some());
}

#[tokio::test]
async fn no_temporary_files_are_left_behind() {
    let (_dir, store) = store();
    for i in 0..3 {
        store
            .put(&key("x/y"), Bytes::from(vec![i; 100]), "text/plain")
            .await
            .unwrap();
    }
    let names: Vec<_> = std::fs::read_dir(store.root().join("objects/x"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["y"]);
}

#[tokio::test]
async fn presigned_put_url_has_the_documented_shape_and_verifies() {
    let (_dir, store) = store();
    let k = key("up/file.txt");
    let req = store
        .presign_put(&k, "text/plain; charset=utf-8", 42, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(req.method, "PUT");
    assert_eq!(req.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(req.headers["content-length"], "42");
    let (path, query) = split(&req.url);
    assert_eq!(path, "/blobs/up/file.txt");
    assert!(query.starts_with("method=PUT&expires="), "{query}");
    assert!(
        query.contains("&ct=text%2Fplain%3B%20charset%3Dutf-8&len=42&sig="),
        "{query}"
    );

    let expires = expires_of(&query);
    let now = now_unix();
    assert!((now + 59..=now + 61).contains(&expires));
    let grant = store.verify("PUT", &k, &query, expires - 1).unwrap();
    assert_eq!(
        grant,
        SignedGrant::Put {
            content_type: "text/plain; charset=utf-8".to_owned(),
            content_length: 42,
        }
    );
    assert_eq!(
        store.verify("PUT", &k, &query, expires),
        Err(SignedUrlError::Expired { expires })
    );
    assert_eq!(
        store.verify("GET", &k, &query, now),
        Err(SignedUrlError::MethodMismatch {
            signed: "PUT".to_owned(),
            used: "GET".to_owned()
        })
    );
}

#[tokio::test]
async fn presigned_get_url_verifies_and_expires() {
    let (_dir, store) = store();
    let k = key("down/file");
    let req = store.presign_get(&k, Duration::from_secs(5)).await.unwrap();
    assert_eq!(req.method, "GET");
    assert!(req.headers.is_empty());
    let (path, query) = split(&req.url);
    assert_eq!(path, "/blobs/down/file");
    assert!(!query.contains("ct=") && !query.contains("len="), "{query}");
    let expires = expires_of(&query);
    assert_eq!(
        store.verify("GET", &k, &query, expires - 5),
        Ok(SignedGrant::Get)
    );
    assert!(matches!(
        store.verify("GET", &k, &query, expires + 100),
        Err(SignedUrlError::Expired { .. })
    ));
    assert!(matches!(
        store.verify("PUT", &k, &query, expires - 1),
        Err(SignedUrlError::MethodMismatch { .. })
    ));
}

#[tokio::test]
async fn tampered_urls_are_refused() {
    let (_dir, store) = store();
    let k = key("t/a");
    let req = store
        .presign_put(&k, "image/png", 10, Duration::from_secs(60))
        .await
        .unwrap();
    let (_, query) = split(&req.url);
    let now = now_unix();
    assert!(store.verify("PUT", &k, &query, now).is_ok());

    let expires = expires_of(&query);
    let tampered = [
        with_param(&query, "len", "11"),
        with_param(&query, "len", "100000"),
        with_param(&query, "ct", "text%2Fhtml"),
        with_param(&query, "expires", &(expires + 3600).to_string()),
        with_param(&query, "method", "GET"),
        with_param(&query, "sig", &"0".repeat(64)),
        with_param(&query, "sig", "zz"),
        with_param(&query, "sig", ""),
    ];
    for q in &tampered {
        let used = if q.contains("method=GET") {
            "GET"
        } else {
            "PUT"
        };
        assert_eq!(
            store.verify(used, &k, q, now),
            Err(SignedUrlError::BadSignature),
            "{q}"
        );
    }
    // The same URL for another key.
    assert_eq!(
        store.verify("PUT", &key("t/b"), &query, now),
        Err(SignedUrlError::BadSignature)
    );
    // A store with another signing key refuses it.
    let dir = tempfile::tempdir().unwrap();
    let other = LocalBlobStore::open(dir.path(), BASE, b"another key, 16+ bytes").unwrap();
    assert_eq!(
        other.verify("PUT", &k, &query, now),
        Err(SignedUrlError::BadSignature)
    );
    // Missing and repeated parameters.
    let without_sig = query.split("&sig=").next().unwrap();
    assert_eq!(
        store.verify("PUT", &k, without_sig, now),
        Err(SignedUrlError::Missing("sig"))
    );
    let without_len = query.replace("&len=10", "");
    assert_eq!(
        store.verify("PUT", &k, &without_len, now),
        Err(SignedUrlError::Missing("len"))
    );
    assert_eq!(
        store.verify("PUT", &k, &format!("{query}&len=10"), now),
        Err(SignedUrlError::Duplicate("len"))
    );
    assert_eq!(
        store.verify("PUT", &k, "", now),
        Err(SignedUrlError::Missing("method"))
    );
    // Unrelated extra parameters do not matter.
    assert!(
        store
            .verify("PUT", &k, &format!("{query}&cachebust=1"), now)
            .is_ok()
    );
    // Extra signed-looking fields on a GET URL break its signature.
    let get = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();
    let (_, get_query) = split(&get.url);
    assert_eq!(
        store.verify("GET", &k, &format!("{get_query}&len=5"), now),
        Err(SignedUrlError::BadSignature)
    );
}

#[tokio::test]
async fn presigning_refuses_bad_content_types() {
    let (_dir, store) = store();
    for ct in ["", "text/plain\nlen: 5", "a\rb"] {
        assert!(matches!(
            store
                .presign_put(&key("k"), ct, 1, Duration::from_secs(60))
                .await,
            Err(BlobError::Presign { .. })
        ));
    }
}

#[test]
fn signed_url_errors_read_well() {
    assert_eq!(
        SignedUrlError::Expired { expires: 17 }.to_string(),
        "the URL expired at 17 (unix time); ask for a new one"
    );
    assert!(SignedUrlError::BadSignature.to_string().contains("altered"));
}

#[test]
fn opening_refuses_weak_keys_and_bad_base_urls() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        LocalBlobStore::open(dir.path(), BASE, b"short"),
        Err(BlobError::Config(_))
    ));
    for base in ["ftp://x", "not a url", "http://x/?q=1"] {
        assert!(matches!(
            LocalBlobStore::open(dir.path(), base, SIGNING_KEY),
            Err(BlobError::Config(_))
        ));
    }
    // A trailing slash is tolerated and not doubled.
    let store = LocalBlobStore::open(dir.path(), "https://weft.test/", SIGNING_KEY).unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let req = rt
        .block_on(store.presign_get(&key("k"), Duration::from_secs(1)))
        .unwrap();
    assert!(
        req.url.starts_with("https://weft.test/blobs/k?"),
        "{}",
        req.url
    );
}

#[test]
fn key_validation() {
    for ok in [
        "a",
        "a/b",
        "docs/3f2a/snapshot-17.bin",
        "...",
        ".hidden/x..y",
        "A-Z_0.9",
    ] {
        assert_eq!(key(ok).as_str(), ok);
        assert_eq!(key(ok).to_string(), ok);
    }
    let long = "a".repeat(513);
    let cases: [(&str, InvalidBlobKey); 12] = [
        ("", InvalidBlobKey::Empty),
        ("../x", InvalidBlobKey::DotSegment),
        ("a/../x", InvalidBlobKey::DotSegment),
        ("..", InvalidBlobKey::DotSegment),
        ("a/./b", InvalidBlobKey::DotSegment),
        ("a//b", InvalidBlobKey::EmptySegment),
        ("/abs", InvalidBlobKey::LeadingSlash),
        ("a/", InvalidBlobKey::TrailingSlash),
        ("a\\b", InvalidBlobKey::Character('\\')),
        ("a b", InvalidBlobKey::Character(' ')),
        ("é", InvalidBlobKey::Character('é')),
        (&long, InvalidBlobKey::TooLong { len: 513 }),
    ];
    for (bad, why) in cases {
        assert_eq!(BlobKey::new(bad), Err(why), "{bad:?}");
    }
    assert!(BlobKey::new("a".repeat(512)).is_ok());
    assert!(BlobKey::new("a\0b").is_err());
    assert!(BlobKey::new("c:/x").is_err());
}

#[tokio::test]
async fn encoded_and_look_alike_traversal_keys_are_refused_and_nothing_escapes() {
    // What an HTTP layer might hand over after one decoding (or none): none is a key.
    for bad in [
        "..%2fx",
        "%2e%2e/x",
        "%252e%252e%252fx",
        "..\\x",
        "a\\..\\..\\x",
        "\u{2024}\u{2024}/x",
        "\u{FF0E}\u{FF0E}/x",
        "..\u{2215}x",
        "x\0",
        "/etc/passwd",
        "//x",
        "C:\\x",
        "a/../../x",
        "./x",
        "x/.",
        "~/x",
        "x/~tmp",
    ] {
        assert!(BlobKey::new(bad).is_err(), "{bad:?}");
    }
    // Keys that look like the store's own folders are objects like any other: writing them
    // touches nothing at the store's root or beside it.
    let (dir, store) = store();
    let root = store.root().to_path_buf();
    std::fs::write(root.join("canary"), "CANARY").unwrap();
    std::fs::write(dir.path().join("canary"), "CANARY").unwrap();
    for k in ["meta/canary", "objects/canary", "canary", "objects/x/..."] {
        store
            .put(&key(k), Bytes::from_static(b"PWNED"), "text/plain")
            .await
            .unwrap();
        assert!(store.object_path(&key(k)).starts_with(root.join("objects")));
        assert_eq!(
            store.get(&key(k)).await.unwrap().unwrap().bytes.as_ref(),
            b"PWNED"
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join("canary")).unwrap(),
        "CANARY"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("canary")).unwrap(),
        "CANARY"
    );
}

proptest! {
    /// Whatever string is accepted as a key names a path strictly inside the objects folder.
    #[test]
    fn accepted_keys_stay_inside_the_folder(raw in "[a-c./\\\\_-]{1,24}|\\PC{0,24}") {
        let dir = std::env::temp_dir().join("weft-blob-prop");
        let objects = dir.join("objects");
        if let Ok(k) = BlobKey::new(raw.clone()) {
            let mut path = objects.clone();
            path.extend(k.segments());
            prop_assert!(path.starts_with(&objects));
            prop_assert!(path != objects);
            let inside = path.strip_prefix(&objects).unwrap();
            prop_assert!(inside.components().all(|c| matches!(c, Component::Normal(_))));
            prop_assert_eq!(inside.components().count(), raw.split('/').count());
        }
    }
}

#[tokio::test]
async fn object_paths_stay_inside_the_store() {
    let (_dir, store) = store();
    let objects = store.root().join("objects");
    for k in ["a", "a/b/c", "...", "x/.../y"] {
        let path = store.object_path(&key(k));
        assert!(path.starts_with(&objects));
        assert!(
            path.strip_prefix(&objects)
                .unwrap()
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        );
    }
}

fn options(dir: &std::path::Path) -> BlobOpenOptions {
    BlobOpenOptions {
        data_dir: dir.to_path_buf(),
        public_base_url: BASE.to_owned(),
        signing_key: SIGNING_KEY.to_vec(),
    }
}

#[tokio::test]
async fn blob_url_opens_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());

    let default = open_blob_store(None, &opts).unwrap();
    let local = default.local().unwrap();
    assert_eq!(
        local.root(),
        std::fs::canonicalize(dir.path().join("blobs")).unwrap()
    );
    default
        .store()
        .put(&key("k"), Bytes::from_static(b"v"), "text/plain")
        .await
        .unwrap();
    assert!(local.get(&key("k")).await.unwrap().is_some());

    let abs = dir.path().join("elsewhere");
    let opened = open_blob_store(Some(&format!("file://{}", abs.display())), &opts).unwrap();
    assert_eq!(
        opened.local().unwrap().root(),
        std::fs::canonicalize(&abs).unwrap()
    );
}

#[test]
fn bad_blob_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    for url in [
        "",
        "file://",
        "/just/a/path",
        "http://127.0.0.1:9000/bucket",
        "s3://",
        "s3://bucket/prefix",
        "s3://bucket?endpoint=http://x&endpoint=http://y",
        "s3://bucket?endpont=http://x",
        "s3://bucket?endpoint=ftp://x",
        "s3://user:pw@bucket",
    ] {
        match open_blob_store(Some(url), &opts) {
            Err(BlobError::Url { url: got, reason }) => {
                assert_eq!(got, url);
                assert!(!reason.is_empty());
            }
            other => panic!("{url:?} gave {other:?}"),
        }
    }
}
