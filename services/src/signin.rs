//! Customer sign-up and sign-in as use cases, whatever the proof: a one-time code sent by SMS
//! or email (`POST /v1/auth/login`), or an identity provider's account (`POST /v1/auth/oidc`,
//! whose handler checks the ID token and hands over the [`ProviderAccount`]). Both end in a
//! [`SignedIn`]: the customer, whether it was created, and the channel, which the customer item
//! keeps for the change event of the write (`domain::events`).
//!
//! A code is checked (wrong tries counted) before anything else and used up only once the
//! sign-in can succeed (a new phone or address without a name keeps its code). Races end in a
//! login of the customer that won: a concurrent signup for the same phone or address, or two
//! first sign-ins with one provider account.

use store::StoreError;
use store::customers::LoginProof;
use store::identities::IdentityChange;
use store::identities::IdentityLink;
use store::{Store, UniqueField};

use crate::App;
use crate::codes::{self, CodeError};
use crate::domain::audit::{AuditAction, AuditNote};
use crate::domain::customer::parse_full_name;
use crate::domain::{CodeRecipient, Customer, CustomerId, EmailAddress, SignInChannel, Username, ValidationErrors};
use crate::time::Timestamp;

/// Why a sign-in did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The code was wrong, expired or used, or a limit refused it.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// A new customer needs a name and none was given (the detail words it, for `name`).
    #[error("{0}")]
    NameRequired(String),
    /// The account exists but may not sign in (suspended, banned, …, or gone meanwhile).
    #[error("{0}")]
    MayNotLogIn(String),
    /// The account kept changing while the sign-in was tried.
    #[error("the account is being changed elsewhere; try again")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    pub customer: Customer,
    /// Whether this sign-in created the customer (a signup).
    pub created: bool,
    pub channel: SignInChannel,
}

/// A sign-in with a one-time code: who it was sent to, the code, and the name a new customer
/// takes.
pub struct CodeSignIn {
    pub to: CodeRecipient,
    pub code: String,
    pub names: Option<(String, String)>,
}

/// Signs in (or up) the customer whose phone or address `login.to` is, at `now`.
pub async fn sign_in_with_code(app: &App, login: &CodeSignIn, now: Timestamp) -> Result<SignedIn, SignInError> {
    let code_hash = codes::check(app, &login.to, &login.code).await?;
    let existing = find_by_recipient(&app.store, &login.to).await?;
    if let Some(customer) = &existing {
        ensure_may_log_in(customer)?;
    } else if login.names.is_none() {
        let what = login.to.noun();
        return Err(SignInError::NameRequired(format!("is required to create an account for a new {what}")));
    }
    codes::consume(app, &login.to, &code_hash).await?;

    let channel = SignInChannel::of_code(&login.to);
    let (customer, created) = match existing {
        Some(customer) => (log_in(&app.store, &customer, LoginProof::Code(&login.to), now).await?, false),
        None => sign_up_or_join(app, login, now).await?,
    };
    Ok(SignedIn { customer, created, channel })
}

/// The customer whose phone or address this is.
pub async fn find_by_recipient(store: &Store, to: &CodeRecipient) -> Result<Option<Customer>, StoreError> {
    match to {
        CodeRecipient::Phone(phone) => store.find_customer_by_phone(phone).await,
        CodeRecipient::Email(email) => store.find_customer_by_email(email).await,
        // A staff reset's address is never a customer's sign-in.
        CodeRecipient::StaffReset(_) => Ok(None),
    }
}

/// Only an active customer signs in.
pub fn ensure_may_log_in(customer: &Customer) -> Result<(), SignInError> {
    if customer.is_active() {
        Ok(())
    } else {
        Err(SignInError::MayNotLogIn(format!("this account is {}", customer.status.as_str())))
    }
}

/// Records the login of an existing customer (`last_login_at`, the channel, the contact the
/// proof verified), on top of the customer as just read.
pub async fn log_in(
    store: &Store,
    customer: &Customer,
    proof: LoginProof<'_>,
    now: Timestamp,
) -> Result<Customer, SignInError> {
    match store.record_login(customer, now, proof).await? {
        Some(customer) => Ok(customer),
        None => Err(SignInError::MayNotLogIn("this account may not log in".into())),
    }
}

/// A new customer signing up themselves by `channel`, logged in at once; custom-field defaults
/// apply. Not stored yet.
pub async fn new_customer(
    app: &App,
    names: (String, String),
    channel: SignInChannel,
    now: Timestamp,
) -> Result<Customer, StoreError> {
    let (first, last) = names;
    let mut customer = Customer::new(CustomerId::generate(), Username::base(&first, &last), (first, last), now);
    // Milliseconds within the login's second: the creation order of simultaneous signups.
    customer.created_ms = Some(now.unix() * 1000 + app.clock.now_ms().rem_euclid(1000));
    customer.last_login_at = Some(now);
    customer.sign_in_channel = Some(channel);
    // Required fields cannot be asked of a customer at signup, so staff fill those in later.
    let definitions = app.store.list_fields().await?;
    let mut ignored = ValidationErrors::new();
    crate::domain::fields::fill_defaults(&mut customer.custom_fields, &definitions, false, &mut ignored);
    Ok(customer)
}

/// The audit note of a self-signup, naming its channel.
pub fn signup_note(channel: &SignInChannel) -> AuditNote {
    AuditNote::new("self-signup", AuditAction::Create).with_reason(format!("signed up by {channel}"))
}

/// Creates the customer; if a concurrent request created one for this phone or address first,
/// logs into that one instead, so every successful response names the same customer.
async fn sign_up_or_join(app: &App, login: &CodeSignIn, now: Timestamp) -> Result<(Customer, bool), SignInError> {
    let channel = SignInChannel::of_code(&login.to);
    let mut customer = new_customer(app, login.names.clone().unwrap_or_default(), channel.clone(), now).await?;
    match &login.to {
        CodeRecipient::Phone(phone) => {
            customer.phone = Some(phone.clone());
            customer.phone_verified = true;
        }
        CodeRecipient::Email(email) | CodeRecipient::StaffReset(email) => {
            customer.email = Some(email.clone());
            customer.email_verified = true;
        }
    }
    match app.store.create_customer(customer, &signup_note(&channel), false).await {
        Ok(created) => Ok((created, true)),
        Err(StoreError::Taken(UniqueField::Phone | UniqueField::Email)) => {
            let winner = find_by_recipient(&app.store, &login.to)
                .await?
                .ok_or_else(|| StoreError::Malformed("contact sentinel without a customer".into()))?;
            ensure_may_log_in(&winner)?;
            Ok((log_in(&app.store, &winner, LoginProof::Code(&login.to), now).await?, false))
        }
        Err(err) => Err(err.into()),
    }
}

/// Who an identity provider says signed in (its ID token already checked).
#[derive(Debug, Clone)]
pub struct ProviderAccount {
    /// The provider's configured name (`google`, `apple`, `local`).
    pub provider: String,
    pub subject: String,
    /// The account's email, whatever the provider says about it.
    pub email: Option<EmailAddress>,
    /// Whether the provider vouches for `email` (`email_verified: true`).
    pub email_verified: bool,
    pub name: Option<String>,
}

impl ProviderAccount {
    /// The email, only when the provider vouches for it: the one that may link or sign up.
    pub fn verified_email(&self) -> Option<&EmailAddress> {
        self.email.as_ref().filter(|_| self.email_verified)
    }
}

/// Signs in (or up) with a provider account. Linking rules, in order: the customer linked to
/// the provider's `sub` logs in; else a customer whose email is verified and equals the
/// account's *verified* email is linked and logs in; else a customer is created (name from the
/// provider, else `names`, else [`SignInError::NameRequired`]), with the account's email when
/// the provider vouches for it and no customer has it. An unverified provider email never links
/// to an existing account. Races (two first sign-ins of one account) end in a login of the
/// customer that won.
pub async fn sign_in_with_provider(
    app: &App,
    account: &ProviderAccount,
    names: Option<(String, String)>,
    now: Timestamp,
) -> Result<SignedIn, SignInError> {
    let channel = SignInChannel::Oidc(account.provider.clone());
    let proof = LoginProof::Provider(&account.provider);
    let signed_in = |customer, created| SignedIn { customer, created, channel: channel.clone() };
    for _ in 0..3 {
        if let Some(id) = app.store.identity_owner(&account.provider, &account.subject).await? {
            let customer = app
                .store
                .get_customer(&id)
                .await?
                .ok_or_else(|| SignInError::MayNotLogIn("this account may not log in".into()))?;
            ensure_may_log_in(&customer)?;
            return Ok(signed_in(log_in(&app.store, &customer, proof, now).await?, false));
        }
        let link = IdentityLink {
            provider: account.provider.clone(),
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
            Some(_) => create_linked(app, account, names.clone(), &link, false, now).await,
            None => create_linked(app, account, names.clone(), &link, account.verified_email().is_some(), now).await,
        };
        match outcome {
            Err(StoreError::Taken(UniqueField::Identity | UniqueField::Email) | StoreError::VersionConflict) => {
                continue;
            }
            Err(err) => return Err(err.into()),
            Ok(Linked::Existing(customer)) => {
                return Ok(signed_in(log_in(&app.store, &customer, proof, now).await?, false));
            }
            Ok(Linked::Created(customer)) => return Ok(signed_in(customer, true)),
            Ok(Linked::NeedsName) => {
                return Err(SignInError::NameRequired("is required: the provider did not say the name".into()));
            }
            Ok(Linked::Inactive(customer)) => ensure_may_log_in(&customer)?,
        }
    }
    Err(SignInError::Contended)
}

enum Linked {
    Existing(Customer),
    Created(Customer),
    NeedsName,
    Inactive(Customer),
}

async fn link_existing(
    app: &App,
    customer: &Customer,
    link: &IdentityLink,
    now: Timestamp,
) -> Result<Linked, StoreError> {
    if !customer.is_active() {
        return Ok(Linked::Inactive(customer.clone()));
    }
    let note = AuditNote::new(customer.customer_id.as_str(), AuditAction::Update)
        .with_reason(format!("signed in with {} (linked by verified email)", link.provider));
    Ok(Linked::Existing(app.store.change_identity(customer, IdentityChange::Link(link), &note, now).await?))
}

async fn create_linked(
    app: &App,
    account: &ProviderAccount,
    names: Option<(String, String)>,
    link: &IdentityLink,
    with_email: bool,
    now: Timestamp,
) -> Result<Linked, StoreError> {
    let names = account.name.as_deref().and_then(|n| parse_full_name(n).ok()).or(names);
    let Some(names) = names else { return Ok(Linked::NeedsName) };
    let channel = SignInChannel::Oidc(link.provider.clone());
    let mut customer = new_customer(app, names, channel.clone(), now).await?;
    if with_email {
        customer.email = account.verified_email().cloned();
        customer.email_verified = customer.email.is_some();
    }
    Ok(Linked::Created(app.store.create_linked_customer(customer, &signup_note(&channel), link).await?))
}
