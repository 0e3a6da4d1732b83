//! A fresh bucket on the S3 server named by `TEST_S3_ENDPOINT` (s3s-fs, started by `.ci/test`).
//!
//! Without `TEST_S3_ENDPOINT` the S3 tests are skipped, unless `CI` is set: in CI a missing
//! server is a failure, not a silent pass.

use rand::RngCore;
use weft_storage::blob::s3::{S3BlobStore, S3Credentials, S3Settings};

pub struct TestS3 {
    pub endpoint: String,
    pub store: S3BlobStore,
}

/// The endpoint, or None (after saying so) when the tests should be skipped.
pub fn endpoint() -> Option<String> {
    match std::env::var("TEST_S3_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var_os("CI").is_some() => {
            panic!("TEST_S3_ENDPOINT not set; run via bash .ci/test")
        }
        _ => {
            eprintln!("skipping S3 test: TEST_S3_ENDPOINT not set; run via bash .ci/test");
            None
        }
    }
}

/// A random bucket name, so tests never see each other's objects.
pub fn bucket_name() -> String {
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("weft-test-{}", hex::encode(bytes))
}

/// A store over a newly created, empty bucket; None when the S3 tests are skipped.
pub async fn fresh_bucket() -> Option<TestS3> {
    let endpoint = endpoint()?;
    let settings = S3Settings {
        bucket: bucket_name(),
        endpoint: Some(endpoint.clone()),
        region: std::env::var("AWS_REGION").ok(),
    };
    let credentials = S3Credentials::from_env().expect("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
    let store = S3BlobStore::new(settings, credentials);
    store
        .client()
        .create_bucket()
        .bucket(store.bucket())
        .send()
        .await
        .unwrap_or_else(|err| {
            panic!(
                "cannot create bucket {} at {endpoint}: {}",
                store.bucket(),
                aws_sdk_s3::error::DisplayErrorContext(&err)
            )
        });
    Some(TestS3 { endpoint, store })
}
