//! A small pool of PostgreSQL connections for blocking callers.
//!
//! The store's interface is blocking (sled's is), and its callers run on actix's threads, where
//! a nested tokio runtime panics. So the connections' I/O runs on one background runtime of the
//! pool's own, and a caller drives its queries with a plain executor on its own thread: a
//! tokio-postgres client only talks to its connection task through channels, so it works from
//! any executor. Borrowed arguments stay borrowed, and a caller holding a checked-out client has
//! it alone, transactions included.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};

use crate::store::StoreError;

/// How long a checkout waits for a busy pool before failing: far longer than any query takes,
/// so it only fires when the database hangs.
const CHECKOUT_WAIT: Duration = Duration::from_secs(30);

/// Every session: a transaction left open by a process that stopped between two statements
/// (SIGSTOP, a debugger) is ended by the server after 10 s, so the row locks it holds (a lease's,
/// a token's) cannot keep the other nodes from taking over. No transaction of ours waits that
/// long between statements.
const SESSION_SETUP: &str = "SET idle_in_transaction_session_timeout = '10s'";

/// Connections to one database, at most `size` of them, opened on demand and reopened after
/// they break.
pub(crate) struct Pool {
    /// How long each call took, checkout included (`impulses_gcal_database_seconds`).
    pub(crate) latency: prometheus::Histogram,
    runtime: Option<tokio::runtime::Runtime>,
    config: tokio_postgres::Config,
    size: usize,
    state: Mutex<Slots>,
    freed: Condvar,
    /// A connection of the fleet's lease work alone, beyond `size`: a renewal must never queue
    /// behind the syncs' queries (a start-up's thousands of commits would make the node's leases
    /// lapse while it waits).
    reserved: Mutex<Reserved>,
}

/// The reserved connection.
#[derive(Default)]
struct Reserved {
    client: Option<Client>,
}

struct Slots {
    idle: Vec<Client>,
    /// Connections open or being opened (idle ones included).
    open: usize,
}

impl Pool {
    /// A pool of at most `size` connections to `config`'s database; connects nothing yet.
    pub(crate) fn new(config: tokio_postgres::Config, size: usize) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres-io")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the I/O thread: {e}")))?;
        let latency = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "database_seconds",
                "Duration of PostgreSQL calls (one statement or transaction), waiting for a \
                 connection included",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
            ]),
        )
        .map_err(|e| StoreError::Unavailable(format!("latency histogram: {e}")))?;
        Ok(Self {
            latency,
            runtime: Some(runtime),
            config,
            size: size.max(1),
            state: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            reserved: Mutex::new(Reserved::default()),
        })
    }

    /// Runs `work` with a connection of its own: an idle one, a new one while the pool has
    /// room, or the next one freed. A connection that broke meanwhile is dropped, not reused.
    pub(crate) fn with<T>(
        &self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let timer = self.latency.start_timer();
        let mut client = self.checkout()?;
        let result = futures_executor::block_on(work(&mut client));
        self.give_back(client);
        timer.observe_duration();
        result
    }

    /// [`Self::with`] on the reserved connection, one caller at a time; it is opened on
    /// demand and again after it breaks.
    pub(crate) fn with_reserved<T>(
        &self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let timer = self.latency.start_timer();
        // The slot holds no invariant a panic could break halfway.
        let mut slot = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        let mut client = match slot.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => self.connect()?,
        };
        let result = futures_executor::block_on(work(&mut client));
        if !client.is_closed() {
            slot.client = Some(client);
        }
        timer.observe_duration();
        result
    }

    /// One statement's rows, on a connection of its own.
    pub(crate) fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.with(async |c| c.query(sql, params).await.map_err(query_error))
    }

    /// One statement's row, if any.
    pub(crate) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        self.with(async |c| c.query_opt(sql, params).await.map_err(query_error))
    }

    /// Runs one statement; answers the rows it changed.
    pub(crate) fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.with(async |c| c.execute(sql, params).await.map_err(query_error))
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The slots hold no invariant a panic could break halfway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checkout(&self) -> Result<Client, StoreError> {
        let deadline = std::time::Instant::now() + CHECKOUT_WAIT;
        let mut slots = self.slots();
        loop {
            while let Some(client) = slots.idle.pop() {
                if !client.is_closed() {
                    return Ok(client);
                }
                slots.open -= 1;
            }
            if slots.open < self.size {
                slots.open += 1;
                drop(slots);
                return self.connect().inspect_err(|_| {
                    self.slots().open -= 1;
                    self.freed.notify_one();
                });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(
                    "every database connection stayed busy".into(),
                ));
            }
            slots = self
                .freed
                .wait_timeout(slots, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn give_back(&self, client: Client) {
        let mut slots = self.slots();
        if client.is_closed() {
            slots.open -= 1;
        } else {
            slots.idle.push(client);
        }
        drop(slots);
        self.freed.notify_one();
    }

    /// The connection settings.
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Runs `task` on the pool's I/O runtime (ended with the pool).
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = &self.runtime {
            runtime.spawn(task);
        }
    }

    /// Opens a connection, its I/O task on the pool's runtime.
    fn connect(&self) -> Result<Client, StoreError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the pool is closed".into()))?;
        let config = self.config.clone();
        let connecting = runtime.spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::warn!("postgres: a connection ended: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = match futures_executor::block_on(connecting) {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(unavailable(&e)),
            Err(e) => return Err(StoreError::Unavailable(format!("connecting failed: {e}"))),
        };
        futures_executor::block_on(client.batch_execute(SESSION_SETUP)).map_err(query_error)?;
        Ok(client)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.slots().idle.clear();
        self.reserved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .client = None;
        if let Some(runtime) = self.runtime.take() {
            // Allowed from any thread, an async one included (a plain drop is not).
            runtime.shutdown_background();
        }
    }
}

/// Starts a read-only transaction that sees one snapshot throughout (repeatable read).
pub(crate) async fn snapshot(
    c: &mut Client,
) -> Result<tokio_postgres::Transaction<'_>, StoreError> {
    c.build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(query_error)
}

/// A connection failure as the store reports it: the server's words, never the URL (which may
/// hold a password).
pub(crate) fn unavailable(e: &tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(describe(e))
}

/// The error's message with its cause, which tokio-postgres keeps apart (its `Display` alone
/// says only "error connecting to server").
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Maps a query's failure: a broken connection is `Unavailable` (retry later), anything else
/// the server refused is a `Database` error.
pub(crate) fn query_error(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() || e.as_db_error().is_none() && e.code().is_none() {
        StoreError::Unavailable(describe(&e))
    } else {
        StoreError::Database(describe(&e))
    }
}
