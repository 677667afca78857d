//! A slice read from PostgreSQL: a read-only REPEATABLE READ transaction, the rows fetched
//! through sqlx and encoded where they arrive, columns by index (by name, each column is looked
//! up in the row's description) and text borrowed from the row.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{AssertSqlSafe, PgPool, Row};
use tokio::sync::mpsc;

use crate::mrv::build::batch::Batch;
use crate::mrv::build::select::{Columns, TimeSlice, slice_sql};
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
        let mut batch = Batch::new();
        while let Some(row) = rows.try_next().await? {
            batch.push(&row)?;
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

impl Columns for PgRow {
    fn int(&self, index: usize) -> Result<i64, MrvError> {
        Ok(self.try_get(index)?)
    }

    fn text(&self, index: usize) -> Result<&str, MrvError> {
        Ok(self.try_get(index)?)
    }

    fn optional_text(&self, index: usize) -> Result<Option<&str>, MrvError> {
        Ok(self.try_get(index)?)
    }

    fn time(&self, index: usize) -> Result<DateTime<Utc>, MrvError> {
        Ok(self.try_get(index)?)
    }
}
