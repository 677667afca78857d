//! Opening the database: SQLite (embedded default, WAL + busy timeout) or PostgreSQL.
//!
//! **SQLite's checkpoints run beside the writer.** In WAL mode a commit appends pages to the
//! WAL without waiting for the disk (`synchronous = NORMAL`); copying them back into the
//! database file and syncing it (a checkpoint) is the slow part. By default SQLite does it in
//! the committing connection, so the one writer stops for it every few transactions. Here a
//! background task checkpoints (`PASSIVE`: it never blocks a writer or a reader) on a
//! connection of its own, and the writer's own checkpoint is kept only as the bound on the
//! WAL's size: when the task falls behind by [`WAL_AUTOCHECKPOINT_PAGES`], the next commit
//! checkpoints as before.

use std::time::Duration;

use greenos_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::SqlitePool;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::DatabaseConfig;

/// How long a SQLite writer waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The page size of a database created from now on (an existing one keeps its own). An outbox
/// row holds about 1.4 KiB: 4 KiB pages held two and left a third of the page empty, and every
/// page an append dirties is one WAL frame, written in two calls and checksummed at the commit;
/// 8 KiB pages hold five such rows and halve the frames (`docs/PERFORMANCE.md`).
const SQLITE_PAGE_SIZE: u32 = 8_192;

/// WAL pages after which a committing writer checkpoints itself (256 MiB of 8 KiB pages, 128 MiB
/// of an older database's 4 KiB ones; SQLite's default is 1 000): the bound when the background
/// checkpoints fall behind. With 64 MiB the writer ran a checkpoint of its own every few
/// seconds of sustained ingest (7 % of its time in a profile, and its fsyncs).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 32_768;

/// The size the WAL file is truncated back to once it has been checkpointed and reset: 512 MiB,
/// above what a busy writer fills between resets (under the bound above), so that it writes
/// over blocks the file already has. Growing the file costs the writer a fresh page-cache page
/// per 4 KiB, zeroed before its frame is copied in (`docs/PERFORMANCE.md`); with 64 MiB, every
/// cycle truncated the file and grew it again.
const WAL_SIZE_LIMIT_BYTES: u64 = 512 * 1024 * 1024;

/// The pause between background checkpoints. Each copies the latest version of every page
/// written since the last into the database file and syncs it: the ledger's index pages and the
/// last page of each table change in every append, so checkpoints 10 ms apart copied those pages
/// again for nearly every append, and cost a quarter of a core during sustained ingest
/// (`docs/PERFORMANCE.md`).
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(100);

/// Connects to the configured database.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections)
        .min_connections(1)
        .connect_timeout(config.acquire_timeout)
        .acquire_timeout(config.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            // WAL lets readers proceed while a writer commits; the busy timeout makes
            // concurrent writers queue instead of failing; foreign keys are off by default.
            opts.page_size(SQLITE_PAGE_SIZE)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
                .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string())
        });
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        tokio::spawn(checkpoint_in_background(
            db.get_sqlite_connection_pool().clone(),
        ));
    }
    Ok(db)
}

/// Checkpoints the WAL every [`CHECKPOINT_PAUSE`] until the pool is closed. A failed
/// checkpoint is logged once until one succeeds; the writers' own checkpoints bound the WAL
/// meanwhile.
async fn checkpoint_in_background(pool: SqlitePool) {
    let mut failing = false;
    while !pool.is_closed() {
        let checkpoint: Result<(i64, i64, i64), _> =
            sea_orm::sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await;
        match checkpoint {
            Ok(_) if failing => {
                tracing::info!("SQLite WAL checkpoints succeed again");
                failing = false;
            }
            Ok(_) => {}
            Err(sea_orm::sqlx::Error::PoolClosed) => break,
            Err(err) => {
                if !failing {
                    tracing::warn!(error = %err, "a background SQLite WAL checkpoint failed");
                    failing = true;
                }
            }
        }
        tokio::time::sleep(CHECKPOINT_PAUSE).await;
    }
}

/// Applies every pending migration; a no-op when the schema is current.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}
