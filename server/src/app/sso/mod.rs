//! Sign-in with the school's Microsoft or Google account (OpenID Connect, authorization code
//! flow with PKCE, `state` and `nonce`), without HTTP: the routes are `http/sso.rs`.
//!
//! 1. [`Sso::start`]: the person's email domain picks the school (its sign-in settings list the
//!    domains that lead to it), the button they tapped must be that school's provider, and the
//!    school's own issuer is discovered (for Microsoft, the tenant's, never `common`). A random
//!    `state` goes in flight in the database, tied to the browser by the SHA-256 of a binding
//!    cookie; the PKCE verifier and the nonce are derived from that cookie and the state
//!    (HMAC-SHA256), so neither is stored anywhere. In flight: at most [`PENDING_PER_ADDRESS`]
//!    per client address and [`PENDING_TOTAL`] in all, each for [`PENDING_LIFETIME`].
//! 2. [`Sso::finish`]: the state is taken out once, only with the cookie that started it; the
//!    code is exchanged (with the verifier) at the school's provider; the ID token is checked
//!    (signature with the issuer's keys, fetched once more for an unknown key; RS256 only;
//!    audience; expiry and issue time; nonce; then `provider::check` for the issuer, tenant or
//!    domain), and the person is found: by the identity (issuer, subject) if linked, else by the
//!    verified email among the users of that school, linking the identity on the audit chain.
//!    No account is ever created. Every refusal has its code and changes nothing.
//!
//! [`password_allowed`] is the password sign-in's hook: a school may turn passwords off for its
//! pupils once they sign in with their school account.

pub mod discovery;
pub mod http;
pub mod provider;

use std::collections::HashMap;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IdTokenVerifier, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    StandardErrorResponse, StandardTokenResponse,
};
use ring::hmac;

use livegate_core::codes::ErrorCode;
use livegate_core::ids::{random_token, Email, SchoolId};
use livegate_core::school::Role;

use super::AppError;
use crate::config::{SsoConfig, StartupError};
use crate::store::sso::{PendingFull, PendingSignIn, ProviderKind, SsoSettings};
use crate::store::{token_hash, Store, StoreError, UserRecord};
use provider::{Claims, SchoolClaims};

/// How long a sign-in may take at the provider.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(600);
/// Sign-ins in flight from one client address (a school's network signs a class in at once).
pub const PENDING_PER_ADDRESS: i64 = 200;
/// Sign-ins in flight on the whole deployment.
pub const PENDING_TOTAL: i64 = 20_000;
/// How far in the future a token's issue time may be (clocks differ a little).
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);
/// The callback path, after the public URL.
pub const CALLBACK_PATH: &str = "/api/sso/callback";

type TokenFields = IdTokenFields<
    SchoolClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcClient = openidconnect::Client<
    SchoolClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<TokenFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One provider's app registration, with its secret read at start-up.
struct Registration {
    client_id: ClientId,
    secret: ClientSecret,
    base: Option<String>,
}

/// The relying party: registrations, the discovery cache and the HTTP client.
pub struct Sso {
    registrations: HashMap<ProviderKind, Registration>,
    redirect: RedirectUrl,
    cache: discovery::Cache,
    http: http::Http,
}

/// A successful sign-in: who, whether the provider vouched for two factors, and whether the
/// identity was linked just now.
#[derive(Debug, Clone)]
pub struct SsoSignIn {
    pub user: UserRecord,
    pub mfa: bool,
    pub linked: bool,
}

/// The hook password sign-in calls once the password is right: `password_sign_in_off` for a
/// pupil whose school signs pupils in with its provider only. Staff always may use a password
/// (the emergency way in when the provider is down).
pub async fn password_allowed(store: &Store, user: &UserRecord) -> Result<(), AppError> {
    if user.role != Role::Pupil {
        return Ok(());
    }
    match store.sso_settings(&user.school).await? {
        Some(s) if s.enabled && !s.pupils_password => Err(ErrorCode::PasswordSignInOff.into()),
        _ => Ok(()),
    }
}

/// Where people reach this server: `public_url`, else its own HTTP address.
fn public_url(config: &crate::config::Config) -> String {
    config.public_url.clone().unwrap_or_else(|| {
        let scheme = if config.https() { "https" } else { "http" };
        format!("{scheme}://{}", config.http)
    })
}

/// A PKCE verifier or nonce for one sign-in: HMAC-SHA256 under the browser's binding token.
fn derived(binding: &str, purpose: &str, state: &str) -> String {
    use base64::Engine;
    let key = hmac::Key::new(hmac::HMAC_SHA256, binding.as_bytes());
    let tag = hmac::sign(&key, format!("{purpose}\n{state}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// A discovery or key fetch that failed: logged with its cause, `sso_provider_unavailable`.
fn unavailable(e: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "sign-in provider could not be reached");
    ErrorCode::SsoProviderUnavailable.into()
}

impl Sso {
    /// The registrations in the configuration, their secrets read now; `public_url` is where
    /// the provider sends the person back (`{public_url}/api/sso/callback`).
    pub fn new(
        config: &SsoConfig,
        public_url: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StartupError> {
        let mut registrations = HashMap::new();
        for (kind, reg) in [
            (ProviderKind::Microsoft, &config.microsoft),
            (ProviderKind::Google, &config.google),
        ] {
            if let Some(reg) = reg {
                let secret = reg.read_secret(&get)?;
                registrations.insert(
                    kind,
                    Registration {
                        client_id: ClientId::new(reg.client_id.trim().to_owned()),
                        secret: ClientSecret::new(secret),
                        base: reg.issuer_base.clone(),
                    },
                );
            }
        }
        let redirect = format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'));
        Ok(Self {
            registrations,
            redirect: RedirectUrl::new(redirect).map_err(|e| StartupError::Config(format!("public_url: {e}")))?,
            cache: discovery::Cache::default(),
            http: http::Http::new().map_err(|e| StartupError::Config(format!("sso http client: {e}")))?,
        })
    }

    /// The relying party of a configuration whose registrations [`Sso::check`] accepted at
    /// start-up (one that fails now is logged and offers no sign-in).
    pub fn from_config(config: &crate::config::Config) -> Self {
        let public = public_url(config);
        let env = |k: &str| std::env::var(k).ok();
        Self::new(&config.sso, &public, env).unwrap_or_else(|e| {
            tracing::error!(error = %e, "sign-in with a school account is off");
            Self::new(&SsoConfig::default(), &public, |_| None).expect("no registration cannot fail")
        })
    }

    /// Checks the configuration's registrations (their secrets can be read) before start-up.
    pub fn check(config: &crate::config::Config) -> Result<(), StartupError> {
        Self::new(&config.sso, &public_url(config), |k| std::env::var(k).ok()).map(|_| ())
    }

    /// The providers this deployment has a registration for (the sign-in page's buttons).
    pub fn offered(&self) -> Vec<ProviderKind> {
        [ProviderKind::Microsoft, ProviderKind::Google]
            .into_iter()
            .filter(|k| self.registrations.contains_key(k))
            .collect()
    }

    /// The issuer base of a provider's registration (`None`: the real provider's).
    pub fn base(&self, kind: ProviderKind) -> Option<&str> {
        self.registrations.get(&kind).and_then(|r| r.base.as_deref())
    }

    fn registration(&self, kind: ProviderKind) -> Result<&Registration, AppError> {
        self.registrations.get(&kind).ok_or(ErrorCode::SsoUnavailable.into())
    }

    async fn client(&self, kind: ProviderKind, settings: &SsoSettings) -> Result<(OidcClient, String), AppError> {
        let reg = self.registration(kind)?;
        let issuer = provider::issuer_for(kind, reg.base.as_deref(), &settings.directory);
        let metadata: std::sync::Arc<CoreProviderMetadata> =
            self.cache.metadata(&self.http, &issuer).await.map_err(unavailable)?;
        let client =
            OidcClient::from_provider_metadata((*metadata).clone(), reg.client_id.clone(), Some(reg.secret.clone()))
                .set_redirect_uri(self.redirect.clone());
        Ok((client, issuer))
    }

    /// Starts a sign-in for `email` with the provider `kind`, from a browser holding the binding
    /// token `binding`, at the client address `address` (a bucket name). Returns the provider's
    /// authorization URL to send the browser to.
    pub async fn start(
        &self,
        store: &Store,
        kind: ProviderKind,
        email: &Email,
        binding: &str,
        address: &str,
        now: i64,
    ) -> Result<String, AppError> {
        self.registration(kind)?;
        let (school, settings) = store
            .sso_school_for_domain(email.domain())
            .await?
            .filter(|(_, s)| s.enabled && s.provider == kind)
            .ok_or(ErrorCode::SsoNotConfigured)?;
        if store.school_disabled(&school).await? {
            return Err(ErrorCode::SchoolDisabled.into());
        }
        let (client, _) = self.client(kind, &settings).await?;
        let state = random_token(32);
        let pending = PendingSignIn {
            binding_hash: token_hash(binding),
            school,
        };
        let expires = now + PENDING_LIFETIME.as_millis() as i64;
        let limits = (PENDING_PER_ADDRESS, PENDING_TOTAL);
        match store
            .put_sso_pending(&token_hash(&state), &pending, address, now, expires, limits)
            .await?
        {
            Ok(()) => {}
            Err(PendingFull::Address) => return Err(ErrorCode::RateLimited.into()),
            Err(PendingFull::Total) => return Err(ErrorCode::ServerBusy.into()),
        }
        let verifier = PkceCodeVerifier::new(derived(binding, "pkce", &state));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let nonce = derived(binding, "nonce", &state);
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .add_extra_param("login_hint", email.expose().to_owned());
        if kind == ProviderKind::Google {
            // Only a hint for Google's account chooser: the `hd` claim is what is checked.
            request = request.add_extra_param("hd", settings.directory.clone());
        }
        let (url, _, _) = request.url();
        Ok(url.to_string())
    }

    /// Finishes a sign-in: the provider sent the browser back with `state` and `code`, and the
    /// browser sent its binding token (if any).
    pub async fn finish(
        &self,
        store: &Store,
        state: &str,
        code: &str,
        binding: Option<&str>,
        now: i64,
    ) -> Result<SsoSignIn, AppError> {
        let binding = binding.ok_or(ErrorCode::SsoStateMismatch)?;
        let pending = store
            .take_sso_pending(&token_hash(state), &token_hash(binding), now)
            .await?
            .ok_or(ErrorCode::SsoStateMismatch)?;
        let settings = store
            .sso_settings(&pending.school)
            .await?
            .filter(|s| s.enabled)
            .ok_or(ErrorCode::SsoNotConfigured)?;
        let kind = settings.provider;
        let (client, issuer) = self.client(kind, &settings).await?;
        let verifier = PkceCodeVerifier::new(derived(binding, "pkce", state));
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(unavailable)?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    tracing::info!(error = ?r.error(), "the provider refused the code");
                    AppError::from(ErrorCode::SsoCodeInvalid)
                }
                RequestTokenError::Parse(e, _) => {
                    tracing::info!(error = %e, "the provider's token answer could not be read");
                    ErrorCode::SsoBadToken.into()
                }
                other => unavailable(other),
            })?;
        let id_token = response.extra_fields().id_token().ok_or(ErrorCode::SsoBadToken)?;
        let nonce = Nonce::new(derived(binding, "nonce", state));
        let claims = self.verify(kind, &issuer, id_token, &nonce, now).await?;
        provider::check(kind, self.base(kind), &settings, &claims)?;
        self.person(store, kind, &pending.school, &claims, now).await
    }

    /// Checks an ID token's signature, audience, times and nonce; an unknown key fetches the
    /// issuer's keys once more.
    async fn verify(
        &self,
        kind: ProviderKind,
        issuer: &str,
        token: &openidconnect::IdToken<
            SchoolClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
        now: i64,
    ) -> Result<Claims, AppError> {
        let reg = self.registration(kind)?;
        let mut metadata = self.cache.metadata(&self.http, issuer).await.map_err(unavailable)?;
        for attempt in 0..2 {
            let verifier = self.verifier(reg, &metadata, now);
            match token.claims(&verifier, nonce) {
                Ok(claims) => return Ok(claims.clone()),
                Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey))
                    if attempt == 0 =>
                {
                    metadata = self.cache.refresh_keys(&self.http, issuer).await.map_err(unavailable)?;
                }
                Err(e) => {
                    tracing::info!(error = %e, "an ID token was refused");
                    return Err(refusal(&e).into());
                }
            }
        }
        Err(ErrorCode::SsoUnknownKey.into())
    }

    fn verifier<'a>(
        &self,
        reg: &Registration,
        metadata: &CoreProviderMetadata,
        now: i64,
    ) -> IdTokenVerifier<'a, CoreJsonWebKey> {
        let latest = now + CLOCK_SKEW.as_millis() as i64;
        IdTokenVerifier::new_confidential_client(
            reg.client_id.clone(),
            reg.secret.clone(),
            metadata.issuer().clone(),
            metadata.jwks().clone(),
        )
        // The issuer is checked by `provider::check`, after the signature, for a plain reason.
        .require_issuer_match(false)
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
        .set_issue_time_verifier_fn(move |iat| {
            if iat.timestamp_millis() > latest {
                Err("issued in the future".to_owned())
            } else {
                Ok(())
            }
        })
    }

    /// The Livegate user of a verified token at `school`, linking the identity on first use.
    async fn person(
        &self,
        store: &Store,
        kind: ProviderKind,
        school: &SchoolId,
        claims: &Claims,
        now: i64,
    ) -> Result<SsoSignIn, AppError> {
        let (issuer, subject) = (claims.issuer().as_str(), claims.subject().as_str());
        let linked = store.identity_user(issuer, subject, now).await?;
        let user = match &linked {
            Some(id) => store.user(id).await?.ok_or(ErrorCode::SsoUnknownPerson)?,
            None => {
                let email = provider::verified_email(kind, claims).ok_or(ErrorCode::SsoEmailUnverified)?;
                store.user_by_email(&email).await?.ok_or(ErrorCode::SsoUnknownPerson)?
            }
        };
        if &user.school != school {
            return Err(ErrorCode::SsoOtherSchool.into());
        }
        if store.school_disabled(school).await? {
            return Err(ErrorCode::SchoolDisabled.into());
        }
        if user.disabled {
            return Err(ErrorCode::AccountDisabled.into());
        }
        if linked.is_none() {
            match store.link_identity(school, &user.id, issuer, subject, now).await {
                Ok(()) => tracing::info!(user = %user.id, "sign-in identity linked"),
                // Another first sign-in of the same identity linked it a moment ago: the same.
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(SsoSignIn {
            mfa: provider::two_factors(claims),
            linked: linked.is_none(),
            user,
        })
    }
}

/// The code for a token `openidconnect` refused.
fn refusal(e: &ClaimsVerificationError) -> ErrorCode {
    use SignatureVerificationError as S;
    match e {
        ClaimsVerificationError::Expired(_) => ErrorCode::SsoTokenExpired,
        ClaimsVerificationError::InvalidAudience(_) => ErrorCode::SsoWrongAudience,
        ClaimsVerificationError::InvalidIssuer(_) => ErrorCode::SsoWrongIssuer,
        ClaimsVerificationError::InvalidNonce(_) => ErrorCode::SsoNonceMismatch,
        ClaimsVerificationError::SignatureVerification(s) => match s {
            S::NoMatchingKey | S::AmbiguousKeyId(_) => ErrorCode::SsoUnknownKey,
            S::NoSignature | S::DisallowedAlg(_) | S::UnsupportedAlg(_) => ErrorCode::SsoUnsignedToken,
            _ => ErrorCode::SsoBadSignature,
        },
        _ => ErrorCode::SsoBadToken,
    }
}

#[cfg(test)]
mod tests;
