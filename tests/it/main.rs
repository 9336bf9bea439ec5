//! One integration-test binary: shared helpers link once, real HTTP everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod binary;
mod calendar_routes;
mod calendars;
mod child;
mod connection;
mod crash;
mod data_api;
mod demo;
mod durability;
mod flow;
mod hostile;
mod leak;
mod load;
mod migration;
mod oauth;
mod openapi;
mod push;
mod sandbox;
mod schema2;
mod schema3;
mod selection_migration;
mod support;
mod sync;
mod timeout;
