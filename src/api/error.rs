//! The one error type of the HTTP edge. Every failure a client sees is one of these variants,
//! rendered as `{"error": "...", "details": {...}}` with the status each variant documents.

use std::collections::BTreeMap;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use crate::store::StoreError;
use crate::telemetry::causes;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; `details` names each bad field.
    #[error("{message}")]
    BadRequest {
        message: String,
        details: BTreeMap<String, String>,
    },
    /// 401: API keys are configured and the request has none.
    #[error("this call needs an API key: send Authorization: Bearer <key>")]
    Unauthorized,
    /// 401: the request's key is not one hop knows (mistyped, revoked, or from another
    /// installation).
    #[error("this API key is not valid: it is unknown or was revoked")]
    UnknownKey,
    /// 403: the key's scope does not cover the call; names the scope needed.
    #[error("this call needs a key with the {0} scope")]
    Forbidden(&'static str),
    /// 404: the path or the named row does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: a uniqueness rule would be broken.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the limit.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// 429 with `Retry-After`: this client wrote too often.
    #[error("too many requests: slow down and retry after {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// 503 with `Retry-After`: the request ran past hop's deadline.
    #[error("the request took too long; retry shortly")]
    Timeout,
    /// 503 with `Retry-After`: the database is not answering, or gave up this request's
    /// transaction in a conflict with a concurrent one. The cause goes to the log only.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 500: a bug or an unexpected database answer. The cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: BTreeMap::new(),
        }
    }

    pub fn invalid_fields(details: BTreeMap<String, String>) -> Self {
        let fields: Vec<&str> = details.keys().map(String::as_str).collect();
        let message = format!("invalid fields: {}", fields.join(", "));
        Self::BadRequest { message, details }
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a BTreeMap<String, String>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, Self::Unavailable(_) | Self::Internal(_)) {
            metrics::counter!("hop_db_errors_total").increment(1);
        }
        match &self {
            Self::Unavailable(cause) if crate::store::is_conflict(cause.as_ref()) => {
                tracing::warn!(
                    error = causes(cause.as_ref()),
                    "change given up in a conflict with a concurrent one"
                );
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = causes(cause.as_ref()), "database unavailable");
            }
            Self::Internal(cause) => {
                tracing::error!(error = causes(cause.as_ref()), "internal error")
            }
            _ => {}
        }
        let details = match &self {
            Self::BadRequest { details, .. } if !details.is_empty() => Some(details),
            _ => None,
        };
        let error = match &self {
            Self::Unavailable(cause) if crate::store::is_storage_full(cause.as_ref()) => {
                "the database's storage is full: it cannot take writes until space is freed"
                    .to_owned()
            }
            Self::Unavailable(cause) if crate::store::is_conflict(cause.as_ref()) => {
                "the change collided with a concurrent one and was not made; retry it".to_owned()
            }
            Self::Unavailable(_) => "the database is not answering; retry shortly".to_owned(),
            other => other.to_string(),
        };
        let mut response = (self.status(), Json(ErrorBody { error, details })).into_response();
        let retry_after = match &self {
            Self::Unavailable(_) | Self::Timeout => Some(1),
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // RFC 6750: a 401 names the scheme it wants, and says when the token was refused.
        let challenge = match &self {
            Self::Unauthorized => Some("Bearer"),
            Self::UnknownKey => Some("Bearer error=\"invalid_token\""),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Unavailable(_) => Self::Unavailable(err.into()),
            StoreError::Database(_) => Self::Internal(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_conflict_becomes_a_409_with_its_message() {
        let err = ApiError::from(StoreError::Conflict("email is already taken".into()));
        assert_eq!(err.status(), StatusCode::CONFLICT);
        assert_eq!(err.to_string(), "email is already taken");
    }

    #[test]
    fn an_unavailable_database_becomes_a_503_with_retry_after() {
        let err = ApiError::from(StoreError::from(sqlx::Error::PoolTimedOut));
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
