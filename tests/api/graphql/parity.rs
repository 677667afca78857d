//! Every query and mutation, and the same values through GraphQL as through REST.

use serde_json::{Value, json};

use super::fixtures::{exported_quarter, ingest, trip};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    impacts_and_methodology_match_rest,
    an_export_matches_rest_and_lists_exactly_its_payload,
);

const IMPACT_FIELDS: &str = "tripId userId vehicleId countryCode geoHash eventTimestamp distanceKm \
    thermalFactorLocal evFactorLocal co2AvoidedKg modelVersion methodologyVersion eventHash \
    checksum signature signatureAlgorithm keyVersion asymSignature asymAlgorithm asymKeyVersion \
    ledgerSeq correlationId createdAt";

/// The REST field names of an impact, in GraphQL's words.
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn assert_same_fields(rest: &Value, graphql: &Value) {
    let rest = rest.as_object().expect("a REST object");
    for (key, value) in rest {
        assert_eq!(&graphql[camel(key)], value, "{key}");
    }
}

async fn impacts_and_methodology_match_rest(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, &[trip("p-1", "CI", "2026-02-03T08:15:00Z", 12.5)]).await;
    let (_, rest) = app.get_json("/api/v2/esg/impact/p-1").await;
    let data = app
        .graphql(
            &format!("query($t: String!) {{ impact(tripId: $t) {{ {IMPACT_FIELDS} }} }}"),
            json!({"t": "p-1"}),
        )
        .await;
    assert_same_fields(&rest, &data["impact"]);
    let data = app
        .graphql(
            &format!(
                "{{ impact(tripId: \"p-1\", modelVersion: \"co2-v1\") {{ {IMPACT_FIELDS} }} }}"
            ),
            json!({}),
        )
        .await;
    assert_same_fields(&rest, &data["impact"]);
    let data = app
        .graphql("{ impact(tripId: \"nobody\") { tripId } }", json!({}))
        .await;
    assert_eq!(data["impact"], Value::Null);

    let (_, current) = app.get_json("/api/v2/esg/mrv/methodology/current").await;
    let data = app
        .graphql(
            "{ methodology { methodologyVersion status baselineReference factorReferences \
               geographicScope formula rounding methodologyHash createdAt activatedAt \
               countryFactors { countryCode thermalFactorLocal evFactorLocal } }
               methodologies { methodologyVersion } }",
            json!({}),
        )
        .await;
    let m = &data["methodology"];
    for key in [
        "methodology_version",
        "status",
        "baseline_reference",
        "factor_references",
        "geographic_scope",
        "formula",
        "rounding",
        "methodology_hash",
        "created_at",
        "activated_at",
    ] {
        assert_eq!(m[camel(key)], current[key], "{key}");
    }
    assert_eq!(
        m["countryFactors"][0],
        json!({"countryCode": "CI", "thermalFactorLocal": current["country_factors"]["CI"]["thermal_factor_local"], "evFactorLocal": current["country_factors"]["CI"]["ev_factor_local"]})
    );
    assert_eq!(data["methodologies"].as_array().map(Vec::len), Some(1));

    let (_, key) = app.get_json("/api/v2/esg/public-key").await;
    let (_, keys) = app.get_json("/api/v2/esg/public-keys").await;
    let data = app
        .graphql(
            "{ publicKey { publicKey fingerprintSha256 signatureAlgorithm keyVersion encoding }
               publicKeys { activeKeyVersion keys { keyVersion publicKey } } }",
            json!({}),
        )
        .await;
    assert_same_fields(&key, &data["publicKey"]);
    assert_eq!(
        data["publicKeys"]["activeKeyVersion"],
        keys["active_key_version"]
    );
    assert_eq!(
        data["publicKeys"]["keys"][0]["publicKey"],
        keys["keys"][0]["public_key"]
    );

    let data = app
        .graphql(
            "{ impacts(first: 10) { totalCount edges { node { tripId methodology { methodologyVersion } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["impacts"]["totalCount"], 1);
    assert_eq!(
        data["impacts"]["edges"][0]["node"]["methodology"]["methodologyVersion"],
        current["methodology_version"]
    );
}

async fn an_export_matches_rest_and_lists_exactly_its_payload(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let export_id = exported_quarter(&app).await;
    // A trip of the window arrives after the export: it is in no listing of that export.
    ingest(&app, &[trip("q-late", "SN", "2026-03-15T10:00:00Z", 9.0)]).await;
    let artifact = app.export_artifact(&export_id).await;
    let query = "query($id: String!) { export(exportId: $id) {
        exportId period periodStart periodEnd verificationHash signature asymSignature
        methodologyVersion methodologyHash impactsCount artifactUrl csvUrl evidenceUrl
        methodology { methodologyVersion }
        aggregation { impactsCount totalDistanceKm totalCo2AvoidedKg
                      byCountry { countryCode impactsCount totalDistanceKm totalCo2AvoidedKg } }
        nonDoubleCountingProof { rawImpactsCount selectedImpactsCount duplicatesRemovedCount
                                 duplicateTripIds deduplicationRule proofHash doubleCountingBlocked }
        verification { verified hashValid signatureValid asymSignatureValid methodologyValid }
        impacts(first: 4) { totalCount pageInfo { hasNextPage endCursor } edges { node { tripId ledgerSeq eventHash } } }
    } }";
    let data = app.graphql(query, json!({"id": export_id})).await;
    let export = &data["export"];
    for key in [
        "export_id",
        "period",
        "period_start",
        "period_end",
        "verification_hash",
        "signature",
        "asym_signature",
        "methodology_version",
        "methodology_hash",
    ] {
        assert_eq!(export[camel(key)], artifact[key], "{key}");
    }
    let payload = &artifact["payload"];
    let aggregation = &payload["aggregation"];
    assert_eq!(
        export["aggregation"]["impactsCount"],
        aggregation["impacts_count"]
    );
    assert_eq!(
        export["aggregation"]["totalCo2AvoidedKg"],
        aggregation["total_co2_avoided_kg"]
    );
    assert_eq!(
        export["aggregation"]["byCountry"][0]["totalDistanceKm"],
        aggregation["by_country"]["CI"]["total_distance_km"]
    );
    let proof = &payload["non_double_counting_proof"];
    assert_eq!(
        export["nonDoubleCountingProof"]["proofHash"],
        proof["proof_hash"]
    );
    assert_eq!(
        export["nonDoubleCountingProof"]["rawImpactsCount"],
        proof["raw_impacts_count"]
    );
    assert_eq!(export["verification"]["verified"], true);
    assert_eq!(
        export["artifactUrl"],
        format!("/api/v2/esg/mrv/export/{export_id}")
    );

    let mut listed: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .graphql(
                "query($id: String!, $after: String) { export(exportId: $id) {
                    impacts(first: 4, after: $after) { totalCount pageInfo { hasNextPage endCursor }
                                                       edges { node { tripId ledgerSeq eventHash } } } } }",
                json!({"id": export_id, "after": after}),
            )
            .await;
        let page = &data["export"]["impacts"];
        assert_eq!(page["totalCount"], 6);
        listed.extend(
            page["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let in_payload: Vec<Value> = payload["impacts"]
        .as_array()
        .expect("impacts")
        .iter()
        .map(|i| json!({"tripId": i["trip_id"], "ledgerSeq": i["ledger_seq"], "eventHash": i["event_hash"]}))
        .collect();
    assert_eq!(listed, in_payload);
    let data = app
        .graphql(
            "query($id: String!) { export(exportId: $id) { impacts(last: 2) { pageInfo { hasPreviousPage } edges { node { tripId } } } } }",
            json!({"id": export_id}),
        )
        .await;
    assert_eq!(
        data["export"]["impacts"]["edges"],
        json!([{"node": {"tripId": "q-5"}}, {"node": {"tripId": "q-6"}}])
    );
    assert_eq!(
        data["export"]["impacts"]["pageInfo"]["hasPreviousPage"],
        true
    );

    let data = app
        .graphql(
            "{ exports(first: 10, period: \"3M\") { edges { cursor node { exportId } } pageInfo { hasNextPage } }
               none: exports(period: \"12M\") { edges { node { exportId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["exports"]["edges"][0]["node"]["exportId"],
        json!(export_id)
    );
    assert_eq!(data["none"]["edges"], json!([]));
    let data = app
        .graphql(
            "{ export(exportId: \"00000000-0000-0000-0000-000000000000\") { exportId } }",
            json!({}),
        )
        .await;
    assert_eq!(data["export"], Value::Null);
}
