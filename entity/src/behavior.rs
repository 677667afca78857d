//! Append-only at the ORM layer: the same refusal the database triggers give, raised before a
//! statement is even sent. A correction is a new row, never a mutation.

use sea_orm::entity::prelude::*;

use crate::generated::{
    esg_audit_metadata, esg_impact_ledger, esg_log_checkpoints, esg_log_hashes, esg_log_leaves,
    esg_mrv_export_chunks, esg_mrv_exports, esg_mrv_methodology, esg_outbox_events,
};

/// The error every refused mutation returns; it names the table.
fn refuse(table: &str, op: &str) -> DbErr {
    DbErr::Custom(format!(
        "GREENOS_APPEND_ONLY: {table} is append-only; {op} is forbidden"
    ))
}

macro_rules! append_only {
    ($module:ident) => {
        #[async_trait::async_trait]
        impl ActiveModelBehavior for $module::ActiveModel {
            async fn before_save<C>(self, _db: &C, insert: bool) -> Result<Self, DbErr>
            where
                C: ConnectionTrait,
            {
                if insert {
                    Ok(self)
                } else {
                    Err(refuse(stringify!($module), "UPDATE"))
                }
            }

            async fn before_delete<C>(self, _db: &C) -> Result<Self, DbErr>
            where
                C: ConnectionTrait,
            {
                Err(refuse(stringify!($module), "DELETE"))
            }
        }
    };
}

append_only!(esg_impact_ledger);
append_only!(esg_audit_metadata);
append_only!(esg_mrv_exports);
append_only!(esg_mrv_export_chunks);
append_only!(esg_log_leaves);
append_only!(esg_log_hashes);
append_only!(esg_log_checkpoints);

/// Methodology rows change status (activation, deprecation) but are never deleted; the database
/// trigger additionally freezes their hashed content.
#[async_trait::async_trait]
impl ActiveModelBehavior for esg_mrv_methodology::ActiveModel {
    async fn before_delete<C>(self, _db: &C) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        Err(refuse("esg_mrv_methodology", "DELETE"))
    }
}

/// Outbox rows move through `PENDING → PUBLISHED | FAILED`; they are the one mutable table.
impl ActiveModelBehavior for esg_outbox_events::ActiveModel {}
