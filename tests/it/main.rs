//! The integration tests: one binary, real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sandbox;
