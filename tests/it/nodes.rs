//! Several server processes on one PostgreSQL database (issue #16): the real binary three times,
//! one sandbox Google, a few hundred connected accounts. A node killed with SIGKILL has its tokens
//! resumed by the others within the lease; a node paused with SIGSTOP past its lease while its
//! calendars change cannot commit what it had listed once it resumes; every node's data API
//! answers the same, and at the end the datapoints are exactly the calendars' conversion. A
//! rolling restart of every node, with calendars changed and data written throughout, loses and
//! duplicates nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use impulses_gcal::sandbox::{
    AccountId, Endpoint, EventId, EventPatch, EventSpec, EventTime, Fault, Sandbox, Times,
};

use crate::child::{self, ChildServer};
use crate::support::{test_cluster, wait_for, TEST_CREDENTIALS_KEY};

/// A few hundred, divisible by 2 and 3 (the nodes' even shares).
const ACCOUNTS: usize = 240;
const LEASE_SECS: u64 = 3;
const DEADLINE: Duration = Duration::from_secs(60);

fn start(minute: i64) -> EventTime {
    EventTime::Timed(
        (Utc.with_ymd_and_hms(2026, 1, 5, 7, 0, 0).unwrap() + chrono::Duration::minutes(minute))
            .with_timezone(&chrono_tz::UTC),
    )
}

/// One connected account: its token's plaintext and its events, each with its start and length in
/// minutes.
struct Person {
    token_id: String,
    plaintext: String,
    account: AccountId,
    events: BTreeMap<EventId, (i64, i64)>,
}

impl Person {
    /// Adds a `#!Run` event of `minutes` at `start_minute` to the calendar.
    fn add(&mut self, sandbox: &Sandbox, start_minute: i64, minutes: i64) {
        let spec = EventSpec::new("#!Run", start(start_minute), start(start_minute + minutes));
        let id = sandbox.insert_event(&self.account, spec).unwrap();
        self.events.insert(id, (start_minute, minutes));
    }

    /// Gives every event of the calendar a new length.
    fn lengthen_all(&mut self, sandbox: &Sandbox, minutes: i64) {
        for (id, (at, length)) in self.events.iter_mut() {
            *length = minutes;
            let patch = EventPatch {
                end: Some(start(*at + minutes)),
                ..EventPatch::default()
            };
            sandbox.patch_event(&self.account, id, patch).unwrap();
        }
    }

    /// Deletes the calendar's earliest event.
    fn delete_first(&mut self, sandbox: &Sandbox) {
        let first = self
            .events
            .iter()
            .min_by_key(|(_, (at, _))| *at)
            .map(|(id, _)| id.clone());
        if let Some(id) = first {
            sandbox.delete_event(&self.account, &id).unwrap();
            self.events.remove(&id);
        }
    }

    /// The duration points the calendar converts to, as the data API sorts them.
    fn expected(&self) -> Vec<(i64, i64)> {
        let mut points: Vec<(i64, i64)> = self
            .events
            .values()
            .map(|&(at, minutes)| {
                let EventTime::Timed(t) = start(at) else {
                    unreachable!()
                };
                (t.timestamp_millis(), minutes * 60_000)
            })
            .collect();
        points.sort();
        points
    }
}

/// Three nodes' settings on one database: node `i` is `node-{i}`.
struct Fleet {
    sandbox: Sandbox,
    url: String,
    dirs: Vec<tempfile::TempDir>,
}

impl Fleet {
    fn new(url: String) -> Self {
        Self {
            sandbox: child::sandbox(Default::default()),
            url,
            dirs: (0..3).map(|_| tempfile::tempdir().unwrap()).collect(),
        }
    }

    fn env(&self, i: usize) -> HashMap<String, String> {
        let mut env = child::google_env(&self.sandbox, &child::data_dir(&self.dirs[i]));
        env.insert("DATABASE_URL".into(), self.url.clone());
        env.insert("CREDENTIALS_KEY".into(), TEST_CREDENTIALS_KEY.into());
        env.insert("NODE_ID".into(), format!("node-{i}"));
        env.insert("LEASE_SECS".into(), LEASE_SECS.to_string());
        env.insert("GCAL_POLL_INTERVAL_SECS".into(), "2".into());
        env
    }

    fn start(&self, i: usize) -> ChildServer {
        ChildServer::start(&self.env(i))
    }

    /// Starts the three nodes, connects `ACCOUNTS` people through them and waits until every
    /// token is held once.
    async fn start_all(&self) -> (Vec<Option<ChildServer>>, Vec<Person>, BTreeSet<String>) {
        let nodes: Vec<Option<ChildServer>> = (0..3).map(|i| Some(self.start(i))).collect();
        let people = self.connect_people(&nodes).await;
        let all: BTreeSet<String> = people.iter().map(|p| p.token_id.clone()).collect();
        let up: Vec<&ChildServer> = nodes.iter().flatten().collect();
        wait_spread(&up, &all, false, "three nodes hold every token once").await;
        (nodes, people, all)
    }

    /// Creates and connects `ACCOUNTS` accounts through the nodes in turn, each with one
    /// 30-minute event.
    async fn connect_people(&self, nodes: &[Option<ChildServer>]) -> Vec<Person> {
        let mut people = Vec::new();
        for i in 0..ACCOUNTS {
            let via = nodes[i % nodes.len()].as_ref().unwrap();
            let account = self
                .sandbox
                .create_account(&format!("p{i}@example.com"), "UTC")
                .unwrap();
            let (token_id, plaintext) = via.token(&format!("u{i}"), "phone").await;
            let mut p = Person {
                token_id,
                plaintext,
                account,
                events: BTreeMap::new(),
            };
            p.add(&self.sandbox, 0, 30);
            via.connect(&self.sandbox, &p.plaintext, &p.account).await;
            people.push(p);
        }
        people
    }
}

async fn actors_on(node: &ChildServer) -> BTreeSet<String> {
    let r = node.admin(Method::GET, "/admin/actors", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["token_id"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until every token is held by exactly one of `nodes` (and, when `even`, each node holds
/// its equal share).
async fn wait_spread(nodes: &[&ChildServer], all: &BTreeSet<String>, even: bool, what: &str) {
    wait_for(DEADLINE, what, || async {
        let mut seen = BTreeSet::new();
        let mut sizes = Vec::new();
        for n in nodes {
            let mine = actors_on(n).await;
            sizes.push(mine.len());
            for t in mine {
                if !seen.insert(t.clone()) {
                    return Err(format!("{t} runs on two nodes"));
                }
            }
        }
        let share = all.len() / nodes.len();
        if &seen == all && (!even || sizes.iter().all(|&n| n == share)) {
            Ok(())
        } else {
            Err(format!(
                "{} of {} tokens held; per node {sizes:?}",
                seen.len(),
                all.len()
            ))
        }
    })
    .await;
}

/// (timestamp, value) of every point of `metric` that one node's data API answers `token`.
async fn points(node: &ChildServer, metric: &str, token: &str) -> Vec<(i64, i64)> {
    let (r, _) = node
        .call(
            Method::GET,
            &format!("/data/{metric}"),
            &[("X-Data-Token", token)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["timestamp"].as_i64().unwrap(),
                x["value"].as_f64().unwrap() as i64,
            )
        })
        .collect()
}

/// The duration points of a person, as one node's data API answers.
async fn durations(node: &ChildServer, p: &Person) -> Vec<(i64, i64)> {
    points(node, "imp.events.duration", &p.plaintext).await
}

#[actix_web::test]
async fn three_nodes_fail_over_fence_and_agree() {
    let Some(url) = test_cluster::database("three_nodes_fail_over_fence_and_agree") else {
        return;
    };
    let fleet = Fleet::new(url);
    let sandbox = &fleet.sandbox;
    let (mut nodes, mut people, all) = fleet.start_all().await;

    // From here every list call is slow, so two syncs of one account at once would overlap in
    // the sandbox's count; the connect phase (where an actor may restart mid-call) is over.
    sandbox.inject_fault(
        Fault::latency(Endpoint::List, Duration::from_millis(100)).times(Times::UntilCleared),
    );
    sandbox.reset_concurrent_lists();
    // SIGKILL one node: the other two resume its tokens within the lease.
    nodes[2].take().unwrap().kill();
    {
        let live: Vec<&ChildServer> = nodes.iter().flatten().collect();
        wait_spread(
            &live,
            &all,
            false,
            "two nodes resume the killed node's tokens",
        )
        .await;
    }
    // A few poll rounds of every token (polled every 2 s) on the two nodes.
    let lists = || sandbox.counters().list_calls();
    let before = lists();
    wait_for(DEADLINE, "every token polled a few times more", || async {
        let n = lists();
        if n >= before + 3 * ACCOUNTS as u64 {
            Ok(())
        } else {
            Err(format!("{} list calls since", n - before))
        }
    })
    .await;
    assert_eq!(
        sandbox.counters().most_concurrent_lists_of_one_account,
        1,
        "an account was listed by two nodes at once"
    );
    sandbox.clear_faults();

    // Pause node 1 with its syncs slowed down (likely mid-listing), past its lease; change
    // every calendar meanwhile; node 0 takes over and syncs the changes.
    sandbox.inject_fault(
        Fault::latency(Endpoint::List, Duration::from_millis(400)).times(Times::UntilCleared),
    );
    let paused = nodes[1].as_ref().unwrap();
    paused.signal(libc::SIGSTOP);
    for p in people.iter_mut() {
        p.lengthen_all(sandbox, 45);
    }
    sandbox.clear_faults();
    let first = nodes[0].as_ref().unwrap();
    wait_spread(
        &[first],
        &all,
        false,
        "node 0 takes every token over from the paused node",
    )
    .await;
    wait_for(DEADLINE, "node 0 syncs every change", || async {
        for p in &people {
            let got = durations(first, p).await;
            if got != p.expected() {
                return Err(format!("{}: {got:?}", p.token_id));
            }
        }
        Ok(())
    })
    .await;
    // Node 1 wakes up: it asks for no further page, whatever it had listed is refused, and it
    // rejoins.
    paused.signal(libc::SIGCONT);
    {
        let live: Vec<&ChildServer> = nodes.iter().flatten().collect();
        wait_spread(
            &live,
            &all,
            false,
            "every token still held once after the wake-up",
        )
        .await;
    }
    // The woken node asked for no page once its leases had run out: still no account listed
    // by two nodes at once, the SIGSTOP phase included.
    assert_eq!(
        sandbox.counters().most_concurrent_lists_of_one_account,
        1,
        "an account was listed by two nodes at once"
    );
    // Every node answers the same, and exactly the calendars' conversion.
    for p in &people {
        let want = p.expected();
        for n in nodes.iter().flatten() {
            assert_eq!(durations(n, p).await, want, "{}", p.token_id);
        }
    }
    let log = nodes[1].as_ref().unwrap().log();
    assert!(!log.contains("panicked"), "{log}");
    // And they settle on an even split, each ready.
    wait_for(
        DEADLINE,
        "the two nodes settle on half the tokens each",
        || async {
            let mut by_node: BTreeMap<String, u64> = BTreeMap::new();
            for n in nodes.iter().flatten() {
                let r = n.call(Method::GET, "/readyz", &[], None).await.0;
                if r.status != StatusCode::OK {
                    return Err(format!("{}", r.body));
                }
                by_node.insert(
                    r.body["node"].as_str().unwrap_or("?").into(),
                    r.body["held"].as_u64().unwrap_or(0),
                );
            }
            if by_node.values().all(|&n| n == (ACCOUNTS / 2) as u64) {
                Ok(())
            } else {
                Err(format!("{by_node:?}"))
            }
        },
    )
    .await;
    for n in nodes.into_iter().flatten() {
        n.stop();
    }
}

/// Changes some calendars (round `round` decides which): adds an event, lengthens every event
/// or deletes the earliest.
fn change(sandbox: &Sandbox, people: &mut [Person], round: usize, next_minute: &mut i64) {
    for (j, p) in people.iter_mut().enumerate() {
        match (j + round) % 3 {
            0 => {
                p.add(sandbox, *next_minute, 20);
                *next_minute += 60;
            }
            1 => p.lengthen_all(sandbox, 10 + round as i64),
            _ if p.events.len() > 1 => p.delete_first(sandbox),
            _ => {}
        }
    }
}

/// Writes one point of `weight` through `node`; it is acknowledged, so it must never be lost.
async fn write(node: &ChildServer, token: &str, written: &mut Vec<(i64, i64)>) {
    let at = written.len() as i64 * 1000;
    let body = format!(r#"[{{"timestamp":{at},"dimensions":{{}},"value":{at}}}]"#);
    let (r, _) = node
        .call(
            Method::POST,
            "/data/weight",
            &[("X-Data-Token", token)],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    written.push((at, at));
}

#[actix_web::test]
async fn a_rolling_restart_of_every_node_loses_and_duplicates_nothing() {
    let Some(url) = test_cluster::database("a_rolling_restart_of_every_node") else {
        return;
    };
    let fleet = Fleet::new(url);
    let sandbox = &fleet.sandbox;
    let (mut nodes, mut people, all) = fleet.start_all().await;
    {
        let up: Vec<&ChildServer> = nodes.iter().flatten().collect();
        wait_spread(&up, &all, true, "three nodes share the tokens").await;
    }
    sandbox.inject_fault(
        Fault::latency(Endpoint::List, Duration::from_millis(50)).times(Times::UntilCleared),
    );
    sandbox.reset_concurrent_lists();
    let writer = people[0].plaintext.clone();
    let mut written = Vec::new();
    let mut next_minute = 60;
    for i in 0..3 {
        // Changes and a write just before node i stops, through node i.
        change(sandbox, &mut people, 2 * i, &mut next_minute);
        write(nodes[i].as_ref().unwrap(), &writer, &mut written).await;
        let log = nodes[i].take().unwrap().stop();
        assert!(!log.contains("panicked"), "{log}");
        // While it is down: more changes, a write through another node, and the other two hold
        // every token.
        change(sandbox, &mut people, 2 * i + 1, &mut next_minute);
        write(nodes[(i + 1) % 3].as_ref().unwrap(), &writer, &mut written).await;
        {
            let up: Vec<&ChildServer> = nodes.iter().flatten().collect();
            wait_spread(&up, &all, false, "two nodes hold every token").await;
        }
        // Node i comes back under its own name, takes a write at once and gets its share.
        nodes[i] = Some(fleet.start(i));
        write(nodes[i].as_ref().unwrap(), &writer, &mut written).await;
        let up: Vec<&ChildServer> = nodes.iter().flatten().collect();
        wait_spread(&up, &all, true, "the restarted node gets its share back").await;
    }
    sandbox.clear_faults();
    // Every node answers exactly the calendars' conversion and every acknowledged write.
    wait_for(
        DEADLINE,
        "every node answers every calendar's state",
        || async {
            for p in &people {
                for n in nodes.iter().flatten() {
                    let got = durations(n, p).await;
                    if got != p.expected() {
                        return Err(format!("{} on {}: {got:?}", p.token_id, n.base));
                    }
                }
            }
            Ok(())
        },
    )
    .await;
    for n in nodes.iter().flatten() {
        assert_eq!(points(n, "weight", &writer).await, written, "{}", n.base);
    }
    assert_eq!(
        sandbox.counters().most_concurrent_lists_of_one_account,
        1,
        "an account was listed by two nodes at once"
    );
    sandbox.assert_no_violations();
    for n in nodes.into_iter().flatten() {
        let log = n.stop();
        assert!(!log.contains("panicked"), "{log}");
    }
}
