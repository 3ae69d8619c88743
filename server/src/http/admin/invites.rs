//! Invite sheets, for schools without single sign-on: a superuser picks a class and gets, for
//! each of its pupils who has no password yet, a one-time invite link with a QR code of it,
//! drawn by the web client as a printable sheet of cards (one per pupil) to hand out.
//!
//! The links are the usual invites (`account.rs`: 256 random bits, only the hash stored, 72
//! hours, one use, a new one voiding the pupil's previous link), so printing a second sheet
//! replaces the links of the first for the pupils still not set up, and a pupil who has set a
//! password gets no new link: they are listed as already set up. One class at a time, at most
//! [`MAX_SHEET`] links. The sheet is audited once (`account.invite_sheet`: the class and the
//! count), and neither tokens nor names are logged. The QR codes are SVG made here, from the
//! same string as the link printed beside them.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use livegate_core::codes::ErrorCode;

use super::bodies::{ClassRef, InviteCard, InviteSheet, PupilRef};
use super::school_class_pupils;
use crate::http::error::ApiError;
use crate::http::{App, CurrentUser};
use crate::store::{now_ms, token_hash};
use livegate_core::ids::random_token;

/// The most links one sheet issues.
pub const MAX_SHEET: usize = 120;

/// `POST /api/admin/classes/{class_id}/invite-sheet`
pub async fn sheet(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<InviteSheet>, ApiError> {
    let (class, pupils) = school_class_pupils(&app, &me, &id).await?;
    let base = base_url(&app, &headers).ok_or(ErrorCode::BadRequest)?;
    let mut already_set_up = Vec::new();
    let mut disabled = Vec::new();
    let mut wanted = Vec::new();
    for pupil in &pupils {
        let who = PupilRef {
            user_id: pupil.id.clone(),
            display_name: pupil.display_name.clone(),
        };
        match (pupil.disabled, pupil.password_hash.is_some()) {
            (true, _) => disabled.push(who),
            (false, true) => already_set_up.push(who),
            (false, false) => wanted.push((pupil, random_token(32))),
        }
    }
    if wanted.len() > MAX_SHEET {
        return Err(ErrorCode::InviteSheetTooLarge.into());
    }
    let hashes: Vec<_> = wanted.iter().map(|(p, t)| (p.id.clone(), token_hash(t))).collect();
    let issued = app
        .store
        .issue_invite_sheet(me.id.as_str(), &me.school, &class.id, &hashes, now_ms())
        .await?;
    let mut cards = Vec::with_capacity(issued.len());
    for (pupil, token) in &wanted {
        if !issued.iter().any(|(id, _)| *id == pupil.id) {
            continue; // set a password (or left the class) a moment ago
        }
        let url = format!("{base}{}", crate::app::set_password_path(token));
        cards.push(InviteCard {
            user_id: pupil.id.clone(),
            display_name: pupil.display_name.clone(),
            qr_svg: qr_svg(&url)?,
            url,
        });
    }
    tracing::info!(school = %me.school, class = %class.id, issued = cards.len(), actor = %me.id, "invite sheet issued");
    Ok(Json(InviteSheet {
        class: ClassRef::of(&class),
        expires_at: issued.first().map(|(_, at)| *at),
        cards,
        already_set_up,
        disabled,
    }))
}

/// Where the links point: the configured `public_url`; else the page's own origin (a POST from
/// a browser carries `Origin`, already checked to be this site); else `Host`.
fn base_url(app: &App, headers: &HeaderMap) -> Option<String> {
    if let Some(url) = &app.config.public_url {
        return Some(url.trim_end_matches('/').to_owned());
    }
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header(header::ORIGIN) {
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        return host.filter(|h| plain(h)).map(|_| origin.to_owned());
    }
    let scheme = if app.config.https() { "https" } else { "http" };
    header(header::HOST)
        .filter(|h| plain(h))
        .map(|h| format!("{scheme}://{h}"))
}

/// The link as a QR code in SVG (error correction M: a creased or smudged card still scans).
pub fn qr_svg(link: &str) -> Result<String, ApiError> {
    let code = QrCode::with_error_correction_level(link.as_bytes(), EcLevel::M).map_err(|e| {
        tracing::error!(error = %e, "invite link too long for a QR code");
        ApiError::from(ErrorCode::Internal)
    })?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests;
