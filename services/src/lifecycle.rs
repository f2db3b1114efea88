//! A customer's lifecycle as use cases: status changes (the lifecycle's transitions and the
//! open-loan rule, `Customer::check_transition`), soft delete, verification of a contact on
//! file, activity counters (only while active; a loan closes only while one is open), and the
//! audit trail. Each rule is checked on the customer as it is when the write happens.

use store::{Page, PageToken, StoreError};

use crate::App;
use crate::customers::{UpdateError, update_customer};
use crate::domain::audit::{AuditAction, AuditEntry, AuditNote};
use crate::domain::customer::{ActivityKind, ActivityRefusal, ContactKind, NoContactOnFile, TransitionError};
use crate::domain::{Customer, CustomerId, CustomerStatus};
use crate::time::Timestamp;

/// Tries of an activity whose conditional write was refused while the customer kept changing.
const ACTIVITY_ATTEMPTS: usize = 3;

/// Why a lifecycle change was refused by the customer as it is.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleRefusal {
    #[error("{0}")]
    Transition(TransitionError),
    #[error("the customer has no {} on file", .0.0.as_str())]
    NoContact(NoContactOnFile),
}

/// Moves the customer to `next` if the lifecycle allows it from the status it has *when the
/// write happens* (the check runs inside the optimistic update loop, so a concurrent
/// `loan_opened` or status change is never missed).
fn move_to(current: &Customer, next: CustomerStatus) -> Result<Customer, LifecycleRefusal> {
    current.check_transition(next).map_err(LifecycleRefusal::Transition)?;
    let mut moved = current.clone();
    moved.status = next;
    Ok(moved)
}

/// A staff status change, with its reason in `note`.
pub async fn change_status(
    app: &App,
    id: &CustomerId,
    next: CustomerStatus,
    note: &AuditNote,
) -> Result<Customer, UpdateError<LifecycleRefusal>> {
    update_customer(app, id, None, note, |current, _| move_to(current, next)).await
}

/// Soft delete: the customer becomes `deactivated` (through the lifecycle rules, so open loans
/// block it). Deleting an already deactivated customer changes nothing.
pub async fn soft_delete(app: &App, id: &CustomerId, actor: &str) -> Result<Customer, UpdateError<LifecycleRefusal>> {
    let note = AuditNote::new(actor, AuditAction::StatusChange).with_reason("deleted by staff (soft delete)");
    let change = |current: &Customer, _: Timestamp| {
        if current.status == CustomerStatus::Deactivated {
            Ok(current.clone())
        } else {
            move_to(current, CustomerStatus::Deactivated)
        }
    };
    update_customer(app, id, None, &note, change).await
}

/// Marks the contact verified; only a contact on file can be. Verifying a verified contact
/// changes nothing.
pub async fn verify_contact(
    app: &App,
    id: &CustomerId,
    actor: &str,
    contact: ContactKind,
) -> Result<Customer, UpdateError<LifecycleRefusal>> {
    let action = match contact {
        ContactKind::Email => AuditAction::VerifyEmail,
        ContactKind::Phone => AuditAction::VerifyPhone,
    };
    let note = AuditNote::new(actor, action);
    let change =
        |current: &Customer, _: Timestamp| current.with_contact_verified(contact).map_err(LifecycleRefusal::NoContact);
    update_customer(app, id, None, &note, change).await
}

/// Why an activity was not counted.
#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error("no such customer")]
    NotFound,
    #[error("the customer is {}", .0.as_str())]
    NotActive(CustomerStatus),
    #[error("the customer has no open loan to close")]
    NoOpenLoan,
    #[error("the customer is being changed elsewhere; try again")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts an activity atomically (the store's condition is built from `kind.requirement()`).
/// A refused write is re-read to say why; if the customer became active meanwhile, the
/// activity is simply tried again.
pub async fn record_activity(app: &App, id: &CustomerId, kind: ActivityKind) -> Result<Customer, ActivityError> {
    for _ in 0..ACTIVITY_ATTEMPTS {
        if let Some(customer) = app.store.record_activity(id, kind, app.clock.now()).await? {
            return Ok(customer);
        }
        let customer = app.store.get_customer(id).await?.ok_or(ActivityError::NotFound)?;
        match kind.refusal_for(&customer) {
            Some(ActivityRefusal::NotActive(status)) => return Err(ActivityError::NotActive(status)),
            Some(ActivityRefusal::NoOpenLoan) => return Err(ActivityError::NoOpenLoan),
            None => {}
        }
    }
    Err(ActivityError::Contended)
}

/// A page of the customer's audit trail, newest first; `None` when there is no such customer.
/// Every customer has at least its creation entry, so only an empty page costs the read that
/// tells the two apart.
pub async fn audit(
    app: &App,
    id: &CustomerId,
    limit: i32,
    start: Option<PageToken>,
) -> Result<Option<Page<AuditEntry>>, StoreError> {
    let page = app.store.list_audit(id, limit, start).await?;
    if page.items.is_empty() && app.store.get_customer(id).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(page))
}
