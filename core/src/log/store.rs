//! The log's tables. Integration appends committed ledger rows as leaves, with the stored
//! hashes they complete and a signed checkpoint of the grown tree, in one transaction; the
//! reads give proofs and tiles exactly the stored hashes they need.
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
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, Statement,
};

use crate::log::checkpoint::sign_checkpoint;
use crate::log::error::LogError;
use crate::log::tree::{Hash, HashesNeeded, Pass, StoredHashes, leaf_hash, root};
use crate::proof::Ed25519Keyring;

/// The PostgreSQL advisory lock the integrator holds for its transaction ("greenos" + 0x02):
/// one integrator at a time across replicas.
const INTEGRATOR_LOCK_KEY: i64 = 0x6772_6565_6e6f_7302;

/// Rows per `INSERT` (3 bound values per leaf): far below both backends' limits.
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
    async fn observe(&mut self, txn: &DatabaseTransaction) -> Result<Option<i64>, DbErr> {
        // The sequence first, then the snapshot: a transaction that drew a value up to `seq`
        // had its id before the snapshot was taken.
        let seq = scalar(
            txn,
            "SELECT COALESCE(pg_sequence_last_value(\
             pg_get_serial_sequence('esg_impact_ledger', 'ledger_seq')::regclass), 0) AS v",
        )
        .await?;
        let row = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin, \
                 pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("the snapshot query answered no row".to_owned()))?;
        let oldest_running: i64 = row.try_get("", "xmin")?;
        let next_xid: i64 = row.try_get("", "xmax")?;
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

/// The value of the one `v` column `sql` answers.
async fn scalar(conn: &impl ConnectionTrait, sql: &str) -> Result<i64, DbErr> {
    conn.query_one_raw(Statement::from_string(
        conn.get_database_backend(),
        sql.to_owned(),
    ))
    .await?
    .ok_or_else(|| DbErr::Custom(format!("no row for {sql}")))?
    .try_get("", "v")
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
    let txn = crate::db::begin_write(db).await?;
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    if postgres {
        let taken = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_try_advisory_xact_lock({INTEGRATOR_LOCK_KEY}) AS taken"),
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "taken"))
            .transpose()?
            .unwrap_or(false);
        if !taken {
            txn.rollback().await?;
            return Ok(Integration::Busy);
        }
    }
    let size = u64::try_from(
        scalar(
            &txn,
            "SELECT COALESCE(MAX(leaf_index) + 1, 0) AS v FROM esg_log_leaves",
        )
        .await?,
    )
    .map_err(|_| LogError::Corrupt("a negative leaf index".to_owned()))?;
    if size < horizon.size {
        *horizon = Horizon::default();
    }
    horizon.size = size;
    let (floor, settling) = if postgres {
        (horizon.settled, horizon.observe(&txn).await?)
    } else {
        let last = scalar(
            &txn,
            "SELECT COALESCE(MAX(ledger_seq), 0) AS v FROM esg_log_leaves",
        )
        .await?;
        (last, None)
    };
    let rows = txn
        .query_all_raw(Statement::from_string(
            txn.get_database_backend(),
            format!(
                "SELECT l.ledger_seq, l.event_hash FROM esg_impact_ledger l \
                 WHERE l.ledger_seq > {floor} AND NOT EXISTS \
                 (SELECT 1 FROM esg_log_leaves g \
                 WHERE g.ledger_seq = l.ledger_seq AND g.ledger_seq > {floor}) \
                 ORDER BY l.ledger_seq LIMIT {limit}"
            ),
        ))
        .await?;
    let mut pending: Vec<(i64, String)> = Vec::with_capacity(rows.len());
    for row in rows {
        pending.push((
            row.try_get("", "ledger_seq")?,
            row.try_get("", "event_hash")?,
        ));
    }
    let truncated = pending.len() as u64 == limit;
    let has_checkpoint = size > 0
        || esg_log_checkpoints::Entity::find()
            .one(&txn)
            .await?
            .is_some();
    if pending.is_empty() && has_checkpoint {
        txn.commit().await?;
        horizon.settle(settling, None);
        return Ok(Integration::Idle { size });
    }
    let (new_size, added_hashes, new_root) = grow(&txn, size, &pending).await?;
    let note = sign_checkpoint(origin, new_size, new_root, ring)?;
    let now = Utc::now();
    insert_chunked(&txn, leaves(size, &pending, now)?).await?;
    insert_chunked(&txn, hash_rows(&added_hashes)?).await?;
    esg_log_checkpoints::Entity::insert(esg_log_checkpoints::ActiveModel {
        tree_size: sea_orm::Set(to_i64(new_size)?),
        root_hash: sea_orm::Set(hex::encode(new_root.0)),
        note: sea_orm::Set(note),
        key_version: sea_orm::Set(ring.active_version().as_str().to_owned()),
        created_at: sea_orm::Set(now),
    })
    .exec(&txn)
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

/// Appends `pending`'s leaves to the tree of `size` leaves: answers the new size, the stored
/// hashes to insert (by index) and the new root.
async fn grow(
    conn: &impl ConnectionTrait,
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
    let mut hashes = stored_hashes(conn, &existing).await?;
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

async fn insert_chunked<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<(), DbErr>
where
    A: sea_orm::ActiveModelTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        A::Entity::insert_many(chunk).exec(txn).await?;
    }
    Ok(())
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
            let hash: [u8; 32] = row.hash.as_slice().try_into().map_err(|_| {
                LogError::Corrupt(format!("stored hash {} is not 32 bytes", row.hash_index))
            })?;
            hashes.insert(row.hash_index.unsigned_abs(), Hash(hash));
        }
    }
    Ok(hashes)
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
