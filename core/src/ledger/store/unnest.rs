//! PostgreSQL bulk insert as `INSERT ... SELECT * FROM UNNEST($1::text[], $2::bigint[], ...)`:
//! one statement and one round trip whatever the batch size, every column bound as one array.
//! The columns and values come from the same `ActiveModel` the SQLite INSERT path writes, so
//! both paths write the same row.

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::{PgArguments, PgRow};
use sea_orm::sqlx::query::Query;
use sea_orm::sqlx::{AssertSqlSafe, PgConnection};
use sea_orm::{ActiveModelTrait, EntityName, Value};

use crate::bulk::{quoted_names, set_columns, take_value};
use crate::ledger::error::IngestError;
use crate::ledger::store::{encode_error, sqlx_error};

/// One column of the batch, typed for binding as a PostgreSQL array.
enum ColumnArray {
    Text(Vec<Option<String>>),
    BigInt(Vec<Option<i64>>),
    Int(Vec<Option<i32>>),
    Timestamp(Vec<Option<DateTime<Utc>>>),
}

impl ColumnArray {
    fn for_value(value: &Value, capacity: usize) -> Result<ColumnArray, IngestError> {
        Ok(match value {
            Value::String(_) => Self::Text(Vec::with_capacity(capacity)),
            Value::BigInt(_) => Self::BigInt(Vec::with_capacity(capacity)),
            Value::Int(_) => Self::Int(Vec::with_capacity(capacity)),
            Value::ChronoDateTimeUtc(_) => Self::Timestamp(Vec::with_capacity(capacity)),
            other => return Err(encode_error(format!("no array binding for {other:?}"))),
        })
    }

    fn push(&mut self, value: Value) -> Result<(), IngestError> {
        match (self, value) {
            (Self::Text(values), Value::String(v)) => values.push(v),
            (Self::BigInt(values), Value::BigInt(v)) => values.push(v),
            (Self::Int(values), Value::Int(v)) => values.push(v),
            (Self::Timestamp(values), Value::ChronoDateTimeUtc(v)) => values.push(v),
            (_, other) => return Err(encode_error(format!("mixed column types at {other:?}"))),
        }
        Ok(())
    }

    fn sql_type(&self) -> &'static str {
        match self {
            Self::Text(_) => "text[]",
            Self::BigInt(_) => "bigint[]",
            Self::Int(_) => "int4[]",
            Self::Timestamp(_) => "timestamptz[]",
        }
    }

    fn bind(
        self,
        query: Query<'_, sea_orm::sqlx::Postgres, PgArguments>,
    ) -> Query<'_, sea_orm::sqlx::Postgres, PgArguments> {
        match self {
            Self::Text(values) => query.bind(values),
            Self::BigInt(values) => query.bind(values),
            Self::Int(values) => query.bind(values),
            Self::Timestamp(values) => query.bind(values),
        }
    }
}

/// Inserts `rows` into their table with one statement, `suffix` appended to it (an
/// `ON CONFLICT` or `RETURNING` clause, or nothing); every row must set the same columns.
/// Answers the rows the statement returns.
pub(super) async fn insert_unnest<A: ActiveModelTrait>(
    conn: &mut PgConnection,
    rows: Vec<A>,
    suffix: &'static str,
) -> Result<Vec<PgRow>, IngestError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = set_columns(first);
    let table = A::Entity::default().table_name().to_owned();
    let mut probe = first.clone();
    let mut arrays = Vec::with_capacity(columns.len());
    for column in &columns {
        arrays.push(ColumnArray::for_value(
            &take_value(&mut probe, *column, &table)?,
            rows.len(),
        )?);
    }
    for mut row in rows {
        for (column, array) in columns.iter().zip(arrays.iter_mut()) {
            array.push(take_value(&mut row, *column, &table)?)?;
        }
    }
    let names = quoted_names(&columns);
    let params = arrays
        .iter()
        .enumerate()
        .map(|(at, array)| format!("${}::{}", at + 1, array.sql_type()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO \"{table}\" ({names}) SELECT * FROM UNNEST({params}){suffix}");
    // Only entity column names and numbered placeholders go into the text; values are bound.
    let mut query = sea_orm::sqlx::query(AssertSqlSafe(sql));
    for array in arrays {
        query = array.bind(query);
    }
    query.fetch_all(conn).await.map_err(sqlx_error)
}
