//! impulses-gcal: turns Google Calendar events into Impulses time-series metrics.

pub mod metric;
pub mod sandbox;
