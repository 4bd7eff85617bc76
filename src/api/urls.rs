//! `/urls`: short links. Every change is also an event, and every change that can alter a
//! redirect invalidates the link's cache entry before the response goes out.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::Response,
    routing::get,
    Json, Router,
};

use super::json::{Field, Fields, JsonObject};
use super::listing::{self, ReadPage};
use super::openapi::*;
use super::params::{PathId, QueryMap};
use super::ApiError;
use crate::domain::{Origin, TargetUrl, MAX_TITLE_CHARS};
use crate::state::AppState;
use crate::store::{Link, LinkFilter, LinkPatch, NewLink};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/urls", get(list).post(create))
        .route("/urls/{id}", get(show).put(update).delete(remove))
}

/// Creates a link for a user, with a fresh 6-character short code.
#[utoipa::path(post, path = "/urls", tag = "urls", request_body = NewLinkBody,
    responses(
        (status = 201, description = "The new link with a fresh short code", body = Link),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "No free short code was found in a few tries; try again",
            body = ErrorBody),
        BadInput, NoKey, NarrowKey, TooLarge, TooOften, Unavailable,
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<(StatusCode, Json<Link>), ApiError> {
    let origins = own_origins(&state, &headers);
    let mut fields = Fields::new(&body);
    let user_id = fields.required_integer("user_id");
    let url = fields.required_string("original_url").and_then(|raw| {
        TargetUrl::parse(&raw, &origins)
            .map_err(|why| fields.problem("original_url", why.0))
            .ok()
    });
    let title = title(&mut fields);
    fields.finish()?;
    let (Some(user_id), Some(original_url)) = (user_id, url) else {
        return Err(ApiError::bad_request(
            "user_id and original_url are required",
        ));
    };

    let new = NewLink {
        user_id,
        original_url,
        title: title.flatten(),
    };
    let link = state.store.create_link(&new).await?;
    state.links.forget_new(&link.short_code).await;
    metrics::counter!("hop_links_created_total").increment(1);
    Ok((StatusCode::CREATED, Json(link)))
}

/// Lists links by id; deleted links are not listed.
#[utoipa::path(get, path = "/urls", tag = "urls",
    params(
        ("user_id" = Option<i64>, Query, minimum = 1, description = "Only this user's links"),
        ("is_active" = Option<bool>, Query, description = "true or false"),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page from 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "Links by id", body = Vec<Link>),
        BadQuery, NoKey, Unavailable,
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let filter = LinkFilter {
        user_id: query.id("user_id")?,
        is_active: query.flag("is_active")?,
    };
    let page = query.page()?;
    let (store, filter) = (state.store.clone(), Arc::new(filter));
    let read: ReadPage<Link> = Box::new(move |page| {
        let (store, filter) = (store.clone(), filter.clone());
        Box::pin(async move { store.list_links(&filter, Some(page)).await })
    });
    listing::respond(page, read).await
}

/// Reads one link.
#[utoipa::path(get, path = "/urls/{id}", tag = "urls",
    params(("id" = i64, Path, description = "Positive integer id")),
    responses(
        (status = 200, description = "The link, active or not", body = Link),
        (status = 404, description = "No such link", body = ErrorBody),
        NoKey, Unavailable,
    ))]
pub(crate) async fn show(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<Link>, ApiError> {
    let link = state.store.get_link(id).await?;
    link.map(Json).ok_or_else(|| ApiError::not_found("link"))
}

/// Changes a link's target, title or active flag.
///
/// Redirects follow the change at once, on every replica.
#[utoipa::path(put, path = "/urls/{id}", tag = "urls",
    params(("id" = i64, Path, description = "Positive integer id")),
    request_body = LinkUpdateBody,
    responses(
        (status = 200, description = "The whole updated link", body = Link),
        (status = 404, description = "No such link", body = ErrorBody),
        BadInput, NoKey, NarrowKey, TooLarge, TooOften, Unavailable,
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Json<Link>, ApiError> {
    let origins = own_origins(&state, &headers);
    let mut fields = Fields::new(&body);
    if fields.has_none_of(&["original_url", "title", "is_active"]) {
        return Err(ApiError::bad_request(
            "nothing to update: send original_url, title and/or is_active",
        ));
    }
    let mut patch = LinkPatch::default();
    match fields.string("original_url") {
        Field::Set(raw) => {
            patch.original_url = TargetUrl::parse(&raw, &origins)
                .map_err(|why| fields.problem("original_url", why.0))
                .ok();
        }
        Field::Null => fields.problem("original_url", "must be a non-empty string"),
        Field::Absent => {}
    }
    patch.title = title(&mut fields);
    patch.is_active = fields.optional_boolean("is_active");
    fields.finish()?;

    state.write_served_clicks_before_change().await;
    let link = state.store.update_link(id, &patch).await?;
    state.links.invalidate(&link.short_code).await;
    Ok(Json(link))
}

/// Deletes a link.
///
/// It stops redirecting at once, its code is never handed out again and its events stay
/// readable.
#[utoipa::path(delete, path = "/urls/{id}", tag = "urls",
    params(("id" = i64, Path, description = "Positive integer id")),
    responses(
        (status = 204, description = "Deleted; its events stay"),
        (status = 404, description = "No such link", body = ErrorBody),
        NoKey, NarrowKey, TooOften, Unavailable,
    ))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    // Redirects served from a cache entry while this runs still answer 302, and their clicks
    // are listed after the `deleted` event (decisions.md §5, "Order").
    state.write_served_clicks_before_change().await;
    let link = state.store.delete_link(id).await?;
    state.links.invalidate(&link.short_code).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `Some(None)` when the client cleared the title (null or blank), `None` when absent.
fn title(fields: &mut Fields<'_>) -> Option<Option<String>> {
    match fields.string("title") {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Set(text) if text.chars().count() > MAX_TITLE_CHARS => {
            fields.problem("title", "must be at most 500 characters");
            None
        }
        Field::Set(text) => Some(Some(text)),
    }
}

/// The origins a target may not point at: the configured public URL and the host this
/// request came in on.
fn own_origins(state: &AppState, headers: &HeaderMap) -> Vec<Origin> {
    let from_request = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(Origin::from_host_header);
    state
        .public_origin
        .iter()
        .cloned()
        .chain(from_request)
        .collect()
}
