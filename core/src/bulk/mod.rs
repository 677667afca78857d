//! Bulk writes of `ActiveModel`s through sqlx directly, for the write paths that sea-orm's
//! statement building would slow down: PostgreSQL's binary `COPY`, and SQLite's multi-row
//! `INSERT`s in a few fixed sizes. The ledger's append (on PostgreSQL) and the log's
//! integrator use them.

pub(crate) mod copy;
pub(crate) mod sqlite;

use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, IdenStatic, Iterable, Value};

/// A row that cannot be encoded for its column.
pub(crate) fn encode_error(err: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("row cannot be encoded: {err}"))
}

/// A driver error, as the database error it is.
pub(crate) fn sqlx_error(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(err)))
}

/// The columns `row` sets, in the entity's order: every row of a batch sets the same ones.
pub(crate) fn set_columns<A: ActiveModelTrait>(row: &A) -> Vec<<A::Entity as EntityTrait>::Column> {
    <A::Entity as EntityTrait>::Column::iter()
        .filter(|column| row.get(*column).is_set())
        .collect()
}

/// `"a", "b", ...`: the column list of a bulk statement.
pub(crate) fn quoted_names<C: IdenStatic>(columns: &[C]) -> String {
    columns
        .iter()
        .map(|column| format!("\"{}\"", column.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The value `row` sets for `column` of `table`, moved out of the row (no copy of its text).
pub(crate) fn take_value<A: ActiveModelTrait>(
    row: &mut A,
    column: <A::Entity as EntityTrait>::Column,
    table: &str,
) -> Result<Value, DbErr> {
    row.take(column)
        .into_value()
        .ok_or_else(|| encode_error(format!("{table}.{} is not set", column.as_str())))
}
