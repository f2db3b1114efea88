//! Cart use cases that read, change and write a cart under optimistic concurrency.

use store::backoff;
use store::{Store, StoreError};

use store::carts::Migration;
use store::rate_limit::RateDecision;

use crate::App;
use crate::domain::cart::{Cart, CartOwner, GuestToken, LineSpec, ProductId};
use crate::domain::{CustomerId, ValidationErrors};
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

/// Why a cart use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// The customer was erased (their access token outlived the account).
    #[error("your account no longer exists")]
    AccountGone,
    /// No guest cart for this token (unknown, expired, forged, or migrated into another's).
    #[error("no guest cart for this token; POST /v1/cart/guest issues a new one")]
    NoCart,
    #[error("too many guest carts from this network; retry in {retry_after} s")]
    GuestCartsLimited { retry_after: u64 },
    #[error("this product is not in the cart")]
    NotInCart,
    /// The change does not fit the cart (too many lines, a migration that would overflow).
    #[error("invalid fields")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A customer's cart lives in their partition; after `DELETE /v1/me` their access token still
/// verifies for a few minutes, and a write then must not leave a cart behind the erase.
async fn ensure_account(app: &App, owner: &CartOwner) -> Result<(), CartError> {
    if let CartOwner::Customer(id) = owner
        && app.store.get_customer(id).await?.is_none()
    {
        return Err(CartError::AccountGone);
    }
    Ok(())
}

/// A new guest cart, within the per-IP hourly cap (carts are free to ask for, not to store).
pub async fn create_guest_cart(app: &App, ip: Option<&str>) -> Result<GuestToken, CartError> {
    if let Some(ip) = ip {
        let now = app.clock.now().unix();
        let cap = app.config.guest_carts_per_ip_per_hour;
        if let RateDecision::Limited { retry_after } =
            app.store.hit_rate_window("guest-ip", ip, cap, 3_600, now).await?
        {
            return Err(CartError::GuestCartsLimited { retry_after });
        }
    }
    let token = GuestToken::generate();
    app.store.create_guest_cart(&token, app.clock.now()).await?;
    Ok(token)
}

/// The owner's cart (a customer without one has an empty one).
pub async fn get(app: &App, owner: &CartOwner) -> Result<Cart, CartError> {
    app.store.get_cart(owner, app.clock.now()).await?.ok_or(CartError::NoCart)
}

/// Applies `change` at `now` to the owner's cart, once the owner is known to exist; `refused`
/// words what the change refuses.
async fn change<E>(
    app: &App,
    owner: &CartOwner,
    change: impl Fn(&mut Cart, Timestamp) -> Result<(), E>,
    refused: impl FnOnce(E) -> CartError,
) -> Result<Cart, CartError> {
    ensure_account(app, owner).await?;
    let now = app.clock.now();
    match change_cart(&app.store, owner, now, |cart| change(cart, now)).await? {
        CartUpdate::Saved(cart) => Ok(cart),
        CartUpdate::Rejected(err) => Err(refused(err)),
        CartUpdate::NoCart => Err(CartError::NoCart),
    }
}

/// Sets one line (quantity, and optionally price, name, attributes).
pub async fn set_line(app: &App, owner: &CartOwner, product: &ProductId, line: &LineSpec) -> Result<Cart, CartError> {
    change(app, owner, |cart, now| cart.set_line(product.clone(), line.clone(), now), CartError::Invalid).await
}

/// Removes one line; [`CartError::NotInCart`] when the product is not in it.
pub async fn remove_line(app: &App, owner: &CartOwner, product: &ProductId) -> Result<Cart, CartError> {
    let remove = |cart: &mut Cart, now| cart.remove_line(product, now).then_some(()).ok_or(());
    change(app, owner, remove, |()| CartError::NotInCart).await
}

/// Empties the cart. A guest cart keeps its token (and a new 30 days).
pub async fn clear(app: &App, owner: &CartOwner) -> Result<Cart, CartError> {
    let clear = |cart: &mut Cart, now| {
        cart.clear(now);
        Ok::<(), std::convert::Infallible>(())
    };
    change(app, owner, clear, |never| match never {}).await
}

/// Moves the guest cart into the customer's. A retry by the same customer answers the cart as
/// it is (nothing counted twice); a token already migrated into another customer's cart is as
/// unknown as a forged one.
pub async fn migrate(app: &App, me: &CustomerId, token: &GuestToken) -> Result<Cart, CartError> {
    ensure_account(app, &CartOwner::Customer(me.clone())).await?;
    match app.store.migrate_guest_cart(token, me, app.clock.now()).await? {
        Migration::Moved(cart) | Migration::AlreadyMoved(cart) => Ok(cart),
        Migration::Unknown => Err(CartError::NoCart),
        Migration::Refused(errors) => Err(CartError::Invalid(errors)),
    }
}
