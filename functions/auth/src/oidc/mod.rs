//! `POST /v1/auth/oidc`: sign in with an identity provider's ID token.
//!
//! Linking rules, in order: the customer linked to the provider's `sub` logs in; else a
//! customer whose email is verified and equals the token's *verified* email is linked and logs
//! in; else a customer is created (name from the token or the request, else 422), with the
//! token's email when the provider vouches for it and no customer has it. An unverified
//! provider email never links to an existing account. A customer created this way may have
//! neither phone nor email: the provider link is its way in.

mod keys;
mod verify;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::App;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::parse_full_name;
use shared::domain::{Customer, SignInChannel, ValidationErrors};
use shared::http::{ApiError, JsonBody, parse_json_lenient};
use shared::oidc::OidcProvider;
use shared::store::customers::LoginProof;
use shared::store::identities::IdentityLink;
use shared::store::{StoreError, UniqueField};
use shared::time::Timestamp;

use crate::login::{ensure_may_log_in, log_in, new_customer, signed_in, signup_note};
use verify::{ProviderAccount, TokenError};

/// An ID token longer than this is not one.
const MAX_ID_TOKEN: usize = 16 * 1024;
const MAX_NONCE: usize = 512;

#[derive(Debug, Deserialize)]
struct OidcRequest {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
}

impl JsonBody for OidcRequest {
    const FIELDS: &'static [&'static str] = &["provider", "id_token", "nonce", "name", "device_name"];
}

struct ValidRequest<'a> {
    provider: &'a OidcProvider,
    id_token: String,
    nonce: Option<String>,
    names: Option<(String, String)>,
    device_name: Option<String>,
}

fn validate(app: &App, body: OidcRequest, mut errors: ValidationErrors) -> Result<ValidRequest<'_>, ApiError> {
    let provider = match body.provider.as_deref() {
        None => {
            errors.add("provider", "is required");
            None
        }
        Some(name) => {
            let found = app.config.oidc_providers.iter().find(|p| p.name == name);
            if found.is_none() {
                errors.add("provider", "is not a provider this service trusts");
            }
            found
        }
    };
    let id_token = body.id_token.unwrap_or_default();
    if id_token.is_empty() || id_token.len() > MAX_ID_TOKEN {
        errors.add("id_token", "is required: the ID token the provider issued");
    }
    if body.nonce.as_ref().is_some_and(|n| n.is_empty() || n.len() > MAX_NONCE) {
        errors.add("nonce", format!("must be 1 to {MAX_NONCE} characters"));
    }
    let names = body.name.as_deref().and_then(|name| errors.check("name", parse_full_name(name)));
    let device_name = crate::login::device_name(body.device_name.as_deref(), &mut errors);
    errors.into_result()?;
    let provider = provider.ok_or_else(|| ApiError::validation("provider", "is required"))?;
    Ok(ValidRequest { provider, id_token, nonce: body.nonce, names, device_name })
}

pub async fn sign_in(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (body, shape_errors) = parse_json_lenient::<OidcRequest>(req)?;
    let request = validate(app, body, shape_errors)?;
    let account = verify::verify(
        request.provider,
        &request.id_token,
        request.nonce.as_deref(),
        app.config.oidc_keys_refetch,
    )
    .await
    .map_err(|err| match err {
        TokenError::Invalid(_) => ApiError::Unauthorized(err.to_string()),
        TokenError::Unreachable(why) => {
            tracing::error!(provider = %request.provider.name, cause = %why, "identity provider keys unavailable");
            ApiError::Unavailable("the identity provider cannot be reached; try again shortly".into())
        }
    })?;
    let now = app.clock.now();
    let channel = SignInChannel::Oidc(request.provider.name.clone());
    let (customer, created) = resolve(app, &request, &account, now).await?;
    signed_in(app, &app.issuer(req), customer, created, request.device_name, &channel, now).await
}

/// Finds, links or creates the customer, then records the login. Races (two first sign-ins of
/// one account) end in a login of the customer that won.
async fn resolve(
    app: &App,
    request: &ValidRequest<'_>,
    account: &ProviderAccount,
    now: Timestamp,
) -> Result<(Customer, bool), ApiError> {
    let provider = &request.provider.name;
    for _ in 0..3 {
        if let Some(id) = app.store.identity_owner(provider, &account.subject).await? {
            let customer = app
                .store
                .get_customer(&id)
                .await?
                .ok_or_else(|| ApiError::Forbidden("this account may not log in".into()))?;
            ensure_may_log_in(&customer)?;
            return Ok((log_in(app, &customer.customer_id, LoginProof::Provider(provider), now).await?, false));
        }
        let link = IdentityLink {
            provider: provider.clone(),
            subject: account.subject.clone(),
            email: account.email.as_ref().map(|e| e.as_str().to_string()),
            linked_at: now,
        };
        let by_email = match account.verified_email() {
            Some(email) => app.store.find_customer_by_email(email).await?,
            None => None,
        };
        let outcome = match by_email {
            Some(customer) if customer.email_verified => link_existing(app, &customer, &link, now).await,
            // The address is someone's but not verified there: never linked, and not free.
            Some(_) => create(app, request, account, &link, false, now).await,
            None => create(app, request, account, &link, account.verified_email().is_some(), now).await,
        };
        match outcome {
            Err(StoreError::Taken(UniqueField::Identity | UniqueField::Email) | StoreError::VersionConflict) => {
                continue;
            }
            Err(err) => return Err(err.into()),
            Ok(Resolved::Linked(customer)) => {
                return Ok((log_in(app, &customer.customer_id, LoginProof::Provider(provider), now).await?, false));
            }
            Ok(Resolved::Created(customer)) => return Ok((customer, true)),
            Ok(Resolved::NeedsName) => {
                return Err(ApiError::validation("name", "is required: the provider did not say the name"));
            }
            Ok(Resolved::Inactive(customer)) => {
                ensure_may_log_in(&customer)?;
            }
        }
    }
    Err(ApiError::Conflict { detail: "the account is being changed elsewhere; try again".into(), field: None })
}

enum Resolved {
    Linked(Customer),
    Created(Customer),
    NeedsName,
    Inactive(Customer),
}

async fn link_existing(
    app: &App,
    customer: &Customer,
    link: &IdentityLink,
    now: Timestamp,
) -> Result<Resolved, StoreError> {
    if !customer.is_active() {
        return Ok(Resolved::Inactive(customer.clone()));
    }
    let note = AuditNote::new(customer.customer_id.as_str(), AuditAction::Update)
        .with_reason(format!("signed in with {} (linked by verified email)", link.provider));
    Ok(Resolved::Linked(app.store.link_identity(customer, link, &note, now).await?))
}

async fn create(
    app: &App,
    request: &ValidRequest<'_>,
    account: &ProviderAccount,
    link: &IdentityLink,
    with_email: bool,
    now: Timestamp,
) -> Result<Resolved, StoreError> {
    let names = account.name.as_deref().and_then(|n| parse_full_name(n).ok()).or_else(|| request.names.clone());
    let Some(names) = names else { return Ok(Resolved::NeedsName) };
    let channel = SignInChannel::Oidc(link.provider.clone());
    let mut customer =
        new_customer(app, names, channel.clone(), now).await.map_err(|e| StoreError::Backend(format!("{e:?}")))?;
    if with_email {
        customer.email = account.verified_email().cloned();
        customer.email_verified = customer.email.is_some();
    }
    let note = signup_note(&channel);
    Ok(Resolved::Created(app.store.create_linked_customer(customer, &note, link).await?))
}
