//! The identity providers a deployment trusts for `POST /v1/auth/oidc` (`OIDC_PROVIDERS`, from
//! the template parameter `OidcProviders`): a small JSON list of
//! `{"name", "issuer", "jwks_uri", "client_ids"}`. `apple` and `google` are known by name and
//! need only their client ids. Read once at start, so a bad document stops the cold start
//! rather than failing sign-ins one by one.

use serde::Deserialize;

/// One trusted provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// What clients send as `provider` (lower-case letters, digits, `-` and `_`).
    pub name: String,
    /// The exact `iss` of its ID tokens.
    pub issuer: String,
    /// Where its public keys are published (HTTPS; plain HTTP only on loopback, for the local
    /// stack's development provider).
    pub jwks_uri: String,
    /// The `aud` values accepted: the app's client ids at that provider.
    pub client_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    name: String,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    client_ids: Vec<String>,
}

/// The issuer and key URL of the providers known by name.
fn well_known(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "apple" => Some(("https://appleid.apple.com", "https://appleid.apple.com/auth/keys")),
        "google" => Some(("https://accounts.google.com", "https://www.googleapis.com/oauth2/v3/certs")),
        _ => None,
    }
}

/// Parses `OIDC_PROVIDERS` (blank: none).
pub fn parse_providers(document: &str) -> Result<Vec<OidcProvider>, String> {
    if document.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<ProviderEntry> = serde_json::from_str(document).map_err(|e| e.to_string())?;
    let mut providers: Vec<OidcProvider> = Vec::new();
    for entry in entries {
        let provider = provider(entry)?;
        if providers.iter().any(|p| p.name == provider.name) {
            return Err(format!("provider {} is listed twice", provider.name));
        }
        providers.push(provider);
    }
    Ok(providers)
}

fn provider(entry: ProviderEntry) -> Result<OidcProvider, String> {
    let name = entry.name;
    let valid_name = !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_name {
        return Err(format!("{name:?} is not a provider name (lower-case letters, digits, - and _)"));
    }
    let known = well_known(&name);
    let issuer = entry.issuer.or_else(|| known.map(|k| k.0.to_string()));
    let jwks_uri = entry.jwks_uri.or_else(|| known.map(|k| k.1.to_string()));
    let (Some(issuer), Some(jwks_uri)) = (issuer, jwks_uri) else {
        return Err(format!("provider {name} needs issuer and jwks_uri"));
    };
    if !is_allowed_url(&jwks_uri) {
        return Err(format!("provider {name}: jwks_uri must be https (http only on 127.0.0.1 or localhost)"));
    }
    if entry.client_ids.is_empty() || entry.client_ids.iter().any(|id| id.trim().is_empty()) {
        return Err(format!("provider {name} needs at least one client id"));
    }
    Ok(OidcProvider { name, issuer, jwks_uri, client_ids: entry.client_ids })
}

fn is_allowed_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_and_google_need_only_client_ids() {
        let providers = parse_providers(
            r#"[{"name":"google","client_ids":["web.apps.googleusercontent.com"]},
                {"name":"apple","client_ids":["com.example.app"]},
                {"name":"acme","issuer":"https://id.acme.test","jwks_uri":"https://id.acme.test/keys","client_ids":["x"]}]"#,
        )
        .expect("valid");
        assert_eq!(providers[0].issuer, "https://accounts.google.com");
        assert_eq!(providers[1].jwks_uri, "https://appleid.apple.com/auth/keys");
        assert_eq!(providers[2].name, "acme");
        assert_eq!(parse_providers("  ").expect("blank"), []);
    }

    #[test]
    fn incomplete_or_unsafe_providers_stop_the_start() {
        for bad in [
            r#"[{"name":"acme","client_ids":["x"]}]"#,
            r#"[{"name":"google","client_ids":[]}]"#,
            r#"[{"name":"Google!","client_ids":["x"]}]"#,
            r#"[{"name":"acme","issuer":"https://a","jwks_uri":"http://a.example/keys","client_ids":["x"]}]"#,
            r#"[{"name":"google","client_ids":["x"]},{"name":"google","client_ids":["y"]}]"#,
            r#"[{"name":"google","client_ids":["x"],"secret":"no"}]"#,
        ] {
            assert!(parse_providers(bad).is_err(), "{bad}");
        }
    }
}
