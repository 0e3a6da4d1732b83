//! The S3 blob store: any S3-compatible service (AWS, MinIO, Garage, s3s…) through aws-sdk-s3.
//!
//! Chosen with `BLOB_URL=s3://bucket?endpoint=…&region=…`. The client is built by hand rather
//! than through aws-config: credentials come from the standard `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` variables, a custom endpoint implies
//! path-style addressing (what self-hosted servers expect), and checksums are only computed
//! when an operation requires them, which keeps presigned URLs free of checksum headers the
//! uploading client could not produce and keeps older S3 clones happy.
//!
//! Presigned PUTs set `Content-Type` and `Content-Length` on the request before signing; the
//! SDK's signer signs every header but a few hop-by-hop ones, so both end up in
//! `X-Amz-SignedHeaders` and the server refuses an upload of another type or size.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{Blob, BlobError, BlobKey, BlobMeta, BlobStore, PresignedRequest};

/// The region used when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where the bucket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// The service's URL, e.g. `http://127.0.0.1:9000`; None for AWS itself.
    pub endpoint: Option<String>,
    /// None means [`DEFAULT_REGION`].
    pub region: Option<String>,
}

/// Access keys for the bucket.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl S3Credentials {
    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optionally) `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<S3Credentials, BlobError> {
        let required = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    BlobError::Config(format!("{name} is not set; the S3 blob store needs it"))
                })
        };
        Ok(S3Credentials {
            access_key_id: required("AWS_ACCESS_KEY_ID")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
            session_token: std::env::var("AWS_SESSION_TOKEN")
                .ok()
                .filter(|v| !v.is_empty()),
        })
    }
}

/// A bucket of an S3-compatible service.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    /// A store over `settings.bucket`; nothing is contacted until the first operation.
    pub fn new(settings: S3Settings, credentials: S3Credentials) -> S3BlobStore {
        let region = settings.region.unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let credentials = Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            credentials.session_token,
            None,
            "weft-environment",
        );
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = settings.endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        S3BlobStore {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket,
        }
    }

    /// A store with credentials from the environment (see [`S3Credentials::from_env`]).
    pub fn from_env(settings: S3Settings) -> Result<S3BlobStore, BlobError> {
        Ok(S3BlobStore::new(settings, S3Credentials::from_env()?))
    }

    /// The configured SDK client, for operations the trait does not cover (creating buckets in
    /// tests, listing).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn presigning(key: &BlobKey, expires_in: Duration) -> Result<PresigningConfig, BlobError> {
        PresigningConfig::expires_in(expires_in).map_err(|err| BlobError::Presign {
            key: key.to_string(),
            message: err.to_string(),
        })
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| s3_error("put", key, &err))?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>, BlobError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(s3_error("get", key, &err)),
        };
        let content_type = output.content_type;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| s3_error("get", key, &err))?
            .into_bytes();
        Ok(Some(Blob {
            bytes,
            content_type,
        }))
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            // A HEAD response has no body, so a missing object is only a 404 ("NotFound").
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Ok(None);
            }
            Err(err) => return Err(s3_error("head", key, &err)),
        };
        let size = output
            .content_length
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        Ok(Some(BlobMeta {
            size,
            content_type: output.content_type,
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let result = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match result {
            // S3 answers 204 for a missing key; some clones answer NoSuchKey.
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("NoSuchKey") => {
                Ok(())
            }
            Err(err) => Err(s3_error("delete", key, &err)),
        }
    }

    async fn presign_put(
        &self,
        key: &BlobKey,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let length = i64::try_from(content_length).map_err(|_| BlobError::Presign {
            key: key.to_string(),
            message: format!("a length of {content_length} bytes is too large"),
        })?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(length)
            .presigned(Self::presigning(key, expires_in)?)
            .await
            .map_err(|err| presign_error(key, &err))?;
        let presigned = to_presigned(&request);
        for signed in ["content-type", "content-length"] {
            if !presigned.headers.contains_key(signed) {
                return Err(BlobError::Presign {
                    key: key.to_string(),
                    message: format!("the SDK did not sign `{signed}`"),
                });
            }
        }
        Ok(presigned)
    }

    async fn presign_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> Result<PresignedRequest, BlobError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(Self::presigning(key, expires_in)?)
            .await
            .map_err(|err| presign_error(key, &err))?;
        Ok(to_presigned(&request))
    }
}

fn to_presigned(request: &aws_sdk_s3::presigning::PresignedRequest) -> PresignedRequest {
    PresignedRequest {
        method: request.method().to_owned(),
        url: request.uri().to_owned(),
        headers: request
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect(),
    }
}

fn s3_error(op: &'static str, key: &BlobKey, err: &(dyn std::error::Error + 'static)) -> BlobError {
    BlobError::S3 {
        op,
        key: key.to_string(),
        message: DisplayErrorContext(err).to_string(),
    }
}

fn presign_error(key: &BlobKey, err: &(dyn std::error::Error + 'static)) -> BlobError {
    BlobError::Presign {
        key: key.to_string(),
        message: DisplayErrorContext(err).to_string(),
    }
}
