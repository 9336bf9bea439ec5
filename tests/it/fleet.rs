//! Several nodes on one PostgreSQL database, in one process (issue #16): every connected token
//! is synced by exactly one node, a node that joins gets its share, a node that leaves hands its
//! tokens over, and `/readyz` and `/admin/actors` say who holds what.

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use impulses_gcal::system::Hooks;

use crate::support::{test_cluster, wait_for, TestApp, TEST_CREDENTIALS_KEY};

const DEADLINE: Duration = Duration::from_secs(40);

/// The tokens whose actors run on `app`, as `/admin/actors` lists them.
async fn actors_on(app: &TestApp) -> BTreeSet<String> {
    let r = app.admin(Method::GET, "/admin/actors", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["token_id"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn two_nodes_share_the_tokens_and_one_takes_all_when_the_other_leaves() {
    let _ = env_logger::builder()
        .is_test(true)
        .parse_filters("impulses_gcal=info")
        .try_init();
    let Some(url) = test_cluster::database("two_nodes_share_the_tokens") else {
        return;
    };
    let fleet = [
        ("DATABASE_URL", url.as_str()),
        ("CREDENTIALS_KEY", TEST_CREDENTIALS_KEY),
        ("LEASE_SECS", "3"),
    ];
    let mut one_vars = fleet.to_vec();
    one_vars.push(("NODE_ID", "node-one"));
    let one = TestApp::spawn_google(&one_vars, Hooks::default()).await;
    let ready = one.call(Method::GET, "/readyz", &[], None).await;
    assert!(
        ready.status == StatusCode::OK || ready.status == StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.body
    );
    let mut tokens = BTreeSet::new();
    let mut plaintexts = std::collections::HashMap::new();
    let mut accounts = std::collections::HashMap::new();
    for i in 0..6 {
        let account = one
            .sandbox()
            .create_account(&format!("p{i}@example.com"), "UTC")
            .unwrap();
        let (_, plaintext) = one.token(&format!("u{i}"), "phone", "SUPER").await;
        let id = one.connect(&plaintext, &account).await;
        plaintexts.insert(id.clone(), plaintext);
        accounts.insert(id.clone(), account);
        tokens.insert(id);
    }
    wait_for(DEADLINE, "node one syncs every token", || async {
        let on_one = actors_on(&one).await;
        if on_one == tokens {
            Ok(())
        } else {
            Err(format!("{on_one:?}"))
        }
    })
    .await;
    // Ready from its first tick, a second after it registered.
    wait_for(DEADLINE, "node one ready", || async {
        let r = one.admin(Method::GET, "/admin/actors", None).await;
        assert_eq!(r.body["node"], "node-one");
        if r.body["fleet"]["this_node"]["ready"] == true {
            Ok(())
        } else {
            Err(r.body.to_string())
        }
    })
    .await;

    let two = one.sibling(&[("NODE_ID", "node-two")]).await;
    wait_for(DEADLINE, "the nodes split the tokens 3 and 3", || async {
        let (a, b) = (actors_on(&one).await, actors_on(&two).await);
        let both: BTreeSet<String> = a.union(&b).cloned().collect();
        if a.len() == 3 && b.len() == 3 && a.is_disjoint(&b) && both == tokens {
            Ok(())
        } else {
            Err(format!("one {a:?}, two {b:?}"))
        }
    })
    .await;
    for app in [&one, &two] {
        let r = app.call(Method::GET, "/readyz", &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            (r.body["live_nodes"].as_u64(), r.body["held"].as_u64()),
            (Some(2), Some(3))
        );
    }
    let r = two.admin(Method::GET, "/admin/actors", None).await;
    let nodes: Vec<(String, bool, i64)> = r.body["fleet"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["live"].as_bool().unwrap(),
                n["leases"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("node-one".to_string(), true, 3),
            ("node-two".to_string(), true, 3)
        ]
    );

    // A request for a token node one syncs, sent to node two, reaches node one at once (the
    // poll interval is five minutes).
    let on_one = actors_on(&one).await;
    let t = on_one.iter().next().unwrap().clone();
    let syncs_of_t = || async {
        let r = one
            .admin(Method::GET, &format!("/admin/actors/{t}"), None)
            .await;
        let a = &r.body;
        (a["state"] != "syncing").then(|| a["syncs_ok"].as_u64().unwrap_or(0))
    };
    let before = wait_for(
        DEADLINE,
        "node one's actor of the token is idle",
        || async { syncs_of_t().await.ok_or_else(|| "syncing".to_string()) },
    )
    .await;
    let r = two
        .call(
            Method::POST,
            "/oauth2/google/sync",
            &[("X-Data-Token", plaintexts[&t].as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    wait_for(
        DEADLINE,
        "node one syncs the token node two was asked about",
        || async {
            match syncs_of_t().await {
                Some(n) if n > before => Ok(()),
                other => Err(format!("{other:?} syncs (before: {before})")),
            }
        },
    )
    .await;
    // Node two lists and selects the calendars of a token node one syncs; node one's actor
    // takes the new selection at once.
    let u = on_one.iter().nth(1).unwrap().clone();
    let work = one
        .sandbox()
        .create_calendar(&accounts[&u], "Training", "UTC")
        .unwrap();
    let header = [("X-Data-Token", plaintexts[&u].as_str())];
    let r = two
        .call(Method::GET, "/oauth2/google/calendars", &header, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let listed = r.body["calendars"].as_array().unwrap().len();
    assert_eq!(listed, 2, "{}", r.body);
    let body = format!(r#"{{"selected": ["primary", "{}"]}}"#, work.as_str());
    let r = two
        .call(
            Method::PUT,
            "/oauth2/google/calendars",
            &[header[0], ("Content-Type", "application/json")],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    wait_for(
        DEADLINE,
        "node one's actor syncs both calendars",
        || async {
            let r = one
                .admin(Method::GET, &format!("/admin/actors/{u}"), None)
                .await;
            let synced = r.body["calendars"]
                .as_array()
                .map(|c| c.iter().filter(|c| c["state"] == "ok").count());
            if synced == Some(2) {
                Ok(())
            } else {
                Err(r.body.to_string())
            }
        },
    )
    .await;
    assert!(!actors_on(&two).await.contains(&u), "still node one's");

    // A disconnect through node two stops node one's actor.
    let r = two
        .call(
            Method::DELETE,
            &format!("/oauth2/google/configs/{t}"),
            &[("X-Data-Token", plaintexts[&t].as_str())],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    tokens.remove(&t);
    wait_for(
        DEADLINE,
        "node one stops the disconnected token",
        || async {
            let on_one = actors_on(&one).await;
            if on_one.contains(&t) {
                Err(format!("{on_one:?}"))
            } else {
                Ok(())
            }
        },
    )
    .await;

    // An orderly stop hands the leases back at once: node one has everything within a tick.
    two.stop().await;
    wait_for(DEADLINE, "node one takes every token back", || async {
        let on_one = actors_on(&one).await;
        if on_one == tokens {
            Ok(())
        } else {
            Err(format!("{on_one:?}"))
        }
    })
    .await;
}

#[actix_web::test]
async fn a_node_goes_not_ready_while_the_database_is_down_and_recovers_by_itself() {
    let Some(cluster) = test_cluster::Cluster::own("a_node_goes_not_ready") else {
        return;
    };
    let url = cluster.database();
    let app = TestApp::spawn_google(
        &[
            ("DATABASE_URL", url.as_str()),
            ("CREDENTIALS_KEY", TEST_CREDENTIALS_KEY),
            ("LEASE_SECS", "3"),
            ("NODE_ID", "lonely"),
        ],
        Hooks::default(),
    )
    .await;
    let account = app
        .sandbox()
        .create_account("solo@example.com", "UTC")
        .unwrap();
    let (_, plaintext) = app.token("solo", "phone", "SUPER").await;
    let id = app.connect(&plaintext, &account).await;
    let readiness = || async {
        let r = app.call(Method::GET, "/readyz", &[], None).await;
        (r.status, r.body)
    };
    wait_for(DEADLINE, "ready with the token", || async {
        match readiness().await {
            (StatusCode::OK, b) if b["held"] == 1 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    cluster.stop();
    wait_for(
        DEADLINE,
        "not ready once the leases may have run out",
        || async {
            match readiness().await {
                (StatusCode::SERVICE_UNAVAILABLE, b) if b["detail"].is_string() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(actors_on(&app).await.is_empty(), "no sync without a lease");
    // The data API says plainly that the database is away: no 500, no hang.
    let r = app
        .data(Method::GET, "/data/imp.events.duration", &plaintext, None)
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("database"),
        "{}",
        r.body
    );
    let r = app.call(Method::GET, "/healthz", &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "alive all along");

    cluster.start();
    wait_for(DEADLINE, "ready again, syncing the token", || async {
        match readiness().await {
            (StatusCode::OK, b) if b["held"] == 1 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    wait_for(DEADLINE, "the token's actor runs again", || async {
        let on = actors_on(&app).await;
        if on.contains(&id) {
            Ok(())
        } else {
            Err(format!("{on:?}"))
        }
    })
    .await;
    let r = app
        .data(Method::GET, "/data/imp.events.duration", &plaintext, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The database's latency and the lease takeovers are in /metrics.
    let (_, raw) = crate::support::send(
        &awc::Client::default(),
        Method::GET,
        &app.url("/metrics"),
        &[],
        None,
        1 << 20,
    )
    .await
    .unwrap();
    let metrics = String::from_utf8(raw).unwrap();
    for name in [
        "impulses_gcal_database_seconds_count",
        "impulses_gcal_lease_takeovers_total",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
}

/// A reconnection whose message never reached the owner (its `LISTEN` connection was down): the
/// owner's actor syncs on with the old credentials, its commit is refused as stale and it
/// stops; the next lease tick restarts it from what is stored, and it syncs again.
#[actix_web::test]
async fn a_lost_reconnect_message_is_made_good_by_the_next_tick() {
    let Some(url) = test_cluster::database("a_lost_reconnect_message") else {
        return;
    };
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("CREDENTIALS_KEY", TEST_CREDENTIALS_KEY),
        ("LEASE_SECS", "3"),
        ("NODE_ID", "only"),
    ];
    let app = TestApp::spawn_google(&vars, Hooks::default()).await;
    let account = app
        .sandbox()
        .create_account("p@example.com", "UTC")
        .unwrap();
    let (_, plaintext) = app.token("u", "phone", "SUPER").await;
    let id = app.connect(&plaintext, &account).await;
    app.wait_actor(&id, "the first sync", |a| a["syncs_ok"].as_u64() >= Some(1))
        .await;
    // The connection is replaced in the store, and nobody tells the actor.
    let store = app.store();
    let token = impulses_gcal::token::TokenId::parse(&id).unwrap();
    let mut creds = store.credentials(&token).unwrap().unwrap();
    creds.connection_id = "replaced-behind-its-back".into();
    store.put_credentials(&token, &creds).unwrap();
    // A new event: the actor's next commit is refused as stale and it stops; a tick (every
    // second here) restarts it on the stored connection, and its first sync brings the event.
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let spec = impulses_gcal::sandbox::EventSpec::new(
        "#!Run",
        impulses_gcal::sandbox::EventTime::Timed(start.with_timezone(&chrono_tz::UTC)),
        impulses_gcal::sandbox::EventTime::Timed(
            (start + chrono::Duration::minutes(30)).with_timezone(&chrono_tz::UTC),
        ),
    );
    app.sandbox().insert_event(&account, spec).unwrap();
    wait_for(DEADLINE, "the event synced after the restart", || async {
        app.admin(Method::POST, &format!("/admin/actors/{id}/sync"), None)
            .await;
        let r = app
            .call(
                Method::GET,
                "/data/imp.events.duration",
                &[("X-Data-Token", &plaintext)],
                None,
            )
            .await;
        match r.body.as_array() {
            Some(points) if points.len() == 1 => Ok(()),
            _ => Err(format!("{}; actor {}", r.body, app.actor(&id).await)),
        }
    })
    .await;
}
