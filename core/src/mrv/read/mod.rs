//! Reading exports back: one by id, a window's export, pages of the list (newest first, opaque
//! cursor), and the payload chunk by chunk, so that no reader ever holds a whole payload.

pub(crate) mod artifact;
pub(crate) mod csv;
pub(crate) mod page;
pub(crate) mod walk;

use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use futures::StreamExt;
use greenos_entity::{esg_mrv_export_chunks, esg_mrv_exports};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::mrv::channel::ChannelReader;
use crate::mrv::chunk::ChunkCodec;
use crate::mrv::error::MrvError;
use crate::mrv::period::{ExportWindow, Period};
use crate::mrv::record::ExportRecord;
use crate::page::PageRequest;
use crate::proof::UtcMicros;

use esg_mrv_exports::{Column, Entity};

/// The default page size of the list.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page size of the list.
pub const MAX_PAGE_SIZE: u64 = 500;

/// One page of the export list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportPage {
    /// Newest first (`created_at`, then `export_id`, both descending).
    pub exports: Vec<ExportRecord>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The position after which the next page of the export list starts, as the opaque text a
/// client holds.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportCursor {
    created_at: UtcMicros,
    export_id: String,
}

impl ExportCursor {
    /// The position just after `record` in the list.
    pub fn of(record: &ExportRecord) -> ExportCursor {
        ExportCursor {
            created_at: record.created_at,
            export_id: record.export_id.clone(),
        }
    }

    /// The opaque text a client holds.
    pub fn encode(&self) -> String {
        // A timestamp and a string always serialise.
        BASE64_URL.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor a list returned; anything else (tampered, foreign, holding text no
    /// export id has) is `GREENOS_VALIDATION_FAILED` on `cursor`.
    pub fn decode(text: &str) -> Result<ExportCursor, MrvError> {
        decode_cursor(text)
    }
}

/// The export with id `export_id`, or `NotFound`.
pub async fn get<C: ConnectionTrait>(db: &C, export_id: &str) -> Result<ExportRecord, MrvError> {
    // Export ids are UUIDs: anything else (a NUL character, say) names no export.
    if uuid::Uuid::parse_str(export_id).is_err() {
        return Err(MrvError::NotFound {
            export_id: export_id.chars().take(64).collect(),
        });
    }
    let row = Entity::find_by_id(export_id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| MrvError::NotFound {
            export_id: export_id.to_owned(),
        })?;
    ExportRecord::from_row(row)
}

/// The id of the export of `window`, if one exists.
pub async fn find_by_window<C: ConnectionTrait>(
    db: &C,
    window: &ExportWindow,
) -> Result<Option<String>, MrvError> {
    Ok(Entity::find()
        .filter(Column::PeriodStart.eq(window.period_start.as_datetime()))
        .filter(Column::PeriodEnd.eq(window.period_end.as_datetime()))
        .one(db)
        .await?
        .map(|row| row.export_id))
}

/// A page of at most `limit` exports (1 to [`MAX_PAGE_SIZE`]), after `cursor` when given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    period: Option<Period>,
    limit: u64,
    cursor: Option<&str>,
) -> Result<ExportPage, MrvError> {
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(MrvError::InvalidQuery {
            field: "limit",
            reason: format!("must be between 1 and {MAX_PAGE_SIZE}"),
        });
    }
    let mut query = Entity::find();
    if let Some(period) = period {
        query = query.filter(Column::Period.eq(period.as_str()));
    }
    let mut query = query
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::ExportId)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        let after = decode_cursor(cursor)?;
        let at = after.created_at.as_datetime();
        query = query.filter(
            Condition::any().add(Column::CreatedAt.lt(at)).add(
                Condition::all()
                    .add(Column::CreatedAt.eq(at))
                    .add(Column::ExportId.lt(after.export_id)),
            ),
        );
    }
    let mut exports = query
        .all(db)
        .await?
        .into_iter()
        .map(ExportRecord::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let more = exports.len() as u64 > limit;
    exports.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = match (more, exports.last()) {
        (true, Some(last)) => Some(ExportCursor::of(last).encode()),
        _ => None,
    };
    Ok(ExportPage {
        exports,
        next_cursor,
    })
}

/// One Relay page of exports, newest first, each with its cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportsPage {
    /// The exports of the page, newest first, with their cursors.
    pub edges: Vec<(String, ExportRecord)>,
    /// Older exports follow the page.
    pub has_next_page: bool,
    /// Newer exports precede the page.
    pub has_previous_page: bool,
}

/// A Relay page of exports (newest first), of one `period` when given.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    period: Option<Period>,
    request: &PageRequest,
) -> Result<ExportsPage, MrvError> {
    let (size, backward) = request.size().map_err(|e| MrvError::InvalidQuery {
        field: e.field,
        reason: e.reason,
    })?;
    let decode = |text: &Option<String>, field: &'static str| {
        text.as_deref()
            .map(|t| {
                decode_cursor(t).map_err(|_| MrvError::InvalidQuery {
                    field,
                    reason: "not a cursor of this list".to_owned(),
                })
            })
            .transpose()
    };
    let after = decode(&request.after, "after")?;
    let before = decode(&request.before, "before")?;
    let mut query = Entity::find();
    if let Some(period) = period {
        query = query.filter(Column::Period.eq(period.as_str()));
    }
    // Newest first: "after" a cursor is older, "before" it is newer.
    let older = |c: &ExportCursor| {
        let at = c.created_at.as_datetime();
        Condition::any().add(Column::CreatedAt.lt(at)).add(
            Condition::all()
                .add(Column::CreatedAt.eq(at))
                .add(Column::ExportId.lt(c.export_id.clone())),
        )
    };
    let newer = |c: &ExportCursor| {
        let at = c.created_at.as_datetime();
        Condition::any().add(Column::CreatedAt.gt(at)).add(
            Condition::all()
                .add(Column::CreatedAt.eq(at))
                .add(Column::ExportId.gt(c.export_id.clone())),
        )
    };
    if let Some(after) = &after {
        query = query.filter(older(after));
    }
    if let Some(before) = &before {
        query = query.filter(newer(before));
    }
    let query = if backward {
        query
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::ExportId)
    } else {
        query
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::ExportId)
    };
    let mut records = query
        .limit(size + 1)
        .all(db)
        .await?
        .into_iter()
        .map(ExportRecord::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let more = records.len() as u64 > size;
    records.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    if backward {
        records.reverse();
    }
    Ok(ExportsPage {
        edges: records
            .into_iter()
            .map(|record| (ExportCursor::of(&record).encode(), record))
            .collect(),
        has_next_page: if backward { before.is_some() } else { more },
        has_previous_page: if backward { more } else { after.is_some() },
    })
}

/// How many exports there are, of one `period` when given.
pub async fn count<C: ConnectionTrait>(db: &C, period: Option<Period>) -> Result<u64, MrvError> {
    let mut query = Entity::find();
    if let Some(period) = period {
        query = query.filter(Column::Period.eq(period.as_str()));
    }
    Ok(query.count(db).await?)
}

fn decode_cursor(text: &str) -> Result<ExportCursor, MrvError> {
    BASE64_URL
        .decode(text)
        .ok()
        .and_then(|json| serde_json::from_slice::<ExportCursor>(&json).ok())
        .filter(|cursor| uuid::Uuid::parse_str(&cursor.export_id).is_ok())
        .ok_or_else(|| MrvError::InvalidQuery {
            field: "cursor",
            reason: "not a cursor this list returned".to_owned(),
        })
}

/// The payload bytes of chunk `index` of `record`, decompressed (on a blocking thread), or
/// `None` when it is missing. A chunk that does not decode is an error.
pub async fn chunk<C: ConnectionTrait>(
    db: &C,
    record: &ExportRecord,
    index: i32,
) -> io::Result<Option<Vec<u8>>> {
    let codec: ChunkCodec = record.chunk_codec.parse()?;
    let Some(row) = esg_mrv_export_chunks::Entity::find_by_id((record.export_id.clone(), index))
        .one(db)
        .await
        .map_err(io::Error::other)?
    else {
        return Ok(None);
    };
    let piece = match codec {
        ChunkCodec::None => codec.decode(row.bytes)?,
        ChunkCodec::Zstd => tokio::task::spawn_blocking(move || codec.decode(row.bytes))
            .await
            .map_err(io::Error::other)??,
    };
    Ok(Some(piece))
}

/// The payload as a blocking [`Read`]: a task streams the chunks with one query, in order and
/// two ahead at most, while a blocking thread decompresses and consumes them. A missing chunk,
/// one that does not decode, or a codec no reader knows, is a read error.
///
/// The query holds a pooled connection until the payload is read, so this serves consumers
/// that read at machine speed (verification, the CSV); the artifact download, whose pace is the
/// client's, fetches chunk by chunk instead.
pub fn payload_reader(db: DatabaseConnection, record: &ExportRecord) -> PayloadReader {
    let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(2);
    let codec = match record.chunk_codec.parse::<ChunkCodec>() {
        Ok(codec) => codec,
        Err(err) => {
            // A new channel has room for the one error its reader then reads.
            let _ = tx.try_send(Err(err));
            return ChannelReader::new(rx);
        }
    };
    let export_id = record.export_id.clone();
    let chunk_count = record.chunk_count;
    tokio::spawn(async move {
        if let Err(err) = feed_chunks(&db, &export_id, chunk_count, &tx).await {
            // The reader may be gone already; then nobody needs the error.
            let _ = tx.send(Err(err)).await;
        }
    });
    ChannelReader::decoding(rx, Box::new(move |piece| codec.decode(piece)))
}

async fn feed_chunks(
    db: &DatabaseConnection,
    export_id: &str,
    chunk_count: i32,
    tx: &mpsc::Sender<io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let mut rows = esg_mrv_export_chunks::Entity::find()
        .filter(esg_mrv_export_chunks::Column::ExportId.eq(export_id))
        .order_by_asc(esg_mrv_export_chunks::Column::ChunkIndex)
        .stream(db)
        .await
        .map_err(io::Error::other)?;
    let mut expected = 0;
    while let Some(row) = rows.next().await {
        let row = row.map_err(io::Error::other)?;
        if row.chunk_index != expected {
            return Err(io::Error::other(format!("chunk {expected} is missing")));
        }
        if tx.send(Ok(row.bytes)).await.is_err() {
            return Ok(());
        }
        expected += 1;
    }
    if expected == chunk_count {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{expected} chunks stored, {chunk_count} expected"
        )))
    }
}

/// Reads an export's payload from its chunks; use it on a blocking thread only.
pub type PayloadReader = ChannelReader;
