//! The metrics listener's one route: `GET /metrics`, the Prometheus text exposition format
//! (version 0.0.4), served on its own address (`metrics_http`) by the same accept loop as the
//! application (`listen`: its deadlines and connection caps), so it can be kept off the
//! public side. It serves nothing else, and the application's address does not serve it.
//! What it reads is in `crate::app::metrics`; the series and their labels, none personal, in
//! `crate::telemetry`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use super::error::ApiError;
use crate::app::App;
use livegate_core::codes::ErrorCode;

/// The exposition format's media type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics address's router: `GET /metrics`, and `404` for everything else.
pub fn router(app: App, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "This address serves GET /metrics only.\n") })
        .with_state((app, handle))
}

/// `GET /metrics` on the application's address: `not_found` (rather than the web client's
/// page, which a mistaken scrape would read as a malformed exposition).
pub async fn elsewhere() -> ApiError {
    ApiError(ErrorCode::NotFound)
}

/// `GET /metrics`
async fn scrape(State((app, handle)): State<(App, PrometheusHandle)>) -> Response {
    app.gather_metrics().await;
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render()).into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::config::Config;
    use crate::serve::{serve, Running};

    /// A server on ephemeral ports with its files in a fresh folder.
    async fn start(metrics_http: Option<&str>) -> (Running, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("lg_metrics_{}", livegate_core::ids::random_token(6)));
        let config = Config {
            http: "127.0.0.1:0".parse().unwrap(),
            advertise_ip: Some("127.0.0.1".parse().unwrap()),
            data_dir: dir.clone(),
            metrics_http: metrics_http.map(|a| a.parse().unwrap()),
            ..Config::default()
        };
        let store = crate::store::tests::seeded_sqlite().await;
        (serve(config, store).await.unwrap(), dir)
    }

    /// `GET path` over a plain socket: the whole answer, head and body.
    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_metrics_listener_is_off_unless_configured() {
        assert_eq!(Config::default().metrics_http, None, "off by default");
        let (running, dir) = start(None).await;
        assert_eq!(running.metrics, None, "no metrics address was bound");
        assert!(get(running.http, "/metrics").await.starts_with("HTTP/1.1 404"));
        running.stop(Duration::from_secs(10)).await;
        let _ = std::fs::remove_dir_all(dir);

        // Configured, it listens on an address of its own and answers the exposition format.
        let (running, dir) = start(Some("127.0.0.1:0")).await;
        let addr = running.metrics.expect("a metrics address");
        assert_ne!(addr, running.http);
        let answer = get(addr, "/metrics").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("content-type: text/plain; version=0.0.4"), "{answer}");
        assert!(answer.contains("\nlivegate_lessons_live 0\n"), "{answer}");
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 404"));
        running.stop(Duration::from_secs(10)).await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
