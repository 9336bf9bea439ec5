//! The PostgreSQL engine (issue #16): every record in one database that several nodes share.
//!
//! | table | row |
//! | --- | --- |
//! | `meta` | `credentials_key_check`: a constant sealed under the credentials key |
//! | `tokens` | a data token: its public fields and the SHA-256 of its plaintext |
//! | `google_credentials` | a token's Google credentials, sealed |
//! | `selections` | a token's selected calendars with their sync state ([`Selection`]) |
//! | `event_index` | (token, event) → the calendars holding the event and its datapoint keys |
//! | `datapoints` | (user, metric, timestamp, dimensions hash) → dimensions and value ([`codec`](super::codec)) |
//! | `oauth_states` | a pending authorization by the SHA-256 of its `state`, sealed |
//! | `push_channels` | (token, channel) → an open push channel, sealed |
//!
//! Records keep the sled engine's encodings and sealing contexts, so the two engines plan every
//! change with the same code (a sync commit is [`plan`](super::sync_commit) in both) and a sled
//! store copies over byte for byte. Every change that spans rows is one transaction; a commit
//! is durable when it returns (PostgreSQL's `synchronous_commit`). Changes of one token's
//! calendars lock its `google_credentials` row first, so they serialize across nodes.

mod datapoints;
mod fleet;
mod pool;
mod records;
pub(crate) mod schema;
mod snapshot;
mod sync;
#[cfg(test)]
// Shared with the integration suite (`tests/it` includes it), which uses the parts these unit
// tests do not.
#[allow(dead_code)]
pub(crate) mod test_cluster;

use tokio_postgres::Transaction;

use super::cipher::{context, Cipher, CredentialKeys};
use super::keyring::{CHECK_KEY, CHECK_PLAINTEXT};
use super::{StoreError, GOOGLE_CREDENTIALS, META, OAUTH_STATES, PUSH_CHANNELS};
use pool::{query_error, Pool};

/// The PostgreSQL engine; one per process, its connections pooled.
pub struct PgStore {
    pool: Pool,
    cipher: Cipher,
    /// Nodes of this process that left the fleet (on an orderly stop): their lease calls are
    /// refused from then on.
    left: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Where the PostgreSQL store is and how much of it one process uses.
#[derive(Clone, Debug)]
pub struct Database {
    /// The connection settings parsed from `DATABASE_URL` (its `Debug` hides the password).
    pub config: tokio_postgres::Config,
    /// Most connections this process opens (`DATABASE_MAX_CONNECTIONS`).
    pub max_connections: usize,
}

/// How long a TCP link may stay silent before its calls fail, unless `DATABASE_URL` says
/// otherwise (`tcp_user_timeout`, `keepalives_idle`).
const LINK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// tokio-postgres's `keepalives_idle` when none is given (the operating system's two hours).
const OS_KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(2 * 60 * 60);

/// How long a connection attempt may take when `DATABASE_URL` names no `connect_timeout`.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Database {
    /// Parses a `DATABASE_URL`: a `postgres://` or `postgresql://` URL (a Unix socket as a
    /// percent-encoded path host, or `?host=/dir`) or a `key=value` connection string. The
    /// error never repeats the value, which may hold a password.
    pub fn parse(url: &str, max_connections: usize) -> Result<Self, String> {
        let mut config: tokio_postgres::Config = url.trim().parse().map_err(|_| {
            "is not a PostgreSQL URL (postgres://user:password@host:port/database, or \
             key=value pairs such as host=/run/postgresql dbname=impulses)"
                .to_string()
        })?;
        if config.get_hosts().is_empty() {
            return Err("names no host (add @host, or host=/run/postgresql for a socket)".into());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A database behind a silent partition answers nothing, and the operating system's
        // defaults would wait hours: unacknowledged writes fail after LINK_TIMEOUT, an idle
        // connection is probed after it, so a call on a broken link ends in seconds (over TCP;
        // a Unix socket breaks at once).
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(LINK_TIMEOUT);
        }
        if config.get_keepalives_idle() == OS_KEEPALIVE_IDLE {
            config.keepalives_idle(LINK_TIMEOUT);
            config.keepalives_interval(LINK_TIMEOUT / 2);
            config.keepalives_retries(3);
        }
        if config.get_application_name().is_none() {
            config.application_name("impulses-gcal");
        }
        Ok(Self {
            config,
            max_connections: max_connections.max(1),
        })
    }

    /// Where the database is, for logs: host, port and database name, never the password.
    pub fn describe(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self
            .config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("?");
        format!("{host}:{port}/{db}")
    }
}

impl PgStore {
    /// Connects, brings the schema up to date and unlocks the secrets: checks the credentials
    /// key against the database and, given the previous key, re-seals every secret under the
    /// current one, in one transaction. Fails when the database cannot be reached (callers
    /// retry), has a newer schema, or the key does not open its secrets.
    pub fn open(database: &Database, keys: &CredentialKeys) -> Result<Self, StoreError> {
        let current = keys.current.as_ref().ok_or(StoreError::KeyRequired)?;
        let cipher = Cipher::new(current).map_err(|_| StoreError::WrongKey)?;
        let previous = keys
            .previous
            .as_ref()
            .map(Cipher::new)
            .transpose()
            .map_err(|_| StoreError::WrongKey)?;
        let pool = Pool::new(database.config.clone(), database.max_connections)?;
        pool.with(async |c| {
            schema::migrate(c).await?;
            let tx = c.transaction().await.map_err(query_error)?;
            let rotated = unlock(&tx, &cipher, previous.as_ref()).await?;
            tx.commit().await.map_err(query_error)?;
            if rotated > 0 {
                log::info!(
                    "store: re-sealed {rotated} secret records under the new credentials key; \
                     CREDENTIALS_KEY_PREVIOUS can be removed"
                );
            }
            Ok(())
        })?;
        Ok(Self {
            pool,
            cipher,
            left: Default::default(),
        })
    }

    /// Nothing to do: every change was durable when it returned.
    pub fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Checks the key against the stored check value (storing one on a new database) and, when
/// the records are under `previous`, re-seals them all under `cipher`. Holds the check row for
/// the transaction, so nodes starting together rotate once. Answers the records re-sealed.
async fn unlock(
    tx: &Transaction<'_>,
    cipher: &Cipher,
    previous: Option<&Cipher>,
) -> Result<usize, StoreError> {
    let check_context = context(META, CHECK_KEY);
    let fresh = cipher
        .seal(&check_context, CHECK_PLAINTEXT)
        .map_err(|_| StoreError::corrupt("sealing the key check failed"))?;
    let key = std::str::from_utf8(CHECK_KEY).map_err(|_| StoreError::corrupt("check key"))?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        &[&key, &fresh],
    )
    .await
    .map_err(query_error)?;
    let stored: Vec<u8> = tx
        .query_one("SELECT value FROM meta WHERE key = $1 FOR UPDATE", &[&key])
        .await
        .map_err(query_error)?
        .get(0);
    if cipher.open(&check_context, &stored).is_ok() {
        return Ok(0);
    }
    let old = match previous {
        Some(old) if old.open(&check_context, &stored).is_ok() => old,
        _ => return Err(StoreError::WrongKey),
    };
    let reseal = |ctx: &[u8], sealed: &[u8]| -> Result<Vec<u8>, StoreError> {
        let plain = old
            .open(ctx, sealed)
            .map_err(|_| StoreError::corrupt("a record does not open with the previous key"))?;
        cipher
            .seal(ctx, &plain)
            .map_err(|_| StoreError::corrupt("sealing failed"))
    };
    let mut n = 0;
    for row in tx
        .query("SELECT token_id, sealed FROM google_credentials", &[])
        .await
        .map_err(query_error)?
    {
        let (token, sealed): (String, Vec<u8>) = (row.get(0), row.get(1));
        let new = reseal(&context(GOOGLE_CREDENTIALS, token.as_bytes()), &sealed)?;
        tx.execute(
            "UPDATE google_credentials SET sealed = $2 WHERE token_id = $1",
            &[&token, &new],
        )
        .await
        .map_err(query_error)?;
        n += 1;
    }
    for row in tx
        .query("SELECT state_hash, sealed FROM oauth_states", &[])
        .await
        .map_err(query_error)?
    {
        let (hash, sealed): (Vec<u8>, Vec<u8>) = (row.get(0), row.get(1));
        let new = reseal(&context(OAUTH_STATES, &hash), &sealed)?;
        tx.execute(
            "UPDATE oauth_states SET sealed = $2 WHERE state_hash = $1",
            &[&hash, &new],
        )
        .await
        .map_err(query_error)?;
        n += 1;
    }
    for row in tx
        .query(
            "SELECT token_id, channel_id, sealed FROM push_channels",
            &[],
        )
        .await
        .map_err(query_error)?
    {
        let (token, channel, sealed): (String, String, Vec<u8>) =
            (row.get(0), row.get(1), row.get(2));
        let k = super::push_channels::key(&token, &channel);
        let new = reseal(&context(PUSH_CHANNELS, &k), &sealed)?;
        tx.execute(
            "UPDATE push_channels SET sealed = $3 WHERE token_id = $1 AND channel_id = $2",
            &[&token, &channel, &new],
        )
        .await
        .map_err(query_error)?;
        n += 1;
    }
    tx.execute("UPDATE meta SET value = $2 WHERE key = $1", &[&key, &fresh])
        .await
        .map_err(query_error)?;
    Ok(n)
}

super::sled_engine::engine_by_inherent_methods!(
    PgStore,
    fn fleet(&self) -> Option<&dyn super::fleet::Fleet> {
        Some(self)
    },
    fn is_remote(&self) -> bool {
        true
    },
    fn actor_inputs(
        &self,
        ids: &[crate::token::TokenId],
    ) -> Result<Vec<super::ActorInputs>, super::StoreError> {
        PgStore::actor_inputs(self, ids)
    }
);

#[cfg(test)]
impl PgStore {
    /// Runs `sql` (simple protocol) and answers every value of every row as text.
    pub(crate) fn sql_for_test(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let messages = self
            .pool
            .with(async |c| c.simple_query(sql).await.map_err(query_error))
            .expect("test SQL");
        messages
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
