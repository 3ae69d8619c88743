//! Trusted domains, consent records, the code of conduct and privacy profiles as a superuser
//! manages them (policy 40.4.3, 40.6, 40.2 and 40.8).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use livegate_core::codes::ErrorCode;

use super::bodies::{
    ClassRef, Conduct, ConductPublished, ConsentRecorded, DomainAdded, DomainList, Privacy, PupilConsent,
    PupilConsents, WithoutConsent,
};
use super::{school_class, school_pupil, AdminUser};
use crate::http::api::ApiJson;
use crate::http::error::{ApiError, InputError};
use crate::http::{App, CurrentUser};
use crate::store::ConsentInput;
use livegate_core::ids::is_token;
use livegate_core::school::{ConsentState, PrivacyProfile};
use livegate_core::text;

/// 2000-01-01 in UTC milliseconds: no form was signed before Livegate's schools existed.
const EARLIEST_SIGNED_MS: i64 = 946_684_800_000;
/// A form dated more than a day ahead is a typing mistake.
const FUTURE_SLACK_MS: i64 = 24 * 3600 * 1000;

/// `GET /api/admin/domains`
pub async fn list_domains(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
) -> Result<Json<DomainList>, ApiError> {
    Ok(Json(DomainList {
        domains: app.store.trusted_domains(&me.school).await?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    domain: String,
    note: String,
    /// The superuser has been warned that the domain is public webmail and still trusts it.
    #[serde(default)]
    confirm_public: bool,
}

/// `POST /api/admin/domains`: trusts a domain, with a note of why. A public webmail domain
/// (anyone can have an address there) is trusted only with `confirm_public`.
pub async fn add_domain(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<NewDomain>,
) -> Result<Response, InputError> {
    let note = text::clean(&text::DOMAIN_NOTE, &body.note)?;
    if livegate_core::webmail::is_public_webmail(&body.domain) && !body.confirm_public {
        return Err(ErrorCode::PublicWebmailDomain.into());
    }
    let domain = app
        .store
        .add_domain(me.id.as_str(), &me.school, &body.domain, &note)
        .await?;
    Ok((StatusCode::CREATED, Json(DomainAdded { domain })).into_response())
}

/// `DELETE /api/admin/domains/{domain}`: anyone from it in a live lesson leaves at once.
pub async fn remove_domain(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(domain): Path<String>,
) -> Result<StatusCode, ApiError> {
    match app.store.remove_domain(me.id.as_str(), &me.school, &domain).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        // A malformed domain cannot be one of the school's.
        Err(crate::store::StoreError::Invalid(_)) => Err(ErrorCode::NotFound.into()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/admin/pupils/{user_id}/consents`: a pupil's consent state and records, newest first.
pub async fn pupil_consents(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<PupilConsents>, ApiError> {
    let pupil = school_pupil(&app, &me, &id).await?;
    let records = app.store.consents(&me.school, &pupil.id).await?;
    let state = app.store.consent_state(&me.school, &pupil.id).await?;
    Ok(Json(PupilConsents {
        pupil: AdminUser::of(&pupil),
        state,
        records,
    }))
}

/// `POST /api/admin/pupils/{user_id}/consents`: records a signed form (or a parent's opt-out).
pub async fn record_consent(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(mut input): ApiJson<ConsentInput>,
) -> Result<Response, InputError> {
    let pupil = school_pupil(&app, &me, &id).await?;
    let latest = crate::store::now_ms() + FUTURE_SLACK_MS;
    if !(EARLIEST_SIGNED_MS..=latest).contains(&input.signed_on) {
        return Err(ErrorCode::BadRequest.into());
    }
    input.parent_name = input.clean_parent_name()?;
    let consent_id = app
        .store
        .record_consent(me.id.as_str(), &me.school, &pupil.id, &input)
        .await?;
    let state = app.store.consent_state(&me.school, &pupil.id).await?;
    Ok((StatusCode::CREATED, Json(ConsentRecorded { consent_id, state })).into_response())
}

/// `POST /api/admin/consents/{consent_id}/withdraw`: the pupil leaves any live lesson at once.
pub async fn withdraw_consent(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !is_token(&id) {
        return Err(ErrorCode::NotFound.into());
    }
    app.store.withdraw_consent(me.id.as_str(), &me.school, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/classes/{class_id}/without-consent`: the class's pupils whose consent is
/// not current, with their state.
pub async fn without_consent(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<WithoutConsent>, ApiError> {
    let class = school_class(&app, &me, &id).await?;
    let pupils = app
        .store
        .pupil_facts(&me.school, &class.id)
        .await?
        .ok_or(ErrorCode::NotFound)?;
    let list: Vec<PupilConsent> = pupils
        .iter()
        .filter(|p| p.consent != ConsentState::Current)
        .map(|p| PupilConsent {
            user: AdminUser::of(&p.user),
            consent: p.consent,
        })
        .collect();
    Ok(Json(WithoutConsent {
        class: ClassRef::of(&class),
        pupils: list,
    }))
}

/// `GET /api/admin/conduct`: the current code of conduct and the version consent must be for.
pub async fn get_conduct(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
) -> Result<Json<Conduct>, ApiError> {
    let conduct = app.store.conduct(&me.school).await?;
    let school = app.store.school(&me.school).await?.ok_or(ErrorCode::NotFound)?;
    Ok(Json(Conduct {
        conduct,
        required_version: school.conduct_version_required,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConduct {
    text: String,
    recording_notice: String,
    require_resign: bool,
}

/// `POST /api/admin/conduct`: publishes a new version; with `require_resign`, consent for
/// older versions stops counting (and pupils relying on it leave live lessons).
pub async fn publish_conduct(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<NewConduct>,
) -> Result<Response, InputError> {
    let conduct = text::clean(&text::CONDUCT_TEXT, &body.text)?;
    let notice = text::clean(&text::RECORDING_NOTICE, &body.recording_notice)?;
    let version = app
        .store
        .publish_conduct(me.id.as_str(), &me.school, &conduct, &notice, body.require_resign)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ConductPublished {
            version,
            require_resign: body.require_resign,
        }),
    )
        .into_response())
}

/// `GET /api/admin/pupils/{user_id}/privacy`
pub async fn get_privacy(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<Privacy>, ApiError> {
    let pupil = school_pupil(&app, &me, &id).await?;
    Ok(Json(Privacy {
        privacy: app.store.privacy(&pupil.id).await?,
        pupil_id: pupil.id,
    }))
}

/// The body of `GET /api/admin/privacy`.
#[derive(serde::Serialize)]
pub struct PrivacyList {
    profiles: Vec<crate::store::PrivacyListed>,
}

/// `GET /api/admin/privacy`: the school's pupils who have a privacy profile, by name.
pub async fn list_privacy(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
) -> Result<Json<PrivacyList>, ApiError> {
    Ok(Json(PrivacyList {
        profiles: app.store.privacy_profiles(&me.school).await?,
    }))
}

/// `PUT /api/admin/pupils/{user_id}/privacy`: replaces the pupil's privacy profile.
pub async fn set_privacy(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(mut profile): ApiJson<PrivacyProfile>,
) -> Result<Json<Privacy>, InputError> {
    let pupil = school_pupil(&app, &me, &id).await?;
    profile.alias = profile
        .alias
        .as_deref()
        .map(|alias| text::clean(&text::ALIAS, alias))
        .transpose()?;
    app.store
        .set_privacy(me.id.as_str(), &me.school, &pupil.id, &profile)
        .await?;
    Ok(Json(Privacy {
        privacy: app.store.privacy(&pupil.id).await?,
        pupil_id: pupil.id,
    }))
}

#[cfg(test)]
mod tests;
