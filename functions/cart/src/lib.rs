//! The `cart` function: a customer's cart (by bearer token), a guest's cart (by
//! `X-Guest-Token`), and moving a guest cart into a customer's at login.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::Principal;
use shared::auth::roles::{Access, GUEST_TOKEN_HEADER, authorize};
use shared::domain::CustomerId;
use shared::domain::cart::{Cart, CartOwner, GuestToken, LineInput, MigrateInput, ProductId};
use shared::http::{ApiError, Route, RouteMatch, json, no_content, parse_json, parse_json_lenient, router};
use shared::store::carts::{CartUpdate, Migration};
use shared::time::Timestamp;

/// Every route of this function and who may call it; `template.yaml` declares the same set.
pub const ROUTES: &[Route] = &[
    Route::new("POST", "/v1/cart/guest", Access::Anyone),
    Route::new("GET", "/v1/cart", Access::CustomerOrGuest),
    Route::new("DELETE", "/v1/cart", Access::CustomerOrGuest),
    Route::new("PUT", "/v1/cart/items/{product_id}", Access::CustomerOrGuest),
    Route::new("DELETE", "/v1/cart/items/{product_id}", Access::CustomerOrGuest),
    Route::new("POST", "/v1/cart/migrate", Access::Customer),
];

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    dispatch(app, &req).await.unwrap_or_else(ApiError::into_response)
}

async fn dispatch(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let matched = router::find(ROUTES, req.method().as_str(), req.uri().path())?;
    let principal = authorize(req.headers(), matched.route.access, &app.jwt)?;
    match (matched.route.method, matched.route.path) {
        ("POST", "/v1/cart/guest") => create_guest_cart(app).await,
        ("POST", "/v1/cart/migrate") => migrate(app, &customer_id(principal)?, req).await,
        ("GET", "/v1/cart") => get_cart(app, &owner(principal, req)?).await,
        ("DELETE", "/v1/cart") => clear_cart(app, &owner(principal, req)?).await,
        ("PUT", _) => put_line(app, &owner(principal, req)?, &matched, req).await,
        ("DELETE", _) => delete_line(app, &owner(principal, req)?, &matched).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

fn customer_id(principal: Option<Principal>) -> Result<CustomerId, ApiError> {
    principal
        .and_then(|p| CustomerId::parse(&p.subject))
        .ok_or_else(|| ApiError::Unauthorized("invalid or expired token".into()))
}

/// The bearer token's customer; without one, the guest cart named by `X-Guest-Token` (which
/// `authorize` has made sure is there). A malformed token is as unknown as a forged one.
fn owner(principal: Option<Principal>, req: &Request) -> Result<CartOwner, ApiError> {
    if principal.is_some() {
        return customer_id(principal).map(CartOwner::Customer);
    }
    let header = req.headers().get(GUEST_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
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

async fn create_guest_cart(app: &App) -> Result<Response<Body>, ApiError> {
    let token = GuestToken::generate();
    app.store.create_guest_cart(&token, Timestamp::now()).await?;
    let mut response = json(StatusCode::CREATED, &serde_json::json!({ "guest_token": token.as_str() }))?;
    response.headers_mut().insert(http::header::LOCATION, http::HeaderValue::from_static("/v1/cart"));
    Ok(response)
}

async fn get_cart(app: &App, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    let cart = app.store.get_cart(owner, Timestamp::now()).await?.ok_or_else(unknown_guest_cart)?;
    cart_response(StatusCode::OK, &cart, owner)
}

/// Sets one line (quantity, and optionally price, name, attributes): 200 with the cart.
async fn put_line(
    app: &App,
    owner: &CartOwner,
    matched: &RouteMatch,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (input, mut errors) = parse_json_lenient::<LineInput>(req)?;
    let (product, line) = match input.validate(matched.param("product_id")) {
        Ok(valid) if errors.is_empty() => valid,
        Ok(_) => return Err(errors.into()),
        Err(more) => {
            errors.merge(more);
            return Err(errors.into());
        }
    };
    ensure_account(app, owner).await?;
    let now = Timestamp::now();
    let update = app.store.change_cart(owner, now, |cart| cart.set_line(product.clone(), line.clone(), now)).await?;
    saved(update, owner, ApiError::from)
}

/// Removes one line: 200 with the cart, 404 when the product is not in it.
async fn delete_line(app: &App, owner: &CartOwner, matched: &RouteMatch) -> Result<Response<Body>, ApiError> {
    let product = ProductId::parse(matched.param("product_id")).map_err(|m| ApiError::validation("product_id", m))?;
    ensure_account(app, owner).await?;
    let now = Timestamp::now();
    let update =
        app.store.change_cart(owner, now, |cart| cart.remove_line(&product, now).then_some(()).ok_or(())).await?;
    saved(update, owner, |()| ApiError::NotFound("this product is not in the cart".into()))
}

/// Empties the cart: 204. A guest cart keeps its token (and a new 30 days).
async fn clear_cart(app: &App, owner: &CartOwner) -> Result<Response<Body>, ApiError> {
    ensure_account(app, owner).await?;
    let now = Timestamp::now();
    let update = app
        .store
        .change_cart(owner, now, |cart| {
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
    match app.store.migrate_guest_cart(&token, me, Timestamp::now()).await? {
        Migration::Moved(cart) | Migration::AlreadyMoved(cart) => cart_response(StatusCode::OK, &cart, &owner),
        Migration::Unknown => Err(unknown_guest_cart()),
        Migration::Refused(errors) => Err(errors.into()),
    }
}
