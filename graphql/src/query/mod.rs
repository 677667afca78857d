//! The root query, one group of fields per domain.

mod export;
mod impact;
mod keys;
mod log;
mod methodology;
mod outbox;

use async_graphql::MergedObject;

/// Every query of the schema.
#[derive(MergedObject, Default)]
pub struct Query(
    impact::ImpactQuery,
    export::ExportQuery,
    methodology::MethodologyQuery,
    keys::KeyQuery,
    log::LogQuery,
    outbox::OutboxQuery,
);
