//! The root mutation: each field goes through the same `Services` method as its REST twin and
//! needs the same scope.

mod export;
mod ingest;
mod methodology;

use async_graphql::MergedObject;

/// Every mutation of the schema.
#[derive(MergedObject, Default)]
pub struct Mutation(
    ingest::IngestMutation,
    export::ExportMutation,
    methodology::MethodologyMutation,
);
