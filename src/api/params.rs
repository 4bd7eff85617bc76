//! Path ids and query strings, checked the way the contract wants: a path id that is not a
//! positive integer is a 404 (no such row), a bad filter or paging value a 400.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, Path, Query};
use axum::http::request::Parts;

use super::ApiError;
use crate::store::Page;

/// Rows per page when a client names a `page` but no `per_page`.
pub const DEFAULT_PER_PAGE: i64 = 100;
pub const MAX_PER_PAGE: i64 = 1000;

/// A positive integer id from the path.
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // An id that is not a positive integer names no row: the same 404 as a missing one.
        let what = match parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
        {
            Some(route) if route.starts_with("/users") => "user",
            Some(route) if route.starts_with("/urls") => "link",
            _ => "resource",
        };
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found(what))?;
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Self(id)),
            _ => Err(ApiError::not_found(what)),
        }
    }
}

/// The query string as plain key/value pairs; unknown keys are ignored.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("the query string could not be read"))?;
        let mut map = HashMap::with_capacity(pairs.len());
        for (key, value) in pairs {
            // `?page=1&page=2` is ambiguous: refuse it rather than pick one.
            if map.contains_key(&key) {
                return Err(bad_param(&key, "must be given once"));
            }
            map.insert(key, value);
        }
        Ok(Self(map))
    }
}

impl QueryMap {
    /// A positive integer filter such as `user_id`.
    pub fn id(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.0.get(key) else {
            return Ok(None);
        };
        match raw.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(bad_param(key, "must be a positive integer")),
        }
    }

    /// `true` or `false`, exactly.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(key).map(|raw| raw.trim()) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(bad_param(key, "must be true or false")),
        }
    }

    /// A non-empty string filter.
    pub fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(key).map(|raw| raw.trim()) {
            None => Ok(None),
            Some("") => Err(bad_param(key, "must not be empty")),
            Some(text) if text.contains('\0') => Err(bad_param(key, "must not contain NUL")),
            Some(text) => Ok(Some(text.to_owned())),
        }
    }

    /// `page` (from 1) and `per_page` (1..=1000); neither means the whole list.
    pub fn page(&self) -> Result<Option<Page>, ApiError> {
        let page = self.bounded("page", i64::MAX)?;
        let per_page = self.bounded("per_page", MAX_PER_PAGE)?;
        if page.is_none() && per_page.is_none() {
            return Ok(None);
        }
        let page = page.unwrap_or(1);
        let limit = per_page.unwrap_or(DEFAULT_PER_PAGE);
        let offset = (page - 1).saturating_mul(limit);
        Ok(Some(Page {
            limit,
            offset,
            after: 0,
        }))
    }

    fn bounded(&self, key: &str, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.0.get(key) else {
            return Ok(None);
        };
        match raw.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ if max == i64::MAX => Err(bad_param(key, "must be a positive integer")),
            _ => Err(bad_param(
                key,
                &format!("must be an integer from 1 to {max}"),
            )),
        }
    }
}

fn bad_param(key: &str, what: &str) -> ApiError {
    let details = [(key.to_owned(), what.to_owned())].into_iter().collect();
    ApiError::BadRequest {
        message: format!("invalid query parameter: {key}"),
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryMap {
        QueryMap(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn no_paging_means_the_whole_list() {
        assert_eq!(query(&[]).page().unwrap(), None);
    }

    #[test]
    fn page_one_of_ten_is_the_first_ten_rows() {
        let page = query(&[("page", "1"), ("per_page", "10")]).page().unwrap();
        assert_eq!(
            page,
            Some(Page {
                limit: 10,
                offset: 0,
                after: 0
            })
        );
    }

    #[test]
    fn page_three_skips_two_pages() {
        let page = query(&[("page", "3"), ("per_page", "25")]).page().unwrap();
        assert_eq!(
            page,
            Some(Page {
                limit: 25,
                offset: 50,
                after: 0
            })
        );
    }

    #[test]
    fn out_of_range_or_non_integer_paging_is_refused() {
        for (key, value) in [
            ("page", "0"),
            ("page", "x"),
            ("per_page", "1001"),
            ("per_page", "1.5"),
        ] {
            assert!(query(&[(key, value)]).page().is_err(), "{key}={value}");
        }
    }

    #[test]
    fn a_filter_flag_must_be_exactly_true_or_false() {
        assert_eq!(
            query(&[("is_active", "false")]).flag("is_active").unwrap(),
            Some(false)
        );
        assert!(query(&[("is_active", "1")]).flag("is_active").is_err());
    }
}
