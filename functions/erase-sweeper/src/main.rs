use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let app = Arc::new(shared::App::from_env().await?);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { erase_sweeper::sweep(&app).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
