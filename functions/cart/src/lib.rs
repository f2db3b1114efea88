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
use shared::services::carts::{self, CartError};

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
    Ok(GuestToken::parse(header).map(CartOwner::Guest).ok_or(CartError::NoCart)?)
}

fn cart_response(cart: &Cart, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    json(StatusCode::OK, &cart.to_json(owner))
}

/// A new guest cart, within the per-IP hourly cap.
async fn create_guest_cart(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let token = carts::create_guest_cart(app, source_ip(req).as_deref()).await?;
    with_location(json(StatusCode::CREATED, &serde_json::json!({ "guest_token": token.as_str() }))?, "/v1/cart")
}

async fn get_cart(app: &App, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    cart_response(&carts::get(app, owner).await?, owner)
}

/// Sets one line (quantity, and optionally price, name, attributes): 200 with the cart.
async fn put_line(app: &App, owner: &CartOwner, raw_product: &str, req: &Request) -> Result<Response<Body>, ApiError> {
    let (input, errors) = parse_json_lenient::<LineInput>(req)?;
    let (product, line) = errors.combined_with(input.validate(raw_product))?;
    cart_response(&carts::set_line(app, owner, &product, &line).await?, owner)
}

/// Removes one line: 200 with the cart, 404 when the product is not in it.
async fn delete_line(app: &App, owner: &CartOwner, raw_product: &str) -> Result<Response<Body>, ApiError> {
    let product = ProductId::parse(raw_product).map_err(|m| ApiError::validation("product_id", m))?;
    cart_response(&carts::remove_line(app, owner, &product).await?, owner)
}

/// Empties the cart: 204.
async fn clear_cart(app: &App, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    carts::clear(app, owner).await?;
    no_content()
}

/// Moves the guest cart into the caller's: 200 with the customer's cart; 404 for a token
/// unknown or already moved into another customer's cart.
async fn migrate(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let input: MigrateInput = parse_json(req)?;
    let token = GuestToken::parse(&input.guest_token)
        .ok_or_else(|| ApiError::validation("guest_token", "is not a guest token"))?;
    let cart = carts::migrate(app, me, &token).await?;
    cart_response(&cart, &CartOwner::Customer(me.clone()))
}
