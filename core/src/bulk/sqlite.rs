//! SQLite bulk insert: multi-row `INSERT`s in a few fixed sizes ([`ROWS_PER_STATEMENT`] rows,
//! then halves of it down to one), so each statement is prepared once per connection and reused
//! from sqlx's statement cache whatever the batch sizes; each statement's values are bound while
//! SQLite executes the one before.

use sea_orm::sqlx::query::Query;
use sea_orm::sqlx::sqlite::SqliteArguments;
use sea_orm::sqlx::{AssertSqlSafe, Sqlite, SqliteConnection};
use sea_orm::{ActiveModelTrait, DbErr, EntityName, Value};

use crate::bulk::{encode_error, quoted_names, set_columns, sqlx_error, take_value};

/// The largest statement: 256 rows of 23 columns stay far below SQLite's 32 766 parameters.
const ROWS_PER_STATEMENT: usize = 256;

/// Inserts `rows` into their table; every row must set the same columns. Each statement's
/// values are bound while SQLite executes the one before.
pub(crate) async fn insert_rows<A: ActiveModelTrait>(
    tx: &mut SqliteConnection,
    rows: Vec<A>,
) -> Result<(), DbErr> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let columns = set_columns(first);
    let table = A::Entity::default().table_name().to_owned();
    let names = quoted_names(&columns);
    let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut sizes = statement_sizes(rows.len()).into_iter();
    let mut rows = rows.into_iter();
    let mut statement = || {
        let Some(size) = sizes.next() else {
            return Ok(None);
        };
        let values = vec![tuple.as_str(); size].join(", ");
        // Only entity column names and placeholders go into the text; values are bound.
        let mut query = sea_orm::sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{table}\" ({names}) VALUES {values}"
        )));
        for mut row in rows.by_ref().take(size) {
            for column in &columns {
                query = bind(query, take_value(&mut row, *column, &table)?)?;
            }
        }
        Ok::<_, DbErr>(Some(query))
    };
    let mut next = statement()?;
    while let Some(query) = next {
        let (done, following) = futures::join!(query.execute(&mut *tx), async { statement() });
        done.map_err(sqlx_error)?;
        next = following?;
    }
    Ok(())
}

/// The row counts of the statements for `len` rows: [`ROWS_PER_STATEMENT`], then halves of it
/// down to one, so a handful of distinct statements, each prepared once.
pub(crate) fn statement_sizes(len: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut rest = len;
    let mut size = ROWS_PER_STATEMENT;
    while rest > 0 {
        while size > rest {
            size /= 2;
        }
        sizes.push(size);
        rest -= size;
    }
    sizes
}

/// Binds one value the way sea-orm binds it on SQLite, so both write the same bytes.
fn bind(
    query: Query<'_, Sqlite, SqliteArguments>,
    value: Value,
) -> Result<Query<'_, Sqlite, SqliteArguments>, DbErr> {
    Ok(match value {
        Value::String(v) => query.bind(v),
        Value::BigInt(v) => query.bind(v),
        Value::Int(v) => query.bind(v),
        Value::ChronoDateTimeUtc(v) => query.bind(v),
        Value::Bytes(v) => query.bind(v),
        other => return Err(encode_error(format!("no SQLite binding for {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_come_in_few_sizes() {
        assert_eq!(statement_sizes(1000), vec![256, 256, 256, 128, 64, 32, 8]);
        assert_eq!(statement_sizes(1), vec![1]);
        assert!(statement_sizes(0).is_empty());
    }
}
