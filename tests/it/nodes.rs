//! Several server processes on one PostgreSQL database (issue #16): the real binary three times,
//! one sandbox Google, a few dozen connected accounts. A node killed with SIGKILL has its tokens
//! resumed by the others within the lease; a node paused with SIGSTOP past its lease while its
//! calendars change cannot commit what it had listed once it resumes; every node's data API
//! answers the same, and at the end the datapoints are exactly the calendars' conversion.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use impulses_gcal::sandbox::{
    AccountId, Endpoint, EventId, EventPatch, EventSpec, EventTime, Fault, Times,
};

use crate::child::{self, ChildServer};
use crate::support::{test_cluster, wait_for, TEST_CREDENTIALS_KEY};

const ACCOUNTS: usize = 24;
const LEASE_SECS: u64 = 3;
const DEADLINE: Duration = Duration::from_secs(60);

fn start(minute: i64) -> EventTime {
    EventTime::Timed(
        (Utc.with_ymd_and_hms(2026, 1, 5, 7, 0, 0).unwrap() + chrono::Duration::minutes(minute))
            .with_timezone(&chrono_tz::UTC),
    )
}

/// One connected account: its token's plaintext, its event and the event's length in minutes.
struct Person {
    token_id: String,
    plaintext: String,
    account: AccountId,
    event: EventId,
    minutes: i64,
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

/// Each node's tokens, once every token is held by exactly one of `nodes`.
async fn wait_spread(nodes: &[&ChildServer], all: &BTreeSet<String>, what: &str) {
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
        if &seen == all {
            Ok(sizes)
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

/// The duration points of a person, as one node's data API answers.
async fn durations(node: &ChildServer, p: &Person) -> Vec<(i64, i64)> {
    let (r, _) = node
        .call(
            Method::GET,
            "/data/imp.events.duration",
            &[("X-Data-Token", &p.plaintext)],
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

fn expected(p: &Person) -> Vec<(i64, i64)> {
    let EventTime::Timed(at) = start(0) else {
        unreachable!()
    };
    vec![(at.timestamp_millis(), p.minutes * 60_000)]
}

#[actix_web::test]
async fn three_nodes_fail_over_fence_and_agree() {
    let Some(url) = test_cluster::database("three_nodes_fail_over_fence_and_agree") else {
        return;
    };
    let sandbox = child::sandbox(Default::default());
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let env = |i: usize| -> HashMap<String, String> {
        let mut env = child::google_env(&sandbox, &child::data_dir(&dirs[i]));
        env.insert("DATABASE_URL".into(), url.clone());
        env.insert("CREDENTIALS_KEY".into(), TEST_CREDENTIALS_KEY.into());
        env.insert("NODE_ID".into(), format!("node-{i}"));
        env.insert("LEASE_SECS".into(), LEASE_SECS.to_string());
        env.insert("GCAL_POLL_INTERVAL_SECS".into(), "2".into());
        env
    };
    let mut nodes: Vec<Option<ChildServer>> =
        (0..3).map(|i| Some(ChildServer::start(&env(i)))).collect();
    let mut people = Vec::new();
    for i in 0..ACCOUNTS {
        let via = nodes[i % 3].as_ref().unwrap();
        let account = sandbox
            .create_account(&format!("p{i}@example.com"), "UTC")
            .unwrap();
        let event = sandbox
            .insert_event(&account, EventSpec::new("#!Run", start(0), start(30)))
            .unwrap();
        let (token_id, plaintext) = via.token(&format!("u{i}"), "phone").await;
        via.connect(&sandbox, &plaintext, &account).await;
        people.push(Person {
            token_id,
            plaintext,
            account,
            event,
            minutes: 30,
        });
    }
    let all: BTreeSet<String> = people.iter().map(|p| p.token_id.clone()).collect();
    {
        let live: Vec<&ChildServer> = nodes.iter().flatten().collect();
        wait_spread(&live, &all, "three nodes hold every token once").await;
    }

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
        wait_spread(&live, &all, "two nodes resume the killed node's tokens").await;
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
        p.minutes = 45;
        let patch = EventPatch {
            end: Some(start(45)),
            ..EventPatch::default()
        };
        sandbox.patch_event(&p.account, &p.event, patch).unwrap();
    }
    sandbox.clear_faults();
    let first = nodes[0].as_ref().unwrap();
    wait_spread(
        &[first],
        &all,
        "node 0 takes every token over from the paused node",
    )
    .await;
    wait_for(DEADLINE, "node 0 syncs every change", || async {
        for p in &people {
            let got = durations(first, p).await;
            if got != expected(p) {
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
        wait_spread(&live, &all, "every token still held once after the wake-up").await;
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
        let want = expected(p);
        for n in nodes.iter().flatten() {
            assert_eq!(durations(n, p).await, want, "{}", p.token_id);
        }
    }
    let log = nodes[1].as_ref().unwrap().log();
    assert!(!log.contains("panicked"), "{log}");
    // And they settle on an even split, each ready.
    wait_for(
        DEADLINE,
        "the two nodes settle on 12 tokens each",
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
