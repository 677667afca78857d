//! Writing the registry: create, activate, bootstrap. Each change and its audit row commit in
//! one transaction, and every registry write holds one lock (SQLite: `BEGIN IMMEDIATE`, the
//! database write lock; PostgreSQL: a transaction-scoped advisory lock), so concurrent writers
//! queue instead of interleaving. The partial unique index on `status = 'ACTIVE'` remains the
//! last word should anything bypass the lock.

use greenos_entity::{esg_audit_metadata, esg_mrv_methodology};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::methodology::store::{self, encode, from_row, to_row};
use crate::methodology::{
    Methodology, MethodologyDraft, MethodologyError, MethodologyStatus, ValidatedDraft,
};
use crate::proof::UtcMicros;

use esg_mrv_methodology::{Column, Entity};

/// The PostgreSQL advisory lock every registry write holds ("greenos" + 0x01).
const REGISTRY_LOCK_KEY: i64 = 0x6772_6565_6e6f_7301;
/// Audit event of a new version.
const EVENT_CREATED: &str = "METHODOLOGY_CREATED";
/// Audit event of an activation.
const EVENT_ACTIVATED: &str = "METHODOLOGY_ACTIVATED";

/// Validates `draft` and stores it as `DRAFT`, or as `ACTIVE` when `activate` is set and no
/// other version is ACTIVE (otherwise `ActiveConflict`: use [`activate`] to replace one).
pub async fn create(
    db: &DatabaseConnection,
    draft: MethodologyDraft,
    activate: bool,
    correlation_id: Option<&str>,
) -> Result<Methodology, MethodologyError> {
    let validated = draft.validate()?;
    let txn = begin_write(db).await?;
    let created = insert_new(&txn, &validated, activate, correlation_id).await?;
    txn.commit().await?;
    Ok(created)
}

/// Makes `version` the ACTIVE one, deprecating the previous ACTIVE version in the same
/// transaction. Activating the ACTIVE version changes nothing; a DEPRECATED version cannot come
/// back (`ActiveConflict`).
pub async fn activate(
    db: &DatabaseConnection,
    version: &str,
    correlation_id: Option<&str>,
) -> Result<Methodology, MethodologyError> {
    let txn = begin_write(db).await?;
    let target = store::get(&txn, version)
        .await?
        .ok_or_else(|| MethodologyError::NotFound {
            version: version.to_owned(),
        })?;
    let previous = store::active(&txn).await?;
    match target.status {
        MethodologyStatus::Active => return Ok(target),
        MethodologyStatus::Deprecated => {
            return Err(MethodologyError::ActiveConflict {
                reason: format!(
                    "Methodology {version} is DEPRECATED: deprecated versions stay readable for audit replay but cannot be re-activated; create a new version."
                ),
                active_version: previous.map(|m| m.content.methodology_version),
            });
        }
        MethodologyStatus::Draft => {}
    }
    let now = UtcMicros::now();
    if let Some(previous) = &previous {
        let deprecated = Entity::update_many()
            .col_expr(
                Column::Status,
                Expr::value(MethodologyStatus::Deprecated.as_str()),
            )
            .col_expr(Column::DeprecatedAt, Expr::value(now.as_datetime()))
            .filter(Column::MethodologyVersion.eq(previous.methodology_version.as_str()))
            .filter(Column::Status.eq(MethodologyStatus::Active.as_str()))
            .exec(&txn)
            .await?;
        if deprecated.rows_affected != 1 {
            return Err(concurrent_activation(Some(&previous.methodology_version)));
        }
    }
    let activated = Entity::update_many()
        .col_expr(
            Column::Status,
            Expr::value(MethodologyStatus::Active.as_str()),
        )
        .col_expr(Column::ActivatedAt, Expr::value(now.as_datetime()))
        .filter(Column::MethodologyVersion.eq(version))
        .filter(Column::Status.eq(MethodologyStatus::Draft.as_str()))
        .exec(&txn)
        .await
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                concurrent_activation(None)
            } else {
                e.into()
            }
        })?;
    if activated.rows_affected != 1 {
        return Err(concurrent_activation(None));
    }
    let details = json!({
        "methodology_hash": target.methodology_hash.as_str(),
        "methodology_version": version,
        "previous_active_version": previous.as_ref().map(|m| m.methodology_version.as_str()),
        "previous_methodology_hash": previous.as_ref().map(|m| m.methodology_hash.as_str()),
    });
    audit(
        &txn,
        EVENT_ACTIVATED,
        version,
        &details,
        correlation_id,
        now,
    )
    .await?;
    let result = store::get(&txn, version)
        .await?
        .ok_or_else(|| MethodologyError::NotFound {
            version: version.to_owned(),
        })?;
    txn.commit().await?;
    Ok(result)
}

/// On an empty registry, creates and activates the configured methodology and answers the
/// ACTIVE version (this process's, or a concurrent replica's when it was faster); answers
/// `None` when the registry already held versions, which configuration then never changes.
pub async fn bootstrap_if_empty(
    db: &DatabaseConnection,
    validated: &ValidatedDraft,
) -> Result<Option<Methodology>, MethodologyError> {
    // The common case (a registry in use) is answered without taking the write lock.
    if Entity::find().one(db).await?.is_some() {
        return Ok(None);
    }
    let txn = begin_write(db).await?;
    if Entity::find().one(&txn).await?.is_some() {
        drop(txn);
        return store::active(db).await;
    }
    match insert_new(&txn, validated, true, None).await {
        Ok(created) => {
            txn.commit().await?;
            Ok(Some(created))
        }
        // Only a writer that bypassed the lock can get here; its version stands.
        Err(MethodologyError::AlreadyExists { .. } | MethodologyError::ActiveConflict { .. }) => {
            drop(txn);
            store::active(db).await
        }
        Err(other) => Err(other),
    }
}

/// Inserts a validated version and its audit rows; the caller holds the registry lock.
async fn insert_new(
    txn: &DatabaseTransaction,
    validated: &ValidatedDraft,
    activate: bool,
    correlation_id: Option<&str>,
) -> Result<Methodology, MethodologyError> {
    let version = validated.methodology_version();
    if store::get(txn, version).await?.is_some() {
        return Err(MethodologyError::AlreadyExists {
            version: version.to_owned(),
        });
    }
    let status = if activate {
        if let Some(current) = store::active(txn).await? {
            let current = current.content.methodology_version;
            return Err(MethodologyError::ActiveConflict {
                reason: format!(
                    "Methodology {current} is ACTIVE: create {version} without \"activate\", then activate it, which deprecates {current} in the same transaction."
                ),
                active_version: Some(current),
            });
        }
        MethodologyStatus::Active
    } else {
        MethodologyStatus::Draft
    };
    let now = UtcMicros::now();
    let row = to_row(validated, status, now)?
        .insert(txn)
        .await
        .map_err(|e| match (crate::db::is_unique_violation(&e), status) {
            (true, MethodologyStatus::Active) => concurrent_activation(None),
            (true, _) => MethodologyError::AlreadyExists {
                version: version.to_owned(),
            },
            (false, _) => e.into(),
        })?;
    let hash = validated.methodology_hash().as_str();
    let created = json!({
        "methodology_hash": hash,
        "methodology_version": version,
        "status": status.as_str(),
    });
    audit(txn, EVENT_CREATED, version, &created, correlation_id, now).await?;
    if activate {
        let activated = json!({
            "methodology_hash": hash,
            "methodology_version": version,
            "previous_active_version": null,
            "previous_methodology_hash": null,
        });
        audit(
            txn,
            EVENT_ACTIVATED,
            version,
            &activated,
            correlation_id,
            now,
        )
        .await?;
    }
    from_row(row)
}

/// Opens a registry write transaction holding the registry lock from its first statement.
async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({REGISTRY_LOCK_KEY})"
        ))
        .await?;
    }
    Ok(txn)
}

/// Appends one `esg_audit_metadata` row whose details are canonical JSON.
async fn audit(
    txn: &DatabaseTransaction,
    event_type: &str,
    version: &str,
    details: &Value,
    correlation_id: Option<&str>,
    at: UtcMicros,
) -> Result<(), MethodologyError> {
    esg_audit_metadata::ActiveModel {
        audit_id: Set(uuid::Uuid::new_v4().to_string()),
        event_type: Set(event_type.to_owned()),
        subject_id: Set(version.to_owned()),
        details: Set(encode(version, details)?),
        correlation_id: Set(correlation_id.map(str::to_owned)),
        created_at: Set(at.as_datetime()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

fn concurrent_activation(active_version: Option<&str>) -> MethodologyError {
    MethodologyError::ActiveConflict {
        reason: "Another activation committed concurrently, and two versions cannot be ACTIVE; read the registry again and retry.".to_owned(),
        active_version: active_version.map(str::to_owned),
    }
}
