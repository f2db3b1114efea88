//! `local-stack`: provisions the local table and bucket from `template.yaml`, then serves the
//! whole API on 127.0.0.1:$PORT (default 3000). Started by `scripts/dev`, which also starts
//! DynamoDB Local and the S3 endpoint and sets the environment.

use std::path::PathBuf;
use std::sync::Arc;

use local_stack::admin::{AdminOutcome, ensure_admin};
use local_stack::provision::{ensure_bucket, ensure_table};
use local_stack::server::{LocalApi, serve};
use local_stack::template::Template;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::logging::init();
    let template_path = std::env::var("TEMPLATE").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("template.yaml"));
    let template = Template::load(&template_path)?;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let mut app = shared::App::from_config(local_config(port)?).await?;
    // The processor's renderer, so `complete` settles avatars in-process (no S3 events here).
    app.avatar_renderer = Some(media_processor::render_avatar);
    // The local admin signs in with a password alone (API.md): two factors are required only
    // when STAFF_MFA_REQUIRED says so here.
    if std::env::var_os("STAFF_MFA_REQUIRED").is_none() {
        app.config.staff_mfa = shared::domain::staff_security::StaffMfaPolicy::None;
    }

    if ensure_table(app.store.client(), app.store.table(), &template.table).await? {
        tracing::info!(table = app.store.table(), "created the table from template.yaml");
    }
    if ensure_bucket(app.s3(), &app.config.media_bucket).await? {
        tracing::info!(bucket = %app.config.media_bucket, "created the media bucket");
    }

    let admin_email = std::env::var("LOCAL_ADMIN_EMAIL").unwrap_or_else(|_| "admin@example.com".into());
    let admin_password = std::env::var("LOCAL_ADMIN_PASSWORD").unwrap_or_else(|_| "local-admin-password".into());
    match ensure_admin(&app.store, &admin_email, &admin_password, "Local admin").await? {
        AdminOutcome::Created(id) => {
            tracing::info!(staff_id = %id, email = %admin_email, "created the local admin")
        }
        AdminOutcome::AlreadyExists(id) => {
            tracing::info!(staff_id = %id, email = %admin_email, "the local admin exists")
        }
    }

    // Change events: the stream publisher's handler over the table's stream, into a file.
    let events_file =
        std::env::var("LOCAL_EVENTS_FILE").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(".local/events.jsonl"));
    match local_stack::changes::StreamReader::open(
        app.sdk_config(),
        app.config.dynamodb_endpoint.as_deref(),
        app.store.client(),
        app.store.table(),
    )
    .await
    {
        Ok(reader) => {
            tracing::info!(file = %events_file.display(), "change events go to this file");
            let sink = local_stack::changes::JsonLinesSink::new(events_file);
            tokio::spawn(local_stack::changes::poll_forever(reader, sink, std::time::Duration::from_millis(500)));
        }
        Err(why) => tracing::warn!(
            error = %why,
            "no change events: the local table was created without the stream; remove .local/dynamodb data to recreate it"
        ),
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // The development identity provider, trusted as `local` (audience `local-app`); its keys
    // are fetched over HTTP from this very server, as a real provider's would be.
    let dev_idp = Arc::new(local_stack::dev_idp::DevIdp::new(&format!("http://127.0.0.1:{port}"))?);
    app.config.oidc_providers.retain(|p| p.name != local_stack::dev_idp::PROVIDER);
    app.config.oidc_providers.extend(shared::oidc::parse_providers(&format!("[{}]", dev_idp.provider_entry()))?);
    tracing::info!(issuer = dev_idp.issuer(), "development identity provider `local`");
    let api = Arc::new(
        LocalApi::new(app, &template.routes)?.with_access_log(template.access_log_format.clone()).with_dev_idp(dev_idp),
    );
    for route in &template.routes {
        tracing::info!(function = %route.function, method = %route.method, path = %route.path, "route");
    }
    // Interrupted erases: the sweep a schedule runs in AWS, here a background task.
    let sweeper = Arc::clone(&api);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(err) = erase_sweeper::sweep(sweeper.app()).await {
                tracing::warn!(error = %err, "the sweep of unfinished erases could not read its list");
            }
        }
    });
    tracing::info!(url = %format!("http://127.0.0.1:{port}"), "serving the API");
    tokio::select! {
        result = serve(api, listener) => result?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}

/// The environment's configuration, completed for the local stack: the issuer is the URL it
/// serves on, and without `ACCESS_TOKEN_KEY` (or its ARN) the access-token key pair is the one
/// kept under `.local/` (made at the first start).
fn local_config(port: u16) -> Result<shared::config::Config, Box<dyn std::error::Error>> {
    let issuer = format!("http://127.0.0.1:{port}");
    let key_file = std::env::var("LOCAL_ACCESS_TOKEN_KEY_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(".local/access-token-key"));
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let kept_key = if set("ACCESS_TOKEN_KEY").is_none() && set("ACCESS_TOKEN_KEY_ARN").is_none() {
        Some(local_stack::keys::kept_access_token_key(&key_file)?)
    } else {
        None
    };
    Ok(shared::config::Config::from_lookup(|name| match name {
        "JWT_ISSUER" => set(name).or_else(|| Some(issuer.clone())),
        "ACCESS_TOKEN_KEY" => set(name).or_else(|| kept_key.clone()),
        _ => std::env::var(name).ok(),
    })?)
}
