//! Append-only in the database itself: triggers reject `UPDATE` and `DELETE` (and, on
//! PostgreSQL, `TRUNCATE`) on the ledger, the audit metadata, the exports and their chunks.
//! A methodology row may only change its lifecycle columns (`status`, `activated_at`,
//! `deprecated_at`); its hashed content is immutable and it is never deleted.

use sea_orm_migration::prelude::*;

use crate::{APPEND_ONLY_TABLES, append_only};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The methodology columns covered by `methodology_hash`, plus its identity and creation time.
const METHODOLOGY_FROZEN_COLUMNS: [&str; 9] = [
    "methodology_version",
    "baseline_reference",
    "factor_references",
    "geographic_scope",
    "country_factors",
    "formula",
    "rounding",
    "methodology_hash",
    "created_at",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        append_only::execute(manager, sqlite_statements, postgres_statements).await
    }
}

fn sqlite_statements() -> Vec<String> {
    let mut out: Vec<String> = APPEND_ONLY_TABLES
        .into_iter()
        .flat_map(append_only::sqlite_triggers)
        .collect();
    let changed = METHODOLOGY_FROZEN_COLUMNS
        .iter()
        .map(|c| format!("NEW.{c} IS NOT OLD.{c}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    out.push(format!(
        "CREATE TRIGGER IF NOT EXISTS esg_mrv_methodology_frozen BEFORE UPDATE ON esg_mrv_methodology \
         WHEN {changed} \
         BEGIN SELECT RAISE(ABORT, 'GREENOS_APPEND_ONLY: a methodology version''s hashed content is immutable; create a new version'); END"
    ));
    out.push(
        "CREATE TRIGGER IF NOT EXISTS esg_mrv_methodology_no_delete BEFORE DELETE ON esg_mrv_methodology \
         BEGIN SELECT RAISE(ABORT, 'GREENOS_APPEND_ONLY: methodology versions are kept for audit replay; DELETE is forbidden'); END"
            .to_owned(),
    );
    out
}

fn postgres_statements() -> Vec<String> {
    let mut out = vec![
        "CREATE OR REPLACE FUNCTION greenos_reject_mutation() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'GREENOS_APPEND_ONLY: % is append-only; % is forbidden', TG_TABLE_NAME, TG_OP; END $$"
            .to_owned(),
    ];
    let changed = METHODOLOGY_FROZEN_COLUMNS
        .iter()
        .map(|c| format!("NEW.{c} IS DISTINCT FROM OLD.{c}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    out.push(format!(
        "CREATE OR REPLACE FUNCTION greenos_guard_methodology() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF TG_OP = 'DELETE' THEN \
             RAISE EXCEPTION 'GREENOS_APPEND_ONLY: methodology versions are kept for audit replay; DELETE is forbidden'; \
           END IF; \
           IF {changed} THEN \
             RAISE EXCEPTION 'GREENOS_APPEND_ONLY: a methodology version''s hashed content is immutable; create a new version'; \
           END IF; \
           RETURN NEW; \
         END $$"
    ));
    out.extend(
        APPEND_ONLY_TABLES
            .into_iter()
            .flat_map(append_only::postgres_triggers),
    );
    out.push("DROP TRIGGER IF EXISTS esg_mrv_methodology_guard ON esg_mrv_methodology".to_owned());
    out.push(
        "CREATE TRIGGER esg_mrv_methodology_guard BEFORE UPDATE OR DELETE ON esg_mrv_methodology \
         FOR EACH ROW EXECUTE FUNCTION greenos_guard_methodology()"
            .to_owned(),
    );
    out
}
