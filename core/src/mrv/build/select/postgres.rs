//! A slice read from PostgreSQL: a read-only REPEATABLE READ transaction, the rows fetched
//! through sqlx and decoded by column index (by name, each column is looked up in the row's
//! description).

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{AssertSqlSafe, PgPool, Row};
use tokio::sync::mpsc;

use crate::mrv::build::select::{Batch, Batching, Columns, TimeSlice, decode, slice_sql};
use crate::mrv::error::MrvError;

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
    {
        let sql = slice_sql(DbBackend::Postgres, tree_size);
        let mut rows = sea_orm::sqlx::query(AssertSqlSafe(sql))
            .bind(slice.from)
            .bind(slice.to)
            .fetch(&mut *snapshot);
        let mut batching = Batching::new();
        while let Some(row) = rows.try_next().await? {
            if let Some(full) = batching.push(decode(&row)?)
                && tx.send(full).await.is_err()
            {
                return Ok(());
            }
        }
        if let Some(rest) = batching.rest()
            && tx.send(rest).await.is_err()
        {
            return Ok(());
        }
    }
    snapshot.commit().await?;
    Ok(())
}

impl Columns for PgRow {
    fn int(&self, index: usize) -> Result<i64, MrvError> {
        Ok(self.try_get(index)?)
    }

    fn text(&self, index: usize) -> Result<String, MrvError> {
        Ok(self.try_get(index)?)
    }

    fn optional_text(&self, index: usize) -> Result<Option<String>, MrvError> {
        Ok(self.try_get(index)?)
    }

    fn time(&self, index: usize) -> Result<DateTime<Utc>, MrvError> {
        Ok(self.try_get(index)?)
    }
}
