//! One shape for every error answer: `{"error": {"code", "message"}}`.
//!
//! Handlers answer with [`ApiError`]. What axum answers by itself, before or instead of a
//! handler, is plain text or an empty body: a path segment that does not decode
//! (`/api/lessons/%ff%fe`), a query string or JSON body its extractor refuses, a method the
//! route does not have, a body over the limit, a missing request extension, a malformed
//! WebSocket upgrade. Wrapping each extractor would leave the next one added unwrapped, so
//! this layer, around the whole router, turns any error answer that is not JSON already into
//! the one shape, with the stable code its status stands for ([`code_for`]).

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use livegate_core::codes::ErrorCode;

use crate::http::error::{ApiError, ErrorBody, ErrorDetail};

/// Headers of the original answer that still hold for the JSON one.
const KEPT: [header::HeaderName; 2] = [header::ALLOW, header::RETRY_AFTER];

/// Rewrites error answers that are not JSON (see the module comment).
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&res) {
        return res;
    }
    if status.is_server_error() {
        // A rejection with a 5xx (a missing extension) is a bug in the route table, not input.
        tracing::error!(
            status = status.as_u16(),
            "a route answered an error outside the JSON shape"
        );
    }
    let mut out = ApiError(code_for(status)).into_response();
    for name in KEPT {
        if let Some(v) = res.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// The JSON error body of `code`, as bytes (for answers written below HTTP, such as a
/// connection refused at a cap).
pub fn body_bytes(code: ErrorCode) -> Vec<u8> {
    let body = ErrorBody {
        error: ErrorDetail::of(code),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The stable code for an error status axum chose. Malformed input of any kind (400, and the
/// 415 and 422 of the JSON extractor) is `bad_request`, as the handlers' own extractors say.
pub fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::NotSignedIn,
        StatusCode::FORBIDDEN => ErrorCode::ForbiddenRole,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServerBusy,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::{DefaultBodyLimit, Path, Query};
    use axum::routing::{get, post};
    use axum::{Extension, Json, Router};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    struct Q {
        #[allow(dead_code)]
        n: u32,
    }

    #[derive(Clone)]
    struct Missing;

    /// Marks a hand-built answer as JSON.
    fn json(res: &mut Response) {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
    }

    /// A router with one of each extractor axum rejects by itself, behind the layer.
    fn router() -> Router {
        Router::new()
            .route("/path/{n}", get(|Path(_n): Path<u32>| async { "ok" }))
            .route("/text/{s}", get(|Path(s): Path<String>| async move { s }))
            .route("/query", get(|Query(_q): Query<Q>| async { "ok" }))
            .route("/json", post(|Json(_v): Json<serde_json::Value>| async { "ok" }))
            .route("/ext", get(|Extension(_m): Extension<Missing>| async { "ok" }))
            .route(
                "/ws",
                get(|ws: axum::extract::WebSocketUpgrade| async move { ws.on_upgrade(|_| async {}) }),
            )
            .route("/own", get(|| async { ApiError(ErrorCode::Conflict) }))
            .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
            .route(
                "/handmade",
                get(|| async {
                    let mut r =
                        (StatusCode::CONFLICT, "{\"error\":{\"code\":\"x\",\"message\":\"y\"}}").into_response();
                    json(&mut r);
                    r
                }),
            )
            .layer(DefaultBodyLimit::max(16))
            .layer(axum::middleware::from_fn(json_errors))
    }

    async fn send(
        method: &str,
        uri: &str,
        ct: Option<&str>,
        body: &str,
    ) -> (StatusCode, header::HeaderMap, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let res = router()
            .oneshot(req.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Each of axum's own rejections answers the JSON shape with its stable code, and keeps its
    /// status (or the status of the code) and its `Allow` header.
    #[tokio::test]
    async fn every_rejection_axum_makes_is_the_json_shape() {
        let cases = [
            ("GET", "/path/%ff%fe", None, "", "bad_request"),
            ("GET", "/text/%ff%fe", None, "", "bad_request"),
            ("GET", "/path/notanumber", None, "", "bad_request"),
            ("GET", "/query?n=%ff", None, "", "bad_request"),
            ("GET", "/query?n=-1", None, "", "bad_request"),
            ("GET", "/query", None, "", "bad_request"),
            ("POST", "/json", None, "{}", "bad_request"),
            ("POST", "/json", Some("text/plain"), "{}", "bad_request"),
            ("POST", "/json", Some("application/json"), "{", "bad_request"),
            (
                "POST",
                "/json",
                Some("application/json"),
                "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
                "payload_too_large",
            ),
            ("PUT", "/json", Some("application/json"), "{}", "method_not_allowed"),
            ("DELETE", "/path/1", None, "", "method_not_allowed"),
            ("GET", "/ext", None, "", "internal"),
            ("GET", "/ws", None, "", "bad_request"),
            ("POST", "/ws", None, "", "method_not_allowed"),
            ("GET", "/teapot", None, "", "bad_request"),
            ("GET", "/nowhere", None, "", "not_found"),
        ];
        for (method, uri, ct, body, want) in cases {
            let (status, headers, v) = send(method, uri, ct, body).await;
            let code = v["error"]["code"].as_str().unwrap_or("");
            assert_eq!(code, want, "{method} {uri}: {status} {v}");
            assert!(
                v["error"]["message"].as_str().is_some_and(|m| m.ends_with('.')),
                "{method} {uri}: {v}"
            );
            let wire: ErrorCode = serde_json::from_value(v["error"]["code"].clone()).unwrap();
            assert_eq!(
                status,
                crate::http::error::status_of(wire),
                "{method} {uri}: the status is the code's"
            );
            assert!(headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"));
            if want == "method_not_allowed" {
                assert!(headers.contains_key(header::ALLOW), "{method} {uri}: Allow is kept");
            }
        }
    }

    /// Successes and the handlers' own JSON errors pass through untouched.
    #[tokio::test]
    async fn answers_already_in_shape_are_untouched() {
        let (status, _, v) = send("GET", "/own", None, "").await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );
        let (status, _, v) = send("GET", "/handmade", None, "").await;
        assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("x")));
        let (status, _, _) = send("GET", "/path/7", None, "").await;
        assert_eq!(status, StatusCode::OK);
    }
}
