//! The triggers that make a table append-only in the database itself (SPEC §3): `UPDATE` and
//! `DELETE` are refused on both backends, `TRUNCATE` too on PostgreSQL, each with a
//! `GREENOS_APPEND_ONLY` message naming the table. Shared by the migrations that create such
//! tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// SQLite's two triggers on `table`.
pub(crate) fn sqlite_triggers(table: &str) -> Vec<String> {
    ["UPDATE", "DELETE"]
        .into_iter()
        .map(|op| {
            format!(
                "CREATE TRIGGER IF NOT EXISTS {table}_no_{lower} BEFORE {op} ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'GREENOS_APPEND_ONLY: {table} is append-only; {op} is forbidden'); END",
                lower = op.to_lowercase(),
            )
        })
        .collect()
}

/// PostgreSQL's triggers on `table`, over `greenos_reject_mutation()` (created by the
/// append-only migration).
pub(crate) fn postgres_triggers(table: &str) -> Vec<String> {
    vec![
        format!("DROP TRIGGER IF EXISTS {table}_append_only ON {table}"),
        format!(
            "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION greenos_reject_mutation()"
        ),
        format!("DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"),
        format!(
            "CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION greenos_reject_mutation()"
        ),
    ]
}

/// Runs the statements of the connected backend, in order.
pub(crate) async fn execute(
    manager: &SchemaManager<'_>,
    sqlite: impl FnOnce() -> Vec<String>,
    postgres: impl FnOnce() -> Vec<String>,
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres(),
        DbBackend::Sqlite => sqlite(),
        other => {
            return Err(DbErr::Migration(format!(
                "GreenOS supports SQLite and PostgreSQL, not {other:?}"
            )));
        }
    };
    let conn = manager.get_connection();
    for sql in statements {
        conn.execute_unprepared(&sql).await?;
    }
    Ok(())
}
