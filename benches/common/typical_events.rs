//! The typical measurement events both conversion benchmarks convert (`benches/convert.rs`, the
//! criterion one, and figure 5 of `benches/targets`), so their figures are comparable.

use impulses_gcal::google::model::{Event, EventTime};

/// Events per batch.
pub const BATCH: usize = 1000;

fn at(date_time: String) -> Option<EventTime> {
    Some(EventTime {
        date_time: Some(date_time),
        time_zone: Some("Europe/Warsaw".into()),
        date: None,
    })
}

/// Typical measurement events: `#!Running` with an offset, two dimensions and one or two custom
/// values; every fourth description is HTML as Google's web UI writes it.
pub fn typical_events() -> Vec<Event> {
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

/// CPU time consumed by the calling thread so far.
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant libc knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    std::time::Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or_default(),
        u32::try_from(ts.tv_nsec).unwrap_or_default(),
    )
}
