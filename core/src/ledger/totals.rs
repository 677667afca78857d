//! Exact totals of impacts grouped as a dashboard asks, computed in SQL from the micro-unit
//! columns, so sums are exact on SQLite and PostgreSQL alike. Each `trip_id` counts once — its
//! latest ledger row among the rows in the time bounds, the rule of an MRV export — unless the
//! filter names one model version, whose rows then all count.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};

use crate::ledger::error::ImpactError;
use crate::ledger::query::ImpactFilter;
use crate::proof::Decimal6;

/// A grouping key of the totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TotalsGroup {
    /// `country_code`.
    Country,
    /// The UTC month of `event_timestamp`, `YYYY-MM`.
    Month,
    /// The UTC quarter of `event_timestamp`, `YYYY-Qn`.
    Quarter,
    /// The UTC year of `event_timestamp`, `YYYY`.
    Year,
    /// `model_version`.
    ModelVersion,
    /// `methodology_version`.
    MethodologyVersion,
}

impl TotalsGroup {
    /// The SQL expression of the key on `backend`, over the ledger alias `l`.
    fn expression(self, backend: DbBackend) -> &'static str {
        match (self, backend) {
            (Self::Country, _) => "l.country_code",
            (Self::ModelVersion, _) => "l.model_version",
            (Self::MethodologyVersion, _) => "l.methodology_version",
            (Self::Month, DbBackend::Postgres) => {
                "to_char(l.event_timestamp AT TIME ZONE 'UTC', 'YYYY-MM')"
            }
            (Self::Quarter, DbBackend::Postgres) => {
                "to_char(l.event_timestamp AT TIME ZONE 'UTC', 'YYYY-\"Q\"Q')"
            }
            (Self::Year, DbBackend::Postgres) => {
                "to_char(l.event_timestamp AT TIME ZONE 'UTC', 'YYYY')"
            }
            // SQLite stores UTC timestamps as text that starts `YYYY-MM-DD`.
            (Self::Month, _) => "substr(l.event_timestamp, 1, 7)",
            (Self::Quarter, _) => {
                "substr(l.event_timestamp, 1, 4) || '-Q' || ((CAST(substr(l.event_timestamp, 6, 2) AS INTEGER) + 2) / 3)"
            }
            (Self::Year, _) => "substr(l.event_timestamp, 1, 4)",
        }
    }
}

/// One row of totals: the values of the grouping keys, in the order asked, and the sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotalsRow {
    /// `(key, value)` in the order of the request's `group_by`.
    pub keys: Vec<(TotalsGroup, String)>,
    /// Impacts counted.
    pub impacts_count: i64,
    /// Sum of `distance_km`.
    pub total_distance_km: Decimal6,
    /// Sum of `co2_avoided_kg`.
    pub total_co2_avoided_kg: Decimal6,
}

#[derive(Debug, FromQueryResult)]
struct SumRow {
    impacts_count: i64,
    total_distance_km_micro: i64,
    total_co2_avoided_kg_micro: i64,
}

/// Totals of the impacts matching `filter`, grouped by `requested` (no grouping: one row), rows
/// sorted by their keys.
pub(crate) async fn totals<C: ConnectionTrait>(
    db: &C,
    filter: &ImpactFilter,
    requested: &[TotalsGroup],
) -> Result<Vec<TotalsRow>, ImpactError> {
    let backend = db.get_database_backend();
    let mut group_by: Vec<TotalsGroup> = Vec::with_capacity(requested.len());
    for group in requested {
        if !group_by.contains(group) {
            group_by.push(*group);
        }
    }
    let mut params: Vec<Value> = Vec::new();
    let mut bind = |value: Value| {
        params.push(value);
        format!("${}", params.len())
    };
    let mut conditions = Vec::new();
    let mut time_bounds = Vec::new();
    if !filter.country_codes.is_empty() {
        let list: Vec<String> = filter
            .country_codes
            .iter()
            .map(|c| bind(c.clone().into()))
            .collect();
        conditions.push(format!("l.country_code IN ({})", list.join(", ")));
    }
    if let Some(from) = filter.from {
        let p = bind(from.as_datetime().into());
        conditions.push(format!("l.event_timestamp >= {p}"));
        time_bounds.push(format!("newer.event_timestamp >= {p}"));
    }
    if let Some(to) = filter.to {
        let p = bind(to.as_datetime().into());
        conditions.push(format!("l.event_timestamp < {p}"));
        time_bounds.push(format!("newer.event_timestamp < {p}"));
    }
    for (column, value) in [
        ("model_version", &filter.model_version),
        ("methodology_version", &filter.methodology_version),
        ("user_id", &filter.user_id),
        ("vehicle_id", &filter.vehicle_id),
    ] {
        if let Some(value) = value {
            let p = bind(value.clone().into());
            conditions.push(format!("l.{column} = {p}"));
        }
    }
    if filter.model_version.is_none() {
        let bounds: String = time_bounds.iter().map(|b| format!(" AND {b}")).collect();
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM esg_impact_ledger newer WHERE newer.trip_id = l.trip_id \
             AND newer.ledger_seq > l.ledger_seq{bounds})"
        ));
    }
    let keys: Vec<String> = group_by
        .iter()
        .enumerate()
        .map(|(i, group)| format!("{} AS k{i}", group.expression(backend)))
        .collect();
    let select_keys: String = keys.iter().map(|k| format!("{k}, ")).collect();
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let grouping = if group_by.is_empty() {
        String::new()
    } else {
        let positions: Vec<String> = (0..group_by.len()).map(|i| format!("k{i}")).collect();
        format!(" GROUP BY {}", positions.join(", "))
    };
    let sql = format!(
        "SELECT {select_keys}COUNT(*) AS impacts_count, \
         CAST(COALESCE(SUM(l.distance_km_micro), 0) AS BIGINT) AS total_distance_km_micro, \
         CAST(COALESCE(SUM(l.co2_avoided_kg_micro), 0) AS BIGINT) AS total_co2_avoided_kg_micro \
         FROM esg_impact_ledger l{where_clause}{grouping}"
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params))
        .await?;
    let mut totals = rows
        .iter()
        .map(|row| {
            let sums = SumRow::from_query_result(row, "")?;
            let keys = group_by
                .iter()
                .enumerate()
                .map(|(i, group)| Ok((*group, row.try_get::<String>("", &format!("k{i}"))?)))
                .collect::<Result<Vec<_>, sea_orm::DbErr>>()?;
            Ok(TotalsRow {
                keys,
                impacts_count: sums.impacts_count,
                total_distance_km: Decimal6::from_micro(sums.total_distance_km_micro),
                total_co2_avoided_kg: Decimal6::from_micro(sums.total_co2_avoided_kg_micro),
            })
        })
        .collect::<Result<Vec<_>, ImpactError>>()?;
    // Code-point order of the keys, whatever the database collation.
    totals.sort_by(|a, b| {
        let key = |row: &TotalsRow| row.keys.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>();
        key(a).cmp(&key(b))
    });
    Ok(totals)
}
