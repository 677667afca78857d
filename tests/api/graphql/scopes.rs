//! The same tokens and scopes as REST: a read token cannot mutate, no token is
//! `GREENOS_UNAUTHENTICATED`, public keys stay public.

use serde_json::json;

use crate::credentials::{TOKEN_ADMIN, TOKEN_INGEST, TOKEN_READ, secure};
use crate::helpers::{Backend, TestApp, graphql_code};
use crate::on_both_backends;

on_both_backends!(fields_need_the_scopes_of_their_rest_twins);

async fn fields_need_the_scopes_of_their_rest_twins(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, secure).await else {
        return;
    };
    let read = "{ impacts(first: 1) { totalCount } }";
    let (_, body) = app.graphql_as(None, read, json!({})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_UNAUTHENTICATED"),
        "{body}"
    );
    let (_, body) = app.graphql_as(Some("not-a-token"), read, json!({})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_UNAUTHENTICATED"),
        "{body}"
    );
    let (_, body) = app.graphql_as(Some(TOKEN_READ), read, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = app.graphql_as(Some(TOKEN_INGEST), read, json!({})).await;
    assert_eq!(graphql_code(&body), Some("GREENOS_FORBIDDEN"), "{body}");

    let mutation = "mutation { activateMethodology(version: \"greenos-mrv-2026.1\") { status } }";
    let (_, body) = app.graphql_as(Some(TOKEN_READ), mutation, json!({})).await;
    assert_eq!(graphql_code(&body), Some("GREENOS_FORBIDDEN"), "{body}");
    let (_, body) = app.graphql_as(Some(TOKEN_ADMIN), mutation, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let ingest = "mutation { ingestTrips(trips: [{tripId: \"s-1\", userId: \"u\", vehicleId: \"v\", countryCode: \"CI\", geoHash: \"s0t5q\", eventTimestamp: \"2026-02-03T08:15:00Z\", distanceKm: \"1\"}]) { accepted } }";
    let (_, body) = app.graphql_as(Some(TOKEN_READ), ingest, json!({})).await;
    assert_eq!(graphql_code(&body), Some("GREENOS_FORBIDDEN"), "{body}");
    let (_, body) = app.graphql_as(Some(TOKEN_INGEST), ingest, json!({})).await;
    assert_eq!(body["data"]["ingestTrips"]["accepted"], 1, "{body}");
    let (_, body) = app
        .graphql_as(
            Some(TOKEN_READ),
            "{ outboxStats { oldestPendingAgeSeconds } }",
            json!({}),
        )
        .await;
    assert_eq!(graphql_code(&body), Some("GREENOS_FORBIDDEN"), "{body}");

    let (_, body) = app
        .graphql_as(None, "{ publicKey { keyVersion } }", json!({}))
        .await;
    assert_eq!(body["data"]["publicKey"]["keyVersion"], "v1", "{body}");
}
