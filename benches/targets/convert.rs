//! Figure 5: conversion throughput on one core, on the same typical events and with the same
//! clock (the thread's CPU time) as the criterion benchmark `benches/convert.rs`.

use std::hint::black_box;

use impulses_gcal::convert::{convert_event, ConvertContext};

#[path = "../common/typical_events.rs"]
mod typical_events;

use crate::table::{number, Goal, Row};
use typical_events::{thread_cpu_time, typical_events, BATCH};

/// `runs` runs of `batches` batches each; events per CPU second of each run.
pub fn run(runs: usize, batches: usize) -> Row {
    let events = typical_events();
    let ctx = ConvertContext::default();
    for event in &events {
        black_box(convert_event(event, &ctx));
    }
    let rates = (0..runs)
        .map(|_| {
            let start = thread_cpu_time();
            for _ in 0..batches {
                for event in &events {
                    black_box(convert_event(black_box(event), &ctx));
                }
            }
            (batches * BATCH) as f64 / (thread_cpu_time() - start).as_secs_f64()
        })
        .collect();
    Row::new(
        format!(
            "5. conversion of typical events, one core ({} per run)",
            number((batches * BATCH) as f64)
        ),
        "events/s",
        Goal::AtLeast(1_000_000.0),
        rates,
    )
}
