//! The GreenOS GraphQL layer for institutional dashboards (SPEC §15), free of any web
//! framework: the root crate mounts it on axum. Every resolver is a thin adapter over one
//! `greenos_core::services::Services` method; errors carry the §10 code in `extensions.code`.

pub mod context;
pub mod error;
pub mod guard;
mod loaders;
mod mutation;
mod query;
pub mod scalars;
mod shape;
mod types;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::{EmptySubscription, Request, Response, Schema, ServerError};
use greenos_core::auth::AuthContext;
use greenos_core::context::RequestContext;
use greenos_core::error_code::ErrorCode;
use greenos_core::services::Services;

pub use mutation::Mutation;
pub use query::Query;

/// How a request arrived: a `GET` may only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `GET /graphql?query=...`.
    Get,
    /// `POST /graphql`.
    Post,
}

/// The schema type.
pub type GreenosSchema = Schema<Query, Mutation, EmptySubscription>;

/// Limits and switches of the schema, from `GREENOS_GRAPHQL_*`.
#[derive(Clone, Copy, Debug)]
pub struct GraphqlSettings {
    /// Deepest selection nesting accepted (`GREENOS_GRAPHQL_MAX_DEPTH`).
    pub max_depth: usize,
    /// Largest query complexity accepted (`GREENOS_GRAPHQL_MAX_COMPLEXITY`).
    pub max_complexity: usize,
    /// Longest query text accepted, bytes (`GREENOS_GRAPHQL_MAX_QUERY_BYTES`).
    pub max_query_bytes: usize,
    /// Whether introspection is answered (`GREENOS_GRAPHQL_INTROSPECTION`).
    pub introspection: bool,
}

/// The schema with its settings and services: what the HTTP layer mounts.
#[derive(Clone)]
pub struct Graphql {
    schema: GreenosSchema,
    settings: GraphqlSettings,
    services: Services,
    root_fields: Arc<BTreeSet<String>>,
}

/// Builds the schema over `services`.
pub fn build_schema(services: Services, settings: GraphqlSettings) -> Graphql {
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(services.clone())
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity)
        .limit_recursive_depth(settings.max_depth.max(32))
        .limit_directives(8);
    let builder = if settings.introspection {
        builder
    } else {
        builder.disable_introspection()
    };
    let schema = builder.finish();
    let root_fields = Arc::new(shape::root_fields(&schema.sdl()));
    Graphql {
        schema,
        settings,
        services,
        root_fields,
    }
}

/// The schema's SDL, as checked in at `graphql/schema.graphql` (limits and data do not change
/// it).
pub fn schema_sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

impl Graphql {
    /// Runs one request for `caller`: per-request loaders, the caller in the context, the §10
    /// code on every error (a refused query gets `GREENOS_GRAPHQL_QUERY_REFUSED`, and so does a
    /// mutation that did not come by `POST`), and its latency in
    /// `greenos_graphql_request_duration_seconds{operation,root_field}`.
    pub async fn execute(
        &self,
        request: Request,
        caller: RequestContext,
        transport: Transport,
    ) -> Response {
        let started = Instant::now();
        let (operation, root_field) = shape::shape(&request, &self.root_fields);
        let response = self.run(request, caller, transport, operation).await;
        self.services
            .metrics()
            .record_graphql(operation, &root_field, started.elapsed());
        response
    }

    async fn run(
        &self,
        request: Request,
        caller: RequestContext,
        transport: Transport,
        operation: &str,
    ) -> Response {
        if transport == Transport::Get && operation == "mutation" {
            return refused("Mutations are sent with POST, never GET.".to_owned());
        }
        if request.query.len() > self.settings.max_query_bytes {
            return refused(format!(
                "The query is longer than {} bytes (GREENOS_GRAPHQL_MAX_QUERY_BYTES).",
                self.settings.max_query_bytes
            ));
        }
        // One loader per request, each with its own cache: a key loaded once is not asked again
        // by later batches (on a loaded machine the resolvers of one page reach a loader over
        // more than one batch window), and nothing outlives the request.
        let request = request
            .data(DataLoader::with_cache(
                loaders::MethodologyLoader(self.services.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ))
            .data(DataLoader::with_cache(
                loaders::ImpactLoader(self.services.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ))
            .data(DataLoader::with_cache(
                loaders::LeafLoader(self.services.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ))
            .data::<AuthContext>(caller.auth.clone())
            .data(caller);
        let mut response = self.schema.execute(request).await;
        for error in &mut response.errors {
            let coded = error
                .extensions
                .as_ref()
                .is_some_and(|ext| ext.get("code").is_some());
            if !coded {
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", ErrorCode::GraphqlQueryRefused.as_str());
            }
        }
        response
    }
}

fn refused(message: String) -> Response {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::GraphqlQueryRefused.as_str());
    Response::from_errors(vec![error])
}
