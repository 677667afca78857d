//! Seeding a large ledger fast for `greenos bench export`: one real impact is ingested and its
//! algorithms and key versions are replicated by SQL, so seeding a million rows takes seconds,
//! not minutes. Each row's hashes and signatures are strings of their own, random-looking and of
//! the real ones' lengths and alphabets, so that a payload compresses as a real one does
//! (replicated ones would compress many times better).

use anyhow::Context;
use greenos_core::context::RequestContext;
use greenos_core::ledger::{self, parse_json_trip};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use crate::app::AppState;

/// The algorithms and key versions of one real impact, replicated by [`seed`].
pub(super) struct Template {
    methodology_version: String,
    columns: [String; 4],
}

pub(super) async fn template(state: &AppState) -> anyhow::Result<Template> {
    let trip = br#"{"trip_id":"bench-template","user_id":"u-bench-000001","vehicle_id":"ev-bench-0001","country_code":"CI","geo_hash":"s0t5qd","event_timestamp":"2020-01-01T00:00:00Z","distance_km":12.5}"#;
    let trip = parse_json_trip(trip).map_err(|e| anyhow::anyhow!("template trip: {e:?}"))?;
    let outcome = state
        .services
        .ledger()
        .ingest(&RequestContext::system("bench"), vec![trip])
        .await?;
    let impact = outcome
        .items
        .first()
        .and_then(ledger::Appended::impact)
        .context("the template impact was not written")?;
    let s = &impact.signatures;
    let active = state.services.methodology().current().await?;
    Ok(Template {
        methodology_version: active.content.methodology_version,
        columns: [
            s.signature_algorithm.clone(),
            s.key_version.clone(),
            s.asym_algorithm.clone(),
            s.asym_key_version.clone(),
        ],
    })
}

/// An odd multiplier: `n * SCATTER mod 2^32` is a permutation of the trip numbers.
const SCATTER: u64 = 2_654_435_761;

/// How the seeded trip ids relate to the trips' timestamps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TripIds {
    /// Numbered in time order (`q1-00000001` is the first trip of the quarter).
    #[default]
    Timed,
    /// A permutation of those numbers (a multiplicative hash): id order unrelated to time, as
    /// with random or platform-assigned ids.
    Scattered,
}

/// Inserts `impacts` rows in quarter `quarter` of 2026, one per second from its first day, and
/// the same trips again under `co2-v2` for `duplicate_percent` of them.
pub(super) async fn seed(
    db: &DatabaseConnection,
    template: &Template,
    quarter: usize,
    impacts: u64,
    duplicate_percent: u64,
    ids: TripIds,
) -> anyhow::Result<()> {
    let start = format!("2026-{:02}-01 00:00:00", 1 + 3 * quarter);
    let [
        signature_algorithm,
        key_version,
        asym_algorithm,
        asym_key_version,
    ] = &template.columns;
    let version = &template.methodology_version;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let [event_hash, checksum, signature, asym_signature] = proof_columns(postgres, quarter);
    let (series, trip_id, event_timestamp, now) = if postgres {
        (
            "generate_series(1::bigint, {count}::bigint) AS s(n)".to_owned(),
            match ids {
                TripIds::Timed => format!("'q{quarter}-' || lpad(n::text, 8, '0')"),
                TripIds::Scattered => {
                    format!("'q{quarter}-' || lpad(to_hex((n * {SCATTER}) % 4294967296), 8, '0')")
                }
            },
            format!("TIMESTAMPTZ '{start}+00' + make_interval(secs => n)"),
            "now()",
        )
    } else {
        (
            "seq".to_owned(),
            match ids {
                TripIds::Timed => format!("'q{quarter}-' || printf('%08d', n)"),
                TripIds::Scattered => {
                    format!("'q{quarter}-' || printf('%08x', (n * {SCATTER}) % 4294967296)")
                }
            },
            format!("strftime('%Y-%m-%dT%H:%M:%S', '{start}', '+' || n || ' seconds') || '+00:00'"),
            "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')",
        )
    };
    let insert = |count: u64, model_version: &str, every: u64| {
        let prefix = if postgres {
            String::new()
        } else {
            format!(
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {count}) "
            )
        };
        format!(
            "{prefix}INSERT INTO esg_impact_ledger (trip_id, user_id, vehicle_id, country_code, geo_hash, \
             event_timestamp, distance_km_micro, thermal_factor_local_micro, ev_factor_local_micro, \
             co2_avoided_kg_micro, model_version, methodology_version, event_hash, checksum, signature, \
             signature_algorithm, key_version, asym_signature, asym_algorithm, asym_key_version, \
             correlation_id, created_at) \
             SELECT {trip_id}, 'u-bench-000001', 'ev-bench-0001', \
             CASE n % 3 WHEN 0 THEN 'CI' WHEN 1 THEN 'KE' ELSE 'SN' END, 's0t5qd', {event_timestamp}, \
             (n % 50000 + 1) * 1000, 192000, CASE n % 3 WHEN 0 THEN 48000 WHEN 1 THEN 12000 ELSE 75000 END, \
             (n % 50000 + 1) * 1000 * (192000 - CASE n % 3 WHEN 0 THEN 48000 WHEN 1 THEN 12000 ELSE 75000 END) / 1000000, \
             '{model_version}', '{version}', {event_hash}, {checksum}, {signature}, \
             '{signature_algorithm}', '{key_version}', {asym_signature}, '{asym_algorithm}', \
             '{asym_key_version}', NULL, {now} FROM {series} WHERE n % {every} = 0",
            series = series.replace("{count}", &count.to_string()),
        )
    };
    db.execute_unprepared(&insert(impacts, "co2-v1", 1)).await?;
    if let Some(every) = 100u64.checked_div(duplicate_percent) {
        db.execute_unprepared(&insert(impacts, "co2-v2", every))
            .await?;
    }
    at_rest(db).await
}

/// The SQL of a seeded row's event hash, checksum, HMAC and Ed25519 signatures: text of its
/// own, random-looking, of the real ones' lengths (64 hex digits; 88 characters).
fn proof_columns(postgres: bool, quarter: usize) -> [String; 4] {
    if postgres {
        let hex = |tag: &str| format!("encode(sha256(('{tag}{quarter}-' || n)::bytea), 'hex')");
        // 64 bytes in base64, as an Ed25519 signature (`encode` breaks its lines).
        let base64 =
            format!("replace(encode(sha512(('a{quarter}-' || n)::bytea), 'base64'), E'\\n', '')");
        [hex("e"), hex("c"), hex("s"), base64]
    } else {
        // SQLite has no base64: its Ed25519 column is 88 hex digits, which compress a little
        // better than base64's 88 characters.
        let hex = |bytes: usize| format!("lower(hex(randomblob({bytes})))");
        [hex(32), hex(32), hex(32), hex(44)]
    }
}

/// Puts the ledger at rest before a timed run: statistics fresh, the dirty pages of what came
/// before written out, so that the run is not timed flushing them.
pub(crate) async fn at_rest(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE esg_impact_ledger, esg_log_leaves")
            .await?;
        db.execute_unprepared("CHECKPOINT").await?;
    } else {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(())
}
