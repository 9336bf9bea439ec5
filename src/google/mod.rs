//! Google: the outbound client, the OAuth client, the Calendar API, and the classification of
//! their answers. All network I/O to Google lives here.

pub mod calendar;
pub mod calendar_list;
pub mod error;
pub mod http;
pub mod model;
pub mod oauth;
pub mod push;
pub mod scopes;

#[cfg(test)]
mod hostile_tests;
