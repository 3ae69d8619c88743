//! Users, classes and class members as a superuser manages them, and the teacher's readiness
//! list of a class (who can join its lessons, and why not for the others).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use livegate_core::codes::ErrorCode;

use super::bodies::{
    ClassBody, ClassCounts, ClassList, ClassMembers, ClassRef, Member, Membership, Readiness, ReadyPupil, UserBody,
    UserList,
};
use super::{school_class, school_user, AdminUser};
use crate::http::api::ApiJson;
use crate::http::error::{ApiError, InputError};
use crate::http::{App, CurrentUser};
use crate::store::MemberKind;
use livegate_core::admission::{decide, Decision, Facts};
use livegate_core::ids::Email;
use livegate_core::school::Role;
use livegate_core::text;

/// `GET /api/admin/users`: the school's users by display name.
pub async fn list_users(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
) -> Result<Json<UserList>, ApiError> {
    let users: Vec<AdminUser> = app.store.users(&me.school).await?.iter().map(AdminUser::of).collect();
    Ok(Json(UserList { users }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    display_name: String,
    role: Role,
}

/// `POST /api/admin/users`: creates an account without a password.
pub async fn create_user(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<Response, InputError> {
    let email = Email::parse(&body.email).ok_or(ErrorCode::BadRequest)?;
    let name = text::clean(&text::DISPLAY_NAME, &body.display_name)?;
    let id = app
        .store
        .create_user(me.id.as_str(), &me.school, &email, &name, body.role, None)
        .await?;
    let user = app.store.user(&id).await?.ok_or(ErrorCode::Internal)?;
    tracing::info!(school = %me.school, user = %id, role = body.role.as_str(), "user created");
    // No invite link yet: a link is a live credential, issued (and audited) only when the
    // superuser asks for it to hand over (`POST /api/admin/users/{id}/invite`).
    Ok((
        StatusCode::CREATED,
        Json(UserBody {
            user: AdminUser::of(&user),
        }),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// `PATCH /api/admin/users/{user_id}`: changes a role, or disables or enables an account.
pub async fn update_user(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserChange>,
) -> Result<Json<UserBody>, ApiError> {
    if body.role.is_none() && body.disabled.is_none() {
        return Err(ErrorCode::BadRequest.into());
    }
    let user = school_user(&app, &me, &id).await?;
    // A superuser cannot lock themselves (and perhaps the whole school) out.
    if user.id == me.id && (body.role.is_some_and(|r| r != Role::Superuser) || body.disabled == Some(true)) {
        return Err(ErrorCode::CannotChangeSelf.into());
    }
    app.store
        .update_user(me.id.as_str(), &me.school, &user.id, body.role, body.disabled)
        .await?;
    let user = app.store.user(&user.id).await?.ok_or(ErrorCode::NotFound)?;
    Ok(Json(UserBody {
        user: AdminUser::of(&user),
    }))
}

/// `GET /api/admin/classes`: the school's classes with how many pupils and teachers each has.
pub async fn list_classes(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
) -> Result<Json<ClassList>, ApiError> {
    let counts = app.store.class_counts(&me.school).await?;
    let classes: Vec<ClassCounts> = app
        .store
        .classes(&me.school)
        .await?
        .into_iter()
        .map(|c| {
            let (pupils, teachers) = counts.get(&c.id).copied().unwrap_or((0, 0));
            ClassCounts {
                id: c.id,
                name: c.name,
                pupils,
                teachers,
            }
        })
        .collect();
    Ok(Json(ClassList { classes }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClass {
    name: String,
}

/// `POST /api/admin/classes`
pub async fn create_class(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<NewClass>,
) -> Result<Response, InputError> {
    let name = text::clean(&text::CLASS_NAME, &body.name)?;
    let id = app.store.create_class(me.id.as_str(), &me.school, None, &name).await?;
    let class = ClassRef { id, name };
    Ok((StatusCode::CREATED, Json(ClassBody { class })).into_response())
}

/// `GET /api/admin/classes/{class_id}`: a class with its members.
pub async fn class_detail(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<ClassMembers>, ApiError> {
    let class = school_class(&app, &me, &id).await?;
    let members: Vec<Member> = app
        .store
        .members(&me.school, &class.id)
        .await?
        .iter()
        .map(|(u, kind)| Member {
            user: AdminUser::of(u),
            kind: *kind,
        })
        .collect();
    Ok(Json(ClassMembers {
        class: ClassRef::of(&class),
        members,
    }))
}

/// How someone joins a class, as the request says it.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum As {
    Pupil,
    Teacher,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    user_id: String,
    #[serde(rename = "as")]
    kind: As,
}

/// `POST /api/admin/classes/{class_id}/members`: a pupil joins the roster, or a teacher
/// the class's teachers.
pub async fn add_member(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<Response, ApiError> {
    let class = school_class(&app, &me, &id).await?;
    let user = school_user(&app, &me, &body.user_id).await?;
    let (kind, fits) = match body.kind {
        As::Pupil => (MemberKind::Pupil, user.role == Role::Pupil),
        As::Teacher => (MemberKind::Teacher, user.role == Role::Teacher),
    };
    if !fits {
        return Err(ErrorCode::RoleMismatch.into());
    }
    app.store
        .add_member(me.id.as_str(), &me.school, &class.id, &user.id, kind)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Membership {
            class_id: class.id,
            user_id: user.id,
            kind,
        }),
    )
        .into_response())
}

/// `DELETE /api/admin/classes/{class_id}/members/{user_id}`: takes someone off a class; a
/// pupil in its live lesson leaves it at once.
pub async fn remove_member(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path((class_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let class = school_class(&app, &me, &class_id).await?;
    let user = school_user(&app, &me, &user_id).await?;
    app.store
        .remove_member(me.id.as_str(), &me.school, &class.id, &user.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/classes/{class_id}/readiness` (teachers of the class): every pupil on the roster
/// with whether the admission gate would let them into a live lesson with the teacher present,
/// and the gate's reason if not. Only the directory's facts count here (roster, account,
/// trusted domain, consent); what happens in a lesson (removal) does not.
pub async fn readiness(
    State(app): State<App>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<Readiness>, ApiError> {
    let class = school_class(&app, &me, &id).await?;
    if app.store.membership(&class.id, &me.id).await? != Some(MemberKind::Teacher) {
        return Err(ErrorCode::ForbiddenRole.into());
    }
    let pupils = app
        .store
        .pupil_facts(&me.school, &class.id)
        .await?
        .ok_or(ErrorCode::NotFound)?;
    let list: Vec<ReadyPupil> = pupils
        .iter()
        .map(|p| {
            let facts = Facts {
                role: p.user.role,
                account_disabled: p.user.disabled,
                // Only a superuser of a school that is not disabled can sign in to ask.
                school_disabled: false,
                same_school: p.user.school == class.school,
                domain_trusted: p.domain_trusted,
                teaches_class: false,
                on_roster: true,
                consent: p.consent,
                lesson_live: true,
                teacher_present: true,
                removed: false,
                recording_ok: true,
            };
            let reason = match decide(&facts) {
                Decision::Admit(_) => None,
                Decision::Lobby => Some(ErrorCode::InLobby),
                Decision::Refuse(code) => Some(code),
            };
            ReadyPupil {
                id: p.user.id.clone(),
                display_name: p.user.display_name.clone(),
                can_join: reason.is_none(),
                reason,
                consent: p.consent,
            }
        })
        .collect();
    Ok(Json(Readiness {
        class: ClassRef::of(&class),
        pupils: list,
    }))
}
