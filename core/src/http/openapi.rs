//! The OpenAPI 3.1 document of the API.

/// The OpenAPI document, as JSON.
pub fn document() -> serde_json::Value {
    serde_json::json!({"openapi": "3.1.0"})
}
