//! Each issuer's discovery document and signing keys, fetched on first use and kept for an
//! hour, for at most [`MAX_ISSUERS`] issuers (the oldest is forgotten first). A token signed
//! with a key the cached set does not have makes one fresh fetch of the keys (the provider may
//! have rotated them); the caller refuses it if the key is still unknown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};
use openidconnect::IssuerUrl;

use super::http::Http;

/// How many issuers' documents are kept (one per Microsoft tenant, one for Google).
pub const MAX_ISSUERS: usize = 256;
/// How long a document and its keys are used before they are fetched again.
pub const FRESH_FOR: Duration = Duration::from_secs(3600);

/// Why a provider's documents could not be had (kept for the log; the person sees
/// `sso_provider_unavailable`).
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryFailed {
    #[error("discovery: {0}")]
    Discovery(#[from] openidconnect::DiscoveryError<super::http::HttpError>),
    #[error("issuer url: {0}")]
    Url(#[from] openidconnect::url::ParseError),
}

struct Entry {
    metadata: Arc<CoreProviderMetadata>,
    fetched: Instant,
}

/// The cache, shared by every sign-in on this node.
#[derive(Default)]
pub struct Cache {
    map: Mutex<HashMap<String, Entry>>,
}

impl Cache {
    /// The issuer's metadata (with its keys), fetched if not cached or stale. Discovery
    /// checks that the document names exactly this issuer.
    pub async fn metadata(&self, http: &Http, issuer: &str) -> Result<Arc<CoreProviderMetadata>, DiscoveryFailed> {
        if let Some(m) = self.cached(issuer) {
            return Ok(m);
        }
        let url = IssuerUrl::new(issuer.to_owned())?;
        let metadata = Arc::new(CoreProviderMetadata::discover_async(url, http).await?);
        self.put(issuer, metadata.clone());
        Ok(metadata)
    }

    /// Fetches the issuer's keys again (after a token named a key the cached set lacks).
    pub async fn refresh_keys(&self, http: &Http, issuer: &str) -> Result<Arc<CoreProviderMetadata>, DiscoveryFailed> {
        let current = self.metadata(http, issuer).await?;
        let keys = CoreJsonWebKeySet::fetch_async(current.jwks_uri(), http).await?;
        let fresh = Arc::new((*current).clone().set_jwks(keys));
        self.put(issuer, fresh.clone());
        Ok(fresh)
    }

    fn cached(&self, issuer: &str) -> Option<Arc<CoreProviderMetadata>> {
        let map = self.map.lock().expect("discovery cache lock");
        map.get(issuer)
            .filter(|e| e.fetched.elapsed() < FRESH_FOR)
            .map(|e| e.metadata.clone())
    }

    fn put(&self, issuer: &str, metadata: Arc<CoreProviderMetadata>) {
        let mut map = self.map.lock().expect("discovery cache lock");
        if map.len() >= MAX_ISSUERS && !map.contains_key(issuer) {
            let oldest = map.iter().min_by_key(|(_, e)| e.fetched).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(
            issuer.to_owned(),
            Entry {
                metadata,
                fetched: Instant::now(),
            },
        );
    }
}
