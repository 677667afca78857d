//! The log's tables. Integration appends committed ledger rows as leaves, with the stored
//! hashes they complete and a signed checkpoint of the grown tree, in one transaction; the
//! reads give proofs and tiles exactly the stored hashes they need. The integration runs on the
//! driver directly, so its rows go in as bulk writes (`crate::bulk`): about three rows per leaf
//! (the leaf and two stored hashes), the integrator's whole cost beside ingest.
//!
//! **Taking every committed row once.** On SQLite writers are serial, so `ledger_seq` grows in
//! commit order and the rows to take are those above the last leaf's. On PostgreSQL a
//! transaction may commit after a later `ledger_seq` did, so the integrator takes rows that are
//! not leaves yet (an anti-join) above a *settled* bound, below which every row is a leaf or
//! will never commit. The bound moves by marks: each cycle notes the ledger sequence's last
//! value and the next transaction id; ingest takes its transaction id before drawing sequence
//! values, so once the oldest running transaction is younger than a mark's id, every row up to
//! the mark's value has committed or never will, and a scan that reached it settles it.

use std::collections::{HashMap, VecDeque};

use chrono::Utc;
use greenos_entity::{esg_log_checkpoints, esg_log_hashes, esg_log_leaves};
use sea_orm::sqlx::{AssertSqlSafe, PgConnection, Postgres, Sqlite, Transaction};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::bulk::{copy::copy_in, sqlite::insert_rows, sqlx_error};
use crate::log::checkpoint::sign_checkpoint;
use crate::log::error::LogError;
use crate::log::tree::{Hash, HashesNeeded, Pass, StoredHashes, leaf_hash, root};
use crate::proof::Ed25519Keyring;

/// The PostgreSQL advisory lock the integrator holds for its transaction ("greenos" + 0x02):
/// one integrator at a time across replicas.
const INTEGRATOR_LOCK_KEY: i64 = 0x6772_6565_6e6f_7302;

/// Keys per `IN` list of a read: far below both backends' limits.
const ROWS_PER_STATEMENT: usize = 2_000;

/// Marks kept while the oldest running transaction does not move; older ones are dropped,
/// which only delays settling.
const MAX_MARKS: usize = 1_024;

/// What one integration did.
#[derive(Clone, Debug, PartialEq)]
pub enum Integration {
    /// Another integrator holds the lock; nothing was done.
    Busy,
    /// Nothing was waiting; the tree is unchanged.
    Idle {
        /// The tree's size.
        size: u64,
    },
    /// Leaves were appended and a checkpoint signed.
    Grew {
        /// The new size.
        size: u64,
        /// How many leaves this integration appended.
        added: u64,
        /// The new root.
        root: Hash,
    },
}

/// One observation of the ledger's sequence (PostgreSQL).
#[derive(Clone, Copy, Debug)]
struct Mark {
    /// The sequence's last value then.
    seq: i64,
    /// The next transaction id then: every transaction holding a value up to `seq` is older.
    next_xid: i64,
}

/// The integrator's knowledge of which ledger rows are left to take (see the module doc).
#[derive(Debug, Default)]
pub struct Horizon {
    settled: i64,
    marks: VecDeque<Mark>,
    /// The tree's size when last seen: a smaller tree means the log's tables were rewritten
    /// behind the integrator's back, and what it knew no longer holds.
    size: u64,
}

impl Horizon {
    /// The bound below which nothing is left on PostgreSQL, and the mark this cycle may
    /// settle (every transaction older than it has ended).
    async fn observe(&mut self, conn: &mut PgConnection) -> Result<Option<i64>, DbErr> {
        // The sequence first, then the snapshot: a transaction that drew a value up to `seq`
        // had its id before the snapshot was taken.
        let seq: i64 = sea_orm::sqlx::query_scalar(
            "SELECT COALESCE(pg_sequence_last_value(\
             pg_get_serial_sequence('esg_impact_ledger', 'ledger_seq')::regclass), 0)",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(sqlx_error)?;
        let (oldest_running, next_xid): (i64, i64) = sea_orm::sqlx::query_as(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, \
             pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(sqlx_error)?;
        let mut settling = None;
        while let Some(mark) = self.marks.front().copied() {
            if mark.next_xid > oldest_running {
                break;
            }
            settling = Some(mark.seq);
            self.marks.pop_front();
        }
        if self.marks.len() == MAX_MARKS {
            self.marks.pop_front();
        }
        self.marks.push_back(Mark { seq, next_xid });
        Ok(settling)
    }

    /// After a committed scan: `settling` is the mark the cycle may settle, `truncated_at` the
    /// last row of a scan that hit its limit. The scan took, in order, every row above the
    /// floor that was not a leaf, up to its last one: once a mark is settled, nothing up to that
    /// last row (or up to the mark, if lower) is left to take. A mark beyond a truncated scan is
    /// put back for the next one.
    fn settle(&mut self, settling: Option<i64>, truncated_at: Option<i64>) {
        let Some(seq) = settling else {
            return;
        };
        match truncated_at {
            Some(last) => {
                self.settled = self.settled.max(seq.min(last));
                if last < seq {
                    self.marks.push_front(Mark { seq, next_xid: 0 });
                }
            }
            None => self.settled = self.settled.max(seq),
        }
    }
}

/// Appends up to `limit` committed ledger rows that are not leaves yet, in `ledger_seq`
/// order, and signs the grown tree's checkpoint under `origin`; all in one transaction.
pub async fn integrate(
    db: &DatabaseConnection,
    ring: &Ed25519Keyring,
    origin: &str,
    horizon: &mut Horizon,
    limit: u64,
) -> Result<Integration, LogError> {
    let mut txn = Integrating::begin(db).await?;
    if !txn.lock().await? {
        txn.rollback().await?;
        return Ok(Integration::Busy);
    }
    let size = u64::try_from(
        txn.scalar("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM esg_log_leaves")
            .await?,
    )
    .map_err(|_| LogError::Corrupt("a negative leaf index".to_owned()))?;
    if size < horizon.size {
        *horizon = Horizon::default();
    }
    horizon.size = size;
    let (floor, settling) = match &mut txn {
        Integrating::Postgres(tx) => (horizon.settled, horizon.observe(tx).await?),
        Integrating::Sqlite(_) => (
            txn.scalar("SELECT COALESCE(MAX(ledger_seq), 0) FROM esg_log_leaves")
                .await?,
            None,
        ),
    };
    // The leaves side is bounded by the floor too: without it PostgreSQL merges against the
    // whole leaves index, a cost that grows with the log on every cycle.
    let pending = txn
        .pending(&format!(
            "SELECT l.ledger_seq, l.event_hash FROM esg_impact_ledger l \
             WHERE l.ledger_seq > {floor} AND NOT EXISTS \
             (SELECT 1 FROM esg_log_leaves g \
             WHERE g.ledger_seq = l.ledger_seq AND g.ledger_seq > {floor}) \
             ORDER BY l.ledger_seq LIMIT {limit}"
        ))
        .await?;
    let truncated = pending.len() as u64 == limit;
    let has_checkpoint = size > 0
        || txn
            .scalar("SELECT COUNT(*) FROM (SELECT 1 FROM esg_log_checkpoints LIMIT 1) AS c")
            .await?
            > 0;
    if pending.is_empty() && has_checkpoint {
        txn.commit().await?;
        horizon.settle(settling, None);
        return Ok(Integration::Idle { size });
    }
    let (new_size, added_hashes, new_root) = grow(&mut txn, size, &pending).await?;
    let note = sign_checkpoint(origin, new_size, new_root, ring)?;
    let now = Utc::now();
    let checkpoint = esg_log_checkpoints::ActiveModel {
        tree_size: sea_orm::Set(to_i64(new_size)?),
        root_hash: sea_orm::Set(hex::encode(new_root.0)),
        note: sea_orm::Set(note),
        key_version: sea_orm::Set(ring.active_version().as_str().to_owned()),
        created_at: sea_orm::Set(now),
    };
    txn.append(
        leaves(size, &pending, now)?,
        hash_rows(&added_hashes)?,
        checkpoint,
    )
    .await?;
    txn.commit().await?;
    horizon.size = new_size;
    let truncated_at = pending.last().map(|(last, _)| *last).filter(|_| truncated);
    horizon.settle(settling, truncated_at);
    Ok(Integration::Grew {
        size: new_size,
        added: pending.len() as u64,
        root: new_root,
    })
}

/// The integrator's transaction, on the driver itself so that its rows go in as bulk writes
/// (binary `COPY` on PostgreSQL, fixed-size multi-row `INSERT`s on SQLite, as the ledger's).
/// The SQL it runs is the same on both backends.
enum Integrating {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

/// Runs `$body` with `$tx` bound to whichever transaction `$txn` holds.
macro_rules! on_either {
    ($txn:expr, $tx:ident => $body:expr) => {
        match $txn {
            Integrating::Postgres($tx) => $body,
            Integrating::Sqlite($tx) => $body,
        }
    };
}

impl Integrating {
    /// Begins the transaction; on SQLite with the write lock at once (`IMMEDIATE`).
    async fn begin(db: &DatabaseConnection) -> Result<Integrating, DbErr> {
        Ok(match db.get_database_backend() {
            DbBackend::Postgres => Integrating::Postgres(
                db.get_postgres_connection_pool()
                    .begin()
                    .await
                    .map_err(sqlx_error)?,
            ),
            _ => Integrating::Sqlite(
                db.get_sqlite_connection_pool()
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(sqlx_error)?,
            ),
        })
    }

    /// Takes the integrator's lock: PostgreSQL's advisory lock for this transaction, which
    /// another integrator may hold; SQLite's write lock is already held.
    async fn lock(&mut self) -> Result<bool, DbErr> {
        match self {
            Integrating::Postgres(tx) => {
                sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                    .bind(INTEGRATOR_LOCK_KEY)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(sqlx_error)
            }
            Integrating::Sqlite(_) => Ok(true),
        }
    }

    /// The one integer `sql` answers (SQL built here from integers only).
    async fn scalar(&mut self, sql: &str) -> Result<i64, DbErr> {
        let sql = AssertSqlSafe(sql.to_owned());
        on_either!(self, tx => sea_orm::sqlx::query_scalar(sql).fetch_one(&mut **tx).await)
            .map_err(sqlx_error)
    }

    /// The `(ledger_seq, event_hash)` rows `sql` answers.
    async fn pending(&mut self, sql: &str) -> Result<Vec<(i64, String)>, DbErr> {
        let sql = AssertSqlSafe(sql.to_owned());
        on_either!(self, tx => sea_orm::sqlx::query_as(sql).fetch_all(&mut **tx).await)
            .map_err(sqlx_error)
    }

    /// The stored hashes at `indexes` (the right edge of the tree: O(log n) of them).
    async fn stored_hashes(&mut self, indexes: &[u64]) -> Result<StoredHashes, LogError> {
        let mut hashes = StoredHashes::default();
        for chunk in indexes.chunks(ROWS_PER_STATEMENT) {
            let keys = chunk
                .iter()
                .map(|index| to_i64(*index).map(|key| key.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let sql = format!(
                "SELECT hash_index, hash FROM esg_log_hashes WHERE hash_index IN ({})",
                keys.join(", ")
            );
            // Only integers go into the text.
            let sql = AssertSqlSafe(sql);
            let rows: Vec<(i64, Vec<u8>)> =
                on_either!(self, tx => sea_orm::sqlx::query_as(sql).fetch_all(&mut **tx).await)
                    .map_err(sqlx_error)?;
            for (index, bytes) in rows {
                hashes.insert(index.unsigned_abs(), stored_hash(index, &bytes)?);
            }
        }
        Ok(hashes)
    }

    /// Writes the new leaves, the stored hashes they complete and the checkpoint.
    async fn append(
        &mut self,
        leaves: Vec<esg_log_leaves::ActiveModel>,
        hashes: Vec<esg_log_hashes::ActiveModel>,
        checkpoint: esg_log_checkpoints::ActiveModel,
    ) -> Result<(), DbErr> {
        match self {
            Integrating::Postgres(tx) => {
                copy_in(tx, leaves).await?;
                copy_in(tx, hashes).await?;
                copy_in(tx, vec![checkpoint]).await?;
            }
            Integrating::Sqlite(tx) => {
                insert_rows(tx, leaves).await?;
                insert_rows(tx, hashes).await?;
                insert_rows(tx, vec![checkpoint]).await?;
            }
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), DbErr> {
        on_either!(self, tx => tx.commit().await).map_err(sqlx_error)
    }

    async fn rollback(self) -> Result<(), DbErr> {
        on_either!(self, tx => tx.rollback().await).map_err(sqlx_error)
    }
}

/// Appends `pending`'s leaves to the tree of `size` leaves: answers the new size, the stored
/// hashes to insert (by index) and the new root.
async fn grow(
    txn: &mut Integrating,
    size: u64,
    pending: &[(i64, String)],
) -> Result<(u64, Vec<(u64, Hash)>, Hash), LogError> {
    let first_new = tlog_tiles::stored_hash_index(0, size);
    let needed = HashesNeeded::default();
    for n in size..size + pending.len() as u64 {
        tlog_tiles::stored_hashes_for_record_hash(n, Hash::default(), &needed)?;
    }
    let new_size = size + pending.len() as u64;
    root(new_size, &needed)?;
    let existing: Vec<u64> = needed
        .indexes()
        .into_iter()
        .filter(|index| *index < first_new)
        .collect();
    let mut hashes = txn.stored_hashes(&existing).await?;
    let mut added = Vec::with_capacity(pending.len() * 2);
    for ((_, event_hash), n) in pending.iter().zip(size..) {
        added.extend(hashes.append(n, leaf_hash(event_hash))?);
    }
    let new_root = root(new_size, &hashes)?;
    Ok((new_size, added, new_root))
}

/// The leaf rows of `pending`, numbered from `size`.
fn leaves(
    size: u64,
    pending: &[(i64, String)],
    now: chrono::DateTime<Utc>,
) -> Result<Vec<esg_log_leaves::ActiveModel>, LogError> {
    pending
        .iter()
        .zip(size..)
        .map(|((seq, _), index)| {
            Ok(esg_log_leaves::ActiveModel {
                leaf_index: sea_orm::Set(to_i64(index)?),
                ledger_seq: sea_orm::Set(*seq),
                created_at: sea_orm::Set(now),
            })
        })
        .collect()
}

fn hash_rows(added: &[(u64, Hash)]) -> Result<Vec<esg_log_hashes::ActiveModel>, LogError> {
    added
        .iter()
        .map(|(index, hash)| {
            Ok(esg_log_hashes::ActiveModel {
                hash_index: sea_orm::Set(to_i64(*index)?),
                hash: sea_orm::Set(hash.0.to_vec()),
            })
        })
        .collect()
}

fn to_i64(value: u64) -> Result<i64, LogError> {
    i64::try_from(value).map_err(|_| LogError::Corrupt(format!("{value} does not fit a bigint")))
}

/// The stored hashes at `indexes`; a missing one is a corrupt log.
pub async fn stored_hashes(
    conn: &impl ConnectionTrait,
    indexes: &[u64],
) -> Result<StoredHashes, LogError> {
    let mut hashes = StoredHashes::default();
    for chunk in indexes.chunks(ROWS_PER_STATEMENT) {
        let keys = chunk
            .iter()
            .map(|index| to_i64(*index))
            .collect::<Result<Vec<_>, _>>()?;
        for row in esg_log_hashes::Entity::find()
            .filter(esg_log_hashes::Column::HashIndex.is_in(keys))
            .all(conn)
            .await?
        {
            hashes.insert(
                row.hash_index.unsigned_abs(),
                stored_hash(row.hash_index, &row.hash)?,
            );
        }
    }
    Ok(hashes)
}

/// The stored hash at `index`, as its row holds it; anything but 32 bytes is a corrupt log.
fn stored_hash(index: i64, bytes: &[u8]) -> Result<Hash, LogError> {
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| LogError::Corrupt(format!("stored hash {index} is not 32 bytes")))?;
    Ok(Hash(hash))
}

/// The latest checkpoint, if any was signed.
pub async fn latest_checkpoint(
    conn: &impl ConnectionTrait,
) -> Result<Option<esg_log_checkpoints::Model>, DbErr> {
    esg_log_checkpoints::Entity::find()
        .order_by_desc(esg_log_checkpoints::Column::TreeSize)
        .one(conn)
        .await
}

/// The checkpoint signed at `size` leaves, if the integrator stopped there.
pub async fn checkpoint_at(
    conn: &impl ConnectionTrait,
    size: u64,
) -> Result<Option<esg_log_checkpoints::Model>, LogError> {
    Ok(esg_log_checkpoints::Entity::find_by_id(to_i64(size)?)
        .one(conn)
        .await?)
}

/// The leaf index of each of `ledger_seqs` that is in the log.
pub async fn leaf_indexes(
    conn: &impl ConnectionTrait,
    ledger_seqs: &[i64],
) -> Result<HashMap<i64, u64>, DbErr> {
    let mut found = HashMap::with_capacity(ledger_seqs.len());
    for chunk in ledger_seqs.chunks(ROWS_PER_STATEMENT) {
        for row in esg_log_leaves::Entity::find()
            .filter(esg_log_leaves::Column::LedgerSeq.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            found.insert(row.ledger_seq, row.leaf_index.unsigned_abs());
        }
    }
    Ok(found)
}

/// Runs `compute` over exactly the stored hashes it reads: once recording which, then over
/// those rows.
pub async fn with_hashes<T>(
    conn: &impl ConnectionTrait,
    compute: impl Fn(&Pass<'_>) -> Result<T, tlog_tiles::Error>,
) -> Result<T, LogError> {
    let needed = HashesNeeded::default();
    compute(&Pass::Recording(&needed))?;
    let hashes = stored_hashes(conn, &needed.indexes()).await?;
    Ok(compute(&Pass::Reading(&hashes))?)
}
