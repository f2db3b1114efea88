//! The `profile` function: a customer's own profile.

mod signin;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::App;
use shared::auth::roles::Access;
use shared::domain::cart::CartOwner;
use shared::domain::customer::{Audience, EraseRule};
use shared::domain::input::SelfUpdateInput;
use shared::domain::media::Media;
use shared::domain::session::SessionRecord;
use shared::domain::{Customer, CustomerId};
use shared::http::response::json_with_etag;
use shared::http::{ApiError, ApiFunction, Call, Route, if_match, no_content, parse_json_lenient};
use shared::services::customers::UpdateError;
use shared::services::profile::{self, PersonalExport, ProfileError};

/// The `profile` function.
pub struct Profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    GetMe,
    UpdateMe,
    DeleteMe,
    ExportMe,
    ListIdentities,
    UnlinkIdentity,
    RequestEmailVerification,
    ConfirmEmailVerification,
}

impl ApiFunction for Profile {
    type Handler = Handler;

    const NAME: &'static str = "profile";

    const ROUTES: &'static [Route<Handler>] = &[
        Route::new("GET", "/v1/me", Access::Customer, Handler::GetMe),
        Route::new("PATCH", "/v1/me", Access::Customer, Handler::UpdateMe),
        Route::new("DELETE", "/v1/me", Access::Customer, Handler::DeleteMe),
        Route::new("GET", "/v1/me/export", Access::Customer, Handler::ExportMe),
        Route::new("GET", "/v1/me/identities", Access::Customer, Handler::ListIdentities),
        Route::new("DELETE", "/v1/me/identities/{provider}", Access::Customer, Handler::UnlinkIdentity),
        Route::new("POST", "/v1/me/email/verification", Access::Customer, Handler::RequestEmailVerification),
        Route::new("POST", "/v1/me/email/verification/confirm", Access::Customer, Handler::ConfirmEmailVerification),
    ];

    async fn call(call: Call<'_, Handler>) -> Result<Response<Body>, ApiError> {
        let (app, me) = (call.app, call.customer_id()?);
        match call.matched.route.handler {
            Handler::GetMe => get_me(app, &me).await,
            Handler::UpdateMe => update_me(app, &me, call.req).await,
            Handler::DeleteMe => delete_me(app, &me).await,
            Handler::ExportMe => export_me(app, &me).await,
            Handler::ListIdentities => signin::list_identities(app, &me).await,
            Handler::UnlinkIdentity => signin::unlink_identity(app, &me, call.param("provider")).await,
            Handler::RequestEmailVerification => signin::request_verification(app, &me, call.req).await,
            Handler::ConfirmEmailVerification => signin::confirm_verification(app, &me, call.req).await,
        }
    }
}

fn gone() -> ApiError {
    ApiError::NotFound("your account no longer exists".into())
}

fn customer_response(customer: &Customer) -> Result<Response<Body>, ApiError> {
    json_with_etag(StatusCode::OK, &customer.to_json(Audience::Owner), &customer.etag())
}

async fn get_me(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    customer_response(&profile::me(app, me).await?)
}

/// A change of the caller's account as the edge answers it.
pub(crate) fn changed(updated: Result<Customer, UpdateError<ProfileError>>) -> Result<Response<Body>, ApiError> {
    customer_response(&updated.map_err(|e| ApiError::from_update(e.map_refused(ApiError::from), gone))?)
}

/// Partial update. With `If-Match`, a stale version is 412; without it, the change is applied
/// atomically to whatever version is current.
async fn update_me(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let (input, shape_errors) = parse_json_lenient::<SelfUpdateInput>(req)?;
    let expected = if_match(req)?;
    changed(profile::update_me(app, me, expected.as_deref(), &input, &shape_errors).await)
}

/// Erases the caller: only an active customer without an open loan (403, 409), and an erase
/// that was interrupted completes when repeated.
async fn delete_me(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    shared::services::erase::erase_customer(app, me, me.as_str(), EraseRule::SelfService)
        .await
        .map_err(|e| ApiError::from_erase(e, gone))?;
    no_content()
}

/// The caller's media with, for each ready one, a short-lived link to every variant.
async fn my_media(app: &App, all: &[Media]) -> Result<Vec<Value>, ApiError> {
    let mut listed = Vec::new();
    for media in all {
        let mut entry = media.to_json();
        if media.status == shared::domain::media::MediaStatus::Ready {
            for name in media.variants.keys() {
                let url = shared::services::media::download_url(app, media, name)
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                entry["variants"][name]["download_url"] = json!(url);
            }
        }
        listed.push(entry);
    }
    Ok(listed)
}

/// Everything held about the caller, as one JSON document (GDPR articles 15 and 20): the
/// profile with its custom fields, notes and tags (staff-only elsewhere, but the customer's
/// data) and how they last signed in, sessions without their secrets, the cart, media, group memberships and the audit
/// trail of the record. Nothing of anyone else: other people appear at most as the actor id of
/// an audit entry.
async fn export_me(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    let now = app.clock.now();
    let PersonalExport { data, cart, media, identities } = profile::export(app, me, now).await?;
    let mut profile = data.customer.to_json(Audience::Owner);
    profile["notes"] = json!(data.customer.notes);
    profile["tags"] = json!(data.customer.tags);
    // How they last signed up or in: stored about them, so theirs to see here.
    profile["sign_in_channel"] = json!(data.customer.sign_in_channel.as_ref().map(ToString::to_string));
    let sessions: Vec<Value> =
        data.sessions.iter().filter(|s| s.expires_at > now).map(SessionRecord::to_json).collect();
    let groups: Vec<Value> = data
        .memberships
        .iter()
        .map(|(id, group, since)| {
            json!({
                "group_id": id,
                "name": group.as_ref().map(|g| g.name.clone()),
                "description": group.as_ref().and_then(|g| g.description.clone()),
                "added_at": since,
            })
        })
        .collect();
    let media = my_media(app, &media).await?;
    let owner = CartOwner::Customer(me.clone());
    let document = json!({
        "exported_at": now,
        "profile": profile,
        "sessions": sessions,
        "cart": cart.map(|c| c.to_json(&owner)),
        "media": media,
        "groups": groups,
        "identities": identities.iter().map(|l| l.to_json()).collect::<Vec<_>>(),
        "audit_trail": data.audit.iter().map(|entry| entry.to_json()).collect::<Vec<_>>(),
    });
    let mut response = shared::http::json(StatusCode::OK, &document)?;
    response.headers_mut().insert(
        http::header::CONTENT_DISPOSITION,
        http::HeaderValue::from_static("attachment; filename=\"my-data.json\""),
    );
    Ok(response)
}
