//! Leases and heartbeats in PostgreSQL ([`Fleet`]). Expiry is always compared with the
//! database's `now()`, never a node's clock; epochs come from the `lease_epochs` sequence.

use std::time::Duration;

use super::pool::query_error;
use super::PgStore;
use crate::store::fleet::{Epoch, Fleet, Held, NodeStatus, Tick};
use crate::store::StoreError;
use crate::token::TokenId;

/// The notification channel of the fleet's messages.
const CHANNEL: &str = "impulses_gcal_nodes";

/// One subscription: a connection of its own that `LISTEN`s and hands on each message for
/// `node` or for every node, until the connection breaks or nobody receives any more.
async fn listen_once(
    config: &tokio_postgres::Config,
    node: &str,
    tx: &tokio::sync::mpsc::UnboundedSender<String>,
) -> Result<(), String> {
    use tokio_postgres::AsyncMessage;
    let (client, mut connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| super::pool::describe(&e))?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let sql = format!("LISTEN {CHANNEL}");
    let listening = client.batch_execute(&sql);
    let mut listening = std::pin::pin!(listening);
    // The LISTEN completes only while the connection is driven.
    loop {
        tokio::select! {
            done = &mut listening => {
                done.map_err(|e| super::pool::describe(&e))?;
                break;
            }
            m = futures_util::StreamExt::next(&mut messages) => match m {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(super::pool::describe(&e)),
                None => return Err("the connection closed".into()),
            }
        }
    }
    while let Some(m) = futures_util::StreamExt::next(&mut messages).await {
        match m {
            Ok(AsyncMessage::Notification(n)) => {
                if let Some((to, message)) = n.payload().split_once('\t') {
                    if (to == node || to == crate::store::fleet::EVERY_NODE)
                        && tx.send(message.to_string()).is_err()
                    {
                        return Ok(());
                    }
                }
            }
            Ok(_) => {}
            Err(e) => return Err(super::pool::describe(&e)),
        }
    }
    Err("the connection closed".into())
}

fn interval(lease: Duration) -> f64 {
    lease.as_secs_f64()
}

fn token(id: &str) -> Result<TokenId, StoreError> {
    TokenId::parse(id).ok_or_else(|| StoreError::corrupt("token id in leases"))
}

/// A node's own row, renewed: its leases last until `now() + secs`. Never shortened (an
/// acquire between two ticks renews too).
const RENEW_NODE: &str = "INSERT INTO nodes (id, started_at, heartbeat_at, expires_at)
     VALUES ($1, now(), now(), now() + make_interval(secs => $2))
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(),
         expires_at = greatest(nodes.expires_at, EXCLUDED.expires_at)";

/// Locks the rows of the nodes whose time ran out, for the transaction, so such a node's
/// renewal waits for it and then sees the leases taken, instead of both nodes believing they
/// hold one. A row renewed meanwhile is waited for, re-read and left out. (A lock taken inside
/// [`TAKEABLE`]'s subquery would not hold: PostgreSQL does not lock through `EXISTS`.)
const LOCK_DEAD_NODES: &str = "SELECT id FROM nodes WHERE expires_at <= now() FOR SHARE";

/// Whether the lease row `l` may be taken: given back and due, or its owner's row expired (a
/// dead or paused node, locked by [`LOCK_DEAD_NODES`]).
const TAKEABLE: &str = "((l.owner = '' AND l.expires_at <= now())
     OR (l.owner <> '' AND NOT EXISTS (
         SELECT 1 FROM nodes n WHERE n.id = l.owner AND n.expires_at > now())))";

/// Compare-and-set on the epoch this statement's snapshot saw (`free.seen`, none for a token
/// without a lease): re-read on the newest version of the row, it refuses a lease that another
/// node took meanwhile, even one whose row in `nodes` this snapshot cannot see yet (a node
/// registered a moment ago).
const UNCHANGED: &str =
    "l.epoch IS NOT DISTINCT FROM (SELECT f.seen FROM free f WHERE f.token_id = l.token_id)";

/// Most leases one transaction of a tick takes.
const TAKE_BATCH: i64 = 1000;

/// Takes up to `room` free or takeable leases for `node`, in the caller's transaction: rows of
/// (token, epoch, previous owner). Each node goes through the free tokens in an order of its
/// own (a hash of token and node), so nodes taking at once seldom reach for the same rows, and
/// writes them in token order, the same for all, so two that do reach for the same rows wait
/// for each other instead of deadlocking.
pub(super) async fn take(
    tx: &tokio_postgres::Transaction<'_>,
    node: &str,
    room: i64,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    tx.execute(LOCK_DEAD_NODES, &[])
        .await
        .map_err(query_error)?;
    let sql = format!(
        "WITH free AS (
             SELECT g.token_id, l.owner AS previous, l.epoch AS seen FROM google_credentials g
             LEFT JOIN leases l ON l.token_id = g.token_id
             WHERE l.token_id IS NULL OR {TAKEABLE}
             ORDER BY md5(g.token_id || $1) LIMIT $2
         ), taken AS (
             INSERT INTO leases AS l (token_id, owner, epoch, expires_at)
             SELECT token_id, $1, nextval('lease_epochs'), now() FROM free ORDER BY token_id
             ON CONFLICT (token_id) DO UPDATE
             SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch, expires_at = EXCLUDED.expires_at
             WHERE {TAKEABLE} AND {UNCHANGED}
             RETURNING token_id, epoch
         )
         SELECT t.token_id, t.epoch, f.previous FROM taken t
         JOIN free f ON f.token_id = t.token_id"
    );
    tx.query(&sql, &[&node, &room]).await.map_err(query_error)
}

impl PgStore {
    /// Refuses a lease call for a node that left: a tick queued behind the leave (both run on
    /// the reserved connection, one at a time) must not register it again.
    fn still_in(&self, node: &str) -> Result<(), StoreError> {
        if self.left().contains(node) {
            Err(StoreError::Unavailable(format!(
                "node {node} has left the fleet"
            )))
        } else {
            Ok(())
        }
    }

    /// Renews `node`'s row (every lease it holds), unless the node left.
    async fn renew(
        &self,
        c: &tokio_postgres::Client,
        node: &str,
        secs: f64,
    ) -> Result<(), StoreError> {
        self.still_in(node)?;
        c.execute(RENEW_NODE, &[&node, &secs])
            .await
            .map_err(query_error)?;
        Ok(())
    }

    fn left_fleet(&self, node: &str) {
        self.left().insert(node.to_string());
    }

    fn left(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        // A set of names holds no invariant a panic could break halfway.
        self.left.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Fleet for PgStore {
    fn register(&self, node: &str, lease: Duration) -> Result<(), StoreError> {
        let secs = interval(lease);
        self.pool
            .with_reserved(async |c| self.renew(c, node, secs).await)
    }

    fn tick(&self, node: &str, lease: Duration) -> Result<Tick, StoreError> {
        let secs = interval(lease);
        self.pool.with_reserved(async |c| {
            self.renew(c, node, secs).await?;
            let counts = c
                .query_one(
                    "SELECT (SELECT count(*) FROM nodes WHERE expires_at > now()),
                            (SELECT count(*) FROM google_credentials)",
                    &[],
                )
                .await
                .map_err(query_error)?;
            let (live, tokens): (i64, i64) = (counts.get(0), counts.get(1));
            let live = live.max(1);
            let share = (tokens + live - 1) / live;
            // Read after the renewal: a lease taken from this node while its row had expired is
            // no longer its own here.
            let rows = c
                .query(
                    "SELECT token_id, epoch FROM leases WHERE owner = $1",
                    &[&node],
                )
                .await
                .map_err(query_error)?;
            let mut held = rows
                .iter()
                .map(|r| {
                    Ok(Held {
                        token: token(r.get(0))?,
                        epoch: r.get(1),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            held.sort_by(|a, b| a.token.as_str().cmp(b.token.as_str()));
            // Beyond its share, the node gives back what it holds last in token order: no owner,
            // due when this node's row as just renewed expires, so another node takes it only
            // once this one has long stopped syncing it.
            let surplus = held.split_off(held.len().min(share.max(0) as usize));
            if !surplus.is_empty() {
                let ids: Vec<&str> = surplus.iter().map(|h| h.token.as_str()).collect();
                c.execute(
                    "UPDATE leases SET owner = '',
                         expires_at = coalesce((SELECT expires_at FROM nodes WHERE id = $1), now())
                     WHERE owner = $1 AND token_id = ANY($2)",
                    &[&node, &ids],
                )
                .await
                .map_err(query_error)?;
            }
            let room = share - held.len() as i64 - surplus.len() as i64;
            let mut taken_over = 0;
            // In transactions of a bounded size, so another node waiting on one of these rows
            // (both took it for free) waits for a short one.
            let mut taken = Vec::new();
            while room > taken.len() as i64 {
                let asked = (room - taken.len() as i64).min(TAKE_BATCH);
                let tx = c.transaction().await.map_err(query_error)?;
                let got = take(&tx, node, asked).await?;
                tx.commit().await.map_err(query_error)?;
                let short = (got.len() as i64) < asked;
                taken.extend(got);
                if short {
                    break;
                }
            }
            for r in &taken {
                let previous: Option<String> = r.get(2);
                if previous.is_some_and(|p| p != node && !p.is_empty()) {
                    taken_over += 1;
                }
                held.push(Held {
                    token: token(r.get(0))?,
                    epoch: r.get(1),
                });
            }
            Ok(Tick {
                held,
                released: surplus.len() as u64,
                taken_over,
                live_nodes: live as u64,
                tokens: tokens as u64,
            })
        })
    }

    fn acquire(
        &self,
        node: &str,
        token: &TokenId,
        lease: Duration,
    ) -> Result<Option<Epoch>, StoreError> {
        let secs = interval(lease);
        self.pool.with_reserved(async |c| {
            // Renewed on its own first: inside the transaction, two nodes whose rows had both
            // expired would each hold its own row and wait for the other's.
            self.renew(c, node, secs).await?;
            let tx = c.transaction().await.map_err(query_error)?;
            tx.execute(LOCK_DEAD_NODES, &[])
                .await
                .map_err(query_error)?;
            // Holding it already keeps the epoch; a free or takeable lease draws a new one (if
            // nobody took it meanwhile); a token with no connection (disconnected meanwhile)
            // gets none.
            let sql = format!(
                "WITH free AS (
                     SELECT $2::text AS token_id,
                            (SELECT epoch FROM leases WHERE token_id = $2) AS seen
                 )
                 INSERT INTO leases AS l (token_id, owner, epoch, expires_at)
                 SELECT token_id, $1, nextval('lease_epochs'), now() FROM google_credentials
                 WHERE token_id = $2
                 ON CONFLICT (token_id) DO UPDATE
                 SET owner = EXCLUDED.owner,
                     epoch = CASE WHEN l.owner = EXCLUDED.owner THEN l.epoch
                                  ELSE EXCLUDED.epoch END,
                     expires_at = EXCLUDED.expires_at
                 WHERE l.owner = EXCLUDED.owner OR ({TAKEABLE} AND {UNCHANGED})
                 RETURNING epoch"
            );
            let row = tx
                .query_opt(&sql, &[&node, &token.as_str()])
                .await
                .map_err(query_error)?;
            tx.commit().await.map_err(query_error)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn owner(&self, token: &TokenId) -> Result<Option<String>, StoreError> {
        let row = self.pool.query_opt(
            "SELECT l.owner FROM leases l JOIN nodes n ON n.id = l.owner
             WHERE l.token_id = $1 AND n.expires_at > now()",
            &[&token.as_str()],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn nodes(&self, _lease: Duration) -> Result<Vec<NodeStatus>, StoreError> {
        self.pool.with(async |c| {
            let rows = c
                .query(
                    "SELECT n.id,
                            (extract(epoch FROM now() - n.heartbeat_at) * 1000)::bigint,
                            n.expires_at > now(),
                            CASE WHEN n.expires_at > now()
                                 THEN (SELECT count(*) FROM leases l WHERE l.owner = n.id)
                                 ELSE 0 END
                     FROM nodes n ORDER BY n.id",
                    &[],
                )
                .await
                .map_err(query_error)?;
            Ok(rows
                .iter()
                .map(|r| NodeStatus {
                    id: r.get(0),
                    heartbeat_age_ms: r.get(1),
                    live: r.get(2),
                    leases: r.get(3),
                })
                .collect())
        })
    }

    fn channel(
        &self,
        channel_id: &str,
    ) -> Result<Option<(TokenId, crate::store::PushChannel)>, StoreError> {
        let row = self.pool.query_opt(
            "SELECT token_id, sealed FROM push_channels WHERE channel_id = $1 LIMIT 1",
            &[&channel_id],
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let owner = token(row.get(0))?;
        let key = crate::store::push_channels::key(owner.as_str(), channel_id);
        let channel = crate::store::push_channels::decode(&self.cipher, &key, row.get(1))?;
        Ok(Some((owner, channel)))
    }

    fn latency(&self) -> prometheus::Histogram {
        self.pool.latency.clone()
    }

    fn tell(&self, to: &str, message: &str) -> Result<(), StoreError> {
        let payload = format!("{to}\t{message}");
        self.pool
            .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
        Ok(())
    }

    fn listen(&self, node: &str) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let config = self.pool.config().clone();
        let node = node.to_string();
        self.pool.spawn(async move {
            while !tx.is_closed() {
                if let Err(e) = listen_once(&config, &node, &tx).await {
                    log::warn!("fleet: the message channel broke ({e}); listening again in 1 s");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        rx
    }

    fn leave(&self, node: &str) -> Result<(), StoreError> {
        // Given back, due at once; the owner cleared so that this node, restarted under the
        // same id, cannot find them its own again while another takes them.
        self.pool.with_reserved(async |c| {
            self.left_fleet(node);
            let tx = c.transaction().await.map_err(query_error)?;
            tx.execute(
                "UPDATE leases SET owner = '', expires_at = now() WHERE owner = $1",
                &[&node],
            )
            .await
            .map_err(query_error)?;
            tx.execute("DELETE FROM nodes WHERE id = $1", &[&node])
                .await
                .map_err(query_error)?;
            tx.commit().await.map_err(query_error)
        })
    }
}
