//! The OpenAPI 3.1 description of the API, generated from the handlers' annotations, and a
//! plain HTML reference page rendered from it. The page is built here rather than with a
//! Swagger UI or Redoc bundle, which would be fetched from a CDN or downloaded at build time;
//! hop must serve its reference with no internet access.

use std::collections::BTreeMap;

use axum::{response::Html, routing::get, Json, Router};
use utoipa::{openapi::OpenApi as Document, OpenApi, ToSchema};

use crate::state::AppState;

/// The body of every error response.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// One sentence a person can act on.
    error: String,
    /// What is wrong with each field, for validation errors.
    details: Option<BTreeMap<String, String>>,
}

/// `POST /users`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewUserBody {
    #[schema(example = "quietharbor42")]
    username: String,
    #[schema(example = "quietharbor42@example.com")]
    email: String,
}

/// `PUT /users/{id}`: at least one field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserUpdateBody {
    username: Option<String>,
    email: Option<String>,
}

/// `POST /urls`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewLinkBody {
    #[schema(minimum = 1)]
    user_id: i64,
    #[schema(example = "https://example.com/a/b/1")]
    original_url: String,
    title: Option<String>,
}

/// `PUT /urls/{id}`: at least one field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LinkUpdateBody {
    original_url: Option<String>,
    title: Option<String>,
    is_active: Option<bool>,
}

/// `POST /events`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewEventBody {
    #[schema(minimum = 1)]
    url_id: i64,
    #[schema(minimum = 1)]
    user_id: i64,
    #[schema(example = "shared")]
    event_type: String,
    /// Values kept as sent, numbers at full precision (their notation may change: PostgreSQL
    /// gives `1E2` back as `100`). Refused: a NUL character anywhere, a number of more than 100
    /// digits when written without an exponent, and an exponent past ±1000.
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

/// `POST /users/bulk`: a multipart form with the CSV in a part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BulkUpload {
    #[schema(format = Binary, content_media_type = "text/csv")]
    file: String,
}

/// What `POST /users/bulk` did.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BulkOutcomeSchema {
    count: u64,
    imported: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: Vec<crate::store::Rejected>,
}

// The error answers the API's operations share, one status each, so that every status is
// described once and each operation lists exactly the ones it can give: reads have no 403
// (every scope covers them), reads by id no 400 (a malformed id names no row: 404), deletes
// neither 400 nor 413 (they read no query and no body).

/// 400 for a bad query.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BadQuery {
    /// A query parameter is malformed: a filter or a page that is not a positive integer.
    #[response(status = 400)]
    Error(#[to_schema] ErrorBody),
}

/// 400 for a bad body.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BadInput {
    /// Malformed input; for a JSON body, `details` names each bad field.
    #[response(status = 400)]
    Error(#[to_schema] ErrorBody),
}

/// 401.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum NoKey {
    /// API keys are configured and the call sent none, or one hop does not know.
    #[response(status = 401)]
    Error(#[to_schema] ErrorBody),
}

/// 403.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum NarrowKey {
    /// The key's scope does not cover the call.
    #[response(status = 403)]
    Error(#[to_schema] ErrorBody),
}

/// 413.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum TooLarge {
    /// The body is over the size limit.
    #[response(status = 413)]
    Error(#[to_schema] ErrorBody),
}

/// 429.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum TooOften {
    /// This client wrote too often; see `Retry-After`.
    #[response(status = 429)]
    Error(#[to_schema] ErrorBody),
}

/// 503.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Unavailable {
    /// The database is not answering, gave up the request's change in a conflict with a
    /// concurrent one, or the request ran too long; see `Retry-After`.
    #[response(status = 503)]
    Error(#[to_schema] ErrorBody),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hop",
        description = "A URL shortener run like a production service. \
            Errors are always JSON: {\"error\": \"...\", \"details\": {...}}."
    ),
    paths(
        super::users::create,
        super::users::list,
        super::users::show,
        super::users::update,
        super::users::remove,
        super::users::bulk,
        super::urls::create,
        super::urls::list,
        super::urls::show,
        super::urls::update,
        super::urls::remove,
        super::events::list,
        super::events::create,
        crate::redirect::follow,
        crate::redirect::follow_by_path,
        super::ops::health,
        super::ops::ready,
    ),
    components(schemas(
        ErrorBody,
        NewUserBody,
        UserUpdateBody,
        NewLinkBody,
        LinkUpdateBody,
        NewEventBody,
        BulkUpload,
        BulkOutcomeSchema,
        crate::store::User,
        crate::store::Link,
        crate::store::Event,
        crate::store::Rejected,
    ))
)]
struct ApiDoc;

/// The document, built once per call; cheap enough for a rarely fetched page.
pub fn document() -> Document {
    ApiDoc::openapi()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(|| async { Json(document()) }))
        .route("/docs", get(|| async { Html(reference_page(&document())) }))
}

/// A self-contained HTML page listing every operation with its parameters and responses.
fn reference_page(doc: &Document) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>hop API reference</title><style>\
         body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
         code{background:#f3f3f3;padding:0 .2rem}h2{margin-top:2rem;border-top:1px solid #ddd;\
         padding-top:1rem}.m{font-weight:bold;text-transform:uppercase}</style></head><body>\
         <h1>hop API reference</h1><p>The machine-readable form is \
         <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p>",
    );
    for (path, item) in &doc.paths.paths {
        let operations = [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("delete", &item.delete),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            html.push_str(&format!(
                "<h2><span class=\"m\">{method}</span> <code>{}</code></h2><p>{}</p>",
                escape(path),
                prose(operation.summary.as_deref().unwrap_or_default()),
            ));
            if let Some(text) = operation.description.as_deref().filter(|t| !t.is_empty()) {
                html.push_str(&format!("<p>{}</p>", prose(text)));
            }
            let params = operation.parameters.iter().flatten();
            let names: Vec<String> = params
                .map(|p| format!("<code>{}</code>", escape(&p.name)))
                .collect();
            if !names.is_empty() {
                html.push_str(&format!("<p>Parameters: {}</p>", names.join(", ")));
            }
            html.push_str("<ul>");
            for (status, response) in &operation.responses.responses {
                let text = match response {
                    utoipa::openapi::RefOr::T(response) => response.description.clone(),
                    utoipa::openapi::RefOr::Ref(reference) => reference.ref_location.clone(),
                };
                html.push_str(&format!(
                    "<li><b>{}</b> {}</li>",
                    escape(status),
                    prose(&text)
                ));
            }
            html.push_str("</ul>");
        }
    }
    html.push_str("</body></html>");
    html
}

/// `text` escaped, with each `quoted` span set as code, as the doc comments write it.
fn prose(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_contract_path() {
        let doc = document();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        for expected in [
            "/users",
            "/users/{id}",
            "/users/bulk",
            "/urls",
            "/urls/{id}",
            "/events",
            "/{code}",
            "/urls/{code}/redirect",
            "/health",
        ] {
            assert!(
                paths.iter().any(|p| *p == expected),
                "{expected} missing from {paths:?}"
            );
        }
    }

    #[test]
    fn quoted_spans_are_set_as_code_and_markup_is_escaped() {
        assert_eq!(
            prose("see `Retry-After` or <b>"),
            "see <code>Retry-After</code> or &lt;b&gt;"
        );
    }

    #[test]
    fn the_reference_page_names_each_operation_without_outside_links() {
        let page = reference_page(&document());
        assert!(page.contains("<code>/users/{id}</code>"));
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains('`'), "quotes left as backticks");
        assert!(!page.contains("<p></p>"), "an operation without a summary");
    }

    fn statuses_of(operation: &utoipa::openapi::path::Operation) -> Vec<&str> {
        operation
            .responses
            .responses
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn every_operation_has_a_one_line_summary_and_only_statuses_it_can_answer() {
        let doc = document();
        for (path, item) in &doc.paths.paths {
            for (method, operation) in [
                ("get", &item.get),
                ("post", &item.post),
                ("put", &item.put),
                ("delete", &item.delete),
            ] {
                let Some(operation) = operation else { continue };
                let summary = operation.summary.as_deref().unwrap_or_default();
                assert!(!summary.is_empty(), "{method} {path} has no summary");
                // A summary is one line of plain text; markup belongs in the description.
                assert!(!summary.contains(['\n', '`']), "{method} {path}: {summary}");
                let statuses = statuses_of(operation);
                if method == "get" && path != "/ready" {
                    assert!(!statuses.contains(&"403"), "{path}: any key reads");
                }
                if method == "delete" {
                    assert!(!statuses.contains(&"413"), "{path}: {statuses:?}");
                }
            }
        }
    }
}
