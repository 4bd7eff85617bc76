//! `/events`: the event log, read and appended to.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::Response, routing::get, Json, Router};
use serde_json::Value;

use super::json::{Fields, JsonObject};
use super::listing::{self, ReadPage};
use super::openapi::*;
use super::params::QueryMap;
use super::ApiError;
use crate::state::AppState;
use crate::store::{Event, EventFilter, NewEvent};

/// Longest event type accepted, in characters.
const MAX_TYPE_CHARS: usize = 64;

pub fn routes() -> Router<AppState> {
    Router::new().route("/events", get(list).post(create))
}

/// Lists events by id.
///
/// Clicks queued before this request are written first, so a client that followed a link and
/// then reads the log sees its click.
#[utoipa::path(get, path = "/events", tag = "events",
    params(
        ("url_id" = Option<i64>, Query, minimum = 1),
        ("user_id" = Option<i64>, Query, minimum = 1),
        ("event_type" = Option<String>, Query, min_length = 1),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page from 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "Events by id", body = Vec<Event>),
        BadQuery, NoKey, Unavailable,
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let filter = EventFilter {
        url_id: query.id("url_id")?,
        user_id: query.id("user_id")?,
        event_type: query.text("event_type")?,
    };
    let page = query.page()?;
    state.write_served_clicks().await;
    let (store, filter) = (state.store.clone(), Arc::new(filter));
    let read: ReadPage<Event> = Box::new(move |page| {
        let (store, filter) = (store.clone(), filter.clone());
        Box::pin(async move { store.list_events(&filter, Some(page)).await })
    });
    listing::respond(page, read).await
}

/// Records an event of any type against a link and a user.
#[utoipa::path(post, path = "/events", tag = "events", request_body = NewEventBody,
    responses(
        (status = 201, description = "The event", body = Event),
        (status = 404, description = "No such link or user", body = ErrorBody),
        BadInput, NoKey, NarrowKey, TooLarge, TooOften, Unavailable,
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<(StatusCode, Json<Event>), ApiError> {
    let mut fields = Fields::new(&body);
    let url_id = fields.required_integer("url_id");
    let user_id = fields.required_integer("user_id");
    let event_type = fields.required_string("event_type");
    if event_type
        .as_ref()
        .is_some_and(|kind| kind.chars().count() > MAX_TYPE_CHARS)
    {
        fields.problem("event_type", "must be at most 64 characters");
    }
    let details = fields.optional_details("details").unwrap_or_default();
    fields.finish()?;
    let (Some(url_id), Some(user_id), Some(event_type)) = (url_id, user_id, event_type) else {
        return Err(ApiError::bad_request(
            "url_id, user_id and event_type are required",
        ));
    };

    let new = NewEvent {
        url_id,
        user_id,
        event_type,
        details: Value::Object(details),
    };
    state.write_served_clicks_before_change().await;
    let event = state.store.create_event(&new).await?;
    Ok((StatusCode::CREATED, Json(event)))
}
