//! The embedded web client (the `web/` folder, compiled into the binary) and the security
//! headers every response carries. Only the client's pages, styles, scripts and images are
//! served: the folder also holds files for the people who work on it (`web/README.md`,
//! `web/tsconfig.json`). Nothing here names a script: the pages do (`web/README.md`).

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use livegate_core::codes::ErrorCode;

use crate::http::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../web/"]
struct Assets;

/// The kinds of file a browser gets from `web/`, by extension; any other file there is 404.
const SERVED: [&str; 4] = ["html", "css", "js", "svg"];

/// Serves a file of the web client; `/` and unknown page paths get `index.html`.
pub async fn asset(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return ApiError(ErrorCode::NotFound).into_response();
    }
    let path = if path.is_empty() { "index.html" } else { path };
    let served = path.rsplit_once('.').is_some_and(|(_, ext)| SERVED.contains(&ext));
    let (file, name) = match Assets::get(path).filter(|_| served) {
        Some(f) => (f, path),
        None if !path.contains('.') => match Assets::get("index.html") {
            Some(f) => (f, "index.html"),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
        None => return StatusCode::NOT_FOUND.into_response(),
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    ([(header::CONTENT_TYPE, mime.as_ref().to_owned())], file.data).into_response()
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'; object-src 'none'";

/// HSTS for a server browsers reach over HTTPS: two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds the security headers to every response (pages, API, errors, the WebSocket refusal):
/// the CSP (no inline script or style, no framing), no sniffing, no referrer, no opener
/// across origins, camera and microphone for this origin only, `no-store` on the API, and HSTS
/// when browsers reach the server over HTTPS (`https`).
pub async fn security_headers(https: bool, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(self), display-capture=(self)"),
    );
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &'static str) -> Response {
        asset(Uri::from_static(path)).await
    }

    /// The pages and the module each loads are served with their types; `web/`'s files for
    /// developers are not, though they are embedded with the rest.
    #[tokio::test]
    async fn serves_the_client_and_not_its_developer_files() {
        for (path, mime) in [
            ("/", "text/html"),
            ("/log.html", "text/html"),
            ("/js/app.js", "javascript"),
            ("/js/log/index.js", "javascript"),
            ("/js/lib/api.js", "javascript"),
            ("/css/app.css", "text/css"),
            ("/img/icon.svg", "image/svg+xml"),
            ("/admin/users", "text/html"),
        ] {
            let res = get(path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let ty = res.headers()[header::CONTENT_TYPE].to_str().unwrap();
            assert!(ty.contains(mime), "{path}: {ty}");
        }
        for path in ["/tsconfig.json", "/README.md"] {
            assert!(
                Assets::get(&path[1..]).is_some(),
                "{path} is in web/, so this test means something"
            );
            assert_eq!(get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(get("/js/nope.js").await.status(), StatusCode::NOT_FOUND);
    }
}
