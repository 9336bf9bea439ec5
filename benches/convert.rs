//! Throughput of the event-to-metric conversion on a batch of typical events.
//!
//! Target: at least 1,000,000 events per second on one core, so that converting even a very
//! large calendar is never the slow part of a sync. Run with
//! `cargo bench --bench convert -- --warm-up-time 1 --measurement-time 3`.
//!
//! Two figures: `typical_events` is wall-clock time, as criterion measures by default;
//! `typical_events_cpu` is the CPU time of the benchmark thread, which stays meaningful on a
//! machine whose cores are shared with other work (the wall clock then also counts the time
//! the thread was waiting for a core). `convert_and_encode_cpu` also encodes each event's
//! points for the store, as a sync does with every page (`Changes::push`), in CPU time too.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use impulses_gcal::convert::{convert_event, Conversion, ConvertContext};
use impulses_gcal::store::Changes;
use impulses_gcal::token::TokenId;

#[path = "common/typical_events.rs"]
mod typical_events;

use typical_events::{thread_cpu_time, typical_events, BATCH};

/// The allocator `src/main.rs` runs the server with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_convert(c: &mut Criterion) {
    let events = typical_events();
    let ctx = ConvertContext::default();
    let converted = events
        .iter()
        .filter(|e| matches!(convert_event(e, &ctx), Conversion::Points(ref p) if p.len() >= 2))
        .count();
    assert_eq!(converted, BATCH, "every benchmark event must convert");

    let mut group = c.benchmark_group("convert");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("typical_events", |b| {
        b.iter(|| {
            for event in &events {
                black_box(convert_event(black_box(event), &ctx));
            }
        })
    });
    group.bench_function("typical_events_cpu", |b| {
        b.iter_custom(|iterations| {
            let start = thread_cpu_time();
            for _ in 0..iterations {
                for event in &events {
                    black_box(convert_event(black_box(event), &ctx));
                }
            }
            thread_cpu_time().saturating_sub(start)
        })
    });
    let owner = TokenId::generate();
    group.bench_function("convert_and_encode_cpu", |b| {
        b.iter_custom(|iterations| {
            let start = thread_cpu_time();
            for _ in 0..iterations {
                let mut changes = Changes::new("bench", &owner);
                for event in &events {
                    if let Conversion::Points(points) = convert_event(black_box(event), &ctx) {
                        changes.push(event.id.clone(), &points);
                    }
                }
                black_box(&changes);
            }
            thread_cpu_time().saturating_sub(start)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_convert);
criterion_main!(benches);
