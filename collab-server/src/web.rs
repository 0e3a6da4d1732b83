//! The browser demo at `/`: the static bundle in `collab-server/web/dist/` (built with vite by
//! `web/build.sh`, committed), embedded into the binary at compile time so the one-process
//! default serves it without Node.js or files beside the binary.
//!
//! `index.html` is never cached (it names the current bundle); the hashed files under
//! `/assets/` are immutable. Paths that are not in the bundle fall through to the rest of the
//! app (the REST tier answers unknown paths with a problem).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Bundle;

/// `/` (the app) and `/assets/{file}` (its scripts and styles).
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/assets/{*file}", get(asset))
}

async fn index() -> Response {
    serve("index.html", "no-cache")
}

async fn asset(Path(file): Path<String>) -> Response {
    serve(
        &format!("assets/{file}"),
        "public, max-age=31536000, immutable",
    )
}

fn serve(path: &str, cache: &'static str) -> Response {
    let Some(file) = Bundle::get(path) else {
        return crate::problem::Problem::not_found("no such file in the web app").into_response();
    };
    let mime = file.metadata.mimetype();
    let mut res = (StatusCode::OK, file.data).into_response();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
