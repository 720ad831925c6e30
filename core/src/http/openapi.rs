//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations
//! (`docs/openapi.json` is a copy, checked for drift by the tests).

use super::error::{ErrorBody, ErrorDetail};
use super::routes;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tuneloop HTTP API",
        description = "Feedback on LLM responses, quality, error patterns and fine-tuning jobs. \
                       Bodies are the library's JSON (docs/formats.md), the same as the CLI's \
                       `--json`; errors are `{\"error\":{\"code\",\"message\",\"field\"?}}`. \
                       See docs/http.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(
        routes::healthz,
        routes::readyz,
        routes::openapi,
        routes::prometheus,
        routes::metrics,
        routes::problematic,
        routes::feedback,
        routes::response,
        routes::list_jobs,
        routes::get_job,
        routes::check,
        routes::create_job,
        routes::start_job,
        routes::cancel_job,
        routes::error_patterns,
        routes::error_trends,
        routes::model_ranking,
        routes::suggestions,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Security),
    tags(
        (name = "response-quality", description = "Responses, feedback and quality"),
        (name = "fine-tuning", description = "The fine-tuning decision and jobs"),
        (name = "model-improvement", description = "Error patterns, trends and suggestions"),
        (name = "health", description = "Liveness, readiness and this document"),
    )
)]
struct ApiDoc;

/// The bearer schemes: the admin token, and a feedback token (from recording a response).
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut admin = Http::new(HttpAuthScheme::Bearer);
        admin.description = Some("The admin token (TUNELOOP_ADMIN_TOKEN)".into());
        components.add_security_scheme("admin", SecurityScheme::Http(admin));
        let mut feedback = Http::new(HttpAuthScheme::Bearer);
        feedback.description = Some(
            "A feedback token from recording the response; valid for that response only, \
             until it expires"
                .into(),
        );
        components.add_security_scheme("feedback_token", SecurityScheme::Http(feedback));
    }
}

/// The OpenAPI document, as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}
