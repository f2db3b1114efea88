use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{LambdaEvent, service_fn};
use shared::App;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let mut app = App::from_env().await?;
    app.avatar_renderer = Some(media_processor::render_avatar);
    let app = Arc::new(app);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| {
        let app = Arc::clone(&app);
        async move {
            let outcomes = media_processor::handle_event(&app, event.payload)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "processed": outcomes.len() }))
        }
    }))
    .await
}
