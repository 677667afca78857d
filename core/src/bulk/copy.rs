//! PostgreSQL bulk insert as `COPY ... FROM STDIN (FORMAT binary)`: the server parses no SQL
//! and no array per row, about half the server CPU of `INSERT ... SELECT * FROM UNNEST(...)`
//! per row. Values are encoded by sqlx's own PostgreSQL encoders; this module only frames
//! them (the binary COPY header, one field count per tuple, one length per field, the
//! trailer). The columns and values come from the same `ActiveModel`s as the other paths.
//!
//! `COPY` has no `ON CONFLICT`: a unique violation aborts the transaction, and the caller
//! decides what to do about it (the ledger retries with its `ON CONFLICT` path).

use sea_orm::sqlx::postgres::PgArgumentBuffer;
use sea_orm::sqlx::{Encode, PgConnection, Postgres};
use sea_orm::{ActiveModelTrait, DbErr, EntityName, Value};

use crate::bulk::{encode_error, quoted_names, set_columns, sqlx_error, take_value};

/// The binary COPY signature, flags (no OIDs) and header extension length (none).
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The file trailer: a field count of -1.
const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// Bytes sent per `CopyData` message: large enough that a batch is a few messages, small
/// enough that the encoder does not hold a second copy of a large batch.
const SEND_AT: usize = 1 << 20;

/// Copies `rows` into their table; every row must set the same columns. Answers the number of
/// rows the server wrote.
pub(crate) async fn copy_in<A: ActiveModelTrait>(
    conn: &mut PgConnection,
    rows: Vec<A>,
) -> Result<u64, DbErr> {
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let columns = set_columns(first);
    let field_count = i16::try_from(columns.len()).map_err(encode_error)?;
    let table = A::Entity::default().table_name().to_owned();
    let names = quoted_names(&columns);
    let statement = format!("COPY \"{table}\" ({names}) FROM STDIN (FORMAT binary)");
    let mut copy = conn.copy_in_raw(&statement).await.map_err(sqlx_error)?;
    let mut buffer = PgArgumentBuffer::default();
    buffer.extend_from_slice(HEADER);
    let sent = async {
        for mut row in rows {
            buffer.extend_from_slice(&field_count.to_be_bytes());
            for column in &columns {
                encode_field(&mut buffer, take_value(&mut row, *column, &table)?)?;
            }
            if buffer.len() >= SEND_AT {
                copy.send(buffer.as_slice()).await.map_err(sqlx_error)?;
                buffer.clear();
            }
        }
        buffer.extend_from_slice(&TRAILER);
        copy.send(buffer.as_slice()).await.map_err(sqlx_error)?;
        Ok::<_, DbErr>(())
    }
    .await;
    match sent {
        Ok(()) => copy.finish().await.map_err(sqlx_error),
        Err(err) => {
            // Leave the connection usable (the transaction is rolled back by the caller).
            copy.abort(err.to_string()).await.ok();
            Err(err)
        }
    }
}

/// One field: its length (-1 for NULL), then its binary value.
fn encode_field(buffer: &mut PgArgumentBuffer, value: Value) -> Result<(), DbErr> {
    let at = buffer.len();
    buffer.extend_from_slice(&0i32.to_be_bytes());
    let start = buffer.len();
    let null = match value {
        Value::String(None)
        | Value::BigInt(None)
        | Value::Int(None)
        | Value::ChronoDateTimeUtc(None)
        | Value::Bytes(None) => true,
        Value::String(Some(v)) => encode(&v, buffer)?,
        Value::BigInt(Some(v)) => encode(&v, buffer)?,
        Value::Int(Some(v)) => encode(&v, buffer)?,
        Value::ChronoDateTimeUtc(Some(v)) => encode(&v, buffer)?,
        Value::Bytes(Some(v)) => encode(&v, buffer)?,
        other => return Err(encode_error(format!("no COPY encoding for {other:?}"))),
    };
    let length = if null {
        -1
    } else {
        i32::try_from(buffer.len() - start).map_err(encode_error)?
    };
    buffer[at..start].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

/// Encodes `value` with sqlx's binary encoder; `true` when it wrote a NULL.
fn encode<'q, T: Encode<'q, Postgres>>(
    value: &T,
    buffer: &mut PgArgumentBuffer,
) -> Result<bool, DbErr> {
    let null = value.encode_by_ref(buffer).map_err(encode_error)?;
    Ok(null.is_null())
}
