//! What the fuzz targets (`fuzz/`) need to serve requests in process: the application state as
//! `crate::serve::serve` builds it, over a store, media engine and recording service of the caller's
//! choosing, without a socket (requests go through [`super::router`] with `oneshot`).
//!
//! Compiled with the cargo feature `fuzzing`, which only the fuzz workspace turns on (never the
//! `livegate` binary), and in this crate's tests, so a change to [`Livegate::new`] breaks
//! `cargo test` here rather than the fuzz build.

use std::sync::Arc;

use crate::app::{shutdown, App, Livegate};
use crate::config::Config;
use crate::media::MediaHandle;
use crate::recording::Recordings;
use crate::store::Store;

/// The application over `store`, with sessions, tickets and sign-in limits from `config`.
pub fn app(config: Config, store: Store, media: MediaHandle, recordings: Option<Arc<Recordings>>) -> App {
    Livegate::new(config, store, media, recordings, shutdown::Gate::default())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_fuzzing_app_serves_requests() {
        let media = crate::media::start(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
            Default::default(),
        )
        .await
        .unwrap();
        let store = crate::store::tests::seeded_sqlite().await;
        let app = super::app(crate::config::Config::default(), store, media, None);
        let res = super::super::router(app)
            .oneshot(Request::get("/api/health").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}
