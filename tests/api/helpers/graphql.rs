//! GraphQL requests as a dashboard sends them.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// GraphQL helpers.
impl TestApp {
    /// `POST /graphql` with `query` and `variables`, optionally with a bearer token; answers the
    /// HTTP status and the GraphQL response.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&serde_json::json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /graphql` without a token; the response must carry no error.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_as(None, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

/// The `extensions.code` of a GraphQL response's first error.
pub fn graphql_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}
