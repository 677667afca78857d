//! Tampering with stored rows behind the service's back, as someone with raw database access
//! could: the append-only triggers must go first, or the database itself refuses.

use std::sync::atomic::Ordering;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::TestApp;

impl TestApp {
    /// Alters stored rows behind the service's back, as someone with raw database access
    /// could: drops the append-only triggers (every trigger that raises `GREENOS_APPEND_ONLY`,
    /// found in the catalog so that a renamed one cannot survive) on the first call, then runs
    /// `sql`, which must change at least one row. The triggers stay dropped for the rest of the
    /// test: `append_only_triggers_dropped` keeps that note.
    pub async fn tamper(&self, sql: &str) {
        if !self
            .append_only_triggers_dropped
            .swap(true, Ordering::SeqCst)
        {
            self.drop_append_only_triggers().await;
        }
        let result = self
            .db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|err| panic!("tampering failed: {sql}: {err}"));
        assert!(
            result.rows_affected() >= 1,
            "tampering changed nothing: {sql}"
        );
    }

    /// The stored bytes of export `export_id`'s chunks, in `chunk_index` order, as the table
    /// holds them (compressed when the export row says so).
    pub async fn stored_chunks(&self, export_id: &str) -> Vec<Vec<u8>> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                match backend {
                    DbBackend::Postgres => {
                        "SELECT bytes FROM esg_mrv_export_chunks WHERE export_id = $1 \
                         ORDER BY chunk_index"
                    }
                    _ => {
                        "SELECT bytes FROM esg_mrv_export_chunks WHERE export_id = ? \
                         ORDER BY chunk_index"
                    }
                },
                [export_id.into()],
            ))
            .await
            .expect("read the chunks");
        rows.iter()
            .map(|row| row.try_get_by_index::<Vec<u8>>(0).expect("chunk bytes"))
            .collect()
    }

    /// Stores `bytes` as chunk `index` of export `export_id`, behind the service's back.
    pub async fn replace_chunk(&self, export_id: &str, index: i32, bytes: &[u8]) {
        let literal = match self.db.get_database_backend() {
            DbBackend::Postgres => format!("decode('{}', 'hex')", hex::encode(bytes)),
            _ => format!("X'{}'", hex::encode(bytes)),
        };
        self.tamper(&format!(
            "UPDATE esg_mrv_export_chunks SET bytes = {literal} \
             WHERE export_id = '{export_id}' AND chunk_index = {index}"
        ))
        .await;
    }

    async fn drop_append_only_triggers(&self) {
        let backend = self.db.get_database_backend();
        let find = if backend == DbBackend::Sqlite {
            "SELECT 'DROP TRIGGER ' || name FROM sqlite_master \
             WHERE type = 'trigger' AND sql LIKE '%GREENOS_APPEND_ONLY%'"
        } else {
            "SELECT 'DROP TRIGGER ' || quote_ident(t.tgname) || ' ON ' || t.tgrelid::regclass::text \
             FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
             WHERE NOT t.tgisinternal AND p.prosrc LIKE '%GREENOS_APPEND_ONLY%'"
        };
        let drops = self
            .db
            .query_all_raw(Statement::from_string(backend, find))
            .await
            .expect("list the append-only triggers");
        assert!(!drops.is_empty(), "no append-only trigger to drop");
        for row in drops {
            let drop: String = row.try_get_by_index(0).expect("a DROP TRIGGER statement");
            self.db
                .execute_unprepared(&drop)
                .await
                .unwrap_or_else(|err| panic!("{drop}: {err}"));
        }
        eprintln!("note: the append-only triggers are dropped for this test ({backend:?})");
    }
}
