//! Every query and mutation, and the same values through GraphQL as through REST.

use serde_json::{Value, json};

use super::fixtures::{exported_quarter, ingest, trip};
use crate::helpers::{Backend, TestApp, graphql_code};
use crate::on_both_backends;

on_both_backends!(
    impacts_and_methodology_match_rest,
    an_export_matches_rest_and_lists_exactly_its_payload,
    mutations_go_through_the_rest_use_cases,
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

async fn mutations_go_through_the_rest_use_cases(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ingest = "mutation($trips: [TripInput!]!) { ingestTrips(trips: $trips) {
        accepted duplicates impacts { tripId distanceKm co2AvoidedKg eventHash } } }";
    let trips = json!([
        {"tripId": "g-1", "userId": "u-1", "vehicleId": "ev-1", "countryCode": "CI", "geoHash": "s0t5q",
         "eventTimestamp": "2026-02-03T08:15:00Z", "distanceKm": "12.5"},
        {"tripId": "g-2", "userId": "u-1", "vehicleId": "ev-1", "countryCode": "KE", "geoHash": "s0t5q",
         "eventTimestamp": "2026-02-04T08:15:00+03:00", "distanceKm": 7.25}
    ]);
    let data = app.graphql(ingest, json!({"trips": trips})).await;
    assert_eq!(data["ingestTrips"]["accepted"], 2);
    assert_eq!(data["ingestTrips"]["impacts"][0]["distanceKm"], "12.500000");
    let (_, rest) = app.get_json("/api/v2/esg/impact/g-1").await;
    assert_eq!(
        data["ingestTrips"]["impacts"][0]["eventHash"],
        rest["event_hash"]
    );
    let again = app.graphql(ingest, json!({"trips": trips})).await;
    assert_eq!(
        (
            again["ingestTrips"]["accepted"].clone(),
            again["ingestTrips"]["duplicates"].clone()
        ),
        (json!(0), json!(2))
    );

    // Bad input is answered as REST answers it, and nothing is written.
    let mut bad = trips.clone();
    bad[0]["tripId"] = json!("g-3");
    bad[1]["tripId"] = json!("not an id!");
    bad[1]["countryCode"] = json!("ke");
    let (_, body) = app.graphql_as(None, ingest, json!({"trips": bad})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_VALIDATION_FAILED"),
        "{body}"
    );
    let errors = &body["errors"][0]["extensions"]["details"]["errors"];
    assert_eq!(errors[0]["index"], 1, "{body}");
    let fields: Vec<&str> = errors
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"trip_id") && fields.contains(&"country_code"),
        "{body}"
    );
    let mut conflicting = trips.clone();
    conflicting[0]["distanceKm"] = json!("13");
    let (_, body) = app
        .graphql_as(None, ingest, json!({"trips": conflicting}))
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_DUPLICATE_IMPACT"),
        "{body}"
    );
    let mut precise = trips.clone();
    precise[0]["tripId"] = json!("g-4");
    precise[0]["distanceKm"] = json!("1.1234567");
    let (_, body) = app
        .graphql_as(None, ingest, json!({"trips": precise}))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1.1234567")),
        "{body}"
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 2);

    let create = "mutation($p: String!, $e: String!) { createExport(period: $p, periodEnd: $e) {
        exportId impactsCount aggregation { totalCo2AvoidedKg } } }";
    let data = app
        .graphql(create, json!({"p": "3M", "e": "2026-04-01"}))
        .await;
    assert_eq!(data["createExport"]["impactsCount"], 2);
    let (_, body) = app
        .graphql_as(None, create, json!({"p": "3M", "e": "2026-04-01"}))
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_MRV_EXPORT_CONFLICT"),
        "{body}"
    );
    let (_, body) = app
        .graphql_as(None, create, json!({"p": "3M", "e": "2030-01-01"}))
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_MRV_PERIOD_NOT_CLOSED"),
        "{body}"
    );

    let methodology = "mutation($i: MethodologyInput!) { createMethodology(input: $i) { methodologyVersion status methodologyHash } }";
    let input = json!({
        "methodologyVersion": "gql-2027", "baselineReference": "thermal baseline",
        "factorReferences": ["IPCC 2006"], "geographicScope": ["CI"],
        "countryFactors": [{"countryCode": "CI", "thermalFactorLocal": "0.2", "evFactorLocal": "0.05"}],
        "formula": "f", "rounding": "half_even_6dp"
    });
    let data = app.graphql(methodology, json!({"i": input})).await;
    assert_eq!(data["createMethodology"]["status"], "DRAFT");
    let (_, rest) = app.get_json("/api/v2/esg/mrv/methodology/gql-2027").await;
    assert_eq!(
        data["createMethodology"]["methodologyHash"],
        rest["methodology_hash"]
    );
    let data = app
        .graphql(
            "mutation { activateMethodology(version: \"gql-2027\") { status } }",
            json!({}),
        )
        .await;
    assert_eq!(data["activateMethodology"]["status"], "ACTIVE");
    let mut twice = input.clone();
    twice["activate"] = json!(true);
    let (_, body) = app.graphql_as(None, methodology, json!({"i": twice})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_METHODOLOGY_VERSION_EXISTS"),
        "{body}"
    );

    let data = app
        .graphql(
            "{ outboxStats { counts { topic status count } oldestPendingAgeSeconds } }",
            json!({}),
        )
        .await;
    let counts = data["outboxStats"]["counts"].as_array().expect("counts");
    let calculated = counts
        .iter()
        .find(|c| c["topic"] == "esg_calculated.v1")
        .expect("topic");
    assert_eq!(calculated["count"], 2);
    assert!(
        data["outboxStats"]["oldestPendingAgeSeconds"]
            .as_f64()
            .is_some()
    );
}
