//! The superuser's sign-in settings: which provider the school uses (Microsoft with its tenant
//! id, or Google with its Workspace domain), the email domains that lead to it, whether it is
//! on, and whether pupils may still sign in with a password; and the people whose school
//! account is linked, each of whom can be unlinked. Every change is on the audit chain.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;
use livegate_core::ids::UserId;

use super::super::api::ApiJson;
use super::super::error::ApiError;
use super::super::{App, CurrentUser};
use crate::app::sso::provider::{is_tenant_id, CONSUMER_TENANT};
use crate::store::normalise_domain;
use crate::store::sso::{ProviderKind, SsoSettings};
use crate::store::{now_ms, StoreError};

/// Email domains a school's sign-in may list.
pub const MAX_DOMAINS: usize = 20;

/// The settings as the page shows and sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoSettingsBody {
    pub provider: ProviderKind,
    /// Microsoft: the tenant (directory) id. Google: the Workspace's primary domain.
    pub directory: String,
    /// The email domains whose people sign in here (Google's domain is always one).
    pub email_domains: Vec<String>,
    pub enabled: bool,
    /// Whether pupils may still sign in with a password.
    pub pupils_password: bool,
}

/// One person whose school account is linked.
#[derive(Debug, Serialize)]
pub struct LinkedPerson {
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    /// The provider's issuer (for Microsoft it names the tenant).
    pub issuer: String,
    pub linked_at: i64,
    pub last_used: i64,
}

/// `GET /api/admin/sso`: `settings` is `null` before any are saved; `offered` lists the
/// providers this server has an app registration for; `redirect_url` is what the app
/// registration must allow.
#[derive(Debug, Serialize)]
pub struct SsoAdmin {
    pub settings: Option<SsoSettingsBody>,
    pub offered: Vec<ProviderKind>,
    pub redirect_url: String,
    pub linked: Vec<LinkedPerson>,
}

impl SsoSettingsBody {
    fn of(s: SsoSettings) -> Self {
        Self {
            provider: s.provider,
            directory: s.directory,
            email_domains: s.domains,
            enabled: s.enabled,
            pupils_password: s.pupils_password,
        }
    }

    /// The settings to store, or `sso_settings_invalid`: a Microsoft tenant must be a tenant
    /// id (a GUID, never `common`, `organizations` or the consumer tenant); a Google directory a
    /// domain; every email domain a domain, at most [`MAX_DOMAINS`], and at least one.
    fn parse(self) -> Result<SsoSettings, ErrorCode> {
        let bad = ErrorCode::SsoSettingsInvalid;
        let directory = match self.provider {
            ProviderKind::Microsoft => {
                let t = self.directory.trim().to_ascii_lowercase();
                (is_tenant_id(&t) && t != CONSUMER_TENANT).then_some(t).ok_or(bad)?
            }
            ProviderKind::Google => normalise_domain(&self.directory).ok_or(bad)?,
        };
        let mut domains = self
            .email_domains
            .iter()
            .map(|d| normalise_domain(d).ok_or(bad))
            .collect::<Result<Vec<_>, _>>()?;
        if self.provider == ProviderKind::Google {
            domains.push(directory.clone());
        }
        domains.sort();
        domains.dedup();
        if domains.is_empty() || domains.len() > MAX_DOMAINS {
            return Err(bad);
        }
        Ok(SsoSettings {
            provider: self.provider,
            directory,
            enabled: self.enabled,
            pupils_password: self.pupils_password,
            domains,
        })
    }
}

/// The settings page's answer for the actor's school.
async fn view(app: &App, actor: &crate::store::UserRecord) -> Result<SsoAdmin, ApiError> {
    let settings = app.store.sso_settings(&actor.school).await?.map(SsoSettingsBody::of);
    let users = app.store.users(&actor.school).await?;
    let linked = app
        .store
        .linked_identities(&actor.school)
        .await?
        .into_iter()
        .filter_map(|l| {
            let u = users.iter().find(|u| u.id == l.user)?;
            Some(LinkedPerson {
                user_id: l.user,
                display_name: u.display_name.clone(),
                email: u.email.expose().to_owned(),
                issuer: l.issuer,
                linked_at: l.linked_at,
                last_used: l.last_used,
            })
        })
        .collect();
    let public = app
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", app.config.http));
    Ok(SsoAdmin {
        settings,
        offered: app.sso.offered(),
        redirect_url: format!("{}{}", public.trim_end_matches('/'), crate::app::sso::CALLBACK_PATH),
        linked,
    })
}

/// `GET /api/admin/sso`
pub async fn get_settings(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
) -> Result<Json<SsoAdmin>, ApiError> {
    view(&app, &actor).await.map(Json)
}

/// `PUT /api/admin/sso`: replaces the settings; `sso_unavailable` when this server has no
/// registration for the provider, `sso_domain_taken` when a domain leads to another school.
pub async fn put_settings(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<SsoSettingsBody>,
) -> Result<Json<SsoAdmin>, ApiError> {
    let settings = body.parse()?;
    if settings.enabled && !app.sso.offered().contains(&settings.provider) {
        return Err(ErrorCode::SsoUnavailable.into());
    }
    match app
        .store
        .set_sso_settings(actor.id.as_str(), &actor.school, &settings, now_ms())
        .await
    {
        Err(StoreError::Conflict) => return Err(ErrorCode::SsoDomainTaken.into()),
        other => other?,
    }
    tracing::info!(actor = %actor.id, provider = settings.provider.as_str(), enabled = settings.enabled, "sign-in settings saved");
    view(&app, &actor).await.map(Json)
}

/// `DELETE /api/admin/users/{user_id}/identities`: the person's next sign-in links again, by
/// their verified email.
pub async fn unlink(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = UserId::parse(&user_id).ok_or(ErrorCode::NotFound)?;
    app.store
        .unlink_identities(actor.id.as_str(), &actor.school, &user)
        .await?;
    tracing::info!(actor = %actor.id, user = %user, "sign-in identity unlinked");
    Ok(StatusCode::NO_CONTENT)
}
