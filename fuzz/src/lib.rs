//! hop's validated values, compiled on their own for fuzzing.
//!
//! The fuzz targets need `ShortCode` and `TargetUrl`, not the service around them. Building
//! all of hop with sanitizer instrumentation takes most of half an hour on a 2-core machine
//! (sqlx, axum, redis, ... all instrumented), and would break whenever the rest of hop is
//! mid-change. So this crate compiles hop's own source files for those two types, byte for
//! byte, next to a copy of the one item they import from their parent module (`Invalid`).
//! If those files start to need more of hop, this build fails loudly rather than drifting.

pub mod domain;
