//! The `cart` function: a customer's cart (by bearer token), a guest's cart (by
//! `X-Guest-Token`), and moving a guest cart into a customer's at login.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::roles::{Access, GUEST_TOKEN_HEADER};
use shared::domain::CustomerId;
use shared::domain::cart::{Cart, CartOwner, GuestToken, LineInput, MigrateInput, ProductId};
use shared::http::response::with_location;
use shared::http::source_ip;
use shared::http::{ApiError, ApiFunction, Call, Route, json, no_content, parse_json, parse_json_lenient};
use shared::services::carts::{CartUpdate, change_cart};
use shared::store::carts::Migration;
use shared::store::rate_limit::RateDecision;

/// The `cart` function.
pub struct CartFunction;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    CreateGuestCart,
    GetCart,
    ClearCart,
    PutLine,
    DeleteLine,
    Migrate,
}

use Handler as H;

impl ApiFunction for CartFunction {
    type Handler = Handler;

    const NAME: &'static str = "cart";

    const ROUTES: &'static [Route<Handler>] = &[
        Route::new("POST", "/v1/cart/guest", Access::Anyone, H::CreateGuestCart),
        Route::new("GET", "/v1/cart", Access::CustomerOrGuest, H::GetCart),
        Route::new("DELETE", "/v1/cart", Access::CustomerOrGuest, H::ClearCart),
        Route::new("PUT", "/v1/cart/items/{product_id}", Access::CustomerOrGuest, H::PutLine),
        Route::new("DELETE", "/v1/cart/items/{product_id}", Access::CustomerOrGuest, H::DeleteLine),
        Route::new("POST", "/v1/cart/migrate", Access::Customer, H::Migrate),
    ];

    async fn call(call: Call<'_, Handler>) -> Result<Response<Body>, ApiError> {
        let (app, req) = (call.app, call.req);
        match call.matched.route.handler {
            H::CreateGuestCart => create_guest_cart(app, req).await,
            H::Migrate => migrate(app, &call.customer_id()?, req).await,
            H::GetCart => get_cart(app, &owner(&call)?).await,
            H::ClearCart => clear_cart(app, &owner(&call)?).await,
            H::PutLine => put_line(app, &owner(&call)?, call.param("product_id"), req).await,
            H::DeleteLine => delete_line(app, &owner(&call)?, call.param("product_id")).await,
        }
    }
}

/// The bearer token's customer; without one, the guest cart named by `X-Guest-Token` (which
/// `authorize` has made sure is there). A malformed token is as unknown as a forged one.
fn owner(call: &Call<'_, Handler>) -> Result<CartOwner, ApiError> {
    if call.principal.is_some() {
        return call.customer_id().map(CartOwner::Customer);
    }
    let header = call.req.headers().get(GUEST_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    GuestToken::parse(header).map(CartOwner::Guest).ok_or_else(unknown_guest_cart)
}

fn unknown_guest_cart() -> ApiError {
    ApiError::NotFound("no guest cart for this token; POST /v1/cart/guest issues a new one".into())
}

fn cart_response(status: StatusCode, cart: &Cart, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    json(status, &cart.to_json(owner))
}

/// A customer's cart lives in their partition; after `DELETE /v1/me` their access token still
/// verifies for a few minutes, and a write then must not leave a cart behind the erase.
async fn ensure_account(app: &App, owner: &CartOwner) -> Result<(), ApiError> {
    if let CartOwner::Customer(id) = owner
        && app.store.get_customer(id).await?.is_none()
    {
        return Err(ApiError::NotFound("your account no longer exists".into()));
    }
    Ok(())
}

/// A new guest cart, within the per-IP hourly cap (carts are free to ask for, not to store).
async fn create_guest_cart(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    if let Some(ip) = source_ip(req) {
        let now = app.clock.now().unix();
        let cap = app.config.guest_carts_per_ip_per_hour;
        if let RateDecision::Limited { retry_after } =
            app.store.hit_rate_window("guest-ip", &ip, cap, 3_600, now).await?
        {
            return Err(ApiError::TooManyRequests {
                detail: format!("too many guest carts from this network; retry in {retry_after} s"),
                retry_after,
            });
        }
    }
    let token = GuestToken::generate();
    app.store.create_guest_cart(&token, app.clock.now()).await?;
    with_location(json(StatusCode::CREATED, &serde_json::json!({ "guest_token": token.as_str() }))?, "/v1/cart")
}

async fn get_cart(app: &App, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    let cart = app.store.get_cart(owner, app.clock.now()).await?.ok_or_else(unknown_guest_cart)?;
    cart_response(StatusCode::OK, &cart, owner)
}

/// Sets one line (quantity, and optionally price, name, attributes): 200 with the cart.
async fn put_line(app: &App, owner: &CartOwner, raw_product: &str, req: &Request) -> Result<Response<Body>, ApiError> {
    let (input, errors) = parse_json_lenient::<LineInput>(req)?;
    let (product, line) = errors.combined_with(input.validate(raw_product))?;
    ensure_account(app, owner).await?;
    let now = app.clock.now();
    let update = change_cart(&app.store, owner, now, |cart| cart.set_line(product.clone(), line.clone(), now)).await?;
    saved(update, owner, ApiError::from)
}

/// Removes one line: 200 with the cart, 404 when the product is not in it.
async fn delete_line(app: &App, owner: &CartOwner, raw_product: &str) -> Result<Response<Body>, ApiError> {
    let product = ProductId::parse(raw_product).map_err(|m| ApiError::validation("product_id", m))?;
    ensure_account(app, owner).await?;
    let now = app.clock.now();
    let update =
        change_cart(&app.store, owner, now, |cart| cart.remove_line(&product, now).then_some(()).ok_or(())).await?;
    saved(update, owner, |()| ApiError::NotFound("this product is not in the cart".into()))
}

/// Empties the cart: 204. A guest cart keeps its token (and a new 30 days).
async fn clear_cart(app: &App, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    ensure_account(app, owner).await?;
    let now = app.clock.now();
    let update = change_cart(&app.store, owner, now, |cart| {
        cart.clear(now);
        Ok::<(), std::convert::Infallible>(())
    })
    .await?;
    saved(update, owner, |never| match never {})?;
    no_content()
}

fn saved<E>(
    update: CartUpdate<E>,
    owner: &CartOwner,
    refused: impl FnOnce(E) -> ApiError,
) -> Result<Response<Body>, ApiError> {
    match update {
        CartUpdate::Saved(cart) => cart_response(StatusCode::OK, &cart, owner),
        CartUpdate::Rejected(err) => Err(refused(err)),
        CartUpdate::NoCart => Err(unknown_guest_cart()),
    }
}

/// Moves the guest cart into the caller's: 200 with the customer's cart. A retry by the same
/// customer answers the cart as it is (nothing counted twice); a token already migrated into
/// another customer's cart is as unknown as a forged one (404).
async fn migrate(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let input: MigrateInput = parse_json(req)?;
    let token = GuestToken::parse(&input.guest_token)
        .ok_or_else(|| ApiError::validation("guest_token", "is not a guest token"))?;
    let owner = CartOwner::Customer(me.clone());
    ensure_account(app, &owner).await?;
    match app.store.migrate_guest_cart(&token, me, app.clock.now()).await? {
        Migration::Moved(cart) | Migration::AlreadyMoved(cart) => cart_response(StatusCode::OK, &cart, &owner),
        Migration::Unknown => Err(unknown_guest_cart()),
        Migration::Refused(errors) => Err(errors.into()),
    }
}
