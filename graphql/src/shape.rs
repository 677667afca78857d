//! What a request is, as bounded metric labels: its operation type and its first root field
//! (a field of `Query` or `Mutation`, never the client's free-text operation name).

use std::collections::BTreeSet;

use async_graphql::parser::types::{OperationType, Selection, TypeKind, TypeSystemDefinition};

/// The operation type (`query`, `mutation`, `subscription`, or `invalid`) and the first root
/// field (`unknown` when it is not one of `root_fields`, `none` for an invalid request).
pub(crate) fn shape(
    request: &async_graphql::Request,
    root_fields: &BTreeSet<String>,
) -> (&'static str, String) {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return ("invalid", "none".to_owned());
    };
    let operation = match &request.operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => document.operations.iter().next(),
    };
    let Some((_, operation)) = operation else {
        return ("invalid", "none".to_owned());
    };
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let field = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
        .filter(|name| root_fields.contains(name))
        .unwrap_or_else(|| "unknown".to_owned());
    (kind, field)
}

/// The field names of `Query` and `Mutation`, read from the SDL.
pub(crate) fn root_fields(sdl: &str) -> BTreeSet<String> {
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
