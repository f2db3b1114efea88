//! One error type for the edge. Every lower-layer error converts into it, and it renders as
//! RFC 9457 problem details. Internal errors are logged and answered with a generic 500.

use auth_core::AuthError;
use auth_core::cursor::InvalidCursor;
use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use services::carts::CartError;
use services::codes::CodeError;
use services::customers::UpdateError;
use services::fields::FieldError;
use services::groups::GroupError;
use services::lifecycle::{ActivityError, LifecycleRefusal};
use services::media::UploaderRefusal;
use services::profile::ProfileError;
use services::sessions::SessionError;
use services::signin::SignInError;
use services::staff::StaffError;
use store::StoreError;
use store::customers::EraseError;

use crate::domain::ValidationErrors;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed(Vec<&'static str>),
    Conflict {
        detail: String,
        field: Option<&'static str>,
    },
    PreconditionFailed,
    PayloadTooLarge(usize),
    UnsupportedMediaType,
    Validation(ValidationErrors),
    /// 422 with a sentence of its own (e.g. why an upload was rejected) and the fields it names.
    Unprocessable {
        detail: String,
        errors: ValidationErrors,
    },
    TooManyRequests {
        detail: String,
        retry_after: u64,
    },
    Unavailable(String),
    Internal(String),
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(ValidationErrors::single(field, message))
    }

    /// A 409 that names no field: the change cannot apply to the resource as it is now.
    pub fn conflict(cause: impl std::fmt::Display) -> Self {
        ApiError::Conflict { detail: cause.to_string(), field: None }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("bad-request", "Bad request"),
            ApiError::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => ("forbidden", "Forbidden"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict { .. } => ("conflict", "Conflict"),
            ApiError::PreconditionFailed => ("precondition-failed", "Precondition failed"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            ApiError::Validation(_) => ("validation", "Invalid input"),
            ApiError::Unprocessable { .. } => ("unprocessable", "Unprocessable content"),
            ApiError::TooManyRequests { .. } => ("rate-limited", "Too many requests"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn detail(&self) -> String {
        match self {
            ApiError::BadRequest(d)
            | ApiError::Unauthorized(d)
            | ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::Unavailable(d)
            | ApiError::Conflict { detail: d, .. }
            | ApiError::Unprocessable { detail: d, .. }
            | ApiError::TooManyRequests { detail: d, .. } => d.clone(),
            ApiError::MethodNotAllowed(allowed) => {
                format!("this path accepts {}", allowed.join(", "))
            }
            ApiError::PreconditionFailed => "the resource changed since you read it (If-Match does not match)".into(),
            ApiError::PayloadTooLarge(limit) => {
                format!("the request body is larger than {limit} bytes")
            }
            ApiError::UnsupportedMediaType => "send the body as application/json".into(),
            ApiError::Validation(errors) => {
                let fields: Vec<&str> = errors.fields().iter().map(|e| e.field.as_str()).collect();
                match errors.unlisted() {
                    0 => format!("invalid fields: {}", fields.join(", ")),
                    more => format!("invalid fields: {} and {more} more", fields.join(", ")),
                }
            }
            // Never leak internals; the log has the cause.
            ApiError::Internal(_) => "something went wrong on our side".into(),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(cause = %cause, "internal error");
        }
        let status = self.status();
        let (slug, title) = self.slug_and_title();
        let mut body = json!({
            "type": format!("/problems/{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail(),
        });
        match &self {
            ApiError::Validation(errors) | ApiError::Unprocessable { errors, .. } => {
                body["errors"] = json!(errors.fields())
            }
            ApiError::Conflict { field: Some(field), .. } => {
                body["errors"] = json!([{"field": field, "message": "is already taken"}]);
            }
            _ => {}
        }
        let mut builder = Response::builder().status(status).header(http::header::CONTENT_TYPE, PROBLEM_JSON);
        match &self {
            ApiError::TooManyRequests { retry_after, .. } => {
                builder = builder.header(http::header::RETRY_AFTER, retry_after.to_string())
            }
            ApiError::Unauthorized(_) => builder = builder.header(http::header::WWW_AUTHENTICATE, "Bearer"),
            ApiError::MethodNotAllowed(allowed) => builder = builder.header(http::header::ALLOW, allowed.join(", ")),
            _ => {}
        }
        builder.body(Body::Text(body.to_string())).unwrap_or_else(|_| Response::new(Body::Text(String::new())))
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Taken(field) => ApiError::Conflict {
                detail: format!("another customer already has this {}", field.name()),
                field: Some(field.name()),
            },
            StoreError::VersionConflict => ApiError::conflict("the resource changed meanwhile; try again"),
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::BadPageToken => ApiError::BadRequest("the cursor is not valid for this query".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<InvalidCursor> for ApiError {
    fn from(_: InvalidCursor) -> Self {
        ApiError::BadRequest("the cursor is not valid for this query".into())
    }
}

impl From<CodeError> for ApiError {
    /// Wrong, expired or used codes are 401 (as at the login), limits 429, a failed delivery 503.
    fn from(err: CodeError) -> Self {
        match err {
            CodeError::Limited { retry_after, .. } => {
                ApiError::TooManyRequests { detail: err.to_string(), retry_after }
            }
            CodeError::Undeliverable => ApiError::Unavailable(err.to_string()),
            CodeError::Invalid(detail) => ApiError::Unauthorized(detail),
            CodeError::Store(err) => err.into(),
            CodeError::Keys(err) => err.into(),
        }
    }
}

impl From<SignInError> for ApiError {
    /// A missing name is 422 on `name`; an account that may not sign in 403.
    fn from(err: SignInError) -> Self {
        match err {
            SignInError::Code(err) => err.into(),
            SignInError::NameRequired(detail) => ApiError::validation("name", detail),
            SignInError::MayNotLogIn(detail) => ApiError::Forbidden(detail),
            SignInError::Contended => ApiError::conflict(&err),
            SignInError::Store(err) => err.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    /// A token that does not open a live session is 401; an account that may no longer sign
    /// in 403.
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::InvalidRefresh | SessionError::InvalidToken | SessionError::Revoked => {
                ApiError::Unauthorized(err.to_string())
            }
            SessionError::MayNotLogIn(detail) => ApiError::Forbidden(detail),
            SessionError::NoSuchSession => ApiError::NotFound(err.to_string()),
            SessionError::Contended => ApiError::conflict(&err),
            SessionError::Keys(err) => err.into(),
            SessionError::Store(err) => err.into(),
        }
    }
}

impl From<StaffError> for ApiError {
    /// Credentials and `mfa_token`s that do not hold are 401, a lock-out 429, a refused own
    /// password 403, changes that cannot apply 409, a weak new password 422 on `new_password`.
    fn from(err: StaffError) -> Self {
        match err {
            StaffError::BadCredentials
            | StaffError::Disabled
            | StaffError::MfaTokenEnded
            | StaffError::WrongMfaCode { .. }
            | StaffError::MfaCodesExhausted => ApiError::Unauthorized(err.to_string()),
            StaffError::Locked { retry_after } => ApiError::TooManyRequests { detail: err.to_string(), retry_after },
            StaffError::NotStaff | StaffError::WrongPassword => ApiError::Forbidden(err.to_string()),
            StaffError::NotFound => ApiError::NotFound(err.to_string()),
            StaffError::WeakPassword(message) => ApiError::validation("new_password", message),
            StaffError::EmailTaken => ApiError::Conflict { detail: err.to_string(), field: Some("email") },
            StaffError::GuardContended
            | StaffError::WeakensSelf
            | StaffError::Contended
            | StaffError::ResetOfDisabled
            | StaffError::MfaAlreadyOn
            | StaffError::MfaRaced
            | StaffError::NothingToConfirm
            | StaffError::MfaRequired(_) => ApiError::conflict(&err),
            StaffError::EnrolmentCodeMismatch => ApiError::BadRequest(err.to_string()),
            StaffError::ResetCodeRefused(detail) => ApiError::BadRequest(detail),
            StaffError::Internal(cause) => ApiError::Internal(cause),
            StaffError::Auth(err) => err.into(),
            StaffError::Code(err) => err.into(),
            StaffError::Session(err) => err.into(),
            StaffError::Store(err) => err.into(),
        }
    }
}

impl From<GroupError> for ApiError {
    fn from(err: GroupError) -> Self {
        match err {
            GroupError::NoSuchGroup | GroupError::NoSuchCustomer | GroupError::NotAMember => {
                ApiError::NotFound(err.to_string())
            }
            GroupError::NameTaken => ApiError::Conflict { detail: err.to_string(), field: Some("name") },
            GroupError::Store(err) => err.into(),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        match err {
            FieldError::NotFound => ApiError::NotFound(err.to_string()),
            FieldError::TooMany | FieldError::KindChanged => ApiError::conflict(&err),
            FieldError::KeyTaken(_) => ApiError::Conflict { detail: err.to_string(), field: Some("key") },
            FieldError::Store(err) => err.into(),
        }
    }
}

impl From<LifecycleRefusal> for ApiError {
    /// A change the lifecycle or the customer's contacts do not allow is 409.
    fn from(err: LifecycleRefusal) -> Self {
        ApiError::conflict(&err)
    }
}

impl From<ActivityError> for ApiError {
    /// Only an active customer records activity (403); a loan closes only while one is open.
    fn from(err: ActivityError) -> Self {
        match err {
            ActivityError::NotFound => ApiError::NotFound(err.to_string()),
            ActivityError::NotActive(_) => ApiError::Forbidden(err.to_string()),
            ActivityError::NoOpenLoan | ActivityError::Contended => ApiError::conflict(&err),
            ActivityError::Store(err) => err.into(),
        }
    }
}

impl From<ProfileError> for ApiError {
    fn from(err: ProfileError) -> Self {
        match err {
            ProfileError::Gone | ProfileError::NotLinked(_) => ApiError::NotFound(err.to_string()),
            ProfileError::Inactive(_) => ApiError::Forbidden(err.to_string()),
            // Not a duplicate: the field list of a conflict says "is already taken".
            ProfileError::NoEmail | ProfileError::OnlyWayIn | ProfileError::Changed => ApiError::conflict(&err),
            ProfileError::EmailChanged => ApiError::Conflict { detail: err.to_string(), field: Some("email") },
            ProfileError::WrongCode(detail) => ApiError::BadRequest(detail),
            ProfileError::Code(err) => err.into(),
            ProfileError::Invalid(errors) => errors.into(),
            ProfileError::Store(err) => err.into(),
        }
    }
}

impl From<CartError> for ApiError {
    fn from(err: CartError) -> Self {
        match err {
            CartError::AccountGone | CartError::NoCart | CartError::NotInCart => ApiError::NotFound(err.to_string()),
            CartError::GuestCartsLimited { retry_after } => {
                ApiError::TooManyRequests { detail: err.to_string(), retry_after }
            }
            CartError::Invalid(errors) => errors.into(),
            CartError::Store(err) => err.into(),
        }
    }
}

impl From<UploaderRefusal> for ApiError {
    fn from(err: UploaderRefusal) -> Self {
        match err {
            UploaderRefusal::NoCustomer => ApiError::NotFound(err.to_string()),
            UploaderRefusal::Inactive(_) => ApiError::Forbidden(err.to_string()),
            UploaderRefusal::Store(err) => err.into(),
        }
    }
}

impl ApiError {
    /// An update's failure as the edge answers it; `not_found` words the route's 404.
    pub fn from_update(err: UpdateError<ApiError>, not_found: impl FnOnce() -> ApiError) -> ApiError {
        match err {
            UpdateError::NotFound => not_found(),
            UpdateError::PreconditionFailed => ApiError::PreconditionFailed,
            UpdateError::Contended => ApiError::conflict("the customer is being changed elsewhere; try again"),
            UpdateError::Refused(err) => err,
            UpdateError::Store(err) => err.into(),
        }
    }
}

impl ApiError {
    /// An erase's refusal as the edge answers it; `not_found` words the route's 404.
    pub fn from_erase(err: EraseError, not_found: impl FnOnce() -> ApiError) -> ApiError {
        match err {
            EraseError::NotFound => not_found(),
            EraseError::NotActive(_) => ApiError::Forbidden(err.to_string()),
            EraseError::OpenLoans(_) => ApiError::Conflict {
                detail: format!("{err}; an account with an open loan cannot be deleted"),
                field: None,
            },
            EraseError::Store(err) => err.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::MissingToken | AuthError::InvalidToken => ApiError::Unauthorized(err.to_string()),
            AuthError::Forbidden(_) => ApiError::Forbidden(err.to_string()),
            AuthError::Signing | AuthError::NoKey(_) => ApiError::Internal(err.to_string()),
        }
    }
}
