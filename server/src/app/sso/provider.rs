//! What each provider's tokens must say for a school, beyond what `openidconnect` checks (the
//! signature, the audience, the expiry and the nonce):
//!
//! - **Microsoft Entra ID**: the issuer is exactly `https://login.microsoftonline.com/{tid}/v2.0`
//!   of the school's own tenant, never the shared `common` or `organizations` placeholder; the
//!   `tid` claim is that tenant; the consumer tenant (personal Microsoft accounts,
//!   [`CONSUMER_TENANT`]) is refused, as a school setting and as a token. The email counts as
//!   verified only when the token says so (`email_verified`, or Microsoft's optional claim
//!   `xms_edov`, "email domain owner verified", which the README's registration steps add).
//! - **Google Workspace**: the issuer is `https://accounts.google.com` (or its legacy form
//!   `accounts.google.com`); the `hd` claim equals the school's Workspace domain (a consumer
//!   Gmail account has none); `email_verified` is true.
//!
//! The issuer check is ours rather than the library's (`require_issuer_match(false)`) so that a
//! token from another tenant or a personal account gets its own plain reason; it runs after
//! the signature was checked with the school's issuer's keys.

use openidconnect::core::CoreGenderClaim;
use openidconnect::{AdditionalClaims, IdTokenClaims};
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;
use livegate_core::ids::Email;

use crate::store::sso::{ProviderKind, SsoSettings};

/// The Microsoft tenant of personal (consumer) accounts.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Microsoft's authority.
pub const MICROSOFT_BASE: &str = "https://login.microsoftonline.com";
/// Google's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The claims beyond the standard ones that the rules read.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SchoolClaims {
    /// Microsoft: the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// Microsoft (optional claim): the email's domain owner is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xms_edov: Option<serde_json::Value>,
    /// Google: the Workspace domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hd: Option<String>,
}

impl AdditionalClaims for SchoolClaims {}

/// An ID token's claims as this module reads them.
pub type Claims = IdTokenClaims<SchoolClaims, CoreGenderClaim>;

/// True for a tenant id as Microsoft writes it: a GUID, lowercase hex with hyphens.
pub fn is_tenant_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n)
        && s.bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The issuer a school's tokens must carry, from the registration's base.
pub fn issuer_for(kind: ProviderKind, base: Option<&str>, directory: &str) -> String {
    match kind {
        ProviderKind::Microsoft => {
            format!(
                "{}/{directory}/v2.0",
                base.unwrap_or(MICROSOFT_BASE).trim_end_matches('/')
            )
        }
        ProviderKind::Google => base.unwrap_or(GOOGLE_ISSUER).trim_end_matches('/').to_owned(),
    }
}

/// Checks a verified token's issuer and directory against the school's settings, and returns
/// the email the provider vouches for, if any (`sso_email_unverified` is decided by the caller,
/// only when the identity is not linked yet).
pub fn check(kind: ProviderKind, base: Option<&str>, school: &SsoSettings, claims: &Claims) -> Result<(), ErrorCode> {
    let expected = issuer_for(kind, base, &school.directory);
    let issuer = claims.issuer().as_str();
    let extra = claims.additional_claims();
    match kind {
        ProviderKind::Microsoft => {
            let prefix = format!("{}/", base.unwrap_or(MICROSOFT_BASE).trim_end_matches('/'));
            let tenant = issuer.strip_prefix(&prefix).and_then(|t| t.strip_suffix("/v2.0"));
            if tenant == Some(CONSUMER_TENANT) || extra.tid.as_deref() == Some(CONSUMER_TENANT) {
                return Err(ErrorCode::SsoConsumerAccount);
            }
            if issuer != expected {
                // Another tenant's well-formed issuer is another organisation; anything else
                // (`common`, a template, another host) is simply not the school's issuer.
                return Err(match tenant {
                    Some(t) if is_tenant_id(t) => ErrorCode::SsoOtherOrganisation,
                    _ => ErrorCode::SsoWrongIssuer,
                });
            }
            if extra.tid.as_deref() != Some(school.directory.as_str()) {
                return Err(ErrorCode::SsoOtherOrganisation);
            }
        }
        ProviderKind::Google => {
            let legacy = base.is_none() && issuer == "accounts.google.com";
            if issuer != expected && !legacy {
                return Err(ErrorCode::SsoWrongIssuer);
            }
            if extra.hd.as_deref().map(str::to_ascii_lowercase).as_deref() != Some(school.directory.as_str()) {
                return Err(ErrorCode::SsoOtherOrganisation);
            }
        }
    }
    Ok(())
}

/// The email the token vouches for: present, well formed and marked verified (for Microsoft,
/// `email_verified` or `xms_edov`; for Google, `email_verified`).
pub fn verified_email(kind: ProviderKind, claims: &Claims) -> Option<Email> {
    let email = Email::parse(claims.email()?.as_str())?;
    let truthy =
        |v: &serde_json::Value| v.as_bool() == Some(true) || v.as_str() == Some("true") || v.as_i64() == Some(1);
    let verified = claims.email_verified() == Some(true)
        || (kind == ProviderKind::Microsoft && claims.additional_claims().xms_edov.as_ref().is_some_and(truthy));
    verified.then_some(email)
}

/// Whether the sign-in counts as two factors, from the token's `amr` (RFC 8176): `mfa`
/// itself, or a knowledge or biometric factor together with a possession factor. Google rarely
/// sends `amr`, so its sign-ins count as one factor unless it does.
pub fn two_factors(claims: &Claims) -> bool {
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .map(|v| v.iter().map(|a| a.as_str()).collect())
        .unwrap_or_default();
    let any = |set: &[&str]| amr.iter().any(|a| set.contains(a));
    any(&["mfa"])
        || (any(&["pwd", "pin", "face", "fpt", "iris", "retina", "vbm", "kba"])
            && any(&["otp", "hwk", "swk", "sms", "tel", "sc", "fido"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_and_issuers() {
        assert!(is_tenant_id("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_tenant_id("common"));
        assert!(!is_tenant_id("{tenantid}"));
        assert!(
            !is_tenant_id("72F988BF-86F1-41AF-91AB-2D7CD011DB47"),
            "stored lowercase"
        );
        assert_eq!(
            issuer_for(ProviderKind::Microsoft, None, "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
        );
        assert_eq!(issuer_for(ProviderKind::Google, None, "brook.sch.uk"), GOOGLE_ISSUER);
        assert_eq!(
            issuer_for(ProviderKind::Microsoft, Some("http://127.0.0.1:9/"), "t"),
            "http://127.0.0.1:9/t/v2.0"
        );
    }
}
