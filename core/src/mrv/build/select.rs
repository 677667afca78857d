//! The selection of SPEC §8 in SQL: every ledger row whose `event_timestamp` lies in the window
//! and that is a leaf of the log's tree the export binds to (SPEC §18), de-duplicated by
//! `trip_id` keeping the highest `ledger_seq`. The aggregates are exact `SUM`s
//! of micro-unit BIGINTs; the selected rows stream in `trip_id` code-point order. The same SQL
//! runs on SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;

use futures::{Stream, StreamExt};
use greenos_entity::esg_impact_ledger;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, StreamTrait, Value};

use crate::mrv::build::payload::{Aggregation, DuplicateStats, FactorPair, Totals};
use crate::mrv::error::MrvError;
use crate::mrv::period::ExportWindow;

/// Every row of the window that is a leaf of the log's tree of `tree_size` leaves, the tree the
/// export binds to (a row committed after the export integrated the log is left out, as any
/// row committed after an export is).
fn in_window(tree_size: u64) -> String {
    format!(
        "FROM esg_impact_ledger l JOIN esg_log_leaves g ON g.ledger_seq = l.ledger_seq \
         WHERE l.event_timestamp >= $1 AND l.event_timestamp < $2 AND g.leaf_index < {tree_size}"
    )
}

/// The window's rows kept by the de-duplication: no other row of the same `trip_id` in the
/// window (and in the tree) has a higher `ledger_seq`. An anti-join, so that the aggregates
/// sort nothing: the database walks the `event_timestamp` index and probes the
/// `(trip_id, model_version)` index.
fn kept(tree_size: u64) -> String {
    format!(
        "{} AND NOT EXISTS (SELECT 1 FROM esg_impact_ledger newer \
         JOIN esg_log_leaves gn ON gn.ledger_seq = newer.ledger_seq \
         WHERE newer.trip_id = l.trip_id AND newer.ledger_seq > l.ledger_seq \
         AND newer.event_timestamp >= $1 AND newer.event_timestamp < $2 \
         AND gn.leaf_index < {tree_size})",
        in_window(tree_size)
    )
}

/// The first pass: aggregates over the kept rows, by everything the payload groups on.
#[derive(Debug, FromQueryResult)]
struct GroupRow {
    country_code: String,
    thermal_factor_local_micro: i64,
    ev_factor_local_micro: i64,
    methodology_version: String,
    model_version: String,
    impacts_count: i64,
    total_distance_km_micro: i64,
    total_co2_avoided_kg_micro: i64,
}

#[derive(Debug, FromQueryResult)]
struct DuplicateRow {
    trip_id: String,
    frequency: i64,
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    raw_impacts_count: i64,
}

/// What the first pass learns about the window.
#[derive(Clone, Debug, Default)]
pub(crate) struct WindowSummary {
    /// Totals of the kept rows.
    pub aggregation: Aggregation,
    /// Factors used, per country, sorted.
    pub country_factors: BTreeMap<String, Vec<FactorPair>>,
    /// Model versions of the kept rows, sorted by code point.
    pub model_versions: Vec<String>,
    /// Raw count and duplicated trips.
    pub duplicates: DuplicateStats,
}

/// Runs the aggregate queries of the first pass on `db` (the build's read transaction).
pub(crate) async fn summarise<C: ConnectionTrait>(
    db: &C,
    window: &ExportWindow,
    tree_size: u64,
) -> Result<WindowSummary, MrvError> {
    let backend = db.get_database_backend();
    let (kept, in_window) = (kept(tree_size), in_window(tree_size));
    let grouped = format!(
        "SELECT l.country_code, l.thermal_factor_local_micro, l.ev_factor_local_micro, \
         l.methodology_version, l.model_version, COUNT(*) AS impacts_count, \
         CAST(SUM(l.distance_km_micro) AS BIGINT) AS total_distance_km_micro, \
         CAST(SUM(l.co2_avoided_kg_micro) AS BIGINT) AS total_co2_avoided_kg_micro \
         {kept} GROUP BY l.country_code, l.thermal_factor_local_micro, l.ev_factor_local_micro, \
         l.methodology_version, l.model_version"
    );
    let groups = GroupRow::find_by_statement(statement(backend, &grouped, window))
        .all(db)
        .await?;
    let duplicated = format!(
        "SELECT l.trip_id, COUNT(*) AS frequency {in_window} GROUP BY l.trip_id HAVING COUNT(*) > 1"
    );
    let mut duplicates: Vec<(String, i64)> =
        DuplicateRow::find_by_statement(statement(backend, &duplicated, window))
            .all(db)
            .await?
            .into_iter()
            .map(|row| (row.trip_id, row.frequency))
            .collect();
    // Code-point order whatever the database collation.
    duplicates.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let counted = format!("SELECT COUNT(*) AS raw_impacts_count {in_window}");
    let raw_impacts_count = CountRow::find_by_statement(statement(backend, &counted, window))
        .one(db)
        .await?
        .map_or(0, |row| row.raw_impacts_count);
    let summary = fold(
        groups,
        DuplicateStats {
            raw_impacts_count,
            duplicates,
        },
    )?;
    let removed = summary.duplicates.removed();
    if summary.aggregation.totals.impacts_count + removed != raw_impacts_count {
        return Err(MrvError::Storage(format!(
            "inconsistent window: {} kept + {removed} removed != {raw_impacts_count} rows",
            summary.aggregation.totals.impacts_count
        )));
    }
    Ok(summary)
}

fn fold(groups: Vec<GroupRow>, duplicates: DuplicateStats) -> Result<WindowSummary, MrvError> {
    let overflow = || MrvError::Storage("window totals overflow 64-bit micro-units".to_owned());
    let mut aggregation = Aggregation::default();
    let mut factors: BTreeMap<String, BTreeSet<FactorPair>> = BTreeMap::new();
    let mut model_versions = BTreeSet::new();
    for group in groups {
        let totals = Totals {
            impacts_count: group.impacts_count,
            total_distance_km_micro: group.total_distance_km_micro,
            total_co2_avoided_kg_micro: group.total_co2_avoided_kg_micro,
        };
        aggregation.totals.add(totals).ok_or_else(overflow)?;
        aggregation
            .by_country
            .entry(group.country_code.clone())
            .or_default()
            .add(totals)
            .ok_or_else(overflow)?;
        factors
            .entry(group.country_code)
            .or_default()
            .insert(FactorPair {
                methodology_version: group.methodology_version,
                thermal_factor_local_micro: group.thermal_factor_local_micro,
                ev_factor_local_micro: group.ev_factor_local_micro,
            });
        model_versions.insert(group.model_version);
    }
    Ok(WindowSummary {
        aggregation,
        country_factors: factors
            .into_iter()
            .map(|(country, pairs)| (country, pairs.into_iter().collect()))
            .collect(),
        // A BTreeSet of Strings iterates in byte order, which is code-point order.
        model_versions: model_versions.into_iter().collect(),
        duplicates,
    })
}

/// A stream of ledger rows, each with its leaf index in the log.
pub(crate) type RowStream<'a> =
    Pin<Box<dyn Stream<Item = Result<(esg_impact_ledger::Model, u64), DbErr>> + Send + 'a>>;

/// The kept rows of the window in the tree of `tree_size` leaves, ordered by `trip_id` code
/// points, as the database sends them, each with its leaf index.
pub(crate) async fn selected_rows<'a, C>(
    db: &'a C,
    window: &ExportWindow,
    tree_size: u64,
) -> Result<RowStream<'a>, MrvError>
where
    C: ConnectionTrait + StreamTrait + Send,
{
    let backend = ConnectionTrait::get_database_backend(db);
    // PostgreSQL sorts text by the database collation unless told otherwise; "C" is byte
    // order, which for UTF-8 is code-point order. SQLite's default BINARY collation already is.
    let collate = if backend == DbBackend::Postgres {
        " COLLATE \"C\""
    } else {
        ""
    };
    // Every row of the window, each trip's rows together and its highest ledger_seq first: the
    // first row of each trip is the kept one (the rule of `kept`, which the aggregates use; the
    // writer checks that both agree). One sort, no anti-join per row.
    let sql = format!(
        "SELECT l.*, g.leaf_index AS log_leaf_index {} ORDER BY l.trip_id{collate}, l.ledger_seq DESC",
        in_window(tree_size)
    );
    let rows = db.stream_raw(statement(backend, &sql, window)).await?;
    let mut previous: Option<String> = None;
    Ok(Box::pin(rows.filter_map(move |row| {
        let read = row.and_then(|row| {
            let leaf: i64 = row.try_get("", "log_leaf_index")?;
            Ok((
                esg_impact_ledger::Model::from_query_result(&row, "")?,
                leaf.unsigned_abs(),
            ))
        });
        let kept = match read {
            Ok((model, _)) if previous.as_deref() == Some(model.trip_id.as_str()) => None,
            Ok((model, leaf)) => {
                previous = Some(model.trip_id.clone());
                Some(Ok((model, leaf)))
            }
            Err(err) => Some(Err(err)),
        };
        futures::future::ready(kept)
    })))
}

/// Binds the window bounds as `$1` and `$2` (numbered parameters work on both backends).
fn statement(backend: DbBackend, sql: &str, window: &ExportWindow) -> Statement {
    let values: [Value; 2] = [
        window.period_start.as_datetime().into(),
        window.period_end.as_datetime().into(),
    ];
    Statement::from_sql_and_values(backend, sql, values)
}
