//! The `media` function: upload slots (presigned PUTs), their verification, listing, metadata,
//! downloads (302 to a presigned GET) and deletion. Customers reach their own media only,
//! staff any customer's; anyone else gets 404, so media ids cannot be probed.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::Principal;
use shared::auth::roles::Access;
use shared::domain::media::{MAX_BULK_FILES, Media, MediaId, Purpose, UploadInput, UploadRequest};
use shared::domain::{CustomerId, Role, ValidationErrors};
use shared::http::paging::PageRequest;
use shared::http::response::with_location;
use shared::http::{
    ApiError, ApiFunction, Call, JsonBody, Route, Scope, json as json_response, no_content, parse_json,
};
use shared::services::media::{self, MediaError};

/// The `media` function.
pub struct MediaFunction;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    CreateUpload,
    CreateUploads,
    Complete,
    List,
    Get,
    Download,
    Delete,
}

impl ApiFunction for MediaFunction {
    type Handler = Handler;

    const NAME: &'static str = "media";

    const ROUTES: &'static [Route<Handler>] = &[
        Route::new("POST", "/v1/media/uploads", Access::OwnerOrStaff, Handler::CreateUpload),
        Route::new("POST", "/v1/media/uploads/bulk", Access::OwnerOrStaff, Handler::CreateUploads),
        Route::new("POST", "/v1/media/{media_id}/complete", Access::OwnerOrStaff, Handler::Complete),
        Route::new("GET", "/v1/media", Access::OwnerOrStaff, Handler::List),
        Route::new("GET", "/v1/media/{media_id}", Access::OwnerOrStaff, Handler::Get),
        Route::new("GET", "/v1/media/{media_id}/download", Access::OwnerOrStaff, Handler::Download),
        Route::new("DELETE", "/v1/media/{media_id}", Access::OwnerOrStaff, Handler::Delete),
    ];

    async fn call(call: Call<'_, Handler>) -> Result<Response<Body>, ApiError> {
        let app = call.app;
        let caller = Caller::of(call.signed_in()?)?;
        let req = call.req;
        match call.matched.route.handler {
            Handler::CreateUpload => create_upload(app, &caller, req).await,
            Handler::CreateUploads => create_uploads(app, &caller, req).await,
            Handler::List => list(app, &caller, req, call.scope()).await,
            Handler::Complete => complete(app, &caller, call.param("media_id")).await,
            Handler::Get => {
                let media = visible_media(app, &caller, call.param("media_id")).await?;
                json_response(StatusCode::OK, &media.to_json())
            }
            Handler::Download => download(app, &caller, call.param("media_id"), req).await,
            Handler::Delete => delete(app, &caller, call.param("media_id")).await,
        }
    }
}

/// Who is asking: a customer (their own media) or a staff member (anyone's), whose account
/// `Access::OwnerOrStaff` has already re-read.
enum Caller {
    Customer(CustomerId),
    Staff(String),
}

impl Caller {
    fn of(principal: &Principal) -> Result<Self, ApiError> {
        match principal.role {
            Role::Customer => Ok(Caller::Customer(principal.customer_id()?)),
            Role::Staff | Role::Admin => Ok(Caller::Staff(principal.subject.clone())),
        }
    }

    fn actor(&self) -> &str {
        match self {
            Caller::Customer(id) => id.as_str(),
            Caller::Staff(id) => id,
        }
    }

    fn may_see(&self, customer: &CustomerId) -> bool {
        match self {
            Caller::Customer(me) => me == customer,
            Caller::Staff(_) => true,
        }
    }
}

fn no_such_media() -> ApiError {
    ApiError::NotFound("no such media".into())
}

fn no_such_customer() -> ApiError {
    ApiError::NotFound("no such customer".into())
}

/// The media item behind a path id, if the caller may see it (404 otherwise, like an unknown id).
async fn visible_media(app: &App, caller: &Caller, raw_id: &str) -> Result<Media, ApiError> {
    let id = MediaId::parse(raw_id).ok_or_else(no_such_media)?;
    match media::get(app, &id).await? {
        Some(media) if caller.may_see(&media.customer_id) => Ok(media),
        _ => Err(no_such_media()),
    }
}

/// Whose media an upload is: a customer's own (naming another is 404, as for an unknown one),
/// or for staff the `customer_id` the body must name.
async fn owner_of(app: &App, caller: &Caller, request: &UploadRequest, field: &str) -> Result<CustomerId, ApiError> {
    match (caller, &request.customer_id) {
        (Caller::Customer(me), Some(named)) if named != me => Err(no_such_customer()),
        (Caller::Customer(me), _) => {
            media::ensure_may_upload(app, me).await?;
            Ok(me.clone())
        }
        (Caller::Staff(_), Some(named)) => Ok(named.clone()),
        (Caller::Staff(_), None) => Err(ApiError::validation(field, "staff uploads name the customer they are for")),
    }
}

async fn create_upload(app: &App, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
    let input: UploadInput = parse_json(req)?;
    let request = input.validate(&app.config.media.policy, "")?;
    let owner = owner_of(app, caller, &request, "customer_id").await?;
    let slot = media::create_upload(app, request, owner, caller.actor()).await.map_err(media_error)?;
    let response = json_response(StatusCode::CREATED, &slot.to_json())?;
    with_location(response, &format!("/v1/media/{}", slot.media.media_id))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkInput {
    files: Vec<UploadInput>,
}

impl JsonBody for BulkInput {
    const FIELDS: &'static [&'static str] = &["files"];
}

/// Up to 20 slots at once: every file is checked before any is created, and a bad one fails
/// the request naming it (`files[3].size`), so a client never holds half a batch.
async fn create_uploads(app: &App, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
    let input: BulkInput = parse_json(req)?;
    if input.files.is_empty() || input.files.len() > MAX_BULK_FILES {
        return Err(ApiError::validation("files", format!("must hold 1 to {MAX_BULK_FILES} files")));
    }
    let mut errors = ValidationErrors::new();
    let mut requests = Vec::new();
    for (index, file) in input.files.iter().enumerate() {
        match file.validate(&app.config.media.policy, &format!("files[{index}].")) {
            Ok(request) => requests.push(request),
            Err(bad) => errors.merge(bad),
        }
    }
    errors.into_result()?;
    let mut owners = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        owners.push(owner_of(app, caller, request, &format!("files[{index}].customer_id")).await?);
    }
    let mut results = Vec::new();
    for (request, owner) in requests.into_iter().zip(owners) {
        let slot = media::create_upload(app, request, owner, caller.actor()).await.map_err(media_error)?;
        results.push(slot.to_json());
    }
    json_response(StatusCode::CREATED, &json!({ "results": results }))
}

async fn complete(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let media = visible_media(app, caller, raw_id).await?;
    let settled = media::complete(app, &media.media_id).await.map_err(media_error)?;
    json_response(StatusCode::OK, &settled.to_json())
}

/// The list's query: whose media (staff must say; a customer's are their own) and which purpose.
fn list_filter(caller: &Caller, req: &Request) -> Result<(CustomerId, Option<Purpose>), ApiError> {
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name)).filter(|v| !v.is_empty());
    let mut errors = ValidationErrors::new();
    let purpose = param("purpose").and_then(|p| errors.check("purpose", Purpose::parse(p)));
    let named = param("customer_id").map(|raw| CustomerId::parse(raw).ok_or_else(no_such_customer)).transpose()?;
    let customer = match (caller, named) {
        (Caller::Customer(me), Some(named)) if &named != me => return Err(no_such_customer()),
        (Caller::Customer(me), _) => Some(me.clone()),
        (Caller::Staff(_), Some(named)) => Some(named),
        (Caller::Staff(_), None) => {
            errors.add("customer_id", "staff name the customer whose media they list");
            None
        }
    };
    errors.into_result()?;
    customer.map(|c| (c, purpose)).ok_or_else(|| ApiError::validation("customer_id", "required"))
}

async fn list(app: &App, caller: &Caller, req: &Request, scope: Scope) -> Result<Response<Body>, ApiError> {
    let (customer, purpose) = list_filter(caller, req)?;
    let scope = scope.filtered(format_args!("customer_id={customer}&purpose={}", purpose.map_or("", |p| p.as_str())));
    let request = PageRequest::from_request(app, req, scope)?;
    let page = media::list(app, &customer, purpose, request.limit, request.start.clone()).await?;
    request.respond(app, page, Media::to_json)
}

/// 302 to a short-lived presigned GET of a ready item (`?variant=thumb` for an avatar's
/// thumbnail); 409 while it is not ready.
async fn download(app: &App, caller: &Caller, raw_id: &str, req: &Request) -> Result<Response<Body>, ApiError> {
    let media = visible_media(app, caller, raw_id).await?;
    let variant = req.query_string_parameters_ref().and_then(|q| q.first("variant")).unwrap_or("original");
    if !matches!(variant, "original" | "thumb") {
        return Err(ApiError::validation("variant", "must be original or thumb"));
    }
    let url = media::download_url(app, &media, variant).await.map_err(|e| match e {
        MediaError::NotFound => ApiError::NotFound(format!("this media has no {variant} variant")),
        other => media_error(other),
    })?;
    Response::builder()
        .status(StatusCode::FOUND)
        .header(http::header::LOCATION, url)
        .header(http::header::CACHE_CONTROL, "private, no-store")
        .body(Body::Empty)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

async fn delete(app: &App, caller: &Caller, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let media = visible_media(app, caller, raw_id).await?;
    media::delete(app, &media).await.map_err(media_error)?;
    no_content()
}

fn media_error(err: MediaError) -> ApiError {
    match err {
        MediaError::NotFound => no_such_media(),
        MediaError::Rejected(media) => {
            let reason = media.reason.unwrap_or_else(|| "the upload was rejected".into());
            ApiError::Unprocessable { detail: reason.clone(), errors: ValidationErrors::single("file", reason) }
        }
        MediaError::StillProcessing => {
            ApiError::Unavailable("the upload is still being processed; try again in a few seconds".into())
        }
        MediaError::NotReady(status) => ApiError::Conflict {
            detail: format!("this media is {}; only ready media can be downloaded", status.as_str()),
            field: None,
        },
        MediaError::Storage(cause) => ApiError::Internal(cause),
        MediaError::Store(err) => err.into(),
    }
}
