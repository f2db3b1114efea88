//! Finds Swagger UI's files for the explorer to embed (`include_bytes!` in src/lib.rs), so the
//! deployed `/docs` needs no CDN and no file beside the binary. The npm package
//! `swagger-ui-dist` is looked for in `SWAGGER_UI_DIR`, else in
//! `.local/swagger-ui/node_modules/swagger-ui-dist` of the workspace, where
//! `scripts/install-deps` (and every script that builds: `scripts/dev`, `scripts/test`,
//! `scripts/sam-build`) installs the pinned version. Without it the build stops and says so.

use std::path::{Path, PathBuf};

#[path = "../build-no-pie.rs"]
mod no_pie;

/// A file that every `swagger-ui-dist` has; its absence means the folder is not the package.
const MARKER: &str = "swagger-ui-bundle.js";

fn main() {
    no_pie::main();
    println!("cargo:rerun-if-env-changed=SWAGGER_UI_DIR");
    let dir = swagger_ui_dir();
    if !dir.join(MARKER).is_file() {
        eprintln!(
            "\nerror: Swagger UI (npm package swagger-ui-dist) is not installed: {} has no {MARKER}.\n\
             The docs function embeds it. Install it with `scripts/install-deps` (or\n\
             `bash -c 'source scripts/lib/services.sh; install_swagger_ui'`), or point\n\
             SWAGGER_UI_DIR at a swagger-ui-dist folder.\n",
            dir.display()
        );
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed={}", dir.join("package.json").display());
    println!("cargo:rerun-if-changed={}", dir.join(MARKER).display());
    println!("cargo:rustc-env=SWAGGER_UI_DIST={}", dir.display());
}

/// `SWAGGER_UI_DIR` (a relative one is read from the workspace root), else the scripts' place.
fn swagger_ui_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("SWAGGER_UI_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join(".local/swagger-ui/node_modules/swagger-ui-dist"),
    }
}

fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    manifest.join("../..").canonicalize().unwrap_or_else(|_| Path::new("../..").to_path_buf())
}
