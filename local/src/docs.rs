//! The API explorer of the local stack: `GET /openapi.yaml` (the document in the repository)
//! and `GET /docs`, Swagger UI from its npm package (`swagger-ui-dist`, installed under `.local/`
//! by the scripts) with the document loaded and "try it out" pointed at this server. Nothing
//! comes from a CDN.

use std::path::{Path, PathBuf};

/// The files of the explorer, read once.
pub struct ApiDocs {
    openapi: String,
    swagger_dir: Option<PathBuf>,
}

/// The Swagger UI files the page loads, and their content types.
const ASSETS: &[(&str, &str)] = &[
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("swagger-ui-bundle.js", "application/javascript; charset=utf-8"),
    ("swagger-ui-standalone-preset.js", "application/javascript; charset=utf-8"),
    ("favicon-32x32.png", "image/png"),
    ("favicon-16x16.png", "image/png"),
];

const PAGE: &str = r##"<!doctype html>
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

/// An answer of the explorer: status, content type, body.
pub type DocsAnswer = (u16, &'static str, Vec<u8>);

impl ApiDocs {
    /// `openapi` is the document's path; `swagger_dir` the `swagger-ui-dist` package folder.
    pub fn load(openapi: &Path, swagger_dir: Option<PathBuf>) -> std::io::Result<Self> {
        Ok(Self { openapi: std::fs::read_to_string(openapi)?, swagger_dir: swagger_dir.filter(|d| d.is_dir()) })
    }

    /// The explorer's answer to `GET path`, or `None` when the path is not the explorer's.
    pub fn answer(&self, method: &str, path: &str) -> Option<DocsAnswer> {
        if !method.eq_ignore_ascii_case("GET") {
            return None;
        }
        match path.trim_end_matches('/') {
            "/openapi.yaml" => Some((200, "application/yaml; charset=utf-8", self.openapi.clone().into_bytes())),
            "/docs" => Some(match self.swagger_dir {
                Some(_) => (200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
                None => {
                    (503, "text/plain; charset=utf-8", b"the API explorer is not installed: run scripts/dev".to_vec())
                }
            }),
            other => {
                let name = other.strip_prefix("/docs/")?;
                let (file, content_type) = ASSETS.iter().find(|(file, _)| *file == name)?;
                let body = std::fs::read(self.swagger_dir.as_ref()?.join(file)).ok()?;
                Some((200, content_type, body))
            }
        }
    }
}

/// Where the scripts install Swagger UI (`SWAGGER_UI_DIR` overrides).
pub fn default_swagger_dir(repo_root: &Path) -> PathBuf {
    std::env::var("SWAGGER_UI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root.join(".local/swagger-ui/node_modules/swagger-ui-dist"))
}
