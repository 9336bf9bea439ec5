//! Throughput of the event-to-metric conversion on a batch of typical events.
//!
//! Target: at least 1,000,000 events per second on one core, so that converting even a very
//! large calendar is never the slow part of a sync. Run with
//! `cargo bench --bench convert -- --warm-up-time 1 --measurement-time 3`.
//!
//! Two figures: `typical_events` is wall-clock time, as criterion measures by default;
//! `typical_events_cpu` is the CPU time of the benchmark thread, which stays meaningful on a
//! machine whose cores are shared with other work (the wall clock then also counts the time
//! the thread was waiting for a core).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use impulses_gcal::convert::{convert_event, Conversion, ConvertContext};
use impulses_gcal::google::model::{Event, EventTime};

const BATCH: usize = 1000;

fn at(date_time: String) -> Option<EventTime> {
    Some(EventTime {
        date_time: Some(date_time),
        time_zone: Some("Europe/Warsaw".into()),
        date: None,
    })
}

/// Typical measurement events: `#!Running` with an offset, two dimensions and one or two custom
/// values; every fourth description is HTML as Google's web UI writes it.
fn typical_events() -> Vec<Event> {
    (0..BATCH)
        .map(|i| {
            let day = 1 + i % 28;
            let hour = 6 + i % 12;
            let description = match i % 4 {
                0 => {
                    "where:park<br>shoes: <b>Pegasus</b><br>distance=10000<br>pace&nbsp;=&nbsp;5.5"
                        .to_owned()
                }
                1 => format!("where: Central Park\nshoes: Pegasus\ndistance={}", 5000 + i),
                2 => format!("where:park\nshoes:Pegasus\ndistance={i}\nkcal = 6.5e2"),
                _ => format!("where : lake\nshoes : trail\nelevation=+{i}.5"),
            };
            Event {
                id: format!("ev{i:06}"),
                summary: Some("#!Running".into()),
                description: Some(description),
                start: at(format!("2026-03-{day:02}T{hour:02}:00:00+01:00")),
                end: at(format!("2026-03-{day:02}T{hour:02}:45:30+01:00")),
                ..Event::default()
            }
        })
        .collect()
}

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
    group.finish();
}

/// CPU time consumed by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant libc knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or_default(),
        u32::try_from(ts.tv_nsec).unwrap_or_default(),
    )
}

criterion_group!(benches, bench_convert);
criterion_main!(benches);
