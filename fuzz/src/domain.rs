//! hop's `src/domain/{short_code,target_url}.rs`, included as they are.

/// Mirrors `hop::domain::Invalid`, the only item the included files take from their parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

#[path = "../../src/domain/short_code.rs"]
mod short_code;
#[path = "../../src/domain/target_url.rs"]
mod target_url;

pub use short_code::ShortCode;
pub use target_url::{Origin, TargetUrl};
