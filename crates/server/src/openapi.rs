//! The OpenAPI document, generated from the handlers' annotations, and the
//! interactive docs. Swagger UI is vendored into the binary so `/docs` works
//! on a machine with no internet access.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::routes::{
    alerts, api_keys, audit, conflicts, connections, health, listings, overview, products, rules,
    settings, sync, variants, webhook_logs, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Shelfsync API",
        description = "One master catalog kept in step with every sales channel. \
            Authenticate with `Authorization: Bearer <API key or Clerk session token>`. \
            Mutating calls accept `Idempotency-Key`. Errors are `application/problem+json`."
    ),
    paths(
        health::healthz, health::readyz,
        products::list, products::create, products::fetch, products::update, products::remove, products::bulk_upsert,
        variants::fetch, variants::update, variants::change_inventory, variants::history,
        api_keys::list, api_keys::create, api_keys::revoke,
        audit::list,
        connections::list, connections::create, connections::show, connections::update, connections::disconnect,
        connections::install, connections::callback, connections::usage, connections::reconcile,
        listings::list, listings::create, listings::fetch, listings::update,
        alerts::list,
        sync::run, sync::logs,
        rules::list, rules::create, rules::fetch, rules::replace, rules::remove, rules::preview,
        conflicts::list, conflicts::fetch, conflicts::resolve, conflicts::policies, conflicts::set_policy,
        webhooks::receive, webhooks::clerk, webhook_logs::list, webhook_logs::fetch,
        settings::fetch, settings::update,
        overview::overview,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        .route("/docs", get(|| async { Html(DOCS_PAGE) }))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    SWAGGER_JS,
                )
                    .into_response()
            }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    SWAGGER_CSS,
                )
                    .into_response()
            }),
        )
}

const SWAGGER_JS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");
const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Shelfsync API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true });
  </script>
</body>
</html>"##;
