//! Listing impacts for dashboards: a filter, an order, and keyset pages (never `OFFSET`), so a
//! page deep in a large ledger costs what the first one does.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use greenos_entity::esg_impact_ledger::{Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::{Deserialize, Serialize};

use crate::ledger::error::ImpactError;
use crate::ledger::impact::Impact;
use crate::page::PageRequest;
use crate::proof::UtcMicros;

/// Which impacts a dashboard asks about; every field narrows the set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpactFilter {
    /// Only these countries (empty: every country).
    pub country_codes: Vec<String>,
    /// `event_timestamp >= from`.
    pub from: Option<UtcMicros>,
    /// `event_timestamp < to`.
    pub to: Option<UtcMicros>,
    /// Only this calculation model; when given, totals count every row of it.
    pub model_version: Option<String>,
    /// Only impacts computed with this methodology.
    pub methodology_version: Option<String>,
    /// Only this user's trips.
    pub user_id: Option<String>,
    /// Only this vehicle's trips.
    pub vehicle_id: Option<String>,
}

impl ImpactFilter {
    /// The filter as a SQL condition on the ledger table.
    pub(crate) fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if !self.country_codes.is_empty() {
            condition = condition.add(Column::CountryCode.is_in(self.country_codes.clone()));
        }
        if let Some(from) = self.from {
            condition = condition.add(Column::EventTimestamp.gte(from.as_datetime()));
        }
        if let Some(to) = self.to {
            condition = condition.add(Column::EventTimestamp.lt(to.as_datetime()));
        }
        for (column, value) in [
            (Column::ModelVersion, &self.model_version),
            (Column::MethodologyVersion, &self.methodology_version),
            (Column::UserId, &self.user_id),
            (Column::VehicleId, &self.vehicle_id),
        ] {
            if let Some(value) = value {
                condition = condition.add(column.eq(value.clone()));
            }
        }
        condition
    }
}

/// The order of an impact list; ties on the timestamp are broken by `ledger_seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImpactOrder {
    /// Oldest trip first.
    EventTimestampAsc,
    /// Newest trip first.
    EventTimestampDesc,
    /// Ledger order.
    #[default]
    LedgerSeqAsc,
    /// Latest ledger row first.
    LedgerSeqDesc,
}

impl ImpactOrder {
    fn ascending(self) -> bool {
        matches!(self, Self::EventTimestampAsc | Self::LedgerSeqAsc)
    }

    fn by_timestamp(self) -> bool {
        matches!(self, Self::EventTimestampAsc | Self::EventTimestampDesc)
    }
}

/// Where a page starts or ends: the sort key of an impact, for one order only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImpactCursor {
    order: ImpactOrder,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_timestamp: Option<UtcMicros>,
    ledger_seq: i64,
}

impl ImpactCursor {
    fn of(order: ImpactOrder, impact: &Impact) -> ImpactCursor {
        ImpactCursor {
            order,
            event_timestamp: order.by_timestamp().then_some(impact.event.event_timestamp),
            ledger_seq: impact.ledger_seq,
        }
    }

    fn encode(&self) -> String {
        // A struct of a timestamp and an integer always serialises.
        BASE64_URL.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str, order: ImpactOrder, field: &'static str) -> Result<Self, ImpactError> {
        BASE64_URL
            .decode(text)
            .ok()
            .and_then(|json| serde_json::from_slice::<ImpactCursor>(&json).ok())
            .filter(|cursor| {
                cursor.order == order && cursor.event_timestamp.is_some() == order.by_timestamp()
            })
            .ok_or(ImpactError::InvalidQuery {
                field,
                reason: "not a cursor of this list and order".to_owned(),
            })
    }

    /// Rows strictly after (`forward`) or before the cursor in `order`: a row-value comparison
    /// on the sort key, which the `(event_timestamp, ledger_seq)` index serves as a range.
    fn beyond(&self, forward: bool) -> Condition {
        let later = self.order.ascending() == forward;
        match self.event_timestamp {
            None => {
                let seq = if later {
                    Column::LedgerSeq.gt(self.ledger_seq)
                } else {
                    Column::LedgerSeq.lt(self.ledger_seq)
                };
                Condition::all().add(seq)
            }
            Some(at) => {
                let key = Expr::tuple([
                    Expr::col(Column::EventTimestamp),
                    Expr::col(Column::LedgerSeq),
                ]);
                let cursor = Expr::tuple([Expr::val(at.as_datetime()), Expr::val(self.ledger_seq)]);
                Condition::all().add(if later {
                    key.gt(cursor)
                } else {
                    key.lt(cursor)
                })
            }
        }
    }
}

/// One page of impacts, each with its cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpactPage {
    /// The impacts of the page, in the list's order, with their cursors.
    pub edges: Vec<(String, Impact)>,
    /// More impacts follow the page.
    pub has_next_page: bool,
    /// Impacts precede the page.
    pub has_previous_page: bool,
}

/// One page of the impacts matching `filter` in `order`.
pub(crate) async fn impacts<C: ConnectionTrait>(
    db: &C,
    filter: &ImpactFilter,
    order: ImpactOrder,
    page: &PageRequest,
) -> Result<ImpactPage, ImpactError> {
    let (size, backward) = page.size().map_err(|e| ImpactError::InvalidQuery {
        field: e.field,
        reason: e.reason,
    })?;
    let after = page
        .after
        .as_deref()
        .map(|c| ImpactCursor::decode(c, order, "after"))
        .transpose()?;
    let before = page
        .before
        .as_deref()
        .map(|c| ImpactCursor::decode(c, order, "before"))
        .transpose()?;
    let mut condition = filter.condition();
    if let Some(after) = &after {
        condition = condition.add(after.beyond(true));
    }
    if let Some(before) = &before {
        condition = condition.add(before.beyond(false));
    }
    let query = ordered(Entity::find().filter(condition), order, backward).limit(size + 1);
    let mut rows = query.all(db).await?;
    let more = rows.len() as u64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    if backward {
        rows.reverse();
    }
    let edges = rows
        .into_iter()
        .map(|row| {
            let impact = Impact::from_row(row);
            (ImpactCursor::of(order, &impact).encode(), impact)
        })
        .collect();
    Ok(ImpactPage {
        edges,
        has_next_page: if backward { before.is_some() } else { more },
        has_previous_page: if backward { more } else { after.is_some() },
    })
}

/// The earliest `event_timestamp` of the ledger, if it holds anything.
pub(crate) async fn earliest<C: ConnectionTrait>(db: &C) -> Result<Option<UtcMicros>, ImpactError> {
    let first = Entity::find()
        .order_by_asc(Column::EventTimestamp)
        .one(db)
        .await?;
    Ok(first.map(|row| UtcMicros::truncating(row.event_timestamp)))
}

/// How many impacts match `filter`.
pub(crate) async fn count<C: ConnectionTrait>(
    db: &C,
    filter: &ImpactFilter,
) -> Result<u64, ImpactError> {
    Ok(Entity::find().filter(filter.condition()).count(db).await?)
}

fn ordered(query: Select<Entity>, order: ImpactOrder, reversed: bool) -> Select<Entity> {
    let ascending = order.ascending() != reversed;
    let query = if order.by_timestamp() {
        if ascending {
            query.order_by_asc(Column::EventTimestamp)
        } else {
            query.order_by_desc(Column::EventTimestamp)
        }
    } else {
        query
    };
    if ascending {
        query.order_by_asc(Column::LedgerSeq)
    } else {
        query.order_by_desc(Column::LedgerSeq)
    }
}

/// The impacts of `keys` (`trip_id`, `model_version`), as stored, in one query.
pub(crate) async fn by_keys<C: ConnectionTrait>(
    db: &C,
    keys: &[(String, String)],
) -> Result<Vec<Impact>, ImpactError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut condition = Condition::any();
    for (trip_id, model_version) in keys {
        condition = condition.add(
            Condition::all()
                .add(Column::TripId.eq(trip_id.clone()))
                .add(Column::ModelVersion.eq(model_version.clone())),
        );
    }
    let rows = Entity::find().filter(condition).all(db).await?;
    Ok(rows.into_iter().map(Impact::from_row).collect())
}
