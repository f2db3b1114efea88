//! The signed-in customer's own account as use cases (`/v1/me…`): reading and changing it
//! (only while active), everything held about them, their linked identity providers (never
//! the only way in removed) and confirming their email address on file with a code.

use auth_core::otp::OtpCode;
use platform::email::EmailPurpose;
use store::StoreError;
use store::identities::{IdentityChange, IdentityLink};
use store::personal_data::PersonalData;

use crate::App;
use crate::codes::{self, CodeError};
use crate::customers::{UpdateError, update_customer};
use crate::domain::audit::{AuditAction, AuditNote};
use crate::domain::cart::{Cart, CartOwner};
use crate::domain::fields::Writer;
use crate::domain::input::{ApplyContext, SelfUpdateInput};
use crate::domain::media::Media;
use crate::domain::{CodeRecipient, Customer, CustomerId, CustomerStatus, EmailAddress, Patch, ValidationErrors};
use crate::time::Timestamp;

/// The function that sends verification codes, as metrics name it.
const FUNCTION: &str = "profile";

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The caller's account was erased (their token outlived it).
    #[error("your account no longer exists")]
    Gone,
    /// Only an active customer changes their account.
    #[error("this account is {}", .0.as_str())]
    Inactive(CustomerStatus),
    #[error("you have no email address on file; add one first")]
    NoEmail,
    #[error("no {0} account is linked to you")]
    NotLinked(String),
    #[error("this is your only way to sign in; add a phone or a verified email, or link another provider first")]
    OnlyWayIn,
    #[error("your account changed meanwhile; try again")]
    Changed,
    /// The address changed between the code and its confirmation.
    #[error("your email changed meanwhile")]
    EmailChanged,
    /// A wrong, expired or used verification code (the caller's token is fine).
    #[error("{0}")]
    WrongCode(String),
    #[error(transparent)]
    Code(CodeError),
    #[error("invalid fields")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The caller's account as stored now.
pub async fn me(app: &App, me: &CustomerId) -> Result<Customer, ProfileError> {
    app.store.get_customer(me).await?.ok_or(ProfileError::Gone)
}

/// The caller's partial update (with `If-Match`, only at one of `expected`), only while the
/// account is active. A new address is unverified (the domain rule), and a code sent to the old
/// one is void (`update_customer`).
pub async fn update_me(
    app: &App,
    me: &CustomerId,
    expected: Option<&[u64]>,
    input: &SelfUpdateInput,
    shape_errors: &ValidationErrors,
) -> Result<Customer, UpdateError<ProfileError>> {
    let definitions = match &input.0.custom_fields {
        Patch::Value(_) => app.store.list_fields().await?,
        _ => Vec::new(),
    };
    let note = AuditNote::new(me.as_str(), AuditAction::Update);
    let change = |current: &Customer, now: Timestamp| {
        if !current.is_active() {
            return Err(ProfileError::Inactive(current.status));
        }
        let ctx = ApplyContext {
            today: now.date(),
            phone_region: app.config.phone_default_region,
            fields: &definitions,
            writer: Writer::Customer,
        };
        shape_errors.combined_with(input.0.apply(current, &ctx)).map_err(ProfileError::Invalid)
    };
    update_customer(app, me, expected, &note, change).await
}

/// Everything held about the caller (GDPR articles 15 and 20).
pub struct PersonalExport {
    pub data: PersonalData,
    pub cart: Option<Cart>,
    pub media: Vec<Media>,
    pub identities: Vec<IdentityLink>,
}

/// What [`PersonalExport`] gathers, at `now`.
pub async fn export(app: &App, me: &CustomerId, now: Timestamp) -> Result<PersonalExport, ProfileError> {
    let data = app.store.personal_data(me).await?.ok_or(ProfileError::Gone)?;
    let cart = app.store.get_cart(&CartOwner::Customer(me.clone()), now).await?;
    let media = app.store.customer_media(me).await?;
    let identities = app.store.list_identities(me).await?;
    Ok(PersonalExport { data, cart, media, identities })
}

/// The identity providers linked to the caller.
pub async fn identities(app: &App, me: &CustomerId) -> Result<Vec<IdentityLink>, ProfileError> {
    Ok(app.store.list_identities(me).await?)
}

/// Removes the link to `provider`, unless it is the customer's only way in: no phone, no
/// verified email, no other provider.
pub async fn unlink_identity(app: &App, me: &CustomerId, provider: &str) -> Result<(), ProfileError> {
    let customer = self::me(app, me).await?;
    let links = app.store.list_identities(me).await?;
    let link =
        links.iter().find(|link| link.provider == provider).ok_or_else(|| ProfileError::NotLinked(provider.into()))?;
    let other_way_in = customer.phone.is_some() || (customer.email.is_some() && customer.email_verified);
    if !other_way_in && links.len() == 1 {
        return Err(ProfileError::OnlyWayIn);
    }
    let note = AuditNote::new(me.as_str(), AuditAction::Update).with_reason(format!("unlinked {provider}"));
    match app.store.change_identity(&customer, IdentityChange::Unlink(link), &note, app.clock.now()).await {
        Ok(_) => Ok(()),
        Err(StoreError::VersionConflict) => Err(ProfileError::Changed),
        Err(err) => Err(err.into()),
    }
}

/// The address a verification code goes to: only an active customer's, only one on file.
fn email_on_file(customer: &Customer) -> Result<EmailAddress, ProfileError> {
    if !customer.is_active() {
        return Err(ProfileError::Inactive(customer.status));
    }
    customer.email.clone().ok_or(ProfileError::NoEmail)
}

/// Sends a code to the caller's email on file, within the code limits (`codes`). `ip` is the
/// caller's address for the per-IP cap.
pub async fn request_verification(app: &App, me: &CustomerId, ip: Option<&str>) -> Result<OtpCode, ProfileError> {
    let to = CodeRecipient::Email(email_on_file(&self::me(app, me).await?)?);
    codes::issue(app, &to, ip, EmailPurpose::VerifyEmail, FUNCTION).await.map_err(ProfileError::Code)
}

/// The right code (well formed, checked by the caller) marks the email on file verified; a
/// wrong one counts against the code. Returns the customer as now stored.
pub async fn confirm_verification(
    app: &App,
    me: &CustomerId,
    code: &str,
) -> Result<Customer, UpdateError<ProfileError>> {
    let email = email_on_file(&self::me(app, me).await.map_err(UpdateError::Refused)?).map_err(UpdateError::Refused)?;
    let to = CodeRecipient::Email(email.clone());
    let wrong_code = |err: CodeError| match err {
        CodeError::Invalid(detail) => UpdateError::Refused(ProfileError::WrongCode(detail)),
        other => UpdateError::Refused(ProfileError::Code(other)),
    };
    let hash = codes::check(app, &to, code).await.map_err(wrong_code)?;
    codes::consume(app, &to, &hash).await.map_err(wrong_code)?;
    let note = AuditNote::new(me.as_str(), AuditAction::VerifyEmail);
    let verify = |current: &Customer, _now| {
        if current.email.as_ref() != Some(&email) {
            return Err(ProfileError::EmailChanged);
        }
        let mut next = current.clone();
        next.email_verified = true;
        Ok(next)
    };
    update_customer(app, me, None, &note, verify).await
}
