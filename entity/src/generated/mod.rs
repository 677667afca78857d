//! Table shapes, one module per table, mirroring `greenos-migration`.

pub mod esg_audit_metadata;
pub mod esg_impact_ledger;
pub mod esg_log_checkpoints;
pub mod esg_log_hashes;
pub mod esg_log_leaves;
pub mod esg_mrv_export_chunks;
pub mod esg_mrv_exports;
pub mod esg_mrv_methodology;
pub mod esg_outbox_events;
