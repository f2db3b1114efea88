//! Customer use cases that read, change and write: the loop every customer update goes through
//! (`PATCH /v1/me`, staff `PATCH`/`PUT`, bulk update, status changes, verification, soft
//! delete): optimistic concurrency on `version`, `If-Match` honoured, the audit entry written
//! in the same transaction as the change.

use std::time::{Duration, Instant};

use store::backoff;
use store::{Store, StoreError};
use thiserror::Error;

use crate::domain::audit::AuditNote;
use crate::domain::{CodeRecipient, Customer, CustomerId};
use crate::time::Timestamp;

/// How long an update without `If-Match` keeps trying while other writers win the races: long
/// enough for dozens of concurrent writers of one customer, well inside the function timeout.
const UPDATE_BUDGET: Duration = Duration::from_secs(7);

/// Why an update did not apply. `E` is what the change itself may refuse with.
#[derive(Debug, Error)]
pub enum UpdateError<E> {
    #[error("no such customer")]
    NotFound,
    #[error("the customer is not at the expected version")]
    PreconditionFailed,
    #[error("the customer kept changing while this update was tried")]
    Contended,
    #[error("the change was refused")]
    Refused(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E> UpdateError<E> {
    /// The same failure, with a refusal turned into `F`.
    pub fn map_refused<F>(self, into: impl FnOnce(E) -> F) -> UpdateError<F> {
        match self {
            UpdateError::NotFound => UpdateError::NotFound,
            UpdateError::PreconditionFailed => UpdateError::PreconditionFailed,
            UpdateError::Contended => UpdateError::Contended,
            UpdateError::Refused(err) => UpdateError::Refused(into(err)),
            UpdateError::Store(err) => UpdateError::Store(err),
        }
    }
}

/// Applies `change` to the current customer and writes the result. With `expected` (the
/// versions an `If-Match` accepts), a customer at another version is `PreconditionFailed`;
/// without it, a lost race re-reads and applies the change again, so it is atomic either way.
/// A change that alters nothing writes nothing (and audits nothing). A change of email voids a
/// code pending for the previous address, whoever changed it (the customer, staff, a bulk
/// update): a code sent before must not verify the address if it comes back. Returns the
/// customer as it now is.
pub async fn update_customer<E, F>(
    app: &crate::App,
    id: &CustomerId,
    expected: Option<&[u64]>,
    note: &AuditNote,
    change: F,
) -> Result<Customer, UpdateError<E>>
where
    F: Fn(&Customer, Timestamp) -> Result<Customer, E>,
{
    let store = &app.store;
    let started = Instant::now();
    let mut attempt = 0;
    while started.elapsed() < UPDATE_BUDGET {
        let current = store.get_customer(id).await?.ok_or(UpdateError::NotFound)?;
        if expected.is_some_and(|versions| !versions.contains(&current.version)) {
            return Err(UpdateError::PreconditionFailed);
        }
        let now = app.clock.now();
        let mut next = change(&current, now).map_err(UpdateError::Refused)?;
        if next == current {
            return Ok(current);
        }
        match store.replace_customer(&current, &mut next, now, note).await {
            Ok(()) => {
                void_code_of_replaced_email(store, &current, &next).await?;
                return Ok(next);
            }
            Err(StoreError::VersionConflict) if expected.is_some() => return Err(UpdateError::PreconditionFailed),
            Err(StoreError::VersionConflict) => {
                // Jittered, so the writers that lost this round do not collide again at once.
                backoff(attempt).await;
                attempt += 1;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(UpdateError::Contended)
}

/// Ends the code pending for `before`'s email when `after` no longer has it.
async fn void_code_of_replaced_email(store: &Store, before: &Customer, after: &Customer) -> Result<(), StoreError> {
    match &before.email {
        Some(old) if after.email.as_ref() != Some(old) => store.cancel_otp(&CodeRecipient::Email(old.clone())).await,
        _ => Ok(()),
    }
}

/// The customer with this id, if any.
pub async fn get(app: &crate::App, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
    app.store.get_customer(id).await
}

/// A customer found by one of the unique values staff look customers up by.
pub enum Lookup {
    Phone(crate::domain::PhoneE164),
    Email(crate::domain::EmailAddress),
    Username(crate::domain::Username),
}

/// The customer with this phone, address or username, if any (read after write consistent).
pub async fn find(app: &crate::App, by: &Lookup) -> Result<Option<Customer>, StoreError> {
    match by {
        Lookup::Phone(phone) => app.store.find_customer_by_phone(phone).await,
        Lookup::Email(email) => app.store.find_customer_by_email(email).await,
        Lookup::Username(username) => app.store.find_customer_by_username(username).await,
    }
}

/// Stores a customer staff created (validated by the domain, defaults filled) with its audit
/// entry. A phone or address in use is `StoreError::Taken`, and so is a username staff chose
/// (`username_chosen`); otherwise a free username is picked.
pub async fn create(
    app: &crate::App,
    customer: Customer,
    note: &AuditNote,
    username_chosen: bool,
) -> Result<Customer, StoreError> {
    app.store.create_customer(customer, note, username_chosen).await
}

/// Newest first across `statuses`.
pub async fn list(
    app: &crate::App,
    statuses: &[crate::domain::CustomerStatus],
    limit: usize,
    start: Option<store::PageToken>,
) -> Result<store::Page<Customer>, StoreError> {
    app.store.list_customers(statuses, limit, start).await
}
