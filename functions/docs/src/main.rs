//! The explorer's Lambda: no `App` (see `docs::answer`), so no AWS client is built at init.

use std::convert::Infallible;

use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    lambda_http::run(service_fn(|req: Request| async move { Ok::<_, Infallible>(docs::answer(&req)) })).await
}
