use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let app = Arc::new(shared::App::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { Ok::<Value, lambda_runtime::Error>(export_job::handle_stream_batch(&app, event.payload).await) }
    }))
    .await
}
