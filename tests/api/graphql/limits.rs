//! A dashboard backend that the public can reach: depth, complexity, size, aliases and batches
//! are bounded, each refusal with a code; introspection follows the environment.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, graphql_code};
use crate::on_both_backends;

on_both_backends!(hostile_queries_are_refused_with_a_code);

async fn hostile_queries_are_refused_with_a_code(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |vars| {
        vars.set("GREENOS_GRAPHQL_MAX_DEPTH", "6")
            .set("GREENOS_GRAPHQL_MAX_QUERY_BYTES", "4096");
    })
    .await
    else {
        return;
    };
    let deep = "{ exports(first: 1) { edges { node { impacts(first: 1) { edges { node { methodology { countryFactors { countryCode } } } } } } } } }";
    let (_, body) = app.graphql_as(None, deep, json!({})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_GRAPHQL_QUERY_REFUSED"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deep")),
        "{body}"
    );

    let expensive = "{ exports(first: 500) { edges { node { verification { verified } } } } }";
    let (_, body) = app.graphql_as(None, expensive, json!({})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_GRAPHQL_QUERY_REFUSED"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{body}"
    );

    let aliases: String = (0..40)
        .map(|i| format!("a{i}: impacts(first: 1000) {{ edges {{ node {{ tripId }} }} }} "))
        .collect();
    let (_, body) = app
        .graphql_as(None, &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_GRAPHQL_QUERY_REFUSED"),
        "{body}"
    );

    let long = format!("{{ publicKey {{ keyVersion }} }} # {}", "x".repeat(5000));
    let (_, body) = app.graphql_as(None, &long, json!({})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_GRAPHQL_QUERY_REFUSED"),
        "{body}"
    );

    let (_, body) = app.graphql_as(None, "{ nosuchfield }", json!({})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_GRAPHQL_QUERY_REFUSED"),
        "{body}"
    );

    // A batch is not a request GreenOS takes.
    let (status, body) = app
        .post_json(
            "/graphql",
            &json!([{"query": "{ publicKey { keyVersion } }"}, {"query": "{ publicKey { keyVersion } }"}]),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(
        body["error"]["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("GREENOS_")),
        "{body}"
    );

    // Mutations never travel by GET.
    let (status, body) = app
        .get_json("/graphql?query=mutation%20%7B%20activateMethodology(version%3A%20%22x%22)%20%7B%20status%20%7D%20%7D")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_GRAPHQL_QUERY_REFUSED"),
        "{body}"
    );
    let (_, body) = app
        .get_json("/graphql?query=%7B%20publicKey%20%7B%20keyVersion%20%7D%20%7D")
        .await;
    assert!(
        body["data"]["publicKey"]["keyVersion"].is_string(),
        "{body}"
    );

    // Introspection answers in dev, not in production unless enabled.
    let introspect = "{ __schema { queryType { name } } }";
    let (_, body) = app.graphql_as(None, introspect, json!({})).await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"], "Query",
        "{body}"
    );
    let Some(closed) = TestApp::spawn_with(backend, |vars| {
        vars.set("GREENOS_GRAPHQL_INTROSPECTION", "false");
    })
    .await
    else {
        return;
    };
    let (_, body) = closed.graphql_as(None, introspect, json!({})).await;
    assert!(
        body.get("errors").is_some() || body["data"]["__schema"] == Value::Null,
        "{body}"
    );
}
