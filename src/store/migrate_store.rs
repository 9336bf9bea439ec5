//! `impulses-gcal migrate-store`: copies a sled store into an empty PostgreSQL database, so a
//! single node can grow into a fleet. Everything is read from sled, written in one PostgreSQL
//! transaction, read back and compared record by record (counts and a SHA-256 over every
//! record in canonical order) before the command reports success.

use std::path::Path;

use super::keyring::KEY_FILE;
use super::postgres::{Database, PgStore};
use super::snapshot::Summary;
use super::{CredentialKeys, SledStore, StoreError, StoreOptions};

/// Copies the sled store in `from` into the empty database `to` and verifies the copy.
///
/// The sled store opens with its key file when it has one, else with `keys.current`; the
/// database's secrets are sealed under `keys.current` (required), so a store that used a key
/// file moves onto `CREDENTIALS_KEY` on the way. The sled store is only read (an older schema is
/// brought up to date first, as any open does).
pub fn migrate_store(
    from: &Path,
    keys: &CredentialKeys,
    to: &Database,
) -> Result<Summary, StoreError> {
    if keys.current.is_none() {
        return Err(StoreError::KeyRequired);
    }
    if !from.is_dir() {
        return Err(StoreError::Io {
            path: from.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
        });
    }
    let source_keys = if from.join(KEY_FILE).exists() {
        CredentialKeys::default()
    } else {
        keys.clone()
    };
    let source = SledStore::open_with(
        from,
        &StoreOptions {
            keys: source_keys,
            ..StoreOptions::default()
        },
    )?;
    let snapshot = source.export()?;
    drop(source);
    let target = PgStore::open(to, keys)?;
    target.import(&snapshot)?;
    let copied = snapshot.summary();
    let read_back = target.export()?.summary();
    if read_back != copied {
        return Err(StoreError::corrupt(format!(
            "the copy does not read back as written: wrote {:?} ({}), read {:?} ({})",
            copied.counts, copied.digest, read_back.counts, read_back.digest
        )));
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::MetricName;
    use crate::secret::Secret;
    use crate::store::postgres::test_cluster;
    use crate::store::sync_commit::tests::point;
    use crate::store::{
        test_credentials, Changes, CredentialKey, NewToken, PendingAuthorization, PushChannel,
        SyncCommit, SyncState, TimeRange,
    };
    use crate::token::Capability;

    #[test]
    fn a_store_with_every_kind_of_record_moves_over_whole() {
        let Some(url) = test_cluster::database("a_store_with_every_kind_of_record_moves_over")
        else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        // The sled store uses a key file, as a default single node does.
        let sled = SledStore::open(&path).unwrap();
        let new = |user: &str| NewToken {
            user: user.into(),
            name: "phone".into(),
            capability: Capability::Super,
            expires_at: 4_000_000_000,
        };
        let (ann, ann_plain) = sled.create_token(new("ann"), 1).unwrap();
        let (bob, _) = sled.create_token(new("bob"), 2).unwrap();
        let mut creds = test_credentials("c1");
        creds.refresh_token = Secret::new("refresh-ann".into());
        sled.put_credentials(&ann.id, &creds).unwrap();
        sled.select_calendars(&ann.id, "c1", &["primary".into(), "work".into()])
            .unwrap();
        let d = "imp.events.duration";
        sled.commit_sync(&SyncCommit {
            connection_id: "c1".into(),
            full: true,
            changes: Changes::of(
                "ann",
                &ann.id,
                vec![
                    (
                        "e1".to_string(),
                        vec![
                            point(d, "e1", 1_000, 60.0),
                            point("imp.events.custom.km", "e1", 1_000, 5.0),
                        ],
                    ),
                    ("e2".to_string(), vec![point(d, "e2", 2_000, 30.0)]),
                ],
            ),
            state: SyncState {
                calendar_id: "primary".into(),
                sync_token: Some("sync-1".into()),
                ..SyncState::default()
            },
            notices: vec![],
            fence: None,
        })
        .unwrap();
        let weight = MetricName::new("weight").unwrap();
        sled.upsert_datapoints("bob", &weight, &[point("weight", "x", -5, 70.5).point])
            .unwrap();
        sled.put_pending_authorization(
            "state-1",
            &PendingAuthorization {
                token_id: bob.id.clone(),
                verifier: Secret::new("verifier-bob".into()),
                created_at: 4_000_000_000,
            },
            4_000_000_000,
        )
        .unwrap();
        let channel = PushChannel {
            id: "ch-1".into(),
            resource_id: "res-1".into(),
            secret: Secret::new("push-secret".into()),
            expiration_ms: 9,
            slot: 0,
            calendar_id: "primary".into(),
            opened_ms: 1,
        };
        sled.put_channel(&ann.id, &channel).unwrap();
        let before = sled.export().unwrap();
        sled.flush().unwrap();
        drop(sled);

        let keys = CredentialKeys {
            current: Some(CredentialKey::generate().unwrap()),
            previous: None,
        };
        let db = Database::parse(&url, 2).unwrap();
        let summary = migrate_store(&path, &keys, &db).unwrap();
        assert_eq!(summary, before.summary());
        assert_eq!(
            summary.counts,
            [
                ("tokens", 2),
                ("google_credentials", 1),
                ("selections", 1),
                ("event_index", 2),
                ("datapoints", 4),
                ("oauth_states", 1),
                ("push_channels", 1),
            ]
        );
        // The new store works as the old one did.
        let pg = PgStore::open(&db, &keys).unwrap();
        assert_eq!(
            pg.find_token_by_plaintext(ann_plain.expose()).unwrap(),
            Some(ann.clone())
        );
        assert_eq!(
            pg.credentials(&ann.id)
                .unwrap()
                .unwrap()
                .refresh_token
                .expose(),
            "refresh-ann"
        );
        let durations = pg
            .read_datapoints("ann", &MetricName::new(d).unwrap(), TimeRange::default())
            .unwrap();
        assert_eq!(
            durations.iter().map(|p| p.value).collect::<Vec<_>>(),
            [60.0, 30.0]
        );
        let selection = pg.selection(&ann.id).unwrap();
        assert_eq!(selection.calendars.len(), 2);
        assert_eq!(selection.calendars[0].sync_token.as_deref(), Some("sync-1"));
        assert_eq!(pg.channels(&ann.id).unwrap(), vec![channel]);
        let pending = pg
            .take_pending_authorization("state-1", 4_000_000_001)
            .unwrap();
        assert_eq!(pending.unwrap().verifier.expose(), "verifier-bob");
        // An incremental commit on the copied index removes what the sled sync wrote.
        pg.commit_sync(&SyncCommit {
            connection_id: "c1".into(),
            full: false,
            changes: Changes::of("ann", &ann.id, vec![("e1".to_string(), vec![])]),
            state: SyncState {
                slot: 0,
                calendar_id: "primary".into(),
                sync_token: Some("sync-2".into()),
                ..SyncState::default()
            },
            notices: vec![],
            fence: None,
        })
        .unwrap();
        assert_eq!(pg.list_metrics("ann").unwrap(), [d]);
        drop(pg);
        // A second copy into the same database is refused and changes nothing.
        let again = migrate_store(&path, &keys, &db).err();
        assert!(
            matches!(&again, Some(StoreError::Conflict(m)) if m.contains("not empty")),
            "{again:?}"
        );
    }

    #[test]
    fn a_copy_needs_a_key_and_a_store() {
        let db = Database::parse("postgres://u@127.0.0.1:1/x", 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            migrate_store(dir.path(), &CredentialKeys::default(), &db),
            Err(StoreError::KeyRequired)
        ));
        let keys = CredentialKeys {
            current: Some(CredentialKey::generate().unwrap()),
            previous: None,
        };
        let missing = migrate_store(&dir.path().join("nope"), &keys, &db).err();
        assert!(
            matches!(missing, Some(StoreError::Io { .. })),
            "{missing:?}"
        );
    }
}
