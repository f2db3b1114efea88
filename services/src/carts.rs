//! Cart use cases that read, change and write a cart under optimistic concurrency.

use store::backoff;
use store::{Store, StoreError};

use crate::domain::cart::{Cart, CartOwner};
use crate::time::Timestamp;

/// Read-modify-write rounds before giving up on a cart that keeps changing underneath.
const WRITE_ATTEMPTS: usize = 10;

/// The outcome of a read-modify-write of a cart.
#[derive(Debug)]
pub enum CartUpdate<E> {
    Saved(Cart),
    /// The change refused the cart as it was (nothing written).
    Rejected(E),
    /// No guest cart for this token.
    NoCart,
}

/// Applies `change` to the current cart and saves it if nobody wrote the cart meanwhile;
/// otherwise re-reads and applies it again, so concurrent changes of different lines all
/// survive.
pub async fn change_cart<E>(
    store: &Store,
    owner: &CartOwner,
    now: Timestamp,
    change: impl Fn(&mut Cart) -> Result<(), E>,
) -> Result<CartUpdate<E>, StoreError> {
    for attempt in 0..WRITE_ATTEMPTS {
        let Some(mut cart) = store.get_cart(owner, now).await? else {
            return Ok(CartUpdate::NoCart);
        };
        if let Err(err) = change(&mut cart) {
            return Ok(CartUpdate::Rejected(err));
        }
        match store.put_cart(owner, &cart, now).await? {
            Some(saved) => return Ok(CartUpdate::Saved(saved)),
            None => backoff(attempt).await,
        }
    }
    Err(StoreError::VersionConflict)
}
