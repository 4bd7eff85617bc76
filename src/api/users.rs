//! `/users`: accounts, and the bulk CSV upload.

use axum::{
    extract::{multipart::MultipartRejection, DefaultBodyLimit, Multipart, State},
    http::StatusCode,
    response::Response,
    routing::{get, post},
    Json, Router,
};
use serde::Serialize;

use super::json::{Field, Fields, JsonObject};
use super::listing::{self, ReadPage};
use super::openapi::*;
use super::params::{PathId, QueryMap};
use super::ApiError;
use crate::domain::{Email, Username};
use crate::import;
use crate::state::AppState;
use crate::store::{NewUser, Rejected, User, UserPatch};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route(
            "/users/bulk",
            post(bulk).layer(DefaultBodyLimit::max(super::UPLOAD_LIMIT)),
        )
        .route("/users/{id}", get(show).put(update).delete(remove))
}

/// Creates a user.
///
/// Posting exactly the username and email of an existing user returns that user instead of a
/// conflict.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUserBody,
    responses(
        (status = 201, description = "The new user, or the existing one on a repeat", body = User),
        (status = 409, description = "Username or email taken by another user", body = ErrorBody),
        BadInput, NoKey, NarrowKey, TooLarge, TooOften, Unavailable,
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let mut fields = Fields::new(&body);
    let username = fields
        .required_string("username")
        .and_then(|raw| parse_username(&mut fields, &raw));
    let email = fields
        .required_string("email")
        .and_then(|raw| parse_email(&mut fields, &raw));
    fields.finish()?;
    let (Some(username), Some(email)) = (username, email) else {
        return Err(ApiError::bad_request("username and email are required"));
    };

    let new = NewUser { username, email };
    let (user, _created) = state.store.create_user(&new).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Lists users by id.
#[utoipa::path(get, path = "/users", tag = "users",
    params(
        ("page" = Option<i64>, Query, minimum = 1, description = "Page from 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "Users by id", body = Vec<User>),
        BadQuery, NoKey, Unavailable,
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let page = query.page()?;
    let store = state.store.clone();
    let read: ReadPage<User> = Box::new(move |page| {
        let store = store.clone();
        Box::pin(async move { store.list_users(Some(page)).await })
    });
    listing::respond(page, read).await
}

/// Reads one user.
#[utoipa::path(get, path = "/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "Positive integer id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        NoKey, Unavailable,
    ))]
pub(crate) async fn show(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<User>, ApiError> {
    let user = state.store.get_user(id).await?;
    user.map(Json).ok_or_else(|| ApiError::not_found("user"))
}

/// Changes a user's username, email or both.
#[utoipa::path(put, path = "/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "Positive integer id")),
    request_body = UserUpdateBody,
    responses(
        (status = 200, description = "The whole updated user", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Username or email taken by another user", body = ErrorBody),
        BadInput, NoKey, NarrowKey, TooLarge, TooOften, Unavailable,
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    body: JsonObject,
) -> Result<Json<User>, ApiError> {
    let mut fields = Fields::new(&body);
    if fields.has_none_of(&["username", "email"]) {
        return Err(ApiError::bad_request(
            "nothing to update: send username and/or email",
        ));
    }
    let mut patch = UserPatch::default();
    match fields.string("username") {
        Field::Set(raw) => patch.username = parse_username(&mut fields, &raw),
        Field::Null => fields.problem("username", "must be a non-empty string"),
        Field::Absent => {}
    }
    match fields.string("email") {
        Field::Set(raw) => patch.email = parse_email(&mut fields, &raw),
        Field::Null => fields.problem("email", "must be a non-empty string"),
        Field::Absent => {}
    }
    fields.finish()?;

    Ok(Json(state.store.update_user(id, &patch).await?))
}

/// Deletes a user with their links and events.
///
/// The links stop redirecting at once.
#[utoipa::path(delete, path = "/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "Positive integer id")),
    responses(
        (status = 204, description = "Deleted, with their links and events"),
        (status = 404, description = "No such user", body = ErrorBody),
        NoKey, NarrowKey, TooOften, Unavailable,
    ))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let codes = state.store.delete_user(id).await?;
    state.links.invalidate_all_of(&codes).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub(crate) struct BulkOutcome {
    /// Valid rows in the file (the contract's `n`).
    count: u64,
    imported: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: Vec<Rejected>,
}

/// Imports users from a CSV file.
///
/// The file has the columns `id,username,email,created_at`; the valid rows are kept and the
/// rejected ones listed by line.
#[utoipa::path(post, path = "/users/bulk", tag = "users",
    request_body(content = BulkUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Valid rows imported, bad ones listed",
            body = BulkOutcomeSchema),
        BadInput, NoKey, NarrowKey, TooLarge, TooOften, Unavailable,
    ))]
pub(crate) async fn bulk(
    State(state): State<AppState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<BulkOutcome>), ApiError> {
    let mut multipart = multipart
        .map_err(|_| ApiError::bad_request("send a multipart/form-data body with a file part"))?;
    let csv = loop {
        let part = multipart
            .next_field()
            .await
            .map_err(|_| ApiError::bad_request("the multipart body could not be read"))?;
        let Some(part) = part else {
            return Err(ApiError::bad_request(
                "no file: send the CSV in a part named 'file'",
            ));
        };
        if part.name() == Some("file") {
            let bytes = part.bytes().await.map_err(|err| {
                if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request("the file part could not be read")
                }
            })?;
            break bytes;
        }
    };

    let parsed =
        import::parse_users(csv.as_ref()).map_err(|err| ApiError::bad_request(err.to_string()))?;
    let mut tally = state.store.import_users(&parsed.records).await?;
    tally.absorb(parsed.tally);
    let count = tally.accepted();
    let outcome = BulkOutcome {
        count,
        imported: count,
        created: tally.created,
        updated: tally.updated,
        unchanged: tally.unchanged,
        rejected: tally.rejected,
    };
    Ok((StatusCode::CREATED, Json(outcome)))
}

fn parse_username(fields: &mut Fields<'_>, raw: &str) -> Option<Username> {
    Username::parse(raw)
        .map_err(|why| fields.problem("username", why.0))
        .ok()
}

fn parse_email(fields: &mut Fields<'_>, raw: &str) -> Option<Email> {
    Email::parse(raw)
        .map_err(|why| fields.problem("email", why.0))
        .ok()
}
