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
mod types;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Request, Response, Schema, ServerError};
use greenos_core::auth::AuthContext;
use greenos_core::context::RequestContext;
use greenos_core::error_code::ErrorCode;
use greenos_core::services::Services;

pub use mutation::Mutation;
pub use query::Query;

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
    let root_fields = Arc::new(root_fields(&schema_sdl()));
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

/// The field names of `Query` and `Mutation`, read from the SDL.
fn root_fields(sdl: &str) -> BTreeSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
        return BTreeSet::new();
    };
    document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            TypeSystemDefinition::Type(t)
                if ["Query", "Mutation"].contains(&t.node.name.node.as_str()) =>
            {
                match &t.node.kind {
                    TypeKind::Object(object) => Some(
                        object
                            .fields
                            .iter()
                            .map(|f| f.node.name.node.to_string())
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                }
            }
            _ => None,
        })
        .flatten()
        .collect()
}

impl Graphql {
    /// Whether `name` is a field of `Query` or `Mutation` (metrics label root fields by name
    /// only when it is one, so a client's text never becomes a label).
    pub fn is_root_field(&self, name: &str) -> bool {
        self.root_fields.contains(name)
    }

    /// Runs one request for `caller`: per-request loaders, the caller in the context, and the
    /// §10 code on every error (a refused query gets `GREENOS_GRAPHQL_QUERY_REFUSED`).
    pub async fn execute(&self, request: Request, caller: RequestContext) -> Response {
        if request.query.len() > self.settings.max_query_bytes {
            return refused(format!(
                "The query is longer than {} bytes (GREENOS_GRAPHQL_MAX_QUERY_BYTES).",
                self.settings.max_query_bytes
            ));
        }
        let request = request
            .data(DataLoader::new(
                loaders::MethodologyLoader(self.services.clone()),
                tokio::spawn,
            ))
            .data(DataLoader::new(
                loaders::ImpactLoader(self.services.clone()),
                tokio::spawn,
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
