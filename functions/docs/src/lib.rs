//! The `docs` function: the API explorer. `GET /openapi.yaml` is the repository's
//! `openapi.yaml`, `GET /docs` a Swagger UI page that loads it, and `GET /docs/{asset}` Swagger
//! UI's own files (npm `swagger-ui-dist`). All of it is embedded at compile time (see
//! `build.rs`): nothing comes from a CDN and nothing is read from disk at run time.
//!
//! Deployed only when the template parameter `PublishApiDocs` is `true`; the local stack always
//! serves it, through this same function.

use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use lambda_http::{Body, Request, Response};
use shared::auth::roles::Access;
use shared::http::{ApiError, ApiFunction, Call, Route, RouteMatch};

/// The OpenAPI document, as the repository has it when the function is built.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The explorer's page. "Try it out" is sent to the server that served the page (local stack
/// or deployed API, whatever its host and port), not to a `servers` entry of the document.
pub const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Customer platform API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.yaml",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout",
      // "Try it out" goes to the server that serves this page, whatever its port.
      requestInterceptor: (request) => {
        const target = new URL(request.url, window.location.href);
        if (target.pathname.startsWith("/v1/")) {
          request.url = window.location.origin + target.pathname + target.search;
        }
        return request;
      }
    });
  </script>
</body>
</html>
"##;

/// One of Swagger UI's files, served as `/docs/{name}`.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: AssetBody,
}

/// Text goes back to API Gateway as it is; binary files base64-encoded (lambda_http does that).
#[derive(Debug, Clone, Copy)]
pub enum AssetBody {
    Text(&'static str),
    Binary(&'static [u8]),
}

impl AssetBody {
    pub fn bytes(&self) -> &'static [u8] {
        match self {
            AssetBody::Text(text) => text.as_bytes(),
            AssetBody::Binary(bytes) => bytes,
        }
    }
}

/// `SWAGGER_UI_DIST` is the `swagger-ui-dist` folder that `build.rs` found.
macro_rules! swagger_file {
    (text $name:literal) => {
        AssetBody::Text(include_str!(concat!(env!("SWAGGER_UI_DIST"), "/", $name)))
    };
    (binary $name:literal) => {
        AssetBody::Binary(include_bytes!(concat!(env!("SWAGGER_UI_DIST"), "/", $name)))
    };
}

/// The Swagger UI files the page loads; nothing else of the package is served.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        body: swagger_file!(text "swagger-ui.css"),
    },
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "application/javascript; charset=utf-8",
        body: swagger_file!(text "swagger-ui-bundle.js"),
    },
    Asset {
        name: "swagger-ui-standalone-preset.js",
        content_type: "application/javascript; charset=utf-8",
        body: swagger_file!(text "swagger-ui-standalone-preset.js"),
    },
    Asset { name: "favicon-32x32.png", content_type: "image/png", body: swagger_file!(binary "favicon-32x32.png") },
    Asset { name: "favicon-16x16.png", content_type: "image/png", body: swagger_file!(binary "favicon-16x16.png") },
];

/// The asset called `name`, if the explorer serves one by that name.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// The `docs` function.
pub struct Docs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Page,
    Asset,
    Document,
}

/// The page and the document change with every deploy; Swagger UI's files only when its
/// pinned version does.
const REVALIDATE: &str = "no-cache";
const CACHE_ASSET: &str = "public, max-age=3600";

impl ApiFunction for Docs {
    type Handler = Handler;

    const NAME: &'static str = "docs";

    const ROUTES: &'static [Route<Handler>] = &[
        Route::new("GET", "/docs", Access::Anyone, Handler::Page),
        Route::new("GET", "/docs/{asset}", Access::Anyone, Handler::Asset),
        Route::new("GET", "/openapi.yaml", Access::Anyone, Handler::Document),
    ];

    async fn call(call: Call<'_, Handler>) -> Result<Response<Body>, ApiError> {
        answer_route(&call.matched)
    }
}

/// Answers one request without the shared `App`: every route is open to anyone and reads
/// nothing but the binary, so the Lambda builds no AWS client and holds no signing key.
pub fn answer(req: &Request) -> Response<Body> {
    shared::http::function::router::<Docs>()
        .find(req.method().as_str(), req.uri().path())
        .and_then(|matched| answer_route(&matched))
        .unwrap_or_else(ApiError::into_response)
}

fn answer_route(matched: &RouteMatch<Handler>) -> Result<Response<Body>, ApiError> {
    match matched.route.handler {
        Handler::Page => respond("text/html; charset=utf-8", REVALIDATE, AssetBody::Text(PAGE)),
        Handler::Document => respond("application/yaml; charset=utf-8", REVALIDATE, AssetBody::Text(OPENAPI_YAML)),
        Handler::Asset => {
            let name = matched.param("asset");
            let found = asset(name).ok_or_else(|| ApiError::NotFound(format!("the explorer has no file {name:?}")))?;
            respond(found.content_type, CACHE_ASSET, found.body)
        }
    }
}

fn respond(content_type: &str, cache: &str, body: AssetBody) -> Result<Response<Body>, ApiError> {
    let body = match body {
        AssetBody::Text(text) => Body::Text(text.to_string()),
        AssetBody::Binary(bytes) => Body::Binary(bytes.to_vec()),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type)
        .header(CACHE_CONTROL, cache)
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(body)
        .map_err(|err| ApiError::Internal(format!("docs response: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_loads_is_served_and_nothing_comes_from_elsewhere() {
        for (start, _) in PAGE.match_indices("/docs/") {
            let name: String = PAGE[start + "/docs/".len()..].chars().take_while(|c| *c != '"').collect();
            assert!(asset(&name).is_some(), "the page loads /docs/{name}, which is not served");
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"), "nothing from a CDN");
    }

    #[test]
    fn the_embedded_files_are_the_real_ones() {
        assert!(OPENAPI_YAML.starts_with("openapi: 3."));
        let bundle = asset("swagger-ui-bundle.js").map(|a| a.body.bytes().len()).unwrap_or_default();
        assert!(bundle > 100_000, "the Swagger UI bundle itself, not a stub ({bundle} bytes)");
        let png = asset("favicon-32x32.png").map(|a| a.body.bytes()).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
    }
}
