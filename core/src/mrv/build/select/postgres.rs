//! A slice read from PostgreSQL: a read-only REPEATABLE READ transaction, the rows fetched
//! through sqlx and encoded where they arrive, columns by index (by name, each column is looked
//! up in the row's description) and text borrowed from the row; the column types checked on
//! the first row only.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{AssertSqlSafe, Decode, PgPool, Postgres, Row, Type};
use tokio::sync::mpsc;

use crate::mrv::build::batch::Batch;
use crate::mrv::build::select::{Columns, TimeSlice, slice_sql};
use crate::mrv::error::MrvError;

/// The slice's session settings. The slices already read side by side, one per core: parallel
/// workers of each query would only add processes for the same cores (each rescanning the
/// indexes its join needs), and JIT compiles code for a plan that mostly sorts and sends rows.
/// Measured on a 505 000-row slice of a seeded ledger: 1.4–1.6 CPU-s without either, against
/// 2.0–2.4 with both.
const SLICE_SETTINGS: &str = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off";

/// See [`super::read_slice`].
pub(super) async fn read_slice(
    pool: &PgPool,
    slice: TimeSlice,
    tree_size: u64,
    tx: &mpsc::Sender<Batch>,
) -> Result<(), MrvError> {
    let mut snapshot = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    sea_orm::sqlx::raw_sql(SLICE_SETTINGS)
        .execute(&mut *snapshot)
        .await?;
    {
        let sql = slice_sql(DbBackend::Postgres, tree_size);
        let mut rows = sea_orm::sqlx::query(AssertSqlSafe(sql))
            .bind(slice.from)
            .bind(slice.to)
            .fetch(&mut *snapshot);
        let mut batch = Batch::new();
        let mut checked = true;
        while let Some(row) = rows.try_next().await? {
            batch.push(&SliceRow { row: &row, checked })?;
            checked = false;
            if batch.is_full() && tx.send(batch.take()).await.is_err() {
                return Ok(());
            }
        }
        if !batch.is_empty() && tx.send(batch).await.is_err() {
            return Ok(());
        }
    }
    snapshot.commit().await?;
    Ok(())
}

/// A row of a slice. Every row of a query shares its description, so the first row's decoding
/// checks the column types (`checked`) and the others decode without checking them again
/// (sqlx's check compares type descriptions for every value: 5 % of an export's CPU).
struct SliceRow<'r> {
    row: &'r PgRow,
    checked: bool,
}

impl SliceRow<'_> {
    fn get<'a, T>(&'a self, index: usize) -> Result<T, MrvError>
    where
        T: Decode<'a, Postgres> + Type<Postgres>,
    {
        Ok(if self.checked {
            self.row.try_get(index)?
        } else {
            self.row.try_get_unchecked(index)?
        })
    }
}

impl Columns for SliceRow<'_> {
    fn int(&self, index: usize) -> Result<i64, MrvError> {
        self.get(index)
    }

    fn text(&self, index: usize) -> Result<&str, MrvError> {
        self.get(index)
    }

    fn optional_text(&self, index: usize) -> Result<Option<&str>, MrvError> {
        self.get(index)
    }

    fn time(&self, index: usize) -> Result<DateTime<Utc>, MrvError> {
        self.get(index)
    }
}
