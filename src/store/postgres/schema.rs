//! The PostgreSQL schema: numbered migrations, applied at open in one transaction that holds
//! the `schema_lock` row, so nodes starting together apply each exactly once (the others wait on
//! the row, then find it done). A row lock, not an advisory lock: it behaves the same on
//! PostgreSQL-compatible engines that have none.
//!
//! Sealed columns hold the same AEAD records as the sled engine's trees, under the same
//! contexts ([`super::context_key`]), so `migrate-store` can copy them without opening them.

use tokio_postgres::Client;

use super::pool::query_error;
use crate::store::StoreError;

/// Every migration, in order; the schema's version is the number of migrations applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (
        key text PRIMARY KEY,
        value bytea NOT NULL
    );
    CREATE TABLE tokens (
        id text PRIMARY KEY,
        user_name text NOT NULL,
        name text NOT NULL,
        capability text NOT NULL,
        expires_at bigint NOT NULL,
        created_at bigint NOT NULL,
        hash bytea NOT NULL UNIQUE,
        UNIQUE (user_name, name)
    );
    CREATE TABLE google_credentials (
        token_id text PRIMARY KEY,
        sealed bytea NOT NULL
    );
    CREATE TABLE selections (
        token_id text PRIMARY KEY,
        record bytea NOT NULL
    );
    CREATE TABLE event_index (
        token_id text NOT NULL,
        event_id text NOT NULL,
        entry bytea NOT NULL,
        PRIMARY KEY (token_id, event_id)
    );
    CREATE TABLE datapoints (
        user_name text NOT NULL,
        metric text NOT NULL,
        ts bigint NOT NULL,
        dims_hash bytea NOT NULL,
        point bytea NOT NULL,
        PRIMARY KEY (user_name, metric, ts, dims_hash)
    );
    CREATE TABLE oauth_states (
        state_hash bytea PRIMARY KEY,
        token_id text NOT NULL,
        created_at bigint NOT NULL,
        sealed bytea NOT NULL
    );
    CREATE INDEX oauth_states_by_token ON oauth_states (token_id, created_at);
    CREATE TABLE push_channels (
        token_id text NOT NULL,
        channel_id text NOT NULL,
        sealed bytea NOT NULL,
        PRIMARY KEY (token_id, channel_id)
    );",
    // 2: several nodes: heartbeats and leases with epochs from one sequence.
    "CREATE TABLE nodes (
        id text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL
    );
    CREATE SEQUENCE lease_epochs;
    CREATE TABLE leases (
        token_id text PRIMARY KEY,
        owner text NOT NULL,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL
    );
    CREATE INDEX leases_by_owner ON leases (owner);",
    // 3: a node renews its own row, not each of its leases: a held lease lasts while its
    // owner's row is unexpired, so a renewal writes one row however many tokens the node holds.
    // `leases.expires_at` now only says when a lease given back (no owner) may be taken. A
    // lease goes with its token's connection.
    "ALTER TABLE nodes ADD COLUMN expires_at timestamptz NOT NULL DEFAULT '-infinity';
    DELETE FROM leases l
        WHERE NOT EXISTS (SELECT 1 FROM google_credentials g WHERE g.token_id = l.token_id);
    ALTER TABLE leases ADD CONSTRAINT leases_token_id_fkey FOREIGN KEY (token_id)
        REFERENCES google_credentials (token_id) ON DELETE CASCADE;",
];

/// The tables that hold records (not the fleet's bookkeeping or the schema's).
pub(super) const RECORD_TABLES: [&str; 7] = [
    "tokens",
    "google_credentials",
    "selections",
    "event_index",
    "datapoints",
    "oauth_states",
    "push_channels",
];

/// The newest schema this build knows.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// Brings the database to the newest schema; refuses one newer than this build knows. Answers
/// the version found before.
pub(super) async fn migrate(client: &mut Client) -> Result<u32, StoreError> {
    // Both statements are idempotent; two nodes racing on an empty database may still collide
    // on the catalog, so a failure is retried once, when the other node's tables exist.
    for attempt in 0..2 {
        let made = client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_lock (id int PRIMARY KEY);
                 INSERT INTO schema_lock VALUES (1) ON CONFLICT DO NOTHING;
                 CREATE TABLE IF NOT EXISTS schema_migrations (
                     version int PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 );",
            )
            .await;
        match made {
            Ok(()) => break,
            Err(e) if attempt == 0 && e.as_db_error().is_some() => continue,
            Err(e) => return Err(query_error(e)),
        }
    }
    let tx = client.transaction().await.map_err(query_error)?;
    tx.execute("SELECT id FROM schema_lock WHERE id = 1 FOR UPDATE", &[])
        .await
        .map_err(query_error)?;
    let found: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(query_error)?
        .get(0);
    let found = found.max(0) as u32;
    if found > latest() {
        return Err(StoreError::NewerSchema {
            found,
            supported: latest(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql).await.map_err(query_error)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(query_error)?;
        log::info!("store: applied PostgreSQL schema migration {version}");
    }
    tx.commit().await.map_err(query_error)?;
    Ok(found)
}
