//! The sandbox Google, driven over real HTTP with awc.

mod admin;
mod calendar_admin;
mod calendar_copies;
mod calendars;
mod faults;
mod list;
mod oauth;
mod perf;
mod push;
mod push_delivery;
mod push_support;
mod recurring;
mod support;
